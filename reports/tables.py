"""Tables of the report: frames in, display-ready ``Table`` objects out.

Cells carry both the text shown and a sort key, so the inlined sort script orders numbers
as numbers. Text is escaped by the template (jinja2 autoescape), never here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pandas as pd

from reports.inputs import (
    NATIONAL_ID,
    central,
    milestone_years,
    pivot_first,
    region_names,
    stat_rows,
)

__all__ = ["Cell", "Table", "frame_table", "mapping_table", "regional_table", "turning_point_table"]

Cell = tuple[str, str]  # (text shown, sort key)


@dataclass(frozen=True)
class Table:
    """A display table: ``columns`` are (label, numeric) pairs, ``rows`` lists of cells."""

    table_id: str
    caption: str
    columns: list[tuple[str, bool]]
    rows: list[list[Cell]]


def _missing(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def num(value: object, fmt: str = "{:,.1f}", scale: float = 1.0) -> Cell:
    """A numeric cell; missing values show a dash and sort last."""
    if _missing(value):
        return ("–", "")
    number = float(value) * scale
    return (fmt.format(number), repr(number))


def text(value: object) -> Cell:
    """A text cell; missing values show a dash."""
    if _missing(value):
        return ("–", "")
    return (str(value), str(value))


def year_cell(value: object) -> Cell:
    """A year (Int64 NA allowed: 'not within horizon')."""
    if _missing(value):
        return ("none in horizon", "9999")
    return (str(int(value)), str(int(value)))


_FORMATS = {
    "_twh": "{:,.1f}",
    "_mw": "{:,.0f}",
    "share": "{:.1%}",
    "mape": "{:.1%}",
    "coverage80": "{:.0%}",
    "p_started": "{:.0%}",
}


def _cell_for(column: str, value: object, fmt: str | None = None) -> Cell:
    if fmt == "year" or column in ("rise_start", "flat_until") or column.endswith("_year"):
        return year_cell(value)
    if fmt is not None:
        return num(value, fmt)
    if column == "year":
        return text(None if _missing(value) else int(value))
    for suffix, suffix_fmt in _FORMATS.items():
        if column.endswith(suffix):
            return num(value, suffix_fmt)
    if isinstance(value, bool):
        return ("yes" if value else "no", str(int(value)))
    if isinstance(value, int | float):
        return num(value, "{:,.3g}")
    return text(value)


def frame_table(
    table_id: str, caption: str, frame: pd.DataFrame, formats: dict[str, str] | None = None
) -> Table:
    """Any frame as a table.

    Column suffixes (_twh, _mw, share...) choose the number format; ``formats`` overrides it
    per column with a ``str.format`` pattern or ``"year"``.
    """
    formats = formats or {}
    names = [str(c) for c in frame.columns]
    columns = [
        (name, name in formats or pd.api.types.is_numeric_dtype(frame[c]))
        for name, c in zip(names, frame.columns, strict=True)
    ]
    cells = [
        _column_cells(name, frame.iloc[:, j].tolist(), formats.get(name))  # Python scalars, as astype(object)
        for j, name in enumerate(names)
    ]
    rows = [list(row) for row in zip(*cells, strict=True)] if cells else [[] for _ in range(len(frame))]
    return Table(table_id, caption, columns, rows)


def _column_cells(column: str, values: list, fmt: str | None) -> list[Cell]:
    """``_cell_for`` of each value of one column, with the column's format chosen once."""
    if fmt == "year" or column in ("rise_start", "flat_until") or column.endswith("_year"):
        return [year_cell(v) for v in values]
    if fmt is not None:
        return [num(v, fmt) for v in values]
    if column == "year":
        return [text(None if _missing(v) else int(v)) for v in values]
    for suffix, suffix_fmt in _FORMATS.items():
        if column.endswith(suffix):
            return [num(v, suffix_fmt) for v in values]
    return [_cell_for(column, v) for v in values]


def mapping_table(table_id: str, caption: str, mapping: dict, key_label: str = "key") -> Table:
    """A nested dict flattened to dotted keys and JSON-ish values."""
    flat: list[tuple[str, str]] = []
    _flatten("", mapping, flat)
    rows = [[text(k), text(v)] for k, v in flat]
    return Table(table_id, caption, [(key_label, False), ("value", False)], rows)


