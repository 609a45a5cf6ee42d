"""Exact peaks of many draws on the representative year, through candidate hours.

In every draw the load of hour ``h`` is a non-negative combination of the same hourly
features: ``total(h) = b * p(h) + sum_w x_w * m(d) * factor_w(h % 24)`` (``p`` the
system-load shape, ``m`` the seasonal modulation, ``b`` and ``x_w`` the draw's energies).
An hour whose features are all <= those of another hour can never carry a larger total,
so the peak over the 8,760 hours equals the peak over the non-dominated hours. Those are
found once per region (first within each day, where ``m`` is constant, then across the
year); every draw is then evaluated on them only.
"""

from __future__ import annotations

import numpy as np

from models.hourly import DAYS, HOURS

__all__ = ["candidate_hours", "hour_features", "peaks_on_candidates"]

_MWH_PER_TWH = 1e6
_CHUNK = 512  # candidate rows per pairwise-dominance block (bounded memory)
# positive weightings for the pre-filter (fixed, so candidates are reproducible)
_WEIGHTS = np.random.default_rng(20241).uniform(0.05, 1.0, size=(8, 64))


def hour_features(share: np.ndarray, load_factors: np.ndarray, season: np.ndarray) -> np.ndarray:
    """The features of every hour: ``(p(h), m(d) f_1(h % 24), ..., m(d) f_W(h % 24))``.

    Args:
        share: (8760,) system-load shape (any non-negative scale; zeros without one).
        load_factors: (W, 24).
        season: (365,) daily modulation.

    Returns:
        (8760, 1 + W).
    """
    comp = (season[:, None, None] * load_factors.T[None, :, :]).reshape(HOURS, -1)
    return np.column_stack([share, comp])


def _dominated(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For (..., n, k) points a and (..., m, k) points b: a[i] dominated by some b[j]."""
    # feature by feature (k is 1 + W, a handful): no reductions over a short trailing axis
    ge = np.ones((*np.broadcast_shapes(a.shape[:-2], b.shape[:-2]), a.shape[-2], b.shape[-2]), dtype=bool)
    gt = np.zeros_like(ge)
    for i in range(a.shape[-1]):
        ai, bi = a[..., :, None, i], b[..., None, :, i]
        ge &= bi >= ai
        gt |= bi > ai
    return (ge & gt).any(axis=-1)


def candidate_hours(features: np.ndarray) -> np.ndarray:
    """Sorted hours of the year that are not dominated by any other hour.

    Dominated: another hour's features are all >= and one is >. Of hours with identical
    features only the first is kept. The max of any non-negative combination of the
    features over these hours equals its max over all 8,760 hours.

    Args:
        features: (8760, k) from :func:`hour_features`.

    Returns:
        (C,) hour indices.
    """
    by_day = features.reshape(DAYS, 24, -1)
    keep = ~_dominated(by_day, by_day).reshape(HOURS)  # within each day first: cheap
    idx = np.flatnonzero(keep)
    pts = features[idx]
    # Cheap pre-filter: the maximisers of a few positive weightings are non-dominated;
    # most candidates are dominated by one of them, which leaves few for the full check.
    scale = np.where(pts.max(axis=0) > 0, pts.max(axis=0), 1.0)
    strong = pts[np.unique(np.argmax((pts / scale) @ _WEIGHTS[: pts.shape[1]], axis=0))]
    alive = ~_dominated(pts, strong)
    idx, pts = idx[alive], pts[alive]
    out = np.zeros(len(idx), dtype=bool)
    for start in range(0, len(idx), _CHUNK):  # blocks of candidates against all candidates
        out[start:start + _CHUNK] = ~_dominated(pts[start:start + _CHUNK], pts)
    idx, pts = idx[out], pts[out]
    _, first = np.unique(pts, axis=0, return_index=True)
    return np.sort(idx[first])


def peaks_on_candidates(
    noncompute_twh: np.ndarray,
    facility_twh: np.ndarray,
    features: np.ndarray,
    candidates: np.ndarray,
) -> np.ndarray:
    """System peak with compute (MW) per draw, evaluated on each region's candidate hours.

    Args:
        noncompute_twh: (D, R, T) annual energy without compute (``max(0, baseline - F(t0))``).
        facility_twh: (D, R, T, W) facility energy per workload.
        features: (R, 8760, 1 + W) from :func:`hour_features`, with the shape column as a
            share of its annual sum (so ``b * 1e6 * share`` is MW).
        candidates: (R, C) candidate hours per region (padded by repeating one of them).

    Returns:
        (D, R, T) peak MW of ``B + L``.
    """
    f = np.take_along_axis(features, candidates[:, :, None], axis=1)  # (R, C, 1 + W)
    avg = facility_twh * (_MWH_PER_TWH / HOURS)
    if avg.shape[-1] != 3:
        b = noncompute_twh[..., None] * _MWH_PER_TWH * f[None, :, None, :, 0]  # (D, R, T, C)
        return (b + np.einsum("drtw,rcw->drtc", avg, f[:, :, 1:])).max(axis=-1)
    # Three workloads: the products einsum("drtw,rcw->drtc") forms, added in its order
    # (x0 + x2) + x1, laid out (R, C, D x T) so every elementwise loop runs over D x T
    # (its generic loop, and loops over the short C axis, are ~5x slower on these shapes).
    n_d, n_r, n_t = noncompute_twh.shape
    by_w = np.moveaxis(avg, (3, 1), (0, 1)).reshape(3, n_r, n_d * n_t)  # (W, R, D x T)
    x = [by_w[w][:, None, :] * f[:, :, 1 + w, None] for w in range(3)]  # (R, C, D x T)
    x[0] += x[2]
    x[0] += x[1]
    energy = (noncompute_twh * _MWH_PER_TWH).transpose(1, 0, 2).reshape(n_r, 1, n_d * n_t)
    x[0] += energy * f[:, :, 0, None]  # b + comp
    peak = x[0].max(axis=1)  # (R, D x T): over the candidates, elementwise
    return np.ascontiguousarray(peak.reshape(n_r, n_d, n_t).transpose(1, 0, 2))
