"""``comparison.html`` of ``gridcast compare``: differences by province and year, parameters side by side.

Input: the ``compare_*`` tables of :mod:`flows.compare` (each row carries ``scenario``, the
item compared, and ``base_scenario``, what it is compared with), and the regions' names.
Every number on the page is read from those tables; nothing is recomputed here except
pivots for display.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from reports.figures import label, scenario_colours, styled
from reports.inputs import milestone_years
from reports.page import Section, TableGroup, Text, chart, render_page, write_page
from reports.tables import frame_table

__all__ = ["render_difference_page"]


def _compared(sources: pd.DataFrame | None, national: pd.DataFrame) -> list[tuple[str, str]]:
    """(item, base) pairs whose item is not its own base, in order."""
    frame = sources if sources is not None else national[["scenario", "base_scenario"]].drop_duplicates()
    return [(str(s), str(b)) for s, b in zip(frame["scenario"], frame["base_scenario"], strict=True) if s != b]


def _national(national: pd.DataFrame, pairs: list[tuple[str, str]]) -> Section:
    mid = national.loc[national["stat"] == "central"]
    items = [str(s) for s in pd.unique(mid["scenario"])]
    colours = scenario_colours(items)
    fig = go.Figure()
    for s in items:
        line = mid.loc[mid["scenario"] == s].sort_values("year")
        fig.add_scatter(x=line["year"], y=line["facility_energy_twh"], mode="lines", name=label(s),
                        line={"color": colours[s]},
                        hovertemplate=f"{label(s)}<br>%{{x}}: %{{y:,.1f}} TWh<extra></extra>")
    fig.update_layout(yaxis_title="facility electricity, TWh/yr", xaxis_title="year",
                      legend={"orientation": "h", "y": -0.2})
    styled(fig, "National compute-centre electricity, central run", 480)
    table = pd.DataFrame({"year": sorted(mid["year"].unique())})
    for s, b in pairs:
        part = mid.loc[mid["scenario"] == s].set_index("year")
        table[f"{s} TWh"] = table["year"].map(part["facility_energy_twh"])
        table[f"Δ vs {b} TWh"] = table["year"].map(part["facility_energy_diff_twh"])
        table[f"Δ vs {b} %"] = table["year"].map(part["facility_energy_diff_rel"])
    formats = {c: "{:+,.1%}" if c.endswith("%") else "{:+,.2f}" if c.startswith("Δ") else "{:,.1f}"
               for c in table.columns if c != "year"}
    t = frame_table("national-diff", "National central TWh and the difference to the base, by year", table, formats)
    return Section("national", "National", [chart("fig-diff-national", fig, "One line per item compared.", [t]), t])


def _provinces(regional: pd.DataFrame, names: pd.DataFrame, pairs: list[tuple[str, str]]) -> Section:
    mid = regional.loc[regional["stat"] == "central"].astype({"region_id": str})
    if not pairs:
        return Section("provinces", "Provinces", [Text(["Nothing to compare: every item is its own base."])])
    zh = dict(zip(names["region_id"].astype(str), names["region_name_zh"].astype("string"), strict=True))
    en = dict(zip(names["region_id"].astype(str), names["region_name"].astype("string"), strict=True))
    years = milestone_years(regional)
    tables, blocks = [], []
    for k, (s, b) in enumerate(pairs):
        part = mid.loc[mid["scenario"] == s]
        grid = part.pivot_table(index="region_id", columns="year", values="facility_energy_diff_twh",
                                aggfunc="first")
        order = grid.abs().max(axis=1).sort_values(ascending=False).index
        grid = grid.reindex(order)
        if k == 0:
            rel = part.pivot_table(index="region_id", columns="year", values="facility_energy_diff_rel",
                                   aggfunc="first").reindex(index=order, columns=grid.columns)
            fig = go.Figure(go.Heatmap(
                z=grid.to_numpy(), x=[str(y) for y in grid.columns], customdata=rel.to_numpy(),
                y=[label(f"{en.get(r) or r} {zh.get(r) or ''}") for r in grid.index],
                colorscale="RdBu", zmid=0, reversescale=True, colorbar={"title": {"text": "Δ TWh"}},
                hovertemplate="%{y} %{x}: %{z:+,.3f} TWh (%{customdata:+.1%})<extra></extra>"))
            fig.update_yaxes(autorange="reversed")
            styled(fig, f"{label(s)} minus {label(b)}: facility electricity by province and year (TWh/yr)",
                   max(420, 120 + 18 * len(grid)))
            blocks.append(("chart", fig, s, b))
        table = pd.DataFrame({"region_id": list(order)})
        table["province 省份"] = [f"{en.get(r) or r} {zh.get(r) or ''}".strip() for r in order]
        for y in years:
            at = part.loc[part["year"] == y].set_index("region_id")
            table[f"{y} TWh"] = table["region_id"].map(at["facility_energy_twh"])
            table[f"{y} Δ TWh"] = table["region_id"].map(at["facility_energy_diff_twh"])
            table[f"{y} Δ%"] = table["region_id"].map(at["facility_energy_diff_rel"])
            table[f"{y} Δ peak MW"] = table["region_id"].map(at["peak_load_diff_mw"])
        formats = {c: "{:+.1%}" if c.endswith("Δ%") else "{:+,.0f}" if "MW" in c else
                   "{:+,.3f}" if "Δ" in c else "{:,.2f}" for c in table.columns if c[:1].isdigit()}
        tables.append(frame_table(f"province-diff-{k}", f"{s} vs {b}: provinces, largest change first",
                                  table, formats))
    kind, fig, s, b = blocks[0]
    return Section("provinces", "Provinces: differences by province and year", [
        chart("fig-diff-provinces", fig, f"Δ = {s} − {b}, central run; red = more load.", tables[:1]),
        TableGroup("province-diff", "Compared item:", [s for s, _ in pairs], tables),
    ])


def _turning(tp: pd.DataFrame) -> Section:
    changed = tp.loc[(tp["scenario"] != tp["base_scenario"])
                     & (~tp["same_shape"].fillna(False).astype(bool)
                        | tp["rise_start_shift_years"].fillna(0).ne(0)
                        | (tp["rise_start"].isna() != tp["base_rise_start"].isna()))]
    cols = ["scenario", "base_scenario", "region_id", "shape", "base_shape", "rise_start", "base_rise_start",
            "rise_start_shift_years"]
    body = ([frame_table("turning-diff", "Turning points that differ from the base", changed[cols])]
            if len(changed) else [Text(["No turning point differs from its base."])])
    return Section("turning-points", "Turning points", body)


def _parameters(params: pd.DataFrame, order: list[str]) -> Section:
    if params.empty:
        return Section("parameters", "Parameters", [Text(["The items use the same parameters."])])
    wide = (params.pivot_table(index="parameter", columns="scenario", values="value", aggfunc="first")
            .reindex(columns=[o for o in order if o in set(params["scenario"])]).reset_index())
    wide.columns = [str(c) for c in wide.columns]
    return Section("parameters", "Changed parameters, side by side", [
        Text(["Numbers are one value or [low, central, high] (triangular in the Monte Carlo)."]),
        frame_table("param-side", "Parameters whose resolved value differs", wide)])


def _sensitivity(sens: pd.DataFrame | None) -> Section | None:
    if sens is None or sens.empty:
        return None
    top = (sens.sort_values(["scenario", "year", "diff_swing_twh"], ascending=[True, True, False])
           .groupby(["scenario", "year"], sort=False).head(8))
    formats = {c: "{:+,.2f}" for c in top.columns if c.endswith("_twh")}
    return Section("sensitivity", "What the difference is sensitive to", [
        Text(["Each parameter set to its low, then its high value in both the item and its base "
              "(all others central); national facility electricity, TWh/yr. A large swing means the "
              "difference depends on that assumption."]),
        frame_table("diff-sensitivity", "Largest swings of the difference", top, formats)])


def render_difference_page(tables: dict[str, pd.DataFrame], region_names: pd.DataFrame, path: Path,
                           title: str) -> Path:
    """Write ``comparison.html`` (self-contained, atomic) from the ``compare_*`` tables."""
    national, regional = tables["compare_national"], tables["compare_regional"]
    sources = tables.get("compare_sources")
    pairs = _compared(sources, national)
    order = [str(s) for s in pd.unique(national["scenario"])]
    sections = []
    if sources is not None:
        shown = sources[[c for c in ("scenario", "base_scenario", "source", "draws") if c in sources.columns]]
        sections.append(Section("sources", "What is compared", [frame_table("sources", "Items and their base",
                                                                            shown)]))
    sections += [_national(national, pairs), _provinces(regional, region_names, pairs),
                 _turning(tables["compare_turning_points"]), _parameters(tables["compare_parameters"], order)]
    sens = _sensitivity(tables.get("compare_sensitivity"))
    if sens is not None:
        sections.append(sens)
    page = render_page("page.html", title=title,
                       subtitle=[" · ".join(f"{s} vs {b}" for s, b in pairs) or "no differences"],
                       sections=sections, footer=["gridcast comparison"])
    return write_page(path, page)
