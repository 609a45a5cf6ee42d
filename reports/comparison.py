"""The comparison page of ``gridcast compare``: two (or more) runs side by side.

Frames are the runs' output tables stacked, with a ``run`` column naming the run each row
comes from (``run_id`` is accepted too; without either, all rows count as one run). Deltas
are last run minus first run, in the order runs first appear.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from reports.figures import label, scenario_colours, styled
from reports.inputs import central, milestone_years, scenarios_of
from reports.page import Section, TableGroup, Text, chart, render_page, write_page
from reports.tables import frame_table

__all__ = ["render_comparison"]

_DASHES = ["solid", "dash", "dot", "dashdot", "longdash"]


def _with_run(frame: pd.DataFrame) -> pd.DataFrame:
    if "run" in frame.columns:
        return frame.assign(run=frame["run"].astype(str))
    if "run_id" in frame.columns:
        return frame.assign(run=frame["run_id"].astype(str))
    return frame.assign(run="run")


def _runs(frame: pd.DataFrame) -> list[str]:
    return [str(r) for r in pd.unique(frame["run"])]


def render_comparison(
    national: pd.DataFrame,
    regional: pd.DataFrame,
    turning_points: pd.DataFrame,
    param_diff: pd.DataFrame,
    path: Path,
    title: str,
) -> Path:
    """Write a self-contained HTML page comparing runs to ``path`` (atomically).

    Args:
        national: national rows of every run (``run`` column + the run report's columns).
        regional: regional rows of every run, likewise.
        turning_points: turning points of every run, likewise.
        param_diff: parameters that differ between the runs, any columns (shown as is).
        path: the HTML file to write.
        title: page title, e.g. "run A vs run B".

    Returns:
        ``path``.
    """
    national, regional, turning_points = map(_with_run, (national, regional, turning_points))
    runs = _runs(national)
    sections = [
        _national_section(national, runs),
        _regional_section(regional, runs),
        _turning_section(turning_points, runs),
        Section(
            "parameters",
            "Parameters that differ",
            [frame_table("param-diff", "Parameter differences", param_diff)]
            if len(param_diff)
            else [Text(["The runs used the same parameters."])],
        ),
    ]
    page = render_page(
        "page.html",
        title=title,
        subtitle=[
            f"Runs: {' · '.join(runs)}"
            + (f" (Δ = {runs[-1]} − {runs[0]})" if len(runs) > 1 else "")
        ],
        sections=sections,
        footer=["gridcast comparison"],
    )
    return write_page(path, page)


def _delta_frame(
    mid: pd.DataFrame, index: list[str], runs: list[str], years: list[int]
) -> pd.DataFrame:
    at = mid.loc[mid["year"].isin(years)]
    wide = at.pivot_table(
        index=index,
        columns=["year", "run"],
        values="facility_energy_twh",
        aggfunc="first",
        sort=False,
    )
    out = pd.DataFrame(index=wide.index)
    for y in years:
        for r in runs:
            out[f"{y} {r} TWh"] = wide.get((y, r))
        if len(runs) > 1:
            out[f"{y} Δ TWh"] = wide.get((y, runs[-1])) - wide.get((y, runs[0]))
    return out.reset_index()


def _national_section(national: pd.DataFrame, runs: list[str]) -> Section:
    mid = central(national)
    scenarios = scenarios_of(national)
    colours = scenario_colours(scenarios)
    fig = go.Figure()
    for k, r in enumerate(runs):
        for s in scenarios:
            line = mid.loc[(mid["run"] == r) & (mid["scenario"].astype(str) == s)].sort_values(
                "year"
            )
            fig.add_scatter(
                x=line["year"],
                y=line["facility_energy_twh"],
                mode="lines",
                name=f"{label(r)} · {label(s)}",
                line={"color": colours[s], "dash": _DASHES[k % len(_DASHES)]},
                hovertemplate=f"{label(r)} {label(s)}<br>%{{x}}: %{{y:,.1f}} TWh<extra></extra>",
            )
    fig.update_layout(
        yaxis_title="facility electricity, TWh/yr",
        xaxis_title="year",
        legend={"orientation": "h", "y": -0.2},
    )
    styled(fig, "National compute-centre electricity: runs compared (line style = run)", 520)
    deltas = _delta_frame(mid, ["scenario"], runs, milestone_years(national))
    table = frame_table(
        "national-delta",
        "National central TWh at milestone years",
        deltas,
        {c: "{:,.1f}" for c in deltas.columns if c.endswith("TWh")},
    )
    return Section(
        "national",
        "National",
        [
            chart("fig-compare-national", fig, "Colour = scenario, line style = run.", [table]),
            table,
        ],
    )


def _regional_section(regional: pd.DataFrame, runs: list[str]) -> Section:
    mid = central(regional).assign(region_id=lambda f: f["region_id"].astype(str))
    years = milestone_years(regional)
    end = years[-1]
    deltas = _delta_frame(mid, ["scenario", "region_id"], runs, [end])
    value = f"{end} Δ TWh" if len(runs) > 1 else f"{end} {runs[0]} TWh"
    grid = deltas.pivot_table(
        index="region_id", columns="scenario", values=value, aggfunc="first", sort=False
    )
    fig = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(),
            x=[label(s) for s in grid.columns],
            y=[label(r) for r in grid.index],
            colorscale="RdBu",
            zmid=0 if len(runs) > 1 else None,
            reversescale=True,
            colorbar={"title": {"text": "TWh"}},
            hovertemplate="%{y} %{x}: %{z:,.2f} TWh<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    styled(
        fig,
        f"{'Change in' if len(runs) > 1 else ''} {end} facility electricity by province (TWh/yr)",
        max(420, 120 + 18 * len(grid)),
    )
    scenarios = scenarios_of(deltas)
    formats = {c: "{:,.2f}" for c in deltas.columns if c.endswith("TWh")}
    tables = []
    for i, s in enumerate(scenarios):
        part = deltas.loc[deltas["scenario"].astype(str) == s].drop(columns="scenario")
        part = part.reindex(part[value].abs().sort_values(ascending=False).index)
        tables.append(
            frame_table(f"regional-delta-{i}", f"Scenario {s}: provinces, {end}", part, formats)
        )
    return Section(
        "regional",
        "Provinces",
        [
            chart("fig-compare-regional", fig, f"Province × scenario, {value}.", tables[:1]),
            TableGroup("regional-delta", "Scenario:", scenarios, tables),
        ],
    )


def _turning_section(turning_points: pd.DataFrame, runs: list[str]) -> Section:
    tp = turning_points.assign(
        region_id=turning_points["region_id"].astype(str),
        rise=turning_points["rise_start"].astype("Int64").astype(str).replace("<NA>", "none"),
    )
    tp = tp.assign(summary=tp["shape"].astype(str) + ", rise " + tp["rise"])
    wide = tp.pivot_table(
        index=["scenario", "region_id"],
        columns="run",
        values="summary",
        aggfunc="first",
        sort=False,
    )
    wide = wide.reindex(columns=runs)
    changed = wide.nunique(axis=1, dropna=False) > 1
    wide = (
        wide.assign(changed=changed)
        .sort_values("changed", ascending=False, kind="stable")
        .reset_index()
    )
    return Section(
        "turning-points",
        "Turning points",
        [
            Text(
                [
                    f"{int(changed.sum())} of {len(changed)} scenario × region turning points differ between runs."
                ]
            ),
            frame_table("turning-compare", "Shape and rise start per run", wide),
        ],
    )
