"""Property tests of the engine invariants (docs/methodology.md section 3)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from models.engine import facility_energy, rebound_factor, shift_training_to_hubs

SETTINGS = settings(max_examples=50, deadline=None)

growth = st.floats(-0.5, 2.0)
gain = st.floats(0.0, 0.5)
frac = st.floats(0.0, 1.0)
year_mid = st.floats(2020.0, 2035.0)
scale = st.floats(0.2, 5.0)


@st.composite
def scenario_over(draw):
    """Random overrides of the base scenario's growth, levers and rebound."""
    return {
        "growth": {"taper": draw(frac), "general": draw(growth), "training": draw(growth),
                   "inference": draw(growth)},
        "hardware_efficiency_gain": {"general": draw(gain), "training": draw(gain),
                                     "inference": draw(gain)},
        "rebound": {"elasticity_training": draw(st.floats(0.0, 3.0)),
                    "elasticity_inference": draw(st.floats(0.0, 3.0)),
                    "diffusion_midpoint": draw(year_mid), "diffusion_scale": draw(scale)},
        "hubs": {"assignment_radius_km": draw(st.floats(0.0, 3000.0)),
                 "training_shift_to_hubs": draw(frac)},
        "pue": {"new_build_small_medium_share": draw(frac)},
    }


def lever(draw, workloads, saving):
    return {"workloads": workloads, "saving": saving, "adoption_ceiling": draw(frac),
            "adoption_midpoint": draw(year_mid), "adoption_scale": draw(scale)}


def _fleet(gc, with_hubs=True):
    hub_id = "H" if with_hubs else None
    return gc.make_fleet(
        [{"region_id": "A", "zone": "east"}, {"region_id": "B", "zone": "west", "diffusion_lag_years": 2.0},
         {"region_id": "C", "zone": "east", "diffusion_lag_years": 1.0}],
        [
            {"region_id": "A", "it_capacity_mw": 100.0, "ai_share": 0.6, "training_share": 0.5, "hub_id": hub_id},
            {"region_id": "B", "it_capacity_mw": 50.0, "ai_share": 0.4, "training_share": 0.7,
             "lat": 36.0, "lon": 104.0, "size_class": "small_medium"},
            {"region_id": "B", "it_capacity_mw": 70.0, "ai_share": 0.9, "training_share": 0.2, "pue": 1.4},
            {"region_id": "C", "it_capacity_mw": 30.0, "ai_share": 0.5, "training_share": 0.9,
             "lat": 31.0, "lon": 121.0},
        ],
        hubs=[{"hub_id": "H", "lat": 30.0, "lon": 120.0}] if with_hubs else [],
    )


@SETTINGS
@given(over=scenario_over(), data=st.data())
def test_zero_saving_changes_nothing(gc, over, data):
    fleet = _fleet(gc)
    plain = gc.run(fleet, gc.make_scenario(**over))
    wl = data.draw(st.sampled_from([["general"], ["training"], ["inference"], ["training", "inference"],
                                    ["general", "training", "inference"]]))
    with_lever = gc.make_scenario(**over, levers={"nil": lever(data.draw, wl, 0.0)})
    res = gc.run(fleet, with_lever)
    np.testing.assert_allclose(res.it_twh, plain.it_twh, rtol=1e-12, atol=0)
    np.testing.assert_allclose(res.region_facility_twh, plain.region_facility_twh, rtol=1e-12, atol=0)


