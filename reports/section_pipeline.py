"""Report section "Known projects": what the planned compute centres add, by province and stage.

Reads ``ReportInputs.pipeline`` (the run's ``pipeline`` table, one row per planned row and
year, joined with the planned-centre file's name, capacity and source), the regional
``pipeline_it_energy_twh`` / ``pipeline_added_it_twh`` columns when the run has them, and
``ReportInputs.observed`` (observed provincial figures beside the base fleet). Without a
pipeline the section is left out.
"""

from __future__ import annotations

import math

import pandas as pd
from plotly.colors import qualitative

from reports.figures import grid_layout, label, styled_layout
from reports.inputs import (
    MILESTONE_YEAR,
    ReportInputs,
    central,
    milestone_years,
    present,
    region_names,
    scenarios_of,
    stat_rows,
)
from reports.page import Section, TableGroup, Text, chart_from_spec
from reports.tables import Table, frame_table

__all__ = [
    "MAX_PROJECT_ROWS",
    "STAGES",
    "national_by_stage",
    "province_summary",
    "project_table_frame",
    "section",
]

#: Project stages, earliest first (the order of every table and chart).
STAGES = ("announced", "requested", "approved", "under_construction")
ALL_PROVINCES = "All provinces"
#: Most project rows one table shows (largest first); the rest stay in the pipeline output.
MAX_PROJECT_ROWS = 300
_STAGE_COLOURS = dict(zip(STAGES, qualitative.Safe, strict=False))
_PIPE = "pipeline_it_energy_twh"
_ADDED = "pipeline_added_it_twh"
_TYPED = "gridcast_pipeline_typed"


def section(inputs: ReportInputs) -> Section | None:
    """The "Known projects" section, or None when the run has no pipeline rows."""
    if not present(inputs.pipeline):
        return None
    pipe = _typed(inputs.pipeline)
    scenario = _lead_scenario(pipe)
    mine = pipe.loc[pipe["scenario"] == scenario]
    years = milestone_years(mine)[1:] or milestone_years(
        mine
    )  # nothing planned runs in the base year
    names = region_names(inputs.regions)
    summary = province_summary(mine, inputs.regional, scenario, years)
    stage_frame = national_by_stage(pipe)
    series = _province_series(mine, inputs.regional, scenario)
    blocks: list = [
        Text(_story_lines(summary, names, scenario, years), bullets=True),
        chart_from_spec(
            "fig-pipeline-stages",
            _stage_figure(stage_frame.loc[stage_frame["scenario"] == scenario]),
            f"Scenario {scenario}. Dashed: IT capacity of the known projects as requested (on "
            "time, all built); solid: expected (derated by the realisation probability of the "
            "stage, with its delay). MW of IT load, national sum per stage.",
            [
                frame_table(
                    "pipeline-stage-table", "Requested and expected IT MW by stage", stage_frame
                )
            ],
        ),
        chart_from_spec(
            "fig-pipeline-provinces",
            _province_figure(series, names),
            f"Scenario {scenario}, IT energy of each province with known projects (TWh/yr): "
            "trend without what the projects added, the projects' expected energy (shaded: "
            "p10–p90 of the Monte Carlo, when the run has draws) and what they added to the trend.",
            [_province_series_table(series, scenario)],
        ),
        _summary_table(summary, names, years, scenario),
        _project_group(mine, names),
    ]
    if present(inputs.observed):
        blocks.append(
            Text(
                [
                    "The base fleet beside observed provincial figures. A ratio of 1 for a figure "
                    "the shipped fleet is calibrated to holds by construction; check each row's "
                    "scope (a cluster only, a lower bound, racks under construction)."
                ]
            )
        )
        blocks.append(_observed_table(inputs.observed, names))
    return Section("pipeline", "Known projects: what the pipeline adds", blocks)


# ------------------------------------------------------------------------- frames


