"""The project pipeline: each equation against a hand calculation, and its properties.

Expected values are worked out here from the written equations (online share, derated
energy, training shift with H + Q receivers, floor and additional combination), never
taken from the code under test.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from flows.compute import simulate_draws
from models.pipeline import (
    build_planned,
    build_uniforms,
    combine,
    online_share,
    pipeline_energy,
    pipeline_table,
    row_keys,
)
from models.pipeline_params import STAGES
from models.turning import classify_shape

TWH = 8.76e-3  # TWh per MW-year


def pipeline_block(mode: str = "additional", **over: object) -> dict:
    """A [pipeline] table with point values: every stage p = 1, delay 0, ramp 1, utilisation 0.6."""
    block = {
        "mode": mode,
        "ramp_years": 1.0,
        "utilization": 0.6,
        "realisation": dict.fromkeys(STAGES, 1.0),
        "delay_years": dict.fromkeys(STAGES, 0.0),
    }
    for k, v in over.items():
        if isinstance(v, dict):
            block[k] = {**block[k], **v}
        else:
            block[k] = v
    return block


def planned_frame(rows: list[dict]) -> pd.DataFrame:
    """Planned rows with neutral defaults (no hub, no coordinates, scenario's utilisation)."""
    defaults = {"hub_id": None, "lat": math.nan, "lon": math.nan, "utilization": math.nan, "ai_share": 0.0,
                "training_share": 0.0, "stage": "under_construction", "online_year": 2025}
    frame = pd.DataFrame([{**defaults, "project_id": f"p{i}", **r} for i, r in enumerate(rows)])
    frame["hub_id"] = frame["hub_id"].astype(object)
    return frame


def with_planned(fleet, rows: list[dict], hub_km: list[float] | None = None):  # noqa: ANN001, ANN201
    frame = planned_frame(rows)
    km = np.full(len(frame), np.inf) if hub_km is None else np.asarray(hub_km, dtype=float)
    return dataclasses.replace(fleet, planned=build_planned(frame, fleet.region_ids, km))


def test_online_share_fractional_start_and_ramp() -> None:
    years = np.array([2026, 2027, 2028, 2029])
    # start 2027.5, ramp 2: (t + 1 - 2027.5) / 2 clipped: 2026 -> 0, 2027 -> 0.25, 2028 -> 0.75, 2029 -> 1
    assert online_share(years, np.array(2027.5), np.array(2.0)).tolist() == [0.0, 0.25, 0.75, 1.0]
    # start 2027.0, ramp 2: 0.5 in 2027, 1 from 2028
    assert online_share(years, np.array(2027.0), np.array(2.0)).tolist() == [0.0, 0.5, 1.0, 1.0]
    # start 2027.25, ramp 0.5: 2027 -> 0.75 / 0.5 = 1.5 -> 1
    assert online_share(years, np.array(2027.25), np.array(0.5)).tolist() == [0.0, 1.0, 1.0, 1.0]


def test_expected_energy_central_run_by_hand(gc) -> None:  # noqa: ANN001
    # one approved row: 100 MW, scenario utilisation 0.6, p = 0.5, delay 0.5, ramp 2, online 2026
    s = gc.make_scenario(pipeline=pipeline_block(realisation={"approved": 0.5}, delay_years={"approved": 0.5},
                                                 ramp_years=2.0))
    fleet = gc.make_fleet([{"region_id": "A", "zone": "east"}], [{"region_id": "A", "it_capacity_mw": 10.0}])
    fleet = with_planned(fleet, [{"region_id": "A", "it_capacity_mw": 100.0, "stage": "approved", "online_year": 2026,
                                  "ai_share": 0.5, "training_share": 0.4}])
    p, q = pipeline_energy(fleet.planned, np.array(s.years), gc.make_params(s))
    # S = 2026.5: o(2026) = 0.25, o(2027) = 0.75
    for t_i, o in ((0, 0.0), (1, 0.0), (2, 0.25), (3, 0.75)):
        total = 0.5 * 100.0 * 0.6 * o * TWH
        assert p[0, 0, t_i].tolist() == pytest.approx([total * 0.5, total * 0.2, total * 0.3], abs=1e-15)
    assert not q.any()  # no hub


def test_region_with_planned_rows_and_no_base_centres(gc) -> None:  # noqa: ANN001
    s = gc.make_scenario(pipeline=pipeline_block(ramp_years=2.0))
    fleet = gc.make_fleet([{"region_id": "A", "zone": "east"}, {"region_id": "B", "zone": "west"}],
                          [{"region_id": "A", "it_capacity_mw": 100.0}])
    fleet = with_planned(fleet, [{"region_id": "B", "it_capacity_mw": 200.0, "online_year": 2026}])
    res = gc.run(fleet, s)
    # B: zero trend; pipeline 200 MW x 0.6 x o(t): o = 0, 0, 0.5, 1
    e_b = [0.0, 0.0, 200 * 0.6 * 0.5 * TWH, 200 * 0.6 * TWH]
    assert res.region_it_twh[0, 1].tolist() == pytest.approx(e_b, abs=1e-15)
    # new-build PUE of the west: 0.25 x 1.35 + 0.75 x 1.15 = 1.2 (no cap in the scenario)
    assert res.region_facility_twh[0, 1].tolist() == pytest.approx([x * 1.2 for x in e_b], abs=1e-14)
    assert np.isnan(res.pue_effective[0, 1, :2]).all()
    assert res.pue_effective[0, 1, 2:].tolist() == pytest.approx([1.2, 1.2])
    # turning points on the real F: 0 -> positive is a rise (2026), then +100% in 2027
    shape, idx = classify_shape(res.region_facility_twh[0, 1][None, :])
    assert (shape[0], int(idx[0])) == ("flat-then-rising", 2)


def _floor_case(gc, mode: str):  # noqa: ANN001, ANN202
    s = gc.make_scenario(pipeline=pipeline_block(mode=mode))
    fleet = gc.make_fleet([{"region_id": "A", "zone": "east"}], [{"region_id": "A", "it_capacity_mw": 100.0}])
    fleet = with_planned(fleet, [
        {"region_id": "A", "it_capacity_mw": 2.0, "utilization": 1.0, "online_year": 2025},
        {"region_id": "A", "it_capacity_mw": 50.0, "utilization": 1.0, "online_year": 2027,
         "ai_share": 1.0, "training_share": 0.0},
    ])
    return s, gc.run(fleet, s)


@pytest.mark.parametrize("mode", ["floor", "additional"])
def test_floor_and_additional_by_hand(gc, mode: str) -> None:  # noqa: ANN001
    s, res = _floor_case(gc, mode)
    e0 = 100 * TWH  # general only, utilisation 1
    trend = [e0 * gc.g_hand(0.1, 0.8, 0.05, tau) for tau in range(4)]
    pipe_gen = [0.0, 2 * TWH, 2 * TWH, 2 * TWH]
    pipe_inf = [0.0, 0.0, 0.0, 50 * TWH]
    for t in range(4):
        p_r = pipe_gen[t] + pipe_inf[t]
        if mode == "additional":
            gen, inf, added = trend[t] + pipe_gen[t], pipe_inf[t], p_r
        else:
            x = max(0.0, p_r - max(0.0, trend[t] - e0))
            share_gen = pipe_gen[t] / p_r if p_r > 0 else 0.0
            share_inf = pipe_inf[t] / p_r if p_r > 0 else 0.0
            gen, inf, added = trend[t] + x * share_gen, x * share_inf, x
        assert res.it_twh[0, 0, t, 0] == pytest.approx(gen, abs=1e-15)
        assert res.it_twh[0, 0, t, 2] == pytest.approx(inf, abs=1e-15)
        assert res.pipeline_added_it_twh[0, 0, t] == pytest.approx(added, abs=1e-15)
        assert res.pipeline_it_twh[0, 0, t] == pytest.approx(p_r, abs=1e-15)
        # facility: min(E*, E0) x PUE_exist (large east 1.2) + above-base x PUE_new (0.25 x 1.4 + 0.75 x 1.2)
        e_star = gen + inf
        fac = min(e_star, e0) * 1.2 + max(0.0, e_star - e0) * (0.25 * 1.4 + 0.75 * 1.2)
        assert res.region_facility_twh[0, 0, t] == pytest.approx(fac, abs=1e-14)
    # the hand case has both branches: in 2025 the trend's growth (0.0394) exceeds the
    # 2 MW row (0.0175), so floor adds nothing; in 2027 the 50 MW row exceeds the growth
    assert 2 * TWH < trend[1] - e0 and 52 * TWH > trend[3] - e0


def test_receivers_weighted_by_base_plus_planned_hub_training(gc) -> None:  # noqa: ANN001
    s = gc.make_scenario(pipeline=pipeline_block(), hubs={"assignment_radius_km": 0.0, "training_shift_to_hubs": 1.0})
    regions = [{"region_id": r, "zone": "east"} for r in ("A", "B", "C")]
    centers = [
        {"region_id": "A", "it_capacity_mw": 100.0, "ai_share": 1.0, "training_share": 1.0},
        {"region_id": "B", "it_capacity_mw": 100.0},
        {"region_id": "C", "it_capacity_mw": 50.0, "ai_share": 1.0, "training_share": 1.0, "hub_id": "h"},
    ]
    fleet = gc.make_fleet(regions, centers, hubs=[{"hub_id": "h", "lat": 0.0, "lon": 0.0}])
    # a planned training campus in B joining hub h (declared): Q_B(2025) = 100 MW x 1 x o=1
    fleet = with_planned(fleet, [{"region_id": "B", "it_capacity_mw": 100.0, "utilization": 1.0, "hub_id": "h",
                                  "ai_share": 1.0, "training_share": 1.0, "online_year": 2025}], hub_km=[1e6])
    res = gc.run(fleet, s)
    e0a, h_c, q_b = 100 * TWH, 50 * TWH, 100 * TWH
    g1 = gc.g_hand(0.5, 0.8, 0.1, 1)
    moved = 1.0 * (e0a * g1 - e0a) * (1 - 0.0)  # A has no hub share; C keeps all (hubshare 1)
    w_b, w_c = q_b / (q_b + h_c), h_c / (q_b + h_c)
    t_i = 1  # 2025
    assert res.it_twh[0, 0, t_i, 1] == pytest.approx(e0a * g1 - moved, abs=1e-15)
    assert res.it_twh[0, 1, t_i, 1] == pytest.approx(w_b * moved + q_b, abs=1e-15)  # additional: + P
    assert res.it_twh[0, 2, t_i, 1] == pytest.approx(h_c * g1 + w_c * moved, abs=1e-15)


def test_hub_by_radius_counts_for_the_rows_region(gc) -> None:  # noqa: ANN001
    s = gc.make_scenario(pipeline=pipeline_block(), hubs={"assignment_radius_km": 100.0, "training_shift_to_hubs": 1.0})
    fleet = gc.make_fleet([{"region_id": "A", "zone": "east"}, {"region_id": "B", "zone": "east"}],
                          [{"region_id": "A", "it_capacity_mw": 100.0, "ai_share": 1.0, "training_share": 1.0}])
    rows = [{"region_id": "B", "it_capacity_mw": 10.0, "ai_share": 1.0, "training_share": 1.0, "online_year": 2025},
            {"region_id": "B", "it_capacity_mw": 20.0, "ai_share": 1.0, "training_share": 1.0, "online_year": 2025}]
    near = with_planned(fleet, rows, hub_km=[100.0, 100.1])  # only the first is within 100 km
    _, q = pipeline_energy(near.planned, np.array(s.years), gc.make_params(s))
    assert q[0, 1, 1] == pytest.approx(10.0 * 0.6 * TWH, abs=1e-15) and not q[0, 0].any()


def test_realisation_zero_equals_no_pipeline(gc) -> None:  # noqa: ANN001
    for mode in ("floor", "additional"):
        s = gc.make_scenario(pipeline=pipeline_block(mode=mode, realisation=dict.fromkeys(STAGES, 0.0)),
                             hubs={"assignment_radius_km": 500.0, "training_shift_to_hubs": 0.5})
        fleet = gc.make_fleet([{"region_id": "A", "zone": "east"}, {"region_id": "B", "zone": "west"}],
                              [{"region_id": "A", "it_capacity_mw": 100.0, "ai_share": 0.5, "training_share": 0.5,
                                "hub_id": "h"}], hubs=[{"hub_id": "h", "lat": 0.0, "lon": 0.0}])
        planned = with_planned(fleet, [{"region_id": r, "it_capacity_mw": 80.0, "ai_share": 1.0, "training_share": 1.0,
                                        "stage": st, "hub_id": "h"} for r in ("A", "B") for st in STAGES],
                               hub_km=[0.0] * 8)
        params = gc.make_params(s)
        plain, with_rows = gc.run(fleet, s, params), gc.run(planned, s, params)
        for name in ("it_twh", "facility_twh", "region_facility_twh", "region_peak_mw"):
            np.testing.assert_array_equal(getattr(with_rows, name), getattr(plain, name))
        n = 40
        draws = {k: np.repeat(v, n) for k, v in params.items()}
        keys = row_keys(planned.planned, 3, s.name)
        a = simulate_draws(fleet, s, draws)
        b = simulate_draws(planned, s, draws, build_keys=keys)
        np.testing.assert_array_equal(a.region_facility_twh, b.region_facility_twh)


def test_additional_never_below_floor() -> None:
    rng = np.random.default_rng(5)
    trend = rng.gamma(2.0, 1.0, size=(50, 4, 6, 3))
    trend *= rng.uniform(0.3, 2.0, size=(50, 4, 6, 1))  # trends below and above the base year
    pipe = rng.gamma(1.0, 1.0, size=trend.shape) * (rng.random(trend.shape[:3])[..., None] < 0.7)
    pipe[:, :, 0] = 0.0
    add, p_r = combine(trend, pipe, "additional")
    flo, x_r = combine(trend, pipe, "floor")
    assert (add >= flo - 1e-12).all()
    assert ((x_r >= 0) & (x_r <= p_r + 1e-12)).all()
    # floor keeps the trend where the pipeline is within the trend's growth
    np.testing.assert_allclose(flo.sum(axis=-1), trend.sum(axis=-1) + x_r, rtol=1e-12)


def _many_rows(n: int) -> list[dict]:
    rng = np.random.default_rng(11)
    return [{"region_id": "A", "it_capacity_mw": float(rng.uniform(10, 200)), "stage": "requested",
             "online_year": 2025, "utilization": 1.0} for _ in range(n)]


def test_monte_carlo_mean_of_built_energy_approaches_expected(gc) -> None:  # noqa: ANN001
    p_req = 0.3
    s = gc.make_scenario(pipeline=pipeline_block(realisation={"requested": p_req}))
    fleet = gc.make_fleet([{"region_id": "A", "zone": "east"}], [{"region_id": "A", "it_capacity_mw": 1.0}])
    rows = _many_rows(60)
    fleet = with_planned(fleet, rows)
    energy = np.array([r["it_capacity_mw"] * TWH for r in rows])
    expected = p_req * energy.sum()
    sd = math.sqrt((energy**2).sum() * p_req * (1 - p_req))  # sd of one draw's total (independent rows)
    keys = row_keys(fleet.planned, 2024, s.name)
    errors = []
    for n in (200, 20_000):
        params = {k: np.repeat(v, n) for k, v in gc.make_params(s).items()}
        p, _ = pipeline_energy(fleet.planned, np.array(s.years), params, (keys, np.arange(n)))
        mean = p[:, 0, 1].sum(axis=-1).mean()
        assert abs(mean - expected) < 4.5 * sd / math.sqrt(n)
        errors.append(abs(mean - expected))
    assert errors[1] < 4.5 * sd / math.sqrt(20_000) < errors[0] + 4.5 * sd / math.sqrt(200)


def test_build_draws_independent_of_row_order_and_other_rows(gc) -> None:  # noqa: ANN001
    s = gc.make_scenario(pipeline=pipeline_block(realisation={"requested": 0.4}))
    fleet = gc.make_fleet([{"region_id": "A", "zone": "east"}, {"region_id": "B", "zone": "east"}],
                          [{"region_id": "A", "it_capacity_mw": 1.0}])
    rows = _many_rows(30)
    frame = planned_frame(rows)
    shuffled = frame.sample(frac=1.0, random_state=3)
    extra = planned_frame([{"region_id": "B", "it_capacity_mw": 5.0, "stage": "requested"}] * 7)
    extra["project_id"] = [f"other{i}" for i in range(7)]
    bigger = pd.concat([extra.iloc[:3], shuffled, extra.iloc[3:]], ignore_index=True)
    n = 64
    params = {k: np.repeat(v, n) for k, v in gc.make_params(s).items()}
    out = []
    for f in (frame, bigger):
        pf = build_planned(f, fleet.region_ids, np.full(len(f), np.inf))
        p, _ = pipeline_energy(pf, np.array(s.years), params, (row_keys(pf, 9, s.name), np.arange(n)))
        out.append(p[:, 0])
    np.testing.assert_array_equal(out[0], out[1])
    # the draw of one project is its own: uniform of project p0 in draw d, whatever the file
    pf1 = build_planned(frame, fleet.region_ids, np.full(len(frame), np.inf))
    pf2 = build_planned(bigger, fleet.region_ids, np.full(len(bigger), np.inf))
    u1 = build_uniforms(row_keys(pf1, 9, s.name), np.arange(n))[:, list(pf1.project_id).index("p0")]
    u2 = build_uniforms(row_keys(pf2, 9, s.name), np.arange(n))[:, list(pf2.project_id).index("p0")]
    np.testing.assert_array_equal(u1, u2)
    # another seed or scenario gives other draws
    u3 = build_uniforms(row_keys(pf1, 10, s.name), np.arange(n))[:, list(pf1.project_id).index("p0")]
    assert not np.array_equal(u1, u3)


def test_draws_do_not_depend_on_chunking(gc) -> None:  # noqa: ANN001
    s = gc.make_scenario(pipeline=pipeline_block(realisation={"requested": 0.5}))
    fleet = gc.make_fleet([{"region_id": "A", "zone": "east"}], [{"region_id": "A", "it_capacity_mw": 1.0}])
    fleet = with_planned(fleet, _many_rows(20))
    params = {k: np.repeat(v, 50) for k, v in gc.make_params(s).items()}
    keys = row_keys(fleet.planned, 1, s.name)
    a = simulate_draws(fleet, s, params, chunk=7, build_keys=keys)
    b = simulate_draws(fleet, s, params, chunk=500, build_keys=keys)
    np.testing.assert_array_equal(a.pipeline_it_twh, b.pipeline_it_twh)
    built = a.pipeline_it_twh[:, 0, 1]
    assert 0 < np.count_nonzero(built) and len(np.unique(built)) > 5  # draws differ


def test_pipeline_table_by_hand(gc) -> None:  # noqa: ANN001
    s = gc.make_scenario(pipeline=pipeline_block(realisation={"approved": 0.4}, delay_years={"approved": 1.0},
                                                 ramp_years=2.0))
    fleet = gc.make_fleet([{"region_id": "A", "zone": "east"}, {"region_id": "B", "zone": "east"}],
                          [{"region_id": "A", "it_capacity_mw": 1.0}])
    fleet = with_planned(fleet, [{"region_id": "B", "it_capacity_mw": 100.0, "stage": "approved", "online_year": 2025,
                                  "utilization": 0.5},
                                 {"region_id": "A", "it_capacity_mw": 10.0, "online_year": 2027}])
    t = pipeline_table(fleet.planned, fleet.region_ids, s.years, gc.make_params(s))
    assert len(t) == 2 * 4 and t["project_id"].astype(str).tolist() == ["p1"] * 4 + ["p0"] * 4  # by region
    b = t[t["project_id"] == "p0"]
    # requested: no delay, ramp 2 from 2025: 0, 0.5, 1, 1 x 100 MW
    assert b["requested_it_mw"].tolist() == pytest.approx([0.0, 50.0, 100.0, 100.0])
    # expected: p 0.4, start 2026: 0, 0, 0.5, 1 x 100 MW x 0.4; energy x 0.5 x 8.76e-3
    assert b["expected_it_mw"].tolist() == pytest.approx([0.0, 0.0, 20.0, 40.0])
    assert b["expected_it_energy_twh"].tolist() == pytest.approx([0.0, 0.0, 20 * 0.5 * TWH, 40 * 0.5 * TWH])
    a = t[t["project_id"] == "p1"]  # under construction, p 1, no delay, scenario utilisation 0.6
    assert a["expected_it_energy_twh"].tolist() == pytest.approx([0.0, 0.0, 0.0, 10 * 0.5 * 0.6 * TWH])
    assert set(t["stage"].astype(str)) == {"approved", "under_construction"}
