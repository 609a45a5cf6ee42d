"""Assemble the report's inputs from a run's tables and render it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flows.schema import InputTables
from models.scenario import Scenario, parameter_ranges
from reports import ReportInputs, render_report
from reports.inputs import PUBLISHED_COLUMNS

__all__ = ["assumptions_table", "build_report"]

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
    return pd.DataFrame(rows + _cost_input_rows(inputs))


def _cost_input_rows(inputs: InputTables) -> list[dict[str, str]]:
    """Price tiers and grid-factor sources of the optional cost inputs, one row per distinct source."""
    rows = []
    prices = getattr(inputs, "electricity_prices", None)
    if prices is not None:
        for (lo, mid, hi, src), part in prices.fillna({"source": ""}).groupby(
                ["price_low", "price_central", "price_high", "source"], sort=False):
            rows.append({"item": "electricity price CNY/kWh: " + " ".join(part["region_id"].astype(str)),
                         "value": f"{mid:g} [{lo:g}-{hi:g}]", "source": src or "electricity_prices.csv"})
    factors = getattr(inputs, "grid_emission_factors", None)
    if factors is not None:
        for src, part in factors.fillna({"source": ""}).groupby("source", sort=False):
            rows.append({"item": f"grid factor kg CO2/kWh: {part['region_id'].nunique()} regions, "
                                 f"years {part['year'].min()}-{part['year'].max()}",
                         "value": f"{part['kg_co2_per_kwh'].min():g}-{part['kg_co2_per_kwh'].max():g}",
                         "source": src or "grid_emission_factors.csv"})
    return rows


def _published(inputs: InputTables) -> pd.DataFrame:
    """The validated published estimates (``published_estimates.csv`` of the data folder)."""
    frame = getattr(inputs, "published_estimates", None)
    if frame is None:
        return pd.DataFrame(columns=PUBLISHED_COLUMNS)
    return frame[PUBLISHED_COLUMNS].reset_index(drop=True)


def _coincident(tables: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
    frame = tables.get("coincident_peak")
    return None if frame is None or frame.empty else frame


def build_report(run_dir: Path, inputs: InputTables, tables: dict[str, pd.DataFrame], meta: dict[str, Any]) -> Path:
    """Write ``run_dir/report.html`` from the run's tables."""
    scenarios = {name: Scenario.model_validate(s["resolved"]) for name, s in meta.get("scenarios", {}).items()}
    first = "reference" if "reference" in scenarios else next(iter(scenarios), None)
    assumptions = assumptions_table(scenarios[first], inputs) if first else None
    regions = inputs.regions[["region_id", "name", "name_zh", "zone", "lat", "lon"]].copy()
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
    # The report is the run's last output: by the time it renders, every table is computed.
    # The recorded state stays RUNNING until run.json is written, which the report cannot show.
    meta = {**meta, "state": "COMPLETED", "report_written_at": datetime.now(UTC).isoformat()}
    report_inputs = ReportInputs(
        national=tables["national"],
        regional=tables["regional"],
        turning_points=tables["turning_points"],
        regions=regions,
        hubs=hubs,
        published=_published(inputs),
        metadata=meta,
        assumptions=assumptions,
        backtest=backtest,
        sensitivity=sens,
        rise_odds=rise,
        coincident=_coincident(tables),
        forecast=tables.get("forecast"),
        costs=tables.get("costs"),
    )
    return render_report(report_inputs, Path(run_dir) / "report.html")
