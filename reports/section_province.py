"""One province at a time: its whole story behind a province selector.

A planner picks their province (English or Chinese name) and sees, for every scenario,
the facility energy with its range, the split by workload, peak load, baseline and total
demand, the compute share, the turning point and peak year, the odds that the rise has
started, and what the known project pipeline adds when the run has one.
"""

from __future__ import annotations

import pandas as pd

from reports.figures import grid_layout, label, scenario_colours, styled_layout
from reports.i18n import SHAPES_ZH
from reports.inputs import MILESTONE_YEAR, ReportInputs, central, scenarios_of
from reports.page import Chart, PaneGroup, Section, Text, chart_from_spec
from reports.tables import Table, num, text, year_cell

__all__ = ["province_label", "province_story", "section"]

_WORKLOAD_COLOURS = {"general": "#8da0cb", "training": "#fc8d62", "inference": "#66c2a5"}


def province_label(row: pd.Series) -> str:
    """``Ningxia 宁夏 (CN-NX)``: English and Chinese name with the id."""
    zh = row.get("name_zh")
    zh = f" {zh}" if isinstance(zh, str) and zh.strip() else ""
    return f"{row['name']}{zh} ({row['region_id']})"


class _Values:
    """``value(stat, scenario, year, column)`` of one province's regional rows, looked up in O(1).

    ``stat`` is ``mid`` (central, or p50 where a scenario has no central rows), ``p10`` or ``p90``.
    ``scenarios`` (first seen) and ``milestones`` are those of the province's rows.
    """

    def __init__(self, regional: pd.DataFrame) -> None:
        only = _grouped_values(regional, [""] * len(regional)).get("")
        self._rows: dict[tuple[str, str, int], int] = {} if only is None else only._rows
        self._columns = _Columns(regional) if only is None else only._columns
        self.scenarios: list[str] = [] if only is None else only.scenarios
        self.milestones: list[int] = [] if only is None else only.milestones

    @classmethod
    def _of(cls, rows: dict, columns: _Columns, scenarios: list[str], milestones: list[int]) -> _Values:
        value = cls.__new__(cls)
        value._rows, value._columns, value.scenarios, value.milestones = rows, columns, scenarios, milestones
        return value

    def __call__(self, stat: str, scenario: str, year: int, column: str) -> float:
        pos = self._rows.get((stat, scenario, int(year)))
        values = None if pos is None else self._columns.get(column)
        value = None if values is None else values[pos]
        return float(value) if value is not None and pd.notna(value) else float("nan")

    def series(self, stat: str, scenario: str, years: list[int], column: str) -> list[float | None]:
        out = [self(stat, scenario, y, column) for y in years]
        return [None if pd.isna(v) else v for v in out]


