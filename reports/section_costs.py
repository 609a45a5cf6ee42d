"""Report section "What it costs and emits": electricity bill and CO2 of the compute load.

Reads the run's ``costs`` table (per scenario, region and ``ALL``, year, stat). National
figures by scenario with their p10-p90 range, provinces as bars, and the hub-push versus
distributed-small comparison when both scenarios are in the run.
"""

from __future__ import annotations

import pandas as pd

from reports.figures import grid_layout, label, scenario_colours, styled_layout
from reports.inputs import (
    NATIONAL_ID,
    ReportInputs,
    central,
    present,
    region_names,
    scenarios_of,
    stat_rows,
    years_of,
)
from reports.page import Section, TableGroup, Text, chart_from_spec
from reports.tables import frame_table

__all__ = ["section"]

COST = "electricity_cost_bn_cny"
CO2 = "emissions_mt_co2"
GREEN = "green_supplied_twh"
PAIR = ("hub_push", "distributed_small")
_LABELS = {COST: "cost, bn CNY/yr", CO2: "CO2, Mt/yr", GREEN: "green-supplied, TWh/yr"}


def _year(costs: pd.DataFrame) -> int:
    _, end, milestone = years_of(costs)
    return milestone or end


def _national(costs: pd.DataFrame, year: int) -> pd.DataFrame:
    """Scenario rows at ``year``: central and p10/p90 of cost, CO2 and green supply (national)."""
    nat = costs.loc[(costs["region_id"].astype(str) == NATIONAL_ID) & (costs["year"] == year)]
    out = central(nat).set_index(nat["scenario"].astype(str).loc[central(nat).index])[[COST, CO2, GREEN]]
    for stat in ("p10", "p90"):
        part = stat_rows(nat, stat)
        if len(part):
            part = part.set_index(part["scenario"].astype(str))
            for col in (COST, CO2):
                out[f"{col}_{stat}"] = part[col]
    return out.reindex(scenarios_of(nat))


def _national_figure(nat: pd.DataFrame, year: int) -> dict:
    """Plotly figure JSON (plain dicts, for ``page.chart_from_spec``)."""
    grid, refs = grid_layout(1, 2, [f"electricity cost {year}, bn CNY/yr", f"CO2 {year}, Mt/yr"], 0.2 / 2, 0.3)
    colours = scenario_colours(list(nat.index))
    data: list[dict] = []
    for (xref, yref), col in zip(refs, (COST, CO2), strict=True):
        trace = {"hovertemplate": "%{x}: %{y:,.1f}<extra></extra>",
                 "marker": {"color": [colours[s] for s in nat.index]}, "showlegend": False,
                 "x": [label(s) for s in nat.index], "y": _numbers(nat[col]), "type": "bar",
                 "xaxis": xref, "yaxis": yref}
        if f"{col}_p90" in nat.columns:
            trace["error_y"] = {"array": _numbers(nat[f"{col}_p90"] - nat[col]),
                                "arrayminus": _numbers(nat[col] - nat[f"{col}_p10"]), "symmetric": False,
                                "type": "data"}
        data.append(trace)
    return {"data": data, "layout": _two_panels(grid, f"National cost and emissions, {year} (bars: central; "
                                                      "whiskers: p10-p90)", 460)}


def _two_panels(grid: dict, title: str, height: int, **y_extra: object) -> dict:
    axes = ["xaxis", "yaxis", "xaxis2", "yaxis2"]
    layout = styled_layout(title, height, axes)
    for axis in axes:
        layout[axis] = {**grid[axis], **(y_extra if axis.startswith("yaxis") else {}), **layout[axis]}
    layout["annotations"] = grid["annotations"]
    layout["margin"] = {**layout["margin"], "t": 90}
    return layout


def _numbers(values: pd.Series) -> list[float | None]:
    """Floats for figure JSON, NaN as None (an empty bar or whisker)."""
    return [None if v != v else v for v in pd.to_numeric(values).to_numpy(dtype=float).tolist()]


def _province_frame(costs: pd.DataFrame, scenario: str, year: int, names: dict[str, str]) -> pd.DataFrame:
    part = central(costs.loc[(costs["scenario"].astype(str) == scenario) & (costs["year"] == year)])
    part = part.loc[part["region_id"].astype(str) != NATIONAL_ID]
    out = pd.DataFrame({"region_id": part["region_id"].astype(str), "name": part["region_id"].astype(str).map(
        lambda r: names.get(r, r)), COST: part[COST], CO2: part[CO2], GREEN: part[GREEN]})
    return out.sort_values(COST, ascending=False).reset_index(drop=True)


