"""Scenario validation: bad scenarios are refused with a message, good ones flatten to ranges."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models.scenario import Scenario, parameter_ranges


def _refused(gc, match: str, **over):
    with pytest.raises(ValidationError, match=match):
        Scenario.model_validate(gc.scenario_dict(**over))


def test_base_scenario_is_valid_and_flattens(gc):
    sc = gc.make_scenario(
        growth={"taper": [0.7, 0.8, 0.9]},
        pue={"new_build_cap": {"west": {"value": [1.15, 1.2, 1.25], "from_year": 2026}}},
    )
    r = parameter_ranges(sc)
    assert r["growth.taper"] == (0.7, 0.8, 0.9)
    assert r["growth.general"] == (0.1, 0.1, 0.1)  # a single number is a degenerate range
    assert r["pue.new_build_cap.west.value"] == (1.15, 1.2, 1.25)
    assert "pue.new_build_cap.east.value" not in r
    assert sc.years == [2024, 2025, 2026, 2027]


def test_low_above_central_refused(gc):
    _refused(gc, "low <= central <= high", growth={"training": [0.6, 0.5, 0.9]})
    _refused(gc, "low <= central <= high", growth={"training": [0.4, 0.5, 0.45]})


def test_shares_outside_unit_interval_refused(gc):
    _refused(gc, "training_shift_to_hubs", hubs={"training_shift_to_hubs": 1.2})
    _refused(gc, "new_build_small_medium_share", pue={"new_build_small_medium_share": -0.1})
    lever = {"workloads": ["training"], "saving": 0.5, "adoption_ceiling": 0.5,
             "adoption_midpoint": 2026.0, "adoption_scale": 1.0}
    _refused(gc, "saving", levers={"x": {**lever, "saving": [0.5, 0.9, 1.1]}})
    _refused(gc, "adoption_ceiling", levers={"x": {**lever, "adoption_ceiling": 1.5}})
    # the edges are fine
    gc.make_scenario(hubs={"training_shift_to_hubs": [0.0, 0.5, 1.0]}, levers={"x": lever})


def test_end_year_before_base_year_refused(gc):
    _refused(gc, "end_year", horizon={"base_year": 2024, "end_year": 2020})


def test_unknown_key_refused(gc):
    with pytest.raises(ValidationError, match="growt"):
        Scenario.model_validate({**gc.scenario_dict(), "growt": {"general": 0.1}})
    _refused(gc, "trainng", growth={"trainng": 0.3})
    _refused(gc, "elasticity_general", rebound={"elasticity_general": 0.1})


def test_non_numeric_and_wrong_length_refused(gc):
    _refused(gc, "three numbers", growth={"training": [0.1, 0.2]})
    _refused(gc, "boolean", growth={"training": True})