@SETTINGS
@given(over=scenario_over(), data=st.data())
def test_zero_elasticity_means_no_rebound(gc, over, data):
    over["rebound"].update(elasticity_training=0.0, elasticity_inference=0.0)
    levers = {"x": lever(data.draw, ["training", "inference"], data.draw(frac)),
              "y": lever(data.draw, ["inference"], data.draw(frac))}
    fleet = _fleet(gc)
    one = gc.run(fleet, gc.make_scenario(**over, levers=levers))
    # without rebound, diffusion timing cannot matter
    over["rebound"].update(diffusion_midpoint=data.draw(year_mid), diffusion_scale=data.draw(scale))
    two = gc.run(fleet, gc.make_scenario(**over, levers=levers))
    np.testing.assert_allclose(one.it_twh, two.it_twh, rtol=1e-12, atol=0)
    # and the rebound factor itself is exactly 1 for any diffusion and multiplier
    diffusion = data.draw(arrays(float, (1, 3, 4), elements=st.floats(-1.0, 1.0)))
    mult = data.draw(arrays(float, (1, 4, 3), elements=st.floats(0.05, 2.0)))
    assert (rebound_factor(diffusion, mult, np.zeros((1, 3))) == 1.0).all()


energy = st.floats(0.0, 100.0)
pue = st.floats(1.0, 3.0)


@SETTINGS
@given(
    e=arrays(float, (1, 2, 5), elements=energy),
    pe=arrays(float, (1, 2), elements=pue),
    pn=arrays(float, (1, 2, 5), elements=pue),
    de=arrays(float, (1, 2), elements=st.floats(0.0, 1.0)),
    dn=arrays(float, (1, 2, 5), elements=st.floats(0.0, 1.0)),
)
def test_facility_energy_rises_with_pue(e, pe, pn, de, dn):
    low = facility_energy(e, pe, pn)
    high = facility_energy(e, pe + de, pn + dn)
    assert (high >= low).all()
    # and it is never below the IT energy when PUE >= 1
    assert (low >= e * (1 - 1e-12)).all()


@SETTINGS
@given(over=scenario_over(), bump=st.floats(0.0, 0.5))
def test_simulated_facility_energy_rises_with_pue_table(gc, over, bump):
    sc = gc.make_scenario(**over)
    fleet = _fleet(gc)
    base = gc.run(fleet, sc)
    table = {k: (lo, c + bump, hi + bump) for k, (lo, c, hi) in gc.PUE_TABLE.items()}
    higher = gc.run(fleet, sc, gc.make_params(sc, table))
    assert (higher.region_facility_twh >= base.region_facility_twh * (1 - 1e-12)).all()
    np.testing.assert_allclose(higher.it_twh, base.it_twh, rtol=0, atol=0)


@SETTINGS
@given(over=scenario_over())
def test_no_training_shift_when_no_hub_exists(gc, over):
    fleet = _fleet(gc, with_hubs=False)
    res = gc.run(fleet, gc.make_scenario(**over))
    over["hubs"]["training_shift_to_hubs"] = 0.0
    unshifted = gc.run(fleet, gc.make_scenario(**over))
    np.testing.assert_array_equal(res.it_twh, unshifted.it_twh)


@SETTINGS
@given(
    train=arrays(float, (2, 4, 6), elements=st.floats(0.0, 50.0)),
    train0=arrays(float, (4,), elements=st.floats(0.0, 10.0)),
    hub_frac=arrays(float, (2, 4), elements=frac),
    shift=arrays(float, (2,), elements=frac),
)
def test_shift_conserves_national_training_energy(train, train0, hub_frac, shift):
    hub0 = hub_frac * train0[None, :]
    out = shift_training_to_hubs(train, train0, hub0, shift)
    np.testing.assert_allclose(out.sum(axis=1), train.sum(axis=1), rtol=1e-12, atol=1e-9)
    assert (out >= -1e-9).all()


@SETTINGS
@given(over=scenario_over())
def test_shift_conserves_national_training_energy_in_simulate(gc, over):
    fleet = _fleet(gc)
    res = gc.run(fleet, gc.make_scenario(**over))
    over["hubs"]["training_shift_to_hubs"] = 0.0
    unshifted = gc.run(fleet, gc.make_scenario(**over))
    np.testing.assert_allclose(res.it_twh[..., 1].sum(axis=1), unshifted.it_twh[..., 1].sum(axis=1),
                               rtol=1e-12, atol=1e-12)
    # general and inference never move
    np.testing.assert_array_equal(res.it_twh[..., [0, 2]], unshifted.it_twh[..., [0, 2]])
