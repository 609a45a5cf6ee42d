"""Planned compute centres: the project pipeline, derated by stage (pure maths, no I/O).

For planned row ``j`` of stage ``s`` (every array below has a leading draw axis ``D``):

* start ``S_j = online_year_j + delay_years_s``;
* share online in calendar year t: ``o_j(t) = clip((t + 1 - S_j) / ramp_years, 0, 1)``;
* IT energy if built ``P_j(t) = it_capacity_mw_j * u_j * o_j(t) * 8.76e-3`` TWh, split over
  workloads with the row's ``ai_share`` and ``training_share`` like a base-year centre;
* the central run (and every call without build draws) takes the expected value
  ``p_s * P_j(t)``; a Monte Carlo draw builds each row with probability ``p_s`` (one
  Bernoulli draw per row and draw) and counts ``P_j(t)`` for built rows only.

Rows are sorted once into groups of equal (region, stage, online_year, own utilisation or
not): within a group ``o_j(t)`` and the utilisation factor are the same, so the rows'
weighted sums are formed with one ``np.add.reduceat`` per workload and the years are only
expanded per group. Work is linear in rows and draws and is done in blocks of draws whose
size keeps every temporary near :data:`BLOCK_CELLS` cells.

Build draws are reproducible and independent of row order: each row's uniforms come
from a counter-based generator (SplitMix64: ``mix(key_j + (d + 1) * gamma)``) keyed by a
hash of (seed, scenario name, project_id), so the same project gets the same draws
whatever else is in the file, whatever the chunking.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.pipeline_params import STAGES
from models.short_axis import sum_last

__all__ = [
    "BLOCK_CELLS",
    "PlannedFleet",
    "build_planned",
    "build_uniforms",
    "combine",
    "online_share",
    "pipeline_energy",
    "pipeline_table",
    "row_keys",
]

BLOCK_CELLS = 250_000
"""Target cells of the largest temporary array of one block of draws (~2 MB at float64; a
scenario holds about ten such temporaries, and scenarios run side by side)."""

_TWH_PER_MW_YEAR = 8.76e-3  # 1 MW for 8760 h = 8.76e-3 TWh
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = (np.uint64(k) for k in (30, 27, 31, 11))
_TWO53 = 9007199254740992.0  # 2**53: uniforms are k / 2**53 for 53-bit integers k


@dataclass(frozen=True)
class PlannedFleet:
    """Planned rows sorted into groups, and the group structure.

    Attributes:
        project_id: (J,) ids in sorted order.
        row_of_input: (J,) position of each sorted row in the input frame.
        region_idx, stage_idx: (J,) region (into the fleet's regions) and stage (into STAGES).
        online_year: (J,) first year of operation (integer).
        it_capacity_mw: (J,) IT MW at full build-out.
        own_utilization: (J,) the row's utilisation, NaN where the scenario's applies.
        base_twh: (J, W) ``it_capacity_mw * (own utilisation or 1) * 8.76e-3 * split_w``.
        declared_hub: (J,) the row names a hub_id.
        hub_km: (J,) distance to the nearest hub (inf: no coordinates or no hubs).
        id_hash: (J,) uint64 hash of the project id.
        group_start: (G,) first sorted row of each group.
        group_region, group_stage, group_online, group_own: (G,) the group's key.
        block_start: (B,) first group of each region that has groups; block_region: (B,).
        n_regions: R, regions of the fleet.
    """

    project_id: np.ndarray
    row_of_input: np.ndarray
    region_idx: np.ndarray
    stage_idx: np.ndarray
    online_year: np.ndarray
    it_capacity_mw: np.ndarray
    own_utilization: np.ndarray
    base_twh: np.ndarray
    declared_hub: np.ndarray
    hub_km: np.ndarray
    id_hash: np.ndarray
    group_start: np.ndarray
    group_region: np.ndarray
    group_stage: np.ndarray
    group_online: np.ndarray
    group_own: np.ndarray
    block_start: np.ndarray
    block_region: np.ndarray
    n_regions: int

    @property
    def n_rows(self) -> int:
        """Number of planned rows J."""
        return len(self.project_id)


def build_planned(planned: pd.DataFrame, region_ids: np.ndarray, hub_km: np.ndarray) -> PlannedFleet:
    """Sort the validated planned rows into the groups :func:`pipeline_energy` sums over.

    Args:
        planned: ``project_id``, ``region_id``, ``hub_id``, ``it_capacity_mw``, ``utilization``
            (NaN = the scenario's), ``ai_share``, ``training_share``, ``stage``, ``online_year``.
        region_ids: (R,) the fleet's regions in output order.
        hub_km: (J,) great-circle distance of each row to its nearest hub (inf: none),
            in the order of ``planned``.
    """
    ids = planned["project_id"].astype(str).to_numpy(dtype=str)
    region = pd.Index(np.asarray(region_ids, dtype=object)).get_indexer(planned["region_id"].astype(str))
    if (region < 0).any():
        raise ValueError("planned row in a region the fleet does not have")
    stage = pd.Index(STAGES).get_indexer(planned["stage"].astype(str))
    online = planned["online_year"].to_numpy(dtype=np.int64)
    own = planned["utilization"].to_numpy(dtype=float, na_value=np.nan)
    has_own = np.isfinite(own)
    order = np.lexsort((ids, has_own, online, stage, region))
    region, stage, online, own, has_own, ids = (a[order] for a in (region, stage, online, own, has_own, ids))
    cap = planned["it_capacity_mw"].to_numpy(dtype=float)[order]
    ai = planned["ai_share"].to_numpy(dtype=float)[order]
    tr = planned["training_share"].to_numpy(dtype=float)[order]
    energy = cap * np.where(has_own, own, 1.0) * _TWH_PER_MW_YEAR
    base = np.stack([energy * (1.0 - ai), energy * ai * tr, energy * ai * (1.0 - tr)], axis=1)
    key = np.stack([region, stage, online, has_own.astype(np.int64)], axis=1)
    new_group = np.ones(len(ids), dtype=bool)
    new_group[1:] = (key[1:] != key[:-1]).any(axis=1)
    starts = np.flatnonzero(new_group)
    g_region = region[starts]
    new_block = np.ones(len(starts), dtype=bool)
    new_block[1:] = g_region[1:] != g_region[:-1]
    blocks = np.flatnonzero(new_block)
    return PlannedFleet(
        project_id=ids.astype(object),
        row_of_input=order,
        region_idx=region,
        stage_idx=stage,
        online_year=online,
        it_capacity_mw=cap,
        own_utilization=own,
        base_twh=base,
        declared_hub=planned["hub_id"].notna().to_numpy()[order],
        hub_km=np.asarray(hub_km, dtype=float)[order],
        id_hash=pd.util.hash_array(ids.astype(object)).astype(np.uint64),
        group_start=starts,
        group_region=g_region,
        group_stage=stage[starts],
        group_online=online[starts],
        group_own=has_own[starts],
        block_start=blocks,
        block_region=g_region[blocks],
        n_regions=len(region_ids),
    )


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output function on uint64 arrays (wrapping arithmetic), in place on ``z``."""
    tmp = np.empty_like(z)
    for shift, mult in ((_S30, _M1), (_S27, _M2)):
        np.right_shift(z, shift, out=tmp)
        np.bitwise_xor(z, tmp, out=z)
        np.multiply(z, mult, out=z)
    np.right_shift(z, _S31, out=tmp)
    return np.bitwise_xor(z, tmp, out=z)


def row_keys(planned: PlannedFleet, seed: int, scenario_name: str) -> np.ndarray:
    """(J,) uint64 stream keys from (seed, scenario name, project_id); row order plays no part."""
    digest = hashlib.sha256(f"{int(seed)}\x1f{scenario_name}".encode()).digest()[:8]
    salt = _mix(np.array([int.from_bytes(digest, "little")], dtype=np.uint64))
    return _mix(planned.id_hash ^ salt)


def _stream_bits(keys: np.ndarray, draw_index: np.ndarray) -> np.ndarray:
    """(D, J) uint64: the top 53 bits of output ``draw_index`` of each row's stream."""
    z = (np.asarray(draw_index, dtype=np.uint64) + np.uint64(1))[:, None] * _GAMMA
    z = z + keys[None, :]
    return np.right_shift(_mix(z), _S11, out=z)


def build_uniforms(keys: np.ndarray, draw_index: np.ndarray) -> np.ndarray:
    """(D, J) uniforms in [0, 1): the ``draw_index``-th output of each row's SplitMix64 stream.

    >>> u = build_uniforms(np.array([1, 2], dtype=np.uint64), np.arange(3))
    >>> u.shape, bool(((u >= 0) & (u < 1)).all())
    ((3, 2), True)
    """
    return _stream_bits(keys, draw_index).astype(np.float64) * (1.0 / _TWO53)


def online_share(years: np.ndarray, start: np.ndarray, ramp: np.ndarray) -> np.ndarray:
    """``o(t) = clip((t + 1 - start) / ramp, 0, 1)``: start (...), ramp broadcastable; (..., T).

    >>> online_share(np.array([2026, 2027, 2028]), np.array(2027.0), np.array(2.0)).tolist()
    [0.0, 0.5, 1.0]
    """
    start = np.asarray(start, dtype=float)[..., None]
    ramp = np.asarray(ramp, dtype=float)[..., None]
    return np.clip((np.asarray(years, dtype=float) + 1.0 - start) / ramp, 0.0, 1.0)


def _draw_params(p: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    realise = np.stack([p[f"pipeline.realisation.{s}"] for s in STAGES], axis=-1)  # (D, S)
    delay = np.stack([p[f"pipeline.delay_years.{s}"] for s in STAGES], axis=-1)  # (D, S)
    return realise, delay, p["pipeline.ramp_years"], p["pipeline.utilization"]


def pipeline_energy(
    planned: PlannedFleet,
    years: np.ndarray,
    params: Mapping[str, np.ndarray],
    build: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Region pipeline ``P_{r,w}(t)`` and hub-assigned training part ``Q_r(t)``.

    Args:
        planned: from :func:`build_planned`.
        years: (T,) calendar years.
        params: (D,) arrays ``pipeline.*`` and ``hubs.assignment_radius_km``.
        build: None for the expected value (``p_s`` per row); else ``(keys, draw_index)``:
            the rows' stream keys (:func:`row_keys`) and the (D,) global index of each draw,
            and each row is built where its uniform is below ``p_s``.

    Returns:
        ``P`` (D, R, T, W) TWh and ``Q`` (D, R, T) TWh: the training energy of rows that are
        hub-assigned (declared ``hub_id``, or nearest hub within the draw's radius).
    """
    realise, delay, ramp, util = _draw_params(params)
    radius = params["hubs.assignment_radius_km"]
    years = np.asarray(years, dtype=float)
    n_d, n_t, n_w = len(ramp), len(years), planned.base_twh.shape[1]
    n_r, n_g = planned.n_regions, len(planned.group_start)
    out_p = np.zeros((n_d, n_r, n_t, n_w))
    out_q = np.zeros((n_d, n_r, n_t))
    step = max(1, BLOCK_CELLS // max(planned.n_rows, n_g * n_t * n_w, 1))
    train = planned.base_twh[:, 1]
    hub_km = np.where(planned.declared_hub, -1.0, planned.hub_km)  # a declared hub is always joined
    # k / 2**53 < p  <=>  k < ceil(p * 2**53) for integers k: the integer test is exact
    threshold = np.ceil(realise * _TWO53).astype(np.uint64)  # (D, S)
    for a in range(0, n_d, step):  # blocks of draws, not single draws
        b = min(n_d, a + step)
        if build is None:
            weight = realise[a:b][:, planned.stage_idx]  # (d, J) expected value
        else:
            keys, draw_index = build
            built = _stream_bits(keys, draw_index[a:b]) < threshold[a:b][:, planned.stage_idx]
            weight = built.astype(np.float64)  # float x float multiplies are 2x faster than bool x float
        hub = (hub_km[None, :] <= radius[a:b, None]).astype(np.float64)
        sums = np.stack(
            [np.add.reduceat(weight * planned.base_twh[:, w], planned.group_start, axis=1) for w in range(n_w)],
            axis=-1,
        )  # (d, G, W)
        hub_train = np.add.reduceat(weight * hub * train, planned.group_start, axis=1)  # (d, G)
        factor = np.where(planned.group_own[None, :], 1.0, util[a:b, None])  # (d, G)
        start = planned.group_online[None, :] + delay[a:b][:, planned.group_stage]
        scale = factor[..., None] * online_share(years, start, ramp[a:b, None])  # (d, G, T)
        by_region = np.add.reduceat(sums[:, :, None, :] * scale[..., None], planned.block_start, axis=1)
        out_p[a:b, planned.block_region] = by_region
        out_q[a:b, planned.block_region] = np.add.reduceat(hub_train[..., None] * scale, planned.block_start, axis=1)
    return out_p, out_q


def combine(trend_twh: np.ndarray, pipeline_twh: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Trend and pipeline combined: ``E*_{r,w}`` and what the pipeline added (``X_r`` or ``P_r``).

    ``additional``: ``E* = E^s + P``. ``floor``: ``X_r = max(0, P_r - max(0, E^s_r - E^s_r(t0)))``
    and ``E*_{r,w} = E^s_{r,w} + X_r P_{r,w} / P_r`` (``X_r = 0`` where ``P_r = 0``).

    Args:
        trend_twh: (D, R, T, W) trend after the training shift; year 0 is the base year.
        pipeline_twh: (D, R, T, W) region pipeline.
        mode: ``floor`` or ``additional``.

    Returns:
        ``E*`` (D, R, T, W) and the added energy (D, R, T).
    """
    if mode not in ("additional", "floor"):
        raise ValueError(f"unknown pipeline mode {mode!r}")
    # Regions without planned energy add exactly 0 (E* = E^s + 0, X_r = 0): only the regions
    # with some are combined, the others are copied (a pipeline is usually in a few regions).
    some = np.flatnonzero(pipeline_twh.any(axis=(0, 2, 3)))
    if 2 * len(some) > trend_twh.shape[1]:
        return _combine(trend_twh, pipeline_twh, mode)
    part, part_added = _combine(trend_twh[:, some], pipeline_twh[:, some], mode)
    out = trend_twh.astype(part.dtype)  # a copy
    added = np.zeros(pipeline_twh.shape[:-1], dtype=part_added.dtype)
    out[:, some], added[:, some] = part, part_added
    return out, added


def _combine(trend_twh: np.ndarray, pipeline_twh: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    p_r = sum_last(pipeline_twh)
    if mode == "additional":
        return trend_twh + pipeline_twh, p_r
    e_r = sum_last(trend_twh)
    x_r = np.maximum(0.0, p_r - np.maximum(0.0, e_r - e_r[:, :, :1]))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(p_r[..., None] > 0, pipeline_twh / p_r[..., None], 0.0)
    x_r = np.where(p_r > 0, x_r, 0.0)
    return trend_twh + x_r[..., None] * share, x_r


def pipeline_table(
    planned: PlannedFleet, region_ids: np.ndarray, years: list[int], central: Mapping[str, np.ndarray]
) -> pd.DataFrame:
    """One row per planned row and year (zeros included), central parameters.

    Columns: project_id, region_id, year, stage, ``requested_it_mw`` (``it_capacity_mw * o(t)``
    with no delay and the central ramp, no derating), ``expected_it_mw``
    (``p_s * it_capacity_mw * o(t)`` with the central delay) and ``expected_it_energy_twh``
    (``p_s * P_j(t)``). Rows are ordered by region, project_id, year; ``project_id``,
    ``region_id`` and ``stage`` are categoricals.
    """
    realise, delay, ramp, util = (x[0] for x in _draw_params(central))
    yrs = np.asarray(years)
    order = np.lexsort((planned.project_id.astype(str), planned.region_idx))
    cap = planned.it_capacity_mw[order]
    stage = planned.stage_idx[order]
    online = planned.online_year[order].astype(float)
    u = np.where(np.isfinite(planned.own_utilization[order]), planned.own_utilization[order], util)
    p_s = realise[stage]
    requested = online_share(yrs, online, ramp)
    requested *= cap[:, None]
    expected = online_share(yrs, online + delay[stage], ramp)
    expected *= (p_s * cap)[:, None]
    energy = expected * (u * _TWH_PER_MW_YEAR)[:, None]
    n_t = len(yrs)
    # ids as categoricals: 100k rows x 12 years x several scenarios stay ~40 bytes a row
    project = pd.Categorical.from_codes(np.repeat(np.arange(len(cap)), n_t), planned.project_id[order].astype(str))
    region = pd.Categorical.from_codes(np.repeat(planned.region_idx[order], n_t),
                                       np.asarray(region_ids, dtype=object).astype(str))
    return pd.DataFrame({
        "project_id": project,
        "region_id": region,
        "year": np.tile(yrs, len(cap)).astype("int32"),
        "stage": pd.Categorical.from_codes(np.repeat(stage, n_t), list(STAGES)),
        "requested_it_mw": requested.ravel(),
        "expected_it_mw": expected.ravel(),
        "expected_it_energy_twh": energy.ravel(),
    })