def _province_figure(frame: pd.DataFrame, scenario: str, year: int) -> dict:
    """Plotly figure JSON (plain dicts, for ``page.chart_from_spec``)."""
    grid, refs = grid_layout(1, 2, [f"cost {year}, bn CNY/yr", f"CO2 {year}, Mt/yr"], 0.2 / 2, 0.3,
                             shared_yaxes=True)
    names = [label(n) for n in frame["name"]]
    data = [{"hovertemplate": "%{y}: %{x:,.2f}<extra></extra>",
             "marker": {"color": "#4c78a8" if col == COST else "#e45756"}, "orientation": "h",
             "showlegend": False, "x": _numbers(frame[col]), "y": names, "type": "bar", "xaxis": xref, "yaxis": yref}
            for (xref, yref), col in zip(refs, (COST, CO2), strict=True)]
    return {"data": data, "layout": _two_panels(grid, f"Provinces, scenario {label(scenario)}, {year} (central run)",
                                                max(420, 18 * len(frame) + 140), autorange="reversed")}


def _pair_frame(costs: pd.DataFrame) -> pd.DataFrame | None:
    names = scenarios_of(costs)
    if not all(p in names for p in PAIR):
        return None
    _, end, milestone = years_of(costs)
    rows = []
    for year in sorted({y for y in (milestone, end) if y}):
        nat = _national(costs, year)
        a, b = nat.loc[PAIR[0]], nat.loc[PAIR[1]]
        for col in (COST, CO2):
            rows.append({"year": year, "quantity": _LABELS[col], PAIR[0]: a[col], PAIR[1]: b[col],
                         "difference": a[col] - b[col],
                         "difference_share": (a[col] - b[col]) / b[col] if b[col] else float("nan")})
    return pd.DataFrame(rows)


def _notes(costs: pd.DataFrame) -> list[str]:
    lines = [
        "Electricity cost = facility energy x the province's price (TWh x CNY/kWh = bn CNY). "
        "Emissions = (facility energy - green-supplied new build) x the province's location-based grid "
        "factor (TWh x kg CO2/kWh = Mt CO2). Green-supplied = the scenario's green-power share x the "
        "new-build part of facility energy (growth above the base year x new-build PUE).",
        "Grid factors: MEE/NBS provincial factors (2021-2022; Tibet: its regional grid's, an assumption), "
        "changed by the scenario's factor_change_per_year after their last year. Prices: no authoritative "
        "provincial table exists; the shipped ranges are mostly assumptions (data/SOURCES.md). p10-p90 "
        "combine energy, price and factor-change draws.",
    ]
    if costs[COST].isna().all():
        lines.append("No electricity_prices.csv in the run's data: costs are not computed (shown empty).")
    if costs[CO2].isna().all():
        lines.append("No grid_emission_factors.csv in the run's data: emissions are not computed (shown empty).")
    return lines


def section(inputs: ReportInputs) -> Section | None:
    """The cost-and-emissions section, or None when the run has no ``costs`` table."""
    costs = getattr(inputs, "costs", None)
    if not present(costs):
        return None
    costs = costs.assign(year=pd.to_numeric(costs["year"]).astype(int))
    year = _year(costs)
    nat = _national(costs, year)
    nat_table = frame_table("costs-national", f"National cost and emissions by scenario, {year}",
                            nat.reset_index(names="scenario"),
                            {c: "{:,.1f}" for c in nat.columns})
    blocks: list = [Text(_notes(costs)),
                    chart_from_spec("fig-costs-national", _national_figure(nat, year),
                                    f"National electricity cost and CO2 of compute centres in {year}, by scenario.",
                                    [nat_table])]
    names = region_names(inputs.regions)
    scenarios = scenarios_of(costs)
    first = scenarios[0]
    frames = {s: _province_frame(costs, s, year, names) for s in scenarios}
    blocks.append(chart_from_spec("fig-costs-provinces", _province_figure(frames[first], first, year),
                                  f"Cost and CO2 by province, scenario {first}, {year}; other scenarios in the table below."))
    tables = [frame_table(f"costs-prov-{i}", f"Scenario {s}: provinces in {year} (central run)", frames[s],
                          {COST: "{:,.2f}", CO2: "{:,.2f}", GREEN: "{:,.2f}"}) for i, s in enumerate(scenarios)]
    blocks.append(TableGroup("costs-provinces", "Scenario:", scenarios, tables))
    pair = _pair_frame(costs)
    if pair is not None:
        blocks.append(Text([f"{PAIR[0]} versus {PAIR[1]}: national cost and CO2 (central run); difference = "
                            f"{PAIR[0]} - {PAIR[1]}."]))
        blocks.append(frame_table("costs-pair", f"{PAIR[0]} versus {PAIR[1]}", pair,
                                  {PAIR[0]: "{:,.1f}", PAIR[1]: "{:,.1f}", "difference": "{:+,.1f}",
                                   "difference_share": "{:+.1%}", "year": "year"}))
    return Section("costs", "What it costs and emits", blocks)
