"""A small run folder built without Prefect, shared by the compare and export tests.

The tables are written the way ``flows.pipeline.write_outputs_task`` writes them
(partitioned ``forecast/`` and ``regional/``, one Parquet file per other table),
with a ``run.json`` holding the fields ``gridcast compare`` and ``export`` read.
The baseline is flat (the last history year held constant, +-5% band): these
tests check tables, not the baseline model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows import outputs
from flows.compute import fleet_from_inputs, run_scenario
from flows.scenarios import SHIPPED_SCENARIOS, load_scenarios, scenario_hash
from flows.validate import load_inputs
from models.hubs import assign_hubs
from models.summarize import Baseline

RUN_SCENARIOS = ("reference", "efficiency_led", "hub_push")
RUN_ID = "20250101T000000Z-test00"


def _flat_baseline(history: pd.DataFrame, region_ids: np.ndarray, years: list[int]) -> Baseline:
    last = history.sort_values("year").groupby("region_id")["consumption_twh"].last()
    level = last.reindex(list(region_ids)).to_numpy(float)[:, None] * np.ones(len(years))
    return Baseline(level, level * 0.95, level * 1.05)


def build_run(run_dir: Path, names: tuple[str, ...] = RUN_SCENARIOS, n_draws: int = 50) -> Path:
    """Forecast ``names`` on the shipped data and write a run folder at ``run_dir``."""
    inputs = load_inputs(Path("data/default"))
    fleet = fleet_from_inputs(inputs)
    loaded = [s for s in load_scenarios(SHIPPED_SCENARIOS) if s.name in names]
    results = []
    for s in loaded:
        base = _flat_baseline(inputs.demand_history, fleet.region_ids, s.scenario.years)
        results.append(run_scenario(inputs, s.scenario, base, n_draws=n_draws, seed=7, fleet=fleet))
    hubs = []
    for s in loaded:
        h = assign_hubs(inputs.compute_centers, inputs.hub_nodes, s.scenario.hubs.assignment_radius_km[1])
        h.insert(0, "scenario", s.name)
        hubs.append(h)
    base = _flat_baseline(inputs.demand_history, fleet.region_ids, loaded[0].scenario.years)
    baseline = pd.DataFrame({
        "region_id": np.repeat(fleet.region_ids, len(loaded[0].scenario.years)).astype(str),
        "year": np.tile(loaded[0].scenario.years, len(fleet.region_ids)),
        "baseline_twh": base.central_twh.ravel(), "baseline_lo80_twh": base.lo80_twh.ravel(),
        "baseline_hi80_twh": base.hi80_twh.ravel()})
    tables = {
        "baseline": baseline,
        "forecast": pd.concat([r.forecast for r in results], ignore_index=True),
        "regional": pd.concat([r.regional for r in results], ignore_index=True),
        "national": pd.concat([r.national for r in results], ignore_index=True),
        "turning_points": pd.concat([r.turning_points for r in results], ignore_index=True),
        "hub_assignment": pd.concat(hubs, ignore_index=True),
    }
    for name, frame in tables.items():
        if name in ("forecast", "regional"):
            outputs.write_partitioned(run_dir / name, frame, "scenario")
        else:
            outputs.write_parquet(run_dir / f"{name}.parquet", frame)
    meta = {
        "run_id": RUN_ID,
        "state": "COMPLETED",
        "data_dir": str(Path("data/default").resolve()),
        "inputs_sha256": dict(inputs.hashes),
        "parameters": {"draws": n_draws, "seed": 7},
        "versions": {"python": "test", "pandas": pd.__version__},
        "scenarios_sha256": {s.name: scenario_hash(s) for s in loaded},
        "scenarios": {s.name: {"description": s.scenario.description, "chain": list(s.chain),
                               "resolved": s.scenario.model_dump(mode="json")} for s in loaded},
    }
    outputs.write_json(run_dir / "run.json", meta)
    return run_dir


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only run folder with three shipped scenarios and 50 draws each."""
    return build_run(tmp_path_factory.mktemp("run") / "run")


@pytest.fixture(scope="session")
def run_meta(run_dir: Path) -> dict:
    """The fixture run's ``run.json``."""
    return json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