def _typed(pipe: pd.DataFrame) -> pd.DataFrame:
    """Ids as text, year as int, quantities as float (a frame this returned is passed through)."""
    if pipe.attrs.get(_TYPED):
        return pipe
    out = pipe.assign(
        scenario=pipe["scenario"].astype(str),
        region_id=pipe["region_id"].astype(str),
        project_id=pipe["project_id"].astype(str),
        stage=pipe["stage"].astype(str),
        year=pd.to_numeric(pipe["year"]).astype(int),
    )
    for col in ("requested_it_mw", "expected_it_mw", "expected_it_energy_twh"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    out.attrs[_TYPED] = True
    return out


def _lead_scenario(pipe: pd.DataFrame) -> str:
    scenarios = scenarios_of(pipe)
    return "reference" if "reference" in scenarios else scenarios[0]


def _stage_order(stages: pd.Series) -> list[str]:
    seen = set(stages.astype(str))
    return [s for s in STAGES if s in seen] + sorted(seen - set(STAGES))


def national_by_stage(pipe: pd.DataFrame) -> pd.DataFrame:
    """National requested and expected IT MW per (scenario, stage, year).

    Returns:
        Columns ``scenario, stage, year, requested_it_mw, expected_it_mw``, stages earliest
        first.
    """
    pipe = _typed(pipe)
    out = pipe.groupby(["scenario", "stage", "year"], as_index=False, sort=False)[
        ["requested_it_mw", "expected_it_mw"]
    ].sum()
    rank = {s: i for i, s in enumerate(_stage_order(out["stage"]))}
    order = {s: i for i, s in enumerate(scenarios_of(pipe))}
    return out.sort_values(
        ["scenario", "stage", "year"],
        key=lambda c: (
            c.map(order) if c.name == "scenario" else c.map(rank) if c.name == "stage" else c
        ),
        kind="stable",
        ignore_index=True,
    )


def _full_mw(pipe: pd.DataFrame) -> pd.Series:
    """IT MW of each project at full build-out: its capacity when given, else its largest request."""
    if "it_capacity_mw" in pipe.columns:
        full = pd.to_numeric(pipe["it_capacity_mw"], errors="coerce")
        return full.groupby(pipe["project_id"]).max()
    return pipe.groupby("project_id")["requested_it_mw"].max()


def _regional_pipeline(regional: pd.DataFrame, scenario: str) -> pd.DataFrame:
    """Central, p10 and p90 rows of one scenario with region_id as text (maybe without pipeline columns)."""
    rows = regional.loc[regional["scenario"].astype(str) == scenario]
    return rows.assign(region_id=rows["region_id"].astype(str), year=rows["year"].astype(int))


def province_summary(
    pipe: pd.DataFrame, regional: pd.DataFrame, scenario: str, years: list[int]
) -> pd.DataFrame:
    """One scenario's provinces with known projects: capacity, expected MW and energy at ``years``.

    Expected energy is the regional ``pipeline_it_energy_twh`` (central) when the run has it,
    else the sum of the projects' ``expected_it_energy_twh``; p10/p90 of the last year come from
    the regional table only.

    Returns:
        One row per region_id: ``projects, stages, full_mw`` and per year ``y``:
        ``expected_mw_y, pipeline_twh_y, added_twh_y`` (NaN when unknown), plus
        ``p10_twh, p90_twh`` at the last year.
    """
    pipe = _typed(pipe)
    pipe = pipe.loc[pipe["scenario"] == scenario]
    full = _full_mw(pipe)
    first = pipe.drop_duplicates("project_id")
    out = pd.DataFrame(
        {
            "projects": first.groupby("region_id")["project_id"].count(),
            "stages": first.groupby("region_id")["stage"].agg(lambda s: ", ".join(_stage_order(s))),
            "full_mw": full.groupby(first.set_index("project_id")["region_id"]).sum(),
        }
    )
    by_year = pipe.groupby(["region_id", "year"])[
        ["expected_it_mw", "expected_it_energy_twh"]
    ].sum()
    reg = _regional_pipeline(regional, scenario)
    mid = central(reg).set_index(["region_id", "year"]) if len(reg) else pd.DataFrame()
    end = years[-1]
    for y in years:
        out[f"expected_mw_{y}"] = _at(by_year["expected_it_mw"], out.index, y)
        own = _at(by_year["expected_it_energy_twh"], out.index, y)
        out[f"pipeline_twh_{y}"] = (
            _at(mid[_PIPE], out.index, y).fillna(own) if _PIPE in mid.columns else own
        )
        out[f"added_twh_{y}"] = (
            _at(mid[_ADDED], out.index, y) if _ADDED in mid.columns else math.nan
        )
    for stat in ("p10", "p90"):
        rows = stat_rows(reg, stat).set_index(["region_id", "year"]) if len(reg) else pd.DataFrame()
        out[f"{stat}_twh"] = _at(rows[_PIPE], out.index, end) if _PIPE in rows.columns else math.nan
    return out.sort_index()


def _at(values: pd.Series, regions: pd.Index, year: int) -> pd.Series:
    keys = pd.MultiIndex.from_arrays([regions, [year] * len(regions)])
    return pd.Series(values.reindex(keys).to_numpy(dtype=float), index=regions)


def project_table_frame(pipe: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """One row per project: id, name, province, stage, full build-out MW, expected MW, source.

    Expected MW is shown for every year after the base year up to 2030, and the end year.

    Args:
        pipe: one scenario's pipeline rows (with ``name`` and ``source`` when joined).
        names: region_id -> province name.
    """
    pipe = _typed(pipe)
    wide = pipe.pivot_table(
        index="project_id", columns="year", values="expected_it_mw", aggfunc="sum", sort=True
    )
    years = sorted(wide.columns)
    shown = [y for y in years[1:] if y <= MILESTONE_YEAR] + [years[-1]]
    wide = wide[[y for y in years if y in set(shown)]]
    wide.columns = [f"{y} expected MW" for y in wide.columns]
    first = pipe.drop_duplicates("project_id").set_index("project_id")
    head = pd.DataFrame(
        {
            "project": first.index,
            "name": first["name"] if "name" in first.columns else pd.NA,
            "province": first["region_id"].map(lambda r: names.get(r, r)),
            "stage": first["stage"],
            "full build-out MW": _full_mw(pipe).reindex(first.index),
        },
        index=first.index,
    )
    out = head.join(wide)
    out["source"] = first["source"] if "source" in first.columns else pd.NA
    return out.sort_values(["province", "project"], kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------------- blocks


def _story_lines(
    summary: pd.DataFrame, names: dict[str, str], scenario: str, years: list[int]
) -> list[str]:
    year = 2030 if 2030 in years else years[-1]
    total = summary["full_mw"].sum()
    lines = [
        f"{int(summary['projects'].sum())} known project rows in {len(summary)} provinces, "
        f"{total:,.0f} MW of IT at full build-out; expected {summary[f'expected_mw_{year}'].sum():,.0f} "
        f"MW in {year} (scenario {scenario})."
    ]
    for rid, row in summary.sort_values("full_mw", ascending=False).iterrows():
        added = row[f"added_twh_{year}"]
        band = ""
        if year == years[-1] and not math.isnan(row["p10_twh"]) and not math.isnan(row["p90_twh"]):
            band = f" (p10–p90 {row['p10_twh']:,.2f}–{row['p90_twh']:,.2f})"
        adds = "" if math.isnan(added) else f", adding {added:,.2f} TWh to the trend"
        lines.append(
            f"{names.get(rid, rid)}: {int(row['projects'])} project row(s), {row['full_mw']:,.0f} MW "
            f"({row['stages']}); expected {row[f'expected_mw_{year}']:,.0f} MW and "
            f"{row[f'pipeline_twh_{year}']:,.2f} TWh of IT in {year}{band}{adds}."
        )
    return lines


def _summary_table(
    summary: pd.DataFrame, names: dict[str, str], years: list[int], scenario: str
) -> Table:
    end = years[-1]
    frame = pd.DataFrame(
        {"region": summary.index, "name": [names.get(r, r) for r in summary.index]}
    )
    frame["projects"] = summary["projects"].to_numpy()
    frame["stages"] = summary["stages"].to_numpy()
    frame["full build-out MW"] = summary["full_mw"].to_numpy()
    formats = {"full build-out MW": "{:,.0f}", "projects": "{:,.0f}"}
    for y in years:
        for key, title, fmt in (
            ("expected_mw", f"{y} expected MW", "{:,.0f}"),
            ("pipeline_twh", f"{y} pipeline TWh", "{:,.2f}"),
            ("added_twh", f"{y} added TWh", "{:,.2f}"),
        ):
            frame[title] = summary[f"{key}_{y}"].to_numpy()
            formats[title] = fmt
    frame[f"{end} p10 TWh"] = summary["p10_twh"].to_numpy()
    frame[f"{end} p90 TWh"] = summary["p90_twh"].to_numpy()
    formats |= {f"{end} p10 TWh": "{:,.2f}", f"{end} p90 TWh": "{:,.2f}"}
    return frame_table(
        "pipeline-provinces-table",
        f"Provinces with known projects, scenario {scenario}: expected IT MW, pipeline IT energy "
        "and what it added to the trend",
        frame,
        formats,
    )


def _project_group(pipe: pd.DataFrame, names: dict[str, str]) -> TableGroup:
    # Rank first, then pivot only the projects some table shows (a long list stays cheap).
    full = _full_mw(pipe)
    region = pipe.drop_duplicates("project_id").set_index("project_id")["region_id"]
    ranked = pd.DataFrame({"full": full, "region": region.reindex(full.index)})
    ranked = ranked.sort_values("full", ascending=False, kind="stable")
    counts = ranked.groupby("region")["full"].count()
    keep = set(ranked.index[:MAX_PROJECT_ROWS]) | set(
        ranked.groupby("region").head(MAX_PROJECT_ROWS).index
    )
    frame = project_table_frame(pipe.loc[pipe["project_id"].isin(keep)], names)
    totals = {names.get(r, r): int(n) for r, n in counts.items()} | {ALL_PROVINCES: len(ranked)}
    formats = {c: "{:,.0f}" for c in frame.columns if str(c).endswith("MW")}
    provinces = sorted(frame["province"].astype(str).unique())
    options = [ALL_PROVINCES, *provinces]
    tables = []
    for i, option in enumerate(options):
        mine = frame["province"].astype(str) == option
        part = frame if option == ALL_PROVINCES else frame.loc[mine]
        caption = f"Known projects ({option}): expected IT MW by year and source"
        if totals.get(option, len(part)) > MAX_PROJECT_ROWS:
            caption += (
                f"; the {MAX_PROJECT_ROWS} largest of {totals[option]:,} (all are in the run's "
                "pipeline table)"
            )
            part = part.nlargest(MAX_PROJECT_ROWS, "full build-out MW", keep="first")
        tables.append(frame_table(f"pipeline-projects-{i}", caption, part, formats))
    return TableGroup("pipeline-projects", "Province:", options, tables)


def _observed_table(observed: pd.DataFrame, names: dict[str, str]) -> Table:
    shown = observed.assign(
        name=observed["region_id"].astype(str).map(lambda r: names.get(r, r)),
    )
    cols = ["region_id", "name", "year", "quantity", "scope", "value", "unit"]
    if "model_value" in shown.columns:
        shown["model / observed"] = pd.to_numeric(shown["model_value"]) / pd.to_numeric(
            shown["value"]
        )
        cols += ["model_value", "model / observed"]
    cols.append("source")
    return frame_table(
        "observed-table",
        "Base fleet (model, base year) against observed provincial figures",
        shown[[c for c in cols if c in shown.columns]],
        {
            "value": "{:,.2f}",
            "model_value": "{:,.2f}",
            "model / observed": "{:.2f}",
            "year": "year",
        },
    )


# ------------------------------------------------------------------------- figures


def _stage_figure(frame: pd.DataFrame) -> dict:
    """Plotly figure JSON (plain dicts, for ``page.chart_from_spec``): one panel per stage."""
    stages = _stage_order(frame["stage"])
    cols = max(1, len(stages))
    grid, refs = grid_layout(1, cols, [label(s) for s in stages], 0.2 / cols, 0.3, shared_yaxes=True)
    data: list[dict] = []
    for i, stage in enumerate(stages):
        part = frame.loc[frame["stage"] == stage].sort_values("year")
        colour = _STAGE_COLOURS.get(stage, "#555")
        for value, dash, what in (
            ("requested_it_mw", "dash", "requested"),
            ("expected_it_mw", "solid", "expected"),
        ):
            data.append({
                "hovertemplate": f"{label(stage)} {what}<br>%{{x}}: %{{y:,.0f}} MW<extra></extra>",
                "line": {"color": colour, "dash": dash, "width": 2},
                "marker": {"size": 4},
                "mode": "lines+markers",
                "name": f"{label(stage)}: {what}",
                "x": [int(y) for y in part["year"].tolist()],
                "y": _numbers(part[value]),
                "type": "scatter",
                "xaxis": refs[i][0],
                "yaxis": refs[i][1],
            })
    axes = [k for k in grid if k.startswith(("xaxis", "yaxis"))]
    layout = styled_layout("Known projects nationally: requested versus expected IT MW, by stage", 420, axes,
                           legend={"orientation": "h", "y": -0.2})
    for axis in axes:
        layout[axis] = {**grid[axis], **layout[axis]}
    layout["yaxis"] |= {"title": {"text": "IT MW"}, "rangemode": "tozero"}
    layout["annotations"] = grid["annotations"]
    return {"data": data, "layout": layout}


def _province_series(pipe: pd.DataFrame, regional: pd.DataFrame, scenario: str) -> pd.DataFrame:
    """Per province with projects and year: trend, pipeline (central, p10, p90) and added TWh."""
    own = pipe.groupby(["region_id", "year"])["expected_it_energy_twh"].sum().rename("pipeline_twh")
    out = own.to_frame()
    reg = _regional_pipeline(regional, scenario)
    if len(reg):
        mid = central(reg).set_index(["region_id", "year"])
        if _PIPE in mid.columns:
            out["pipeline_twh"] = mid[_PIPE].reindex(out.index).fillna(out["pipeline_twh"])
        if _ADDED in mid.columns:
            out["added_twh"] = mid[_ADDED].reindex(out.index)
            if "it_energy_twh" in mid.columns:
                out["trend_twh"] = (mid["it_energy_twh"] - mid[_ADDED]).reindex(out.index)
        elif "it_energy_twh" in mid.columns:
            out["forecast_twh"] = mid["it_energy_twh"].reindex(out.index)
        for stat in ("p10", "p90"):
            rows = stat_rows(reg, stat).set_index(["region_id", "year"])
            if _PIPE in rows.columns:
                out[f"pipeline_{stat}_twh"] = rows[_PIPE].reindex(out.index)
    return out.reset_index().sort_values(["region_id", "year"], ignore_index=True)


def _province_series_table(series: pd.DataFrame, scenario: str) -> Table:
    return frame_table(
        "pipeline-province-series",
        f"Scenario {scenario}: IT energy by province and year (TWh)",
        series,
        {
            c: "{:,.3f}"
            for c in (
                "pipeline_twh",
                "added_twh",
                "trend_twh",
                "pipeline_p10_twh",
                "pipeline_p90_twh",
                "forecast_twh",
            )
        },
    )


def _province_figure(series: pd.DataFrame, names: dict[str, str], cols: int = 4) -> dict:
    """Plotly figure JSON (plain dicts, for ``page.chart_from_spec``): one panel per province."""
    ids = sorted(series["region_id"].unique())
    rows = max(1, math.ceil(len(ids) / cols))
    used_cols = min(cols, max(1, len(ids)))
    grid, refs = grid_layout(rows, used_cols, [f"{label(r)} {label(names.get(r, ''))}" for r in ids],
                             0.2 / used_cols, min(0.3 / rows, 0.12), title_font={"size": 11})
    traces = (
        ("trend_twh", "trend (without projects)", "#888", "dot"),
        ("pipeline_twh", "projects, expected", "#1f77b4", "solid"),
        ("added_twh", "added to the trend", "#d62728", "dash"),
        ("forecast_twh", "forecast IT energy", "#444", "dot"),
    )
    data: list[dict] = []
    for i, rid in enumerate(ids):
        row, col = divmod(i, cols)
        xref, yref = refs[row * used_cols + col]
        part = series.loc[series["region_id"] == rid]
        years = [int(y) for y in part["year"].tolist()]
        if {"pipeline_p10_twh", "pipeline_p90_twh"} <= set(part.columns) and part[
            "pipeline_p90_twh"
        ].notna().any():
            data.append({"hoverinfo": "skip", "legendgroup": "band", "line": {"width": 0}, "mode": "lines",
                         "showlegend": False, "x": years, "y": _numbers(part["pipeline_p90_twh"]),
                         "type": "scatter", "xaxis": xref, "yaxis": yref})
            data.append({"fill": "tonexty", "fillcolor": "rgba(31,119,180,0.15)", "hoverinfo": "skip",
                         "legendgroup": "band", "line": {"width": 0}, "mode": "lines", "name": "projects p10–p90",
                         "showlegend": i == 0, "x": years, "y": _numbers(part["pipeline_p10_twh"]),
                         "type": "scatter", "xaxis": xref, "yaxis": yref})
        for column, title, colour, dash in traces:
            if column not in part.columns or part[column].isna().all():
                continue
            data.append({
                "hovertemplate": f"{label(rid)} {title}<br>%{{x}}: %{{y:,.2f}} TWh<extra></extra>",
                "legendgroup": title,
                "line": {"color": colour, "dash": dash, "width": 1.8},
                "mode": "lines",
                "name": title,
                "showlegend": i == 0,
                "x": years,
                "y": _numbers(part[column]),
                "type": "scatter",
                "xaxis": xref,
                "yaxis": yref,
            })
    axes = [k for k in grid if k.startswith(("xaxis", "yaxis"))]
    layout = styled_layout("Provinces with known projects: trend versus pipeline, IT TWh/yr", 160 + 220 * rows,
                           axes, legend={"orientation": "h", "y": -0.08, "yanchor": "top"})
    for axis in axes:
        extra = ({"rangemode": "tozero", "tickfont": {"size": 9}} if axis.startswith("yaxis")
                 else {"tickfont": {"size": 9}, "nticks": 5})
        layout[axis] = {**grid[axis], **extra, **layout[axis]}
    layout["annotations"] = grid["annotations"]
    return {"data": data, "layout": layout}


def _numbers(values: pd.Series) -> list[float | None]:
    """Floats for figure JSON, NaN as None (a gap)."""
    return [None if v != v else v for v in pd.to_numeric(values).to_numpy(dtype=float).tolist()]
