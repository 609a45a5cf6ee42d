"""Plotly figures of the report: frames in, ``go.Figure`` out (no HTML, no I/O).

Plotly renders a pseudo-HTML subset (<b>, <br>, <a href>) in every label, so each string
that comes from input goes through ``label`` (HTML entities, which plotly shows literally).
"""

from __future__ import annotations

import html
import json
import math
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import get_colorscale, qualitative

from reports.inputs import (
    NATIONAL_ID,
    central,
    pivot_first,
    published_estimates,
    region_names,
    scenarios_of,
    stat_rows,
    years_of,
)

__all__ = [
    "FONT_STACK",
    "styled",
    "label",
    "scenario_colours",
    "headline_figure",
    "small_multiples_figure",
    "plotly_template",
    "grid_layout",
    "styled_layout",
    "comparison_figure",
    "tornado_figure",
    "rise_odds_figure",
]

FONT_STACK = (
    'system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC", '
    '"Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif'
)
_BASE_LAYOUT = {
    "font": {"family": FONT_STACK, "size": 13},
    "paper_bgcolor": "white",
    "plot_bgcolor": "white",
    "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
    "hoverlabel": {"font": {"family": FONT_STACK}},
}
_AXIS = {"showgrid": True, "gridcolor": "#e5e5e5", "zeroline": False, "linecolor": "#888"}


def label(value: object) -> str:
    """Input text made inert for plotly's pseudo-HTML (shown literally, never as markup)."""
    return html.escape(str(value), quote=True)