class _Columns:
    """A frame's columns as Python lists, each converted when first asked for (None: no such column)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame, self._lists = frame, {}

    def get(self, column: str) -> list | None:
        if column not in self._lists:
            frame = self._frame
            self._lists[column] = frame[column].astype(object).tolist() if column in frame.columns else None
        return self._lists[column]


def _grouped_values(regional: pd.DataFrame, groups: list[str]) -> dict[str, _Values]:
    """One ``_Values`` per group of rows (``groups``: each row's group, e.g. its province).

    Each group reads as ``_Values(rows of the group)`` would: its central rows, or its p50
    rows for a scenario without central rows in the group; the last row of a key wins.
    """
    stats = regional["stat"].astype(str).tolist()
    scenarios = regional["scenario"].astype(str).tolist()
    years = pd.to_numeric(regional["year"]).astype(int).tolist()
    has_central = {(g, sc) for g, sc, st in zip(groups, scenarios, stats, strict=True) if st == "central"}
    rows: dict[str, dict[tuple[str, str, int], int]] = {}
    seen: dict[str, dict[str, None]] = {}
    for pos, (g, st, sc, y) in enumerate(zip(groups, stats, scenarios, years, strict=True)):
        mine = rows.setdefault(g, {})
        seen.setdefault(g, {}).setdefault(sc, None)
        if st == "central" or (st == "p50" and (g, sc) not in has_central):
            mine[("mid", sc, y)] = pos
        elif st in ("p10", "p90"):
            mine[(st, sc, y)] = pos
    low: dict[str, int] = {}
    high: dict[str, int] = {}
    for g, y in zip(groups, years, strict=True):
        low[g] = min(low.get(g, y), y)
        high[g] = max(high.get(g, y), y)
    columns = _Columns(regional)
    out = {}
    for g, mine in rows.items():
        base, end = low[g], high[g]
        milestones = sorted({base, end} | ({MILESTONE_YEAR} if base < MILESTONE_YEAR < end else set()))
        out[g] = _Values._of(mine, columns, list(seen[g]), milestones)
    return out


def _turning(inputs: ReportInputs, rid: str) -> dict[str, dict]:
    """scenario -> the province's turning point row (as a dict)."""
    return _turning_all(inputs).get(rid, {})


def _turning_all(inputs: ReportInputs) -> dict[str, dict[str, dict]]:
    """region -> scenario -> that turning point's row (as a dict)."""
    tps = inputs.turning_points
    out: dict[str, dict[str, dict]] = {}
    keys = zip(tps["region_id"].astype(str).tolist(), tps["scenario"].astype(str).tolist(), strict=True)
    for (rid, scenario), rec in zip(keys, tps.to_dict("records"), strict=True):
        out.setdefault(rid, {})[scenario] = rec
    return out




def province_story(rid: str, name: str, inputs: ReportInputs, regional: pd.DataFrame,
                   lang: str = "en", value: _Values | None = None, tps: dict[str, dict] | None = None) -> list[str]:
    """One sentence per scenario: the path, its range, the turning point and the peak.

    ``value`` and ``tps`` (the province's regional values and turning points) are built
    from ``regional`` and ``inputs`` when not given.
    """
    value = _Values(regional) if value is None else value
    years = value.milestones
    end = years[-1]
    tps = _turning(inputs, rid) if tps is None else tps
    lines = []
    for s in value.scenarios:
        values = [(y, value("mid", s, y, "facility_energy_twh")) for y in years]
        lo, hi = value("p10", s, end, "facility_energy_twh"), value("p90", s, end, "facility_energy_twh")
        share = value("mid", s, end, "compute_share")
        t = tps.get(s, {})
        rise, peak, shape = t.get("rise_start"), t.get("peak_year"), t.get("shape")
        if lang == "zh":
            lines.append(_story_zh(s, values, end, lo, hi, share, rise, peak, shape))
            continue
        path = " → ".join(f"{v:,.2f} TWh in {y}" for y, v in values)
        band = f"; p10–p90 in {end}: {lo:,.2f}–{hi:,.2f} TWh" if pd.notna(lo) and pd.notna(hi) else ""
        share_text = f"; {share:.1%} of the province's demand in {end}" if pd.notna(share) else ""
        turn = ""
        if len(t):
            when = "no sustained rise in the horizon" if pd.isna(rise) else f"rise starts {int(rise)}"
            peak_text = "" if peak is None or pd.isna(peak) else f", largest in {int(peak)}"
            turn = f"; shape {shape}, {when}{peak_text}"
        lines.append(f"{s}: {path}{band}{share_text}{turn}.")
    return lines


def _story_zh(s: str, values: list[tuple[int, float]], end: int, lo: float, hi: float, share: float,
              rise: object, peak: object, shape: object) -> str:
    path = " → ".join(f"{y} 年 {v:,.2f} TWh" for y, v in values)
    band = f"；{end} 年 p10–p90：{lo:,.2f}–{hi:,.2f} TWh" if pd.notna(lo) and pd.notna(hi) else ""
    share_text = f"；{end} 年占全省用电 {share:.1%}" if pd.notna(share) else ""
    turn = ""
    if shape is not None and not pd.isna(shape):
        when = "预测期内无持续上升" if rise is None or pd.isna(rise) else f"{int(rise)} 年开始上升"
        peak_text = "" if peak is None or pd.isna(peak) else f"，{int(peak)} 年达到最大"
        turn = f"；形态：{SHAPES_ZH.get(str(shape), str(shape))}，{when}{peak_text}"
    return f"{s}：{path}{band}{share_text}{turn}。"


def _layout(first_scenario: str) -> dict:
    """The province charts' layout (two panels, a secondary MW axis on the right one), built once.

    Plain JSON: what ``make_subplots(rows=1, cols=2, specs=[[{}, {"secondary_y": True}]])``,
    ``styled`` and the axis titles give, without building plotly objects.
    """
    grid, _ = grid_layout(1, 2, ["Facility electricity by scenario (TWh/yr; band: p10–p90)",
                                 f"{label(first_scenario)}: by workload (TWh/yr) and peak (MW)"],
                          0.4 / 2, 0.3, max_width=0.94)
    layout = styled_layout("", 420, ["xaxis", "yaxis", "xaxis2", "yaxis2", "yaxis3"],
                           legend={"orientation": "h", "y": -0.15}, barmode="stack")
    for axis in ("xaxis", "yaxis", "xaxis2", "yaxis2"):
        layout[axis] = {**grid[axis], **layout[axis]}
    layout["yaxis"]["title"] = {"text": "TWh/yr"}
    layout["yaxis3"] = {"anchor": "x2", "overlaying": "y2", "side": "right", **layout["yaxis3"],
                        "showgrid": False, "title": {"text": "MW"}}
    layout["annotations"] = grid["annotations"]
    return layout


def _figure_spec(name: str, value: _Values, scenarios: list[str], years: list[int],
                 workloads: dict[str, tuple[list[int], list]] | None, layout: dict) -> dict:
    """Plotly figure JSON (plain dicts) of one province: cheap to build 31 times."""
    colours = scenario_colours(scenarios)
    data: list[dict] = []
    for s in scenarios:
        lo = value.series("p10", s, years, "facility_energy_twh")
        hi = value.series("p90", s, years, "facility_energy_twh")
        if any(v is not None for v in lo) and any(v is not None for v in hi):
            data.append({"type": "scatter", "x": years + years[::-1], "y": hi + lo[::-1], "fill": "toself",
                         "line": {"width": 0}, "fillcolor": colours[s], "opacity": 0.15, "hoverinfo": "skip",
                         "showlegend": False, "xaxis": "x", "yaxis": "y"})
        data.append({"type": "scatter", "x": years, "y": value.series("mid", s, years, "facility_energy_twh"),
                     "mode": "lines+markers", "name": label(s), "line": {"color": colours[s]},
                     "xaxis": "x", "yaxis": "y"})
    if workloads is not None and scenarios:
        for w, (x, y) in workloads.items():
            data.append({"type": "bar", "x": x, "y": y, "name": label(w),
                         "marker": {"color": _WORKLOAD_COLOURS.get(w, "#999")}, "xaxis": "x2", "yaxis": "y2"})
    if scenarios:
        data.append({"type": "scatter", "x": years, "y": value.series("mid", scenarios[0], years, "peak_load_mw"),
                     "mode": "lines", "name": "compute peak MW", "line": {"color": "#333", "dash": "dot"},
                     "xaxis": "x2", "yaxis": "y3"})
    return {"data": data, "layout": {**layout, "title": {**layout.get("title", {}), "text": label(name)}}}


def _workload_bars(forecast: pd.DataFrame) -> dict[str, dict[str, tuple[list[int], list]]]:
    """region -> workload (first seen) -> (years ascending, facility TWh or None) of the bars."""
    rows: dict[str, dict[str, list[tuple[int, object]]]] = {}
    values = forecast["facility_energy_twh"].astype(object).tolist()
    keys = zip(forecast["region_id"].astype(str).tolist(), forecast["workload"].astype(str).tolist(),
               forecast["year"].astype(int).tolist(), values, strict=True)
    for rid, workload, year, value in keys:
        rows.setdefault(rid, {}).setdefault(workload, []).append((year, value))
    out: dict[str, dict[str, tuple[list[int], list]]] = {}
    for rid, by_workload in rows.items():
        out[rid] = {}
        for workload, points in by_workload.items():
            points = sorted(points, key=lambda p: p[0])
            out[rid][workload] = ([y for y, _ in points],
                                  [None if pd.isna(v) else float(v) for _, v in points])
    return out


def _table(rid: str, inputs: ReportInputs, regional: pd.DataFrame, table_id: str,
           odds: dict[tuple[str, str, int], float] | None = None, value: _Values | None = None,
           tps: dict[str, dict] | None = None) -> Table:
    value = _Values(regional) if value is None else value
    years = value.milestones
    end = years[-1]
    tps = _turning(inputs, rid) if tps is None else tps
    odds = _odds(inputs) if odds is None else odds
    by_year = 2030 if 2030 in years else end
    columns = [("scenario", False)] + [(f"{y} TWh", True) for y in years]
    columns += [(f"{end} p10–p90 TWh", True), (f"{end} peak MW", True), (f"{end} baseline TWh", True),
                (f"{end} total TWh", True), (f"{end} compute share", True), ("shape", False),
                ("rise starts", True), ("peak year", True), (f"P(rise started by {by_year})", True)]
    has_pipeline = "pipeline_added_it_twh" in regional.columns
    if has_pipeline:
        columns.append((f"{by_year} pipeline adds (IT TWh)", True))
    rows = []
    for s in value.scenarios:
        lo, hi = value("p10", s, end, "facility_energy_twh"), value("p90", s, end, "facility_energy_twh")
        band = (f"{lo:,.2f}–{hi:,.2f}", repr(hi - lo)) if pd.notna(lo) and pd.notna(hi) else ("–", "")
        t = tps.get(s, {})
        p = odds.get((s, rid, by_year), float("nan"))
        row = [text(s), *[num(value("mid", s, y, "facility_energy_twh"), "{:,.2f}") for y in years], band,
               num(value("mid", s, end, "peak_load_mw"), "{:,.0f}"), num(value("mid", s, end, "baseline_twh")),
               num(value("mid", s, end, "total_twh")), num(value("mid", s, end, "compute_share"), "{:.1%}"),
               text(t.get("shape")), year_cell(t.get("rise_start")), year_cell(t.get("peak_year")),
               num(p, "{:.0%}")]
        if has_pipeline:
            row.append(num(value("mid", s, by_year, "pipeline_added_it_twh"), "{:,.2f}"))
        rows.append(row)
    return Table(table_id, "Key figures by scenario (central unless a range is shown)", columns, rows)


def _odds(inputs: ReportInputs) -> dict[tuple[str, str, int], float]:
    odds = inputs.rise_odds
    if odds is None or not len(odds):
        return {}
    keys = zip(odds["scenario"].astype(str), odds["region_id"].astype(str), odds["year"].astype(int), strict=True)
    return dict(zip(keys, odds["p_started"].astype(float), strict=True))


def section(inputs: ReportInputs, lang: str = "en") -> Section | None:
    """The province selector and one pane per province (regions.csv order, by English name)."""
    regional = inputs.regional
    if regional is None or not len(regional):
        return None
    regions = inputs.regions.assign(region_id=inputs.regions["region_id"].astype(str)).sort_values("name")
    have = set(regional["region_id"].astype(str))
    regions = regions.loc[regions["region_id"].isin(have)]
    region_ids = regional["region_id"].astype(str)
    values = _grouped_values(regional, region_ids.tolist())
    by_region = {str(k): g for k, g in regional.groupby(region_ids, sort=False)}
    scenarios = scenarios_of(regional)
    years = sorted(int(y) for y in pd.unique(regional["year"]))
    layout = _layout(scenarios[0]) if scenarios else {}
    workloads: dict[str, dict[str, tuple[list[int], list]]] = {}
    if inputs.forecast is not None and len(inputs.forecast) and scenarios:
        f = central(inputs.forecast)
        workloads = _workload_bars(f.loc[f["scenario"].astype(str) == scenarios[0]])
    odds = _odds(inputs)
    turning = _turning_all(inputs)
    options, panes = [], []
    for i, row in enumerate(regions.to_dict("records")):
        rid = str(row["region_id"])
        name = province_label(pd.Series(row))
        mine = by_region[rid]
        value = values[rid]
        tps = turning.get(rid, {})
        spec = _figure_spec(name, value, scenarios, years, workloads.get(rid), layout)
        blocks: list[Chart | Table | Text] = [
            Text(province_story(rid, name, inputs, mine, lang, value, tps), bullets=True),
            chart_from_spec(f"fig-province-{i}", spec,
                            f"{name}: facility electricity by scenario with its p10–p90 range; the first "
                            "scenario by workload, with its compute peak load."),
            _table(rid, inputs, mine, f"province-{i}", odds, value, tps),
        ]
        options.append(name)
        panes.append(blocks)
    intro = Text(["Pick a province to see its whole story: energy by scenario and workload, range, peak, "
                  "baseline and total demand, turning point, peak year and the odds that the rise has started."])
    return Section("province", "Your province", [intro, PaneGroup("province", "Province:", options, panes)])