def _flatten(prefix: str, value: object, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
    elif isinstance(value, list | tuple) and any(isinstance(v, dict | list) for v in value):
        for i, item in enumerate(value):
            _flatten(f"{prefix}[{i}]", item, out)
    else:
        shown = (
            value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
        )
        out.append((prefix, shown))


def regional_table(
    scenario: str,
    regional: pd.DataFrame,
    turning_points: pd.DataFrame,
    regions: pd.DataFrame,
    table_id: str,
) -> Table:
    """One scenario's provinces: energy at milestone years, end-year peak, share, p10-p90, turning point."""
    years = milestone_years(regional)
    end = years[-1]
    rows_of = regional.loc[regional["scenario"].astype(str) == scenario]
    mid = central(rows_of)
    energy = pivot_first(mid, "region_id", "year", "facility_energy_twh")
    last = mid.loc[mid["year"] == end].set_index("region_id")
    low = _at_year(stat_rows(rows_of, "p10"), end)
    high = _at_year(stat_rows(rows_of, "p90"), end)
    tps = turning_points.loc[turning_points["scenario"].astype(str) == scenario].set_index(
        "region_id"
    )
    meta = regions.set_index("region_id")
    names = region_names(regions)
    columns = [("region", False), ("name", False), ("zone", False)]
    columns += [(f"{y} TWh", True) for y in years]
    columns += [
        (f"{end} peak MW", True),
        (f"{end} compute share", True),
        (f"{end} p10–p90 TWh", True),
        ("shape", False),
        ("rise starts", True),
    ]
    # plain dicts: a pandas lookup per cell costs more than the rest of the table
    energy_at = {y: _lookup(energy[y]) for y in years if y in energy.columns}
    low_at, high_at = _lookup(low), _lookup(high)
    peak_at, share_at = _lookup(last["peak_load_mw"]), _lookup(last["compute_share"])
    zone_at = _lookup(meta["zone"])
    shape_at, rise_at = _lookup(tps["shape"]), _lookup(tps["rise_start"])
    rows = []
    for rid in sorted(energy.index.astype(str)):
        band = ("–", "")
        if rid in low_at and rid in high_at:
            lo, hi = low_at[rid], high_at[rid]
            band = (f"{lo:,.1f}–{hi:,.1f}", repr(float(hi - lo)))
        row = [
            text(rid),
            text(names.get(rid, rid)),
            text(zone_at.get(rid)),
        ]
        row += [num(energy_at[y].get(rid)) if y in energy_at else num(None) for y in years]
        row += [
            num(peak_at.get(rid), "{:,.0f}"),
            num(share_at.get(rid), "{:.1%}"),
            band,
            text(shape_at.get(rid)),
            year_cell(rise_at.get(rid)),
        ]
        rows.append(row)
    caption = f"Provinces, scenario {scenario}: central facility electricity (TWh/yr)"
    return Table(table_id, caption, columns, rows)


def _lookup(series: pd.Series) -> dict:
    """``series`` as {label: value} (labels as the index holds them; the last of a repeated label)."""
    return dict(zip(series.index.tolist(), series.tolist(), strict=True))


def _at_year(frame: pd.DataFrame, year: int) -> pd.Series:
    rows = frame.loc[frame["year"] == year]
    return rows.set_index(rows["region_id"].astype(str))["facility_energy_twh"]


def turning_point_table(
    turning_points: pd.DataFrame,
    regions: pd.DataFrame,
    table_id: str,
    caption: str = "Turning points",
) -> Table:
    """Turning points with region names; the national row first in each scenario."""
    names = {**region_names(regions), NATIONAL_ID: "national"}
    frame = turning_points.assign(
        name=turning_points["region_id"].astype(str).map(names),
        _national=turning_points["region_id"].astype(str) != NATIONAL_ID,
    ).sort_values(["_national", "region_id"], kind="stable")
    cols = ["scenario", "region_id", "name", "shape", "flat_until", "rise_start"]
    cols += [c for c in ("peak_year", "peak_twh") if c in frame.columns]
    shown = frame[cols]
    return frame_table(table_id, caption, shown)