def scenario_colours(scenarios: list[str]) -> dict[str, str]:
    """One stable colour per scenario, shared by every chart."""
    palette = qualitative.Plotly
    return {s: palette[i % len(palette)] for i, s in enumerate(scenarios)}


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def styled(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(**_BASE_LAYOUT, title={"text": title, "x": 0.01}, height=height)
    fig.update_xaxes(**_AXIS)
    fig.update_yaxes(**_AXIS)
    return fig


@cache
def _template_json(name: str) -> str:
    # plotly's own template file is the template's JSON as a figure carries it (checked equal
    # for plotly_white); building it through go.Figure validates it all, ~0.1 s
    try:
        return (resources.files("plotly") / "package_data" / "templates" / f"{name}.json").read_text(
            encoding="utf-8"
        )
    except (FileNotFoundError, ModuleNotFoundError):  # another plotly layout: the slow, sure way
        return json.dumps(json.loads(go.Figure(layout={"template": name}).to_json())["layout"]["template"])


def plotly_template(name: str = "plotly_white") -> dict:
    """A plotly template as the figure JSON carries it (a fresh copy; built once per process)."""
    return json.loads(_template_json(name))


def styled_layout(title: str, height: int, axes: list[str], **extra: object) -> dict:
    """``styled`` for a figure built as plain JSON: base layout, title, height, the axes styled.

    ``axes`` are the layout keys of the axes (``xaxis``, ``yaxis2``...); ``extra`` is merged
    on top (a dict value into the same key's dict). The plotly_white template is included.
    """
    layout: dict = {key: dict(value) if isinstance(value, dict) else value for key, value in _BASE_LAYOUT.items()}
    layout |= {"title": {"text": title, "x": 0.01}, "height": height}
    for axis in axes:
        layout[axis] = dict(_AXIS)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(layout.get(key), dict):
            layout[key] = {**layout[key], **value}
        else:
            layout[key] = value
    layout["template"] = plotly_template()
    return layout


def grid_layout(rows: int, cols: int, titles: list[str], horizontal_spacing: float, vertical_spacing: float,
                title_font: dict | None = None, max_width: float = 1.0,
                column_widths: list[float] | None = None,
                shared_yaxes: bool = False) -> tuple[dict, list[tuple[str, str]]]:
    """The axes and title annotations ``make_subplots`` (top-left start) lays out, as plain JSON.

    The same arithmetic as plotly's, so the domains are the very same floats (``max_width``
    is 0.94 where plotly leaves room for a secondary y axis; ``shared_yaxes``: each row's
    later y axes match its first and hide their tick labels). Returns the
    layout part (``xaxisN``/``yaxisN`` with domain and anchor, ``annotations``) and each
    cell's (xaxis, yaxis) trace reference, row by row.
    """
    widths = [(max_width - horizontal_spacing * (cols - 1)) / cols] * cols
    if column_widths is not None:
        total = float(sum(column_widths))
        widths = [(max_width - horizontal_spacing * (cols - 1)) * (w / total) for w in column_widths]
    heights = [(1.0 - vertical_spacing * (rows - 1)) / rows] * rows
    grid = [[(sum(widths[:c]) + c * horizontal_spacing, sum(heights[:r]) + r * vertical_spacing)
             for c in range(cols)] for r in range(rows)[::-1]]
    layout: dict = {}
    refs, annotations = [], []
    for r in range(rows):
        for c in range(cols):
            x0 = grid[r][c][0]
            x_domain = [max(0.0, x0), min(1.0, x0 + widths[c])]
            y_s, y_e = grid[r][c][1], grid[r][c][1] + heights[-1 - r]
            y_domain = [max(0.0, min(y_s, 1.0)), max(0.0, min(y_e, 1.0))]
            k = r * cols + c + 1
            n = "" if k == 1 else str(k)
            layout[f"xaxis{n}"] = {"anchor": f"y{n}", "domain": x_domain}
            layout[f"yaxis{n}"] = {"anchor": f"x{n}", "domain": y_domain}
            if shared_yaxes and c > 0:
                first = "" if r * cols == 0 else str(r * cols + 1)
                layout[f"yaxis{n}"] |= {"matches": f"y{first}", "showticklabels": False}
            refs.append((f"x{n}", f"y{n}"))
            i = k - 1
            if i < len(titles) and titles[i]:
                annotations.append({"font": dict(title_font or {"size": 16}), "showarrow": False,
                                    "text": titles[i], "x": sum(x_domain) / 2.0, "xanchor": "center",
                                    "xref": "paper", "y": y_domain[1], "yanchor": "bottom", "yref": "paper"})
    layout["annotations"] = annotations
    return layout, refs


def _series(frame: pd.DataFrame, scenario: str, value: str) -> pd.DataFrame:
    rows = frame.loc[frame["scenario"].astype(str) == scenario, ["year", value]]
    return rows.sort_values("year")


def _values(values: object) -> list:
    """Numbers for figure JSON: a list, NaN as None (a gap, as plotly.js reads NaN)."""
    out = pd.Series(values).to_numpy(dtype=float, na_value=np.nan).tolist()
    return [None if math.isnan(v) else v for v in out]


def _years(values: object) -> list:
    return [int(v) for v in pd.Series(values).tolist()]


def headline_figure(
    national: pd.DataFrame, turning_points: pd.DataFrame, published: pd.DataFrame
) -> dict:
    """National facility TWh per scenario: central line, p10-p90 band, rise start, published ranges.

    Plotly figure JSON (plain dicts, for ``page.chart_from_spec``).
    """
    scenarios = scenarios_of(national)
    colours = scenario_colours(scenarios)
    mid, low, high = central(national), stat_rows(national, "p10"), stat_rows(national, "p90")
    rises = turning_points.loc[turning_points["region_id"].astype(str) == NATIONAL_ID]
    data: list[dict] = []
    for s in scenarios:
        name, colour = label(s), colours[s]
        lo, hi = _series(low, s, "facility_energy_twh"), _series(high, s, "facility_energy_twh")
        if len(lo) and len(hi):
            data.append({"hoverinfo": "skip", "legendgroup": name, "line": {"width": 0}, "mode": "lines",
                         "showlegend": False, "x": _years(hi["year"]), "y": _values(hi["facility_energy_twh"]),
                         "type": "scatter"})
            data.append({"fill": "tonexty", "fillcolor": _rgba(colour, 0.12), "hoverinfo": "skip",
                         "legendgroup": name, "line": {"width": 0}, "mode": "lines", "name": f"{name} p10–p90",
                         "showlegend": False, "x": _years(lo["year"]), "y": _values(lo["facility_energy_twh"]),
                         "type": "scatter"})
        line = _series(mid, s, "facility_energy_twh")
        data.append({
            "hovertemplate": f"{name}<br>%{{x}}: %{{y:,.1f}} TWh<extra></extra>",
            "legendgroup": name,
            "line": {"color": colour, "width": 2.5},
            "marker": {"size": 5},
            "mode": "lines+markers",
            "name": name,
            "x": _years(line["year"]),
            "y": _values(line["facility_energy_twh"]),
            "type": "scatter",
        })
        rise = pd.to_numeric(rises.loc[rises["scenario"].astype(str) == s, "rise_start"]).dropna()
        at = line.loc[line["year"].isin(rise.astype(int))]
        if len(at):
            data.append({
                "hovertemplate": f"{name}: rise starts %{{x}}<extra></extra>",
                "legendgroup": name,
                "marker": {"color": colour, "line": {"color": "black", "width": 1}, "size": 15,
                           "symbol": "triangle-up"},
                "mode": "markers",
                "name": f"{name}: rise starts",
                "showlegend": False,
                "x": _years(at["year"]),
                "y": _values(at["facility_energy_twh"]),
                "type": "scatter",
            })
    first, last, _ = years_of(national)
    data += _published_traces(published_estimates(published, first, last))
    data.append({"marker": {"color": "#777", "size": 12, "symbol": "triangle-up"}, "mode": "markers",
                 "name": "▲ rise starts", "x": [None], "y": [None], "type": "scatter"})
    layout = styled_layout("National compute-centre electricity by scenario", 520, ["xaxis", "yaxis"],
                           legend={"orientation": "h", "y": -0.18})
    layout["xaxis"] = {"title": {"text": "year"}, "dtick": 1, **layout["xaxis"]}
    layout["yaxis"] = {"title": {"text": "facility electricity, TWh/yr"}, **layout["yaxis"]}
    return {"data": data, "layout": layout}


def _published_traces(estimates: pd.DataFrame) -> list[dict]:
    if estimates.empty:
        return []
    low = pd.to_numeric(estimates["value_low"], errors="coerce")
    high = pd.to_numeric(estimates["value_high"], errors="coerce").fillna(low)
    low = low.fillna(high)
    mid = (low + high) / 2
    # Offset publishers sideways a little so ranges in the same year stay readable.
    offsets = estimates.groupby("year").cumcount().to_numpy() * 0.12
    who = [label(p) for p in estimates["original_publisher"]]
    return [{
        "customdata": [list(pair) for pair in zip(_values(low), _values(high), strict=True)],
        "error_y": {"array": _values(high - mid), "arrayminus": _values(mid - low), "color": "black",
                    "symmetric": False, "thickness": 1.5, "type": "data"},
        "hovertemplate": "%{text}<br>%{customdata[0]:,.0f}–%{customdata[1]:,.0f} TWh<extra></extra>",
        "marker": {"color": "black", "size": 10, "symbol": "diamond-open"},
        "mode": "markers",
        "name": "published estimates (range)",
        "text": who,
        "x": _values(pd.to_numeric(estimates["year"]).to_numpy() + offsets),
        "y": _values(mid),
        "type": "scatter",
    }]


def small_multiples_figure(
    regional: pd.DataFrame, regions: pd.DataFrame, cols: int = 6
) -> dict:
    """One panel per province: central facility TWh over time, one line per scenario.

    Plotly figure JSON (plain dicts, for ``page.chart_from_spec``): 31 panels x the
    scenarios' lines would take seconds as plotly objects.
    """
    scenarios = scenarios_of(regional)
    colours = scenario_colours(scenarios)
    mid = central(regional)
    rid_all = mid["region_id"].astype(str).to_numpy()
    scen_all = mid["scenario"].astype(str).to_numpy()
    ids = sorted(set(rid_all))
    names = region_names(regions)
    rows = max(1, math.ceil(len(ids) / cols))
    layout, refs = grid_layout(
        rows,
        cols,
        [f"{label(r)} {label(names.get(r, ''))}" for r in ids],
        0.035,
        min(0.3 / rows, 0.08),
        title_font={"size": 11},
    )
    # each (province, scenario) line, its rows in year order (a stable sort, as _series does)
    order = np.argsort(mid["year"].to_numpy(), kind="stable")
    year_all = mid["year"].to_numpy()[order].tolist()
    value_all = mid["facility_energy_twh"].to_numpy(dtype=float)[order]
    value_all = [None if math.isnan(v) else v for v in value_all.tolist()]
    lines: dict[tuple[str, str], list[int]] = {}
    for pos, (r, s) in enumerate(zip(rid_all[order].tolist(), scen_all[order].tolist(), strict=True)):
        lines.setdefault((r, s), []).append(pos)
    data = []
    for i, rid in enumerate(ids):
        xref, yref = refs[i]
        for s in scenarios:
            at = lines.get((rid, s), [])
            data.append({
                "hovertemplate": f"{label(rid)} {label(s)}<br>%{{x}}: %{{y:,.2f}} TWh<extra></extra>",
                "legendgroup": label(s),
                "line": {"color": colours[s], "width": 1.6},
                "mode": "lines",
                "name": label(s),
                "showlegend": i == 0,
                "x": [year_all[p] for p in at],
                "y": [value_all[p] for p in at],
                "type": "scatter",
                "xaxis": xref,
                "yaxis": yref,
            })
    axes = [k for k in layout if k.startswith(("xaxis", "yaxis"))]
    full = styled_layout(
        "Facility electricity by province, TWh/yr (central)",
        130 + 165 * rows,
        [],
        legend={"orientation": "h", "y": -0.02, "yanchor": "top", "x": 0.0},
    )
    full["margin"] = {**full["margin"], "b": 80, "t": 70}
    for axis in axes:
        extra = {"tickfont": {"size": 9}, "nticks": 4}
        if axis.startswith("yaxis"):
            extra["rangemode"] = "tozero"
        full[axis] = {**layout[axis], **extra, **_AXIS}
    full["annotations"] = layout["annotations"]
    return {"data": data, "layout": full}


def comparison_figure(national: pd.DataFrame, years: list[int]) -> dict:
    """Scenarios side by side: TWh at milestone years (bars) and compute share of demand (lines).

    Plotly figure JSON (plain dicts, for ``page.chart_from_spec``).
    """
    scenarios = scenarios_of(national)
    colours = scenario_colours(scenarios)
    mid = central(national)
    grid, refs = grid_layout(1, 2, ["facility electricity, TWh/yr", "compute share of national demand, %"],
                             0.2 / 2, 0.3)
    at = mid.loc[mid["year"].isin(years)]
    data: list[dict] = []
    for s in scenarios:
        part = _series(at, s, "facility_energy_twh")
        data.append({"hovertemplate": f"{label(s)} %{{x}}: %{{y:,.1f}} TWh<extra></extra>",
                     "legendgroup": label(s), "marker": {"color": colours[s]}, "name": label(s),
                     "x": [str(y) for y in part["year"].astype(str)], "y": _values(part["facility_energy_twh"]),
                     "type": "bar", "xaxis": refs[0][0], "yaxis": refs[0][1]})
        share = _series(mid, s, "compute_share")
        data.append({"hovertemplate": f"{label(s)} %{{x}}: %{{y:.2f}} %<extra></extra>",
                     "legendgroup": label(s), "line": {"color": colours[s]}, "mode": "lines", "name": label(s),
                     "showlegend": False, "x": _years(share["year"]), "y": _values(share["compute_share"] * 100),
                     "type": "scatter", "xaxis": refs[1][0], "yaxis": refs[1][1]})
    layout = styled_layout("Scenario comparison", 460, ["xaxis", "yaxis", "xaxis2", "yaxis2"],
                           barmode="group", legend={"orientation": "h", "y": -0.15})
    for axis in ("xaxis", "yaxis", "xaxis2", "yaxis2"):
        layout[axis] = {**grid[axis], **layout[axis]}
    layout["xaxis"]["type"] = "category"
    layout["annotations"] = grid["annotations"]
    return {"data": data, "layout": layout}


def tornado_figure(sensitivity: pd.DataFrame, year_of: dict[str, int]) -> dict:
    """Per scenario (dropdown), the low-high TWh swing of each parameter around the central value.

    Plotly figure JSON (plain dicts, for ``page.chart_from_spec``).
    """
    scenarios = scenarios_of(sensitivity)
    data: list[dict] = []
    buttons = []
    shapes: list[dict] = []
    for k, s in enumerate(scenarios):
        part = sensitivity.loc[
            (sensitivity["scenario"].astype(str) == s) & (sensitivity["year"] == year_of[s])
        ]
        low = pd.to_numeric(part["low_twh"])
        high = pd.to_numeric(part["high_twh"])
        order = (high - low).abs().sort_values().index
        part, low, high = part.loc[order], low.loc[order], high.loc[order]
        centre = float(pd.to_numeric(part["central_twh"]).median()) if len(part) else 0.0
        params = [label(p) for p in part["parameter"]]
        data.append({
            "base": _values(np.minimum(low, high)),
            "customdata": [list(pair) for pair in zip(_values(low), _values(high), strict=True)],
            "hovertemplate": "%{y}: %{customdata[0]:,.1f} – %{customdata[1]:,.1f} TWh<extra></extra>",
            "marker": {"color": "#4c78a8"},
            "name": label(s),
            "orientation": "h",
            "visible": k == 0,
            "x": _values((high - low).abs()),
            "y": params,
            "type": "bar",
        })
        visible = [i == k for i in range(len(scenarios))]
        shape = {
            "type": "line",
            "x0": centre,
            "x1": centre,
            "yref": "paper",
            "y0": 0,
            "y1": 1,
            "line": {"color": "black", "dash": "dash"},
        }
        buttons.append(
            {
                "label": f"{label(s)} ({year_of[s]})",
                "method": "update",
                "args": [{"visible": visible}, {"shapes": [shape]}],
            }
        )
        if k == 0:
            shapes.append(dict(shape))
    n_params = int(sensitivity.groupby("scenario")["parameter"].nunique().max())
    layout = styled_layout(
        "Why: sensitivity of national TWh to each parameter (dashed = central)",
        170 + 32 * n_params,
        ["xaxis", "yaxis"],
        showlegend=False,
    )
    layout["xaxis"] = {"title": {"text": "national facility electricity, TWh/yr"}, **layout["xaxis"]}
    layout["margin"] = {**layout["margin"], "l": 180, "t": 100}
    if shapes:
        layout["shapes"] = shapes
    if len(scenarios) > 1:
        layout["updatemenus"] = [
            {"buttons": buttons, "x": 0.0, "xanchor": "left", "y": 1.0, "yanchor": "bottom"}
        ]
    return {"data": data, "layout": layout}


def rise_odds_figure(rise_odds: pd.DataFrame, regions: pd.DataFrame) -> dict:
    """Probability that the rise has started by each year: national lines, province heatmap per scenario.

    Plotly figure JSON (plain dicts, for ``page.chart_from_spec``).
    """
    scenarios = scenarios_of(rise_odds)
    colours = scenario_colours(scenarios)
    odds = rise_odds.assign(region_id=rise_odds["region_id"].astype(str))
    national = odds.loc[odds["region_id"] == NATIONAL_ID]
    provinces = odds.loc[odds["region_id"] != NATIONAL_ID]
    has_heat = len(provinces) > 0
    cols = 2 if has_heat else 1
    grid, refs = grid_layout(1, cols, ["national", "provinces"] if has_heat else ["national"], 0.2 / cols, 0.3,
                             column_widths=[0.4, 0.6] if has_heat else None)
    data: list[dict] = []
    for s in scenarios:
        line = _series(national, s, "p_started")
        data.append({"hovertemplate": f"{label(s)} %{{x}}: %{{y:.0f}} %<extra></extra>",
                     "line": {"color": colours[s]}, "mode": "lines+markers", "name": label(s),
                     "x": _years(line["year"]), "y": _values(line["p_started"] * 100), "type": "scatter",
                     "xaxis": refs[0][0], "yaxis": refs[0][1]})
    menus = []
    if has_heat:
        names = region_names(regions)
        buttons = []
        n_lines = len(data)
        blues = get_colorscale("Blues")
        for k, s in enumerate(scenarios):
            grid_k = pivot_first(provinces.loc[provinces["scenario"].astype(str) == s], "region_id", "year",
                                 "p_started").sort_index()
            z = grid_k.to_numpy() * 100
            data.append({
                "colorbar": {"title": {"text": "%"}},
                "colorscale": [list(stop) for stop in blues],
                "hovertemplate": "%{y} %{x}: %{z:.0f} %<extra>" + label(s) + "</extra>",
                "visible": k == 0,
                "x": [int(y) for y in grid_k.columns],
                "y": [f"{label(r)} {label(names.get(r, ''))}" for r in grid_k.index],
                "z": [[None if math.isnan(v) else v for v in row] for row in z.tolist()],
                "zmax": 100, "zmin": 0, "type": "heatmap", "xaxis": refs[1][0], "yaxis": refs[1][1],
            })
            visible = [True] * n_lines + [i == k for i in range(len(scenarios))]
            buttons.append({"args": [{"visible": visible}], "label": label(s), "method": "restyle"})
        if len(scenarios) > 1:
            menus = [{"buttons": buttons, "x": 0.45, "xanchor": "left", "y": 1.0, "yanchor": "bottom"}]
    height = 440 if not has_heat else max(440, 160 + 18 * provinces["region_id"].nunique())
    axes = [k for k in grid if k.startswith(("xaxis", "yaxis"))]
    layout = styled_layout("When: probability that the rise has started by each year", height, axes,
                           legend={"orientation": "h", "y": -0.15})
    for axis in axes:
        layout[axis] = {**grid[axis], **layout[axis]}
    layout["yaxis"] |= {"title": {"text": "P(rise started), %"}, "range": [0, 100]}
    if has_heat:
        layout["yaxis2"]["autorange"] = "reversed"
    layout["annotations"] = grid["annotations"]
    if menus:
        layout["updatemenus"] = menus
    layout["margin"] = {**layout["margin"], "t": 100}
    return {"data": data, "layout": layout}
