"""Tests for models.coincident: hand-worked 48-hour case and properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.coincident import coincident_peak


def _profiles() -> pd.DataFrame:
    day_a = np.ones(24)
    day_a[18] = 3.0  # region A: 1 MW shape, evening peak of 3 at 18:00; day sum 26
    day_b = np.full(24, 2.0)
    day_b[12] = 4.0  # region B: 2 MW shape, noon peak of 4; day sum 50
    return pd.DataFrame(
        {"hour_of_year": np.arange(48), "A": np.tile(day_a, 2), "B": np.tile(day_b, 2)}
    )


def test_hand_worked_two_regions_48_hours():
    # A: sum(profile) = 52, energy 52 MWh -> MW equals the profile: peak 3 at hours 18, 42.
    # Compute A: 1 MW at 18:00 and 5 MW at 03:00 -> totals 4 at 18:00, 6 at 03:00 -> peak 6.
    # B 2030: sum 100, energy 200 MWh -> MW = 2 x profile: 4 flat, 8 at noon; +1 MW flat
    #   compute -> peak 9, increment 1, compute at peak 1.
    # B 2031: energy 400 MWh -> noon peak 16; no compute rows -> increment 0.
    base = pd.DataFrame(
        {
            "region_id": ["A", "B", "B"],
            "year": [2030, 2030, 2031],
            "baseline_twh": [52e-6, 200e-6, 400e-6],
        }
    )
    comp_a = np.zeros(24)
    comp_a[18], comp_a[3] = 1.0, 5.0
    compute = pd.concat(
        [
            pd.DataFrame({"region_id": "A", "year": 2030, "hour": range(24), "compute_mw": comp_a}),
            pd.DataFrame({"region_id": "B", "year": 2030, "hour": range(24), "compute_mw": 1.0}),
        ],
        ignore_index=True,
    )
    out = coincident_peak(_profiles(), base, compute)
    assert list(out.columns) == [
        "region_id",
        "year",
        "system_peak_mw",
        "system_peak_with_compute_mw",
        "compute_peak_contribution_mw",
        "compute_at_system_peak_mw",
    ]
    assert out["region_id"].tolist() == ["A", "B", "B"]
    assert out["year"].tolist() == [2030, 2030, 2031]
    np.testing.assert_allclose(out["system_peak_mw"], [3.0, 8.0, 16.0])
    np.testing.assert_allclose(out["system_peak_with_compute_mw"], [6.0, 9.0, 16.0])
    np.testing.assert_allclose(out["compute_peak_contribution_mw"], [3.0, 1.0, 0.0])
    np.testing.assert_allclose(out["compute_at_system_peak_mw"], [5.0, 1.0, 0.0])


def test_inputs_not_mutated_and_missing_region_rejected():
    prof, base = (
        _profiles(),
        pd.DataFrame({"region_id": ["A"], "year": [2030], "baseline_twh": [1.0]}),
    )
    comp = pd.DataFrame({"region_id": "A", "year": 2030, "hour": range(24), "compute_mw": 2.0})
    copies = [prof.copy(), base.copy(), comp.copy()]
    coincident_peak(prof, base, comp)
    for before, after in zip(copies, [prof, base, comp], strict=True):
        pd.testing.assert_frame_equal(before, after)
    with pytest.raises(ValueError, match="no profile column"):
        coincident_peak(prof, base.assign(region_id="Z"), comp)


@settings(max_examples=40, deadline=None)
@given(
    energy_twh=st.floats(1e-3, 1e3),
    compute=st.lists(st.floats(0, 1e4), min_size=24, max_size=24),
)
def test_increment_bounded_by_compute(energy_twh, compute):
    base = pd.DataFrame({"region_id": ["A"], "year": [2030], "baseline_twh": [energy_twh]})
    comp = pd.DataFrame({"region_id": "A", "year": 2030, "hour": range(24), "compute_mw": compute})
    out = coincident_peak(_profiles(), base, comp).iloc[0]
    # Closed form without compute: energy spread over the shape, peak share 3/52.
    assert out["system_peak_mw"] == pytest.approx(energy_twh * 1e6 * 3 / 52)
    tol = 1e-9 * (out["system_peak_mw"] + max(compute))
    assert -tol <= out["compute_peak_contribution_mw"] <= max(compute) + tol
    assert out["compute_at_system_peak_mw"] in compute
