"""Small hand-checkable fixtures for the model tests (docs/methodology.md section 3).

Everything here builds inputs only; expected values are always worked out by
hand inside the tests, never by calling the code under test.

The helpers are exposed through the session-scoped ``gc`` fixture (a namespace)
so hypothesis tests can use them without function-scoped fixture warnings.
"""

from __future__ import annotations

import copy
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from models.engine import build_fleet, simulate
from models.sampling import central_params
from models.scenario import Scenario, parameter_ranges

WORKLOADS = ("general", "training", "inference")

# PUE table (low, central, high) per size class and zone; all four combinations.
PUE_TABLE: dict[str, tuple[float, float, float]] = {
    "pue_table.large.east": (1.1, 1.2, 1.3),
    "pue_table.large.west": (1.05, 1.15, 1.25),
    "pue_table.small_medium.east": (1.3, 1.4, 1.5),
    "pue_table.small_medium.west": (1.25, 1.35, 1.45),
}


def training_factor(hour: int) -> float:
    """Training shape: 1.5 in hours 0-11, 0.5 in hours 12-23 (mean 1)."""
    return 1.5 if hour < 12 else 0.5


def inference_factor(hour: int) -> float:
    """Inference shape: 2.0 at hour 20, 0.0 at hour 4, 1.0 otherwise (mean 1)."""
    return {20: 2.0, 4: 0.0}.get(hour, 1.0)


def general_factor(hour: int) -> float:
    return 1.0


FACTORS = {"general": general_factor, "training": training_factor, "inference": inference_factor}

LOAD_SHAPES = pd.DataFrame(
    [{"workload": w, "hour": h, "factor": FACTORS[w](h)} for w in WORKLOADS for h in range(24)]
)

# A plain scenario: 2024..2027, no levers, no rebound, no hub shift.
BASE_SCENARIO: dict = {
    "name": "t",
    "horizon": {"base_year": 2024, "end_year": 2027},
    "growth": {"taper": 0.8, "general": 0.1, "training": 0.5, "inference": 0.4},
    "hardware_efficiency_gain": {"general": 0.05, "training": 0.1, "inference": 0.2},
    "rebound": {
        "elasticity_training": 0.0,
        "elasticity_inference": 0.0,
        "diffusion_midpoint": 2026.0,
        "diffusion_scale": 1.5,
    },
    "hubs": {"assignment_radius_km": 0.0, "training_shift_to_hubs": 0.0},
    "pue": {"new_build_small_medium_share": 0.25},
}


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def scenario_dict(**over: dict) -> dict:
    """BASE_SCENARIO deep-merged with the given top-level sections."""
    return _merge(BASE_SCENARIO, over)


def make_scenario(**over: dict) -> Scenario:
    return Scenario.model_validate(scenario_dict(**over))


_CENTER_DEFAULTS = {
    "hub_id": None,
    "lat": math.nan,
    "lon": math.nan,
    "size_class": "large",
    "utilization": 1.0,
    "ai_share": 0.0,
    "training_share": 0.0,
    "pue": math.nan,
}


def make_fleet(regions: list[dict], centers: list[dict], hubs: list[dict] | None = None,
               load_shapes: pd.DataFrame | None = None):
    """Fleet from short dict lists; missing centre columns take neutral defaults."""
    reg = pd.DataFrame(
        [{"diffusion_lag_years": 0.0, **r} for r in regions],
        columns=["region_id", "zone", "diffusion_lag_years"],
    )
    rows = [{**_CENTER_DEFAULTS, "center_id": f"c{i}", **c} for i, c in enumerate(centers)]
    cols = ["center_id", "region_id", "hub_id", "lat", "lon", "size_class", "it_capacity_mw",
            "utilization", "ai_share", "training_share", "pue"]
    cen = pd.DataFrame(rows, columns=cols)
    for c in ("lat", "lon", "pue", "it_capacity_mw", "utilization", "ai_share", "training_share"):
        cen[c] = cen[c].astype(float)
    cen["hub_id"] = cen["hub_id"].astype(object)
    hub = pd.DataFrame(hubs or [], columns=["hub_id", "lat", "lon"])
    hub["lat"] = hub["lat"].astype(float)
    hub["lon"] = hub["lon"].astype(float)
    return build_fleet(reg, cen, hub, LOAD_SHAPES if load_shapes is None else load_shapes)


def make_params(scenario: Scenario, pue_table: dict | None = None, **override: float) -> dict:
    """Central params of the scenario plus the PUE table; ``override`` sets single
    central values by dotted name (dots given as ``__``)."""
    ranges = {**parameter_ranges(scenario), **(pue_table or PUE_TABLE)}
    p = central_params(ranges)
    for k, v in override.items():
        p[k.replace("__", ".")] = np.array([float(v)])
    return p


def run(fleet, scenario: Scenario, params: dict | None = None):
    return simulate(fleet, scenario, params if params is not None else make_params(scenario))


def e0(mw: float, util: float) -> float:
    """Base IT energy of a centre in TWh: MW * utilisation * 8760 h / 1e6."""
    return mw * util * 8760.0 / 1e6


def g_hand(growth: float, taper: float, hw: float, tau: int) -> float:
    """Growth index by a plain loop: prod_{k=1..tau} (1 + g taper^(k-1)) (1 - hw)."""
    out = 1.0
    for k in range(1, tau + 1):
        out *= (1.0 + growth * taper ** (k - 1)) * (1.0 - hw)
    return out


def logistic(t: float, mid: float, scale: float) -> float:
    return 1.0 / (1.0 + math.exp(-(t - mid) / scale))


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6371.0088
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dphi = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


@pytest.fixture(scope="session")
def gc() -> SimpleNamespace:
    return SimpleNamespace(
        PUE_TABLE=PUE_TABLE,
        FACTORS=FACTORS,
        LOAD_SHAPES=LOAD_SHAPES,
        WORKLOADS=WORKLOADS,
        scenario_dict=scenario_dict,
        make_scenario=make_scenario,
        make_fleet=make_fleet,
        make_params=make_params,
        run=run,
        e0=e0,
        g_hand=g_hand,
        logistic=logistic,
        haversine_km=haversine_km,
    )
