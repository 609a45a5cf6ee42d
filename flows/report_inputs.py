"""Assemble the report's inputs from a run's tables and render it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flows.schema import InputTables
from models.scenario import Scenario, parameter_ranges
from reports import ReportInputs, render_report
from reports.inputs import PUBLISHED_COLUMNS

__all__ = ["assumptions_table", "build_report"]

PUBLISHED_FILE = "published_estimates.csv"


def assumptions_table(scenario: Scenario, inputs: InputTables) -> pd.DataFrame:
    """Every parameter of a scenario with its value and source (``ASSUMPTION`` when unsourced)."""
    rows = []
    for name, (lo, c, hi) in parameter_ranges(scenario).items():
        value = f"{c:g}" if lo == hi else f"{c:g} [{lo:g}-{hi:g}]"
        rows.append({"item": f"{scenario.name}: {name}", "value": value,
                     "source": scenario.sources.get(name, "ASSUMPTION (see the scenario file's comment)")})
    pue = inputs.pue_assumptions
    for rec in pue.to_dict("records"):
        rows.append({
            "item": f"PUE {rec['size_class']} {rec['zone']}",
            "value": f"{rec['pue_central']:g} [{rec['pue_low']:g}-{rec['pue_high']:g}]",
            "source": "pue_assumptions.csv (see data/SOURCES.md)",
        })
    return pd.DataFrame(rows)


def _published(data_dir: Path) -> pd.DataFrame:
    path = Path(data_dir) / PUBLISHED_FILE
    cols = PUBLISHED_COLUMNS
    if not path.is_file():
        return pd.DataFrame(columns=cols)
    return pd.read_csv(path, encoding="utf-8")[cols]


def _coincident(tables: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
    frame = tables.get("coincident_peak")
    return None if frame is None or frame.empty else frame


def build_report(run_dir: Path, inputs: InputTables, tables: dict[str, pd.DataFrame], meta: dict[str, Any]) -> Path:
    """Write ``run_dir/report.html`` from the run's tables."""
    scenarios = {name: Scenario.model_validate(s["resolved"]) for name, s in meta.get("scenarios", {}).items()}
    first = "reference" if "reference" in scenarios else next(iter(scenarios), None)
    assumptions = assumptions_table(scenarios[first], inputs) if first else None
    regions = inputs.regions[["region_id", "name", "zone", "lat", "lon"]].copy()
    hubs = inputs.hub_nodes.copy()
    if "region_id" not in hubs.columns:
        hubs["region_id"] = pd.NA
    hubs = hubs[["hub_id", "name", "region_id", "lat", "lon", "zone"]]
    backtest = tables.get("backtest")
    rise = tables.get("rise_odds")
    sens = tables.get("sensitivity")
    if sens is not None and not sens.empty:
        sens = sens.rename(columns={"at_low_twh": "low_twh", "at_high_twh": "high_twh"})
        if "rank_corr" not in sens.columns:
            sens = sens.assign(rank_corr=np.nan)
    report_inputs = ReportInputs(
        national=tables["national"],
        regional=tables["regional"],
        turning_points=tables["turning_points"],
        regions=regions,
        hubs=hubs,
        published=_published(Path(meta.get("data_dir", "."))),
        metadata=meta,
        assumptions=assumptions,
        backtest=backtest,
        sensitivity=sens,
        rise_odds=rise,
        coincident=_coincident(tables),
        hours={"peaks": tables.get("peaks"), "headroom": tables.get("headroom"),
               "notes": meta.get("hours_notes", [])},
    )
    return render_report(report_inputs, Path(run_dir) / "report.html")
