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

__all__ = ["assumptions_table", "build_report", "observed_vs_model", "pipeline_for_report",
           "regional_it_energy"]

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


def pipeline_for_report(
    pipeline: pd.DataFrame | None, planned: pd.DataFrame | None
) -> pd.DataFrame | None:
    """The run's ``pipeline`` table with each project's name, capacity and source joined on."""
    if pipeline is None or pipeline.empty:
        return None
    if planned is None or planned.empty:
        return pipeline
    keep = [c for c in ("name", "it_capacity_mw", "source") if c in planned.columns]
    info = planned.assign(project_id=planned["project_id"].astype(str)).drop_duplicates("project_id")
    info = info.set_index("project_id")[keep]
    # The table has one row per project, year and scenario (12M rows at 100k projects): look the
    # project up once per distinct id and spread by the id's codes, never a string per row.
    codes, ids = pd.factorize(pipeline["project_id"].astype("category"), sort=False)
    ids = pd.Index(ids.astype(str))
    out = pipeline.drop(columns=[c for c in keep if c in pipeline.columns])
    out = out.assign(project_id=pd.Categorical.from_codes(codes, categories=ids))
    looked_up = info.reindex(ids)
    for col in keep:
        if col == "it_capacity_mw":
            out[col] = looked_up[col].to_numpy(dtype=float)[codes]
            continue
        # per-id text as a categorical: its codes follow the row's project code
        text_codes, texts = pd.factorize(looked_up[col].astype("string"), sort=False)
        out[col] = pd.Categorical.from_codes(text_codes[codes], categories=pd.Index(texts.astype(str)))
    return out


def regional_it_energy(regional: pd.DataFrame, forecast: pd.DataFrame | None) -> pd.DataFrame:
    """``regional`` with the central ``it_energy_twh`` (sum of the forecast's workloads) added.

    The pipeline section draws a province's trend as this IT energy less what the pipeline
    added. Rows other than the central ones get NaN (a sum of workload quantiles is not a
    quantile). Returned unchanged when it already has the column or there is no forecast.
    """
    if "it_energy_twh" in regional.columns or forecast is None or forecast.empty:
        return regional
    mid = forecast.loc[forecast["stat"].astype(str) == "central"]
    keys = ["scenario", "region_id", "year"]
    it = mid.groupby([mid[k].astype(str) if k != "year" else mid[k] for k in keys])[
        "it_energy_twh"
    ].sum()
    at = pd.MultiIndex.from_arrays(
        [regional["scenario"].astype(str), regional["region_id"].astype(str), regional["year"]]
    )
    values = it.reindex(at).to_numpy(dtype=float)
    central_rows = (regional["stat"].astype(str) == "central").to_numpy()
    return regional.assign(it_energy_twh=np.where(central_rows, values, np.nan))


def observed_vs_model(
    observed: pd.DataFrame | None,
    centers: pd.DataFrame,
    regional: pd.DataFrame,
    scenario: str | None,
) -> pd.DataFrame | None:
    """Observed provincial figures with the model's value beside each (``model_value``).

    ``it_capacity_mw``: the base fleet's installed IT MW of the region. ``facility_energy_twh``:
    the scenario's central regional facility energy in the observed year (a quarter's figure
    is compared with a quarter of the year's). Outside the horizon: NaN.
    """
    if observed is None or observed.empty:
        return None
    obs = observed.reset_index(drop=True).assign(
        region_id=observed["region_id"].astype(str).to_numpy()
    )
    fleet_mw = centers.groupby(centers["region_id"].astype(str))["it_capacity_mw"].sum()
    rows = regional
    if scenario is not None and len(rows):
        rows = rows.loc[rows["scenario"].astype(str) == scenario]
    stat = rows["stat"].astype(str) if len(rows) else pd.Series(dtype=str)
    mid = rows.loc[stat == "central"] if (stat == "central").any() else rows.loc[stat == "p50"]
    energy = mid.set_index([mid["region_id"].astype(str), mid["year"].astype(int)])[
        "facility_energy_twh"
    ]
    quantity = obs["quantity"].astype(str)
    keys = pd.MultiIndex.from_arrays([obs["region_id"], obs["year"].astype(int)])
    year_twh = pd.Series(energy.reindex(keys).to_numpy(dtype=float), index=obs.index)
    model = np.where(
        quantity == "it_capacity_mw",
        obs["region_id"].map(fleet_mw).astype(float),
        np.where(quantity == "facility_energy_twh_quarter", year_twh / 4.0, year_twh),
    )
    return obs.assign(model_value=model)


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
    pipeline = pipeline_for_report(
        tables.get("pipeline"), getattr(inputs, "planned_centers", None)
    )
    regional = tables["regional"]
    if pipeline is not None:
        regional = regional_it_energy(regional, tables.get("forecast"))
    report_inputs = ReportInputs(
        national=tables["national"],
        regional=regional,
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
        pipeline=pipeline,
        observed=observed_vs_model(
            getattr(inputs, "observed_provincial", None),
            inputs.compute_centers,
            tables["regional"],
            first,
        ),
        hours={"peaks": tables.get("peaks"), "headroom": tables.get("headroom"),
               "notes": meta.get("hours_notes", [])},
    )
    return render_report(report_inputs, Path(run_dir) / "report.html")
