"""``gridcast export``: any output table of a run, filtered, as Parquet, CSV or Excel for planners.

The tables that can leave a run are listed once, in :data:`flows.export_registry.EXPORT_TABLES`
(``--table``; by default every table there marked ``default`` that the run wrote:
``regional``, ``national``, ``turning_points``, ``forecast`` by workload with
``pue_effective``, ``baseline`` with its band, ``coincident_peak``, ``hub_assignment``,
``rise_odds``, ``rise_start``, ``sensitivity``, and newer tables as they are registered).

* Filters: scenario, region (any spelling, see :mod:`flows.region_lookup`), hub and years;
  each applies to the tables that have the column. National rows (``region_id = ALL``) of
  ``turning_points``, ``rise_odds`` and ``rise_start`` are always kept.
* Every table naming a province carries ``region_name`` and ``region_name_zh``.
* Values are rounded to a stated precision per column (``columns.csv`` lists it): 0.001 TWh
  (1 GWh), 0.1 MW, 0.001 for PUE, 1e-4 for fractions, in float64; ``--energy-unit`` (TWh,
  GWh, 亿kWh) and ``--power-unit`` (MW, 万kW) convert and rename the columns
  (``facility_energy_100m_kwh``, ``peak_load_10k_kw``).
* ``--layout wide`` puts years in columns: one row per key and variable, with its unit;
  tables without a year stay long.
* Every text cell of CSV and workbook output is inert (:mod:`flows.safe_text`).

A ``provenance`` record (sheet, or ``provenance.json``) says which run, inputs, scenarios,
versions, units and filters the files come from; ``export_manifest.json`` lists the files
written, so that ``--overwrite`` replaces exactly those (:mod:`flows.export_write`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from flows import outputs
from flows.compare import RunFolder
from flows.datastate import read_if_unchanged
from flows.errors import GridcastError
from flows.export_registry import (
    EXPORT_TABLES,
    ColumnUnit,
    column_unit,
    convert_name,
    energy_unit,
    power_unit,
)
from flows.export_write import MANIFEST, Sheet, csv_bytes, prepare_target, xlsx_bytes
from flows.region_lookup import RegionIndex, region_index, split_values

__all__ = ["EXPORT_COLUMNS", "FORMATS", "LAYOUTS", "XLSX_NAME", "ExportFilters", "ExportResult", "Units",
           "export_run", "filtered_tables", "hub_regions", "parse_years", "run_regions"]

Format = Literal["parquet", "csv", "xlsx"]
FORMATS: tuple[str, ...] = ("parquet", "csv", "xlsx")
LAYOUTS: tuple[str, ...] = ("long", "wide")
XLSX_NAME = "gridcast_export.xlsx"
# The documented columns of the three tables version 1 exported (kept for callers).
EXPORT_COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    n: {c: v for c, v in EXPORT_TABLES[n].columns.items() if not c.startswith("region_name")}
    for n in ("regional", "national", "turning_points")
}


@dataclass(frozen=True)
class ExportFilters:
    """What to keep; an empty tuple keeps everything. Filters combine with AND.

    ``regions`` may hold any spelling ``--region`` accepts; ``tables`` empty means the
    registry's default tables.
    """

    scenarios: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    hubs: tuple[str, ...] = ()
    years: tuple[int, int] | None = None
    tables: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The filters as recorded in the provenance."""
        return {"scenarios": list(self.scenarios), "regions": list(self.regions), "hubs": list(self.hubs),
                "years": list(self.years) if self.years else None, "tables": list(self.tables)}


@dataclass(frozen=True)
class Units:
    """Output units and layout (``--energy-unit``, ``--power-unit``, ``--layout``)."""

    energy: str = "TWh"
    power: str = "MW"
    layout: str = "long"

    @classmethod
    def parse(cls, energy: str = "TWh", power: str = "MW", layout: str = "long") -> Units:
        """Check and normalise the options (case-insensitive).

        Raises:
            GridcastError: an unknown unit or layout.
        """
        try:
            e, p = energy_unit(energy), power_unit(power)
        except ValueError as exc:
            raise GridcastError(str(exc)) from None
        if layout.lower() not in LAYOUTS:
            raise GridcastError(f"--layout {layout!r}: choose long or wide")
        return cls(e, p, layout.lower())


def parse_years(text: str | None) -> tuple[int, int] | None:
    """``"2025-2030"`` -> (2025, 2030); ``"2030"`` -> (2030, 2030); None -> None.

    >>> parse_years("2025-2030")
    (2025, 2030)
    """
    if text is None or not text.strip():
        return None
    parts = [p.strip() for p in text.split("-")]
    try:
        if len(parts) == 1:
            lo = hi = int(parts[0])
        elif len(parts) == 2:
            lo, hi = int(parts[0]), int(parts[1])
        else:
            raise ValueError
    except ValueError:
        raise GridcastError(f"--years {text!r}: expected YEAR or FIRST-LAST, e.g. 2025-2030") from None
    if lo > hi:
        raise GridcastError(f"--years {text!r}: the first year is after the last")
    return lo, hi


def _check_known(kind: str, asked: tuple[str, ...], known: list[str]) -> None:
    for a in asked:
        if a not in known:
            shown = ", ".join(known[:40]) + (" ..." if len(known) > 40 else "")
            raise GridcastError(f"{kind} {a!r} is not in this run; known: {shown or 'none'}")


def _centre_regions(run: RunFolder) -> pd.DataFrame:
    """``center_id -> region_id``: from hub_assignment if it has it, else the run's compute_centers.csv.

    The CSV is used only if its sha256 matches the one the run recorded, so a hub
    filter never uses a fleet the run did not forecast.
    """
    data_dir = run.meta.get("data_dir")
    recorded = run.meta.get("inputs_sha256", {}).get("compute_centers.csv")
    path = Path(data_dir) / "compute_centers.csv" if data_dir else None
    if path is None or not path.is_file():
        raise GridcastError(
            f"--hub needs the centres' regions: hub_assignment.parquet has no region_id and the run's "
            f"compute_centers.csv ({path}) is not there"
        )
    blob = read_if_unchanged(path, recorded)
    if blob is None:
        raise GridcastError(f"--hub: {path} changed since run {run.run_id} (sha256 differs from run.json)")
    centres = pd.read_csv(io.BytesIO(blob), dtype={"center_id": "string", "region_id": "string"})
    return centres[["center_id", "region_id"]]


def hub_regions(run: RunFolder, hubs: tuple[str, ...], scenarios: list[str]) -> pd.DataFrame:
    """``(scenario, region_id)`` pairs of regions hosting a centre assigned to one of ``hubs``.

    Assignment is per scenario (the assignment radius is a scenario parameter).
    """
    assigned = run.table("hub_assignment", scenarios)
    _check_known("hub", hubs, sorted(assigned["assigned_hub_id"].dropna().astype(str).unique()))
    if "region_id" not in assigned.columns:
        assigned = assigned.merge(_centre_regions(run), on="center_id", how="left", validate="many_to_one")
    hit = assigned.loc[assigned["assigned_hub_id"].isin(list(hubs)), ["scenario", "region_id"]]
    return hit.dropna().drop_duplicates().astype({"scenario": "string", "region_id": "string"})


def run_regions(run: RunFolder) -> RegionIndex:
    """The regions (ids, names) of the run's data folder, else the shipped regions."""
    return region_index(run.meta.get("data_dir"), run.meta.get("inputs_sha256", {}).get("regions.csv"))


def _table_names(run: RunFolder, asked: tuple[str, ...]) -> list[str]:
    names = split_values(asked)
    if not names or names == ["all"]:
        wanted = [n for n, t in EXPORT_TABLES.items() if t.default or names == ["all"]]
        return [n for n in wanted if run.has_table(n)]
    for n in names:
        if n not in EXPORT_TABLES:
            raise GridcastError(f"--table {n!r}: choose from {', '.join(EXPORT_TABLES)} (or all)")
        if not run.has_table(n):
            raise GridcastError(f"run {run.run_id} has no {n!r} table")
    return list(dict.fromkeys(names))


def _read(run: RunFolder, name: str, scenarios: list[str]) -> pd.DataFrame:
    frame = run.table(name, scenarios if EXPORT_TABLES[name].partitioned else None)
    for col in ("scenario", "region_id", "stat", "workload", "shape"):
        if col in frame.columns:
            frame[col] = frame[col].astype("string")
    if "scenario" in frame.columns:
        frame = frame.loc[frame["scenario"].isin(scenarios)]
    return frame


def _keep(name: str, frame: pd.DataFrame, filters: ExportFilters, regions: list[str],
          pairs: pd.DataFrame | None) -> pd.Series:
    keep = pd.Series(True, index=frame.index)
    if "year" in frame.columns and filters.years is not None:
        keep &= frame["year"].between(*filters.years)
    if "region_id" not in frame.columns:
        return keep
    national = frame["region_id"] == "ALL" if EXPORT_TABLES[name].national_rows else None
    place = pd.Series(True, index=frame.index)
    if regions:
        place &= frame["region_id"].isin(regions)
    if pairs is not None:
        if "scenario" in frame.columns:
            key = pd.MultiIndex.from_frame(pairs[["scenario", "region_id"]])
            place &= pd.MultiIndex.from_frame(frame[["scenario", "region_id"]].astype(str)).isin(key)
        else:
            place &= frame["region_id"].isin(pairs["region_id"])
    if national is not None:
        place |= national
    return keep & place


def filtered_tables(run: RunFolder, filters: ExportFilters,
                    index: RegionIndex | None = None) -> dict[str, pd.DataFrame]:
    """The chosen tables of ``run`` after ``filters``, raw values, documented columns first.

    Raises:
        GridcastError: a table, scenario, region or hub the run does not hold, or no row left.
    """
    scenarios = list(filters.scenarios) or run.scenarios
    run.check_scenarios(scenarios)
    names = _table_names(run, filters.tables)
    index = index or run_regions(run)
    known = sorted(set(run.table("regional", scenarios[:1])["region_id"].astype(str)))
    regions = index.resolve(filters.regions, known) if filters.regions else []
    pairs = hub_regions(run, filters.hubs, scenarios) if filters.hubs else None
    out = {}
    for name in names:
        frame = _read(run, name, scenarios)
        out[name] = _stable(name, frame.loc[_keep(name, frame, filters, regions, pairs)])
    dated = [f for f in out.values() if "year" in f.columns]  # the forecasts, not the lookup tables
    if all(f.empty for f in (dated or list(out.values()))):
        raise GridcastError(f"no rows left after the filters {filters.as_dict()}")
    return out


def _stable(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The documented columns in the documented order, sorted by the keys; extra run columns follow."""
    spec = EXPORT_TABLES[name]
    cols = [c for c in (*spec.keys, *spec.columns) if c in frame.columns]
    cols = list(dict.fromkeys(cols)) + [c for c in frame.columns if c not in cols]
    keys = [c for c in spec.keys if c in frame.columns]
    return frame[cols].sort_values(keys, kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class _Column:
    table: str
    column: str
    source: str
    unit: str
    decimals: int | None
    meaning: str


# Meanings of columns many tables share, for tables that do not document their own.
_COMMON: dict[str, tuple[str, str]] = {
    "scenario": ("", "scenario name"),
    "region_id": ("", "province, ISO 3166-2 (CN-GD); ALL = national"),
    "region_name": ("", "province, English name"),
    "region_name_zh": ("", "province, Chinese name"),
    "year": ("year", "calendar year"),
    "stat": ("", "central, p10, p50 or p90"),
    "hour": ("hour", "hour of the year, 0-8759"),
}


def _number_format(col: _Column) -> str | None:
    if col.decimals is None:
        return "0" if col.unit == "year" or col.column in ("year", "hour") else None
    if col.unit == "fraction":
        return "0.00%" if col.decimals <= 4 else "0.0000%"
    return "#,##0" + ("." + "0" * col.decimals if col.decimals > 0 else "")


def _shape_long(name: str, frame: pd.DataFrame, units: Units, index: RegionIndex
                ) -> tuple[pd.DataFrame, list[_Column]]:
    """Names added, energy and power converted, floats rounded to their stated decimals (float64)."""
    frame = index.with_names(frame)
    spec = EXPORT_TABLES[name]
    data: dict[str, Any] = {}
    cols = []
    for c in frame.columns:
        s = frame[c]
        is_float = pd.api.types.is_float_dtype(s)
        cu: ColumnUnit = column_unit(name, c, is_float)
        new, factor, label, dec = c, 1.0, cu.unit, cu.decimals
        if cu.kind in ("energy", "power") and is_float:
            new, factor, label, conv_dec = convert_name(c, cu.kind, units.energy, units.power)
            if factor != 1.0:
                dec = conv_dec
        if is_float:
            s = pd.Series(np.round(s.to_numpy(np.float64) * factor, dec if dec is not None else 12),
                          index=frame.index)
        data[new] = s
        given = spec.columns.get(c) or _COMMON.get(c, ("", ""))
        cols.append(_Column(name, new, c, label or given[0], dec if is_float else cu.decimals, given[1]))
    return pd.DataFrame(data, index=frame.index), cols


def _shape_wide(frame: pd.DataFrame, cols: list[_Column]) -> tuple[pd.DataFrame, list[_Column]]:
    """Years as columns: one row per key and variable, the unit beside it (no year: unchanged)."""
    if "year" not in frame.columns or frame.empty:
        return frame, cols
    values = [c for c in cols if pd.api.types.is_float_dtype(frame[c.column])]
    ids = [c.column for c in cols if c.column != "year" and c not in values]
    if not values:
        return frame, cols
    unit = {c.column: c.unit for c in values}
    long = frame.melt(id_vars=[*ids, "year"], value_vars=[c.column for c in values], var_name="variable")
    long["unit"] = long["variable"].map(unit)
    order = {c.column: i for i, c in enumerate(values)}
    filled = long.assign(**{c: long[c].astype(object).where(long[c].notna(), "") for c in ids})
    wide = filled.set_index([*ids, "variable", "unit", "year"])["value"].unstack("year")
    wide.columns = [str(y) for y in wide.columns]
    wide = wide[sorted(wide.columns)].reset_index()
    wide = wide.assign(_v=wide["variable"].map(order)).sort_values([*ids, "_v"], kind="stable")
    wide = wide.drop(columns="_v").reset_index(drop=True)
    for c in ids:
        wide[c] = wide[c].replace("", pd.NA)
    table = cols[0].table
    shaped = [c for c in cols if c.column in ids]
    shaped += [_Column(table, "variable", "", "", None, "the value in this row (a column of the long layout)"),
               _Column(table, "unit", "", "", None, "unit of the row's values")]
    shaped += [_Column(table, y, "", "", None, f"value in {y}") for y in wide.columns if y.isdigit()]
    return wide, shaped


def _columns_table(specs: dict[str, list[_Column]]) -> pd.DataFrame:
    rows = [{"table": c.table, "column": c.column, "unit": c.unit,
             "decimals": pd.NA if c.decimals is None else c.decimals, "meaning": c.meaning}
            for cols in specs.values() for c in cols]
    return pd.DataFrame(rows, columns=["table", "column", "unit", "decimals", "meaning"]).astype(
        {"decimals": "Int64"})


def _provenance(run: RunFolder, filters: ExportFilters, tables: dict[str, pd.DataFrame], fmt: str,
                units: Units, index: RegionIndex) -> dict[str, Any]:
    names = sorted({str(s) for f in tables.values() if "scenario" in f.columns for s in f["scenario"].dropna()})
    scen = run.meta.get("scenarios", {})
    return {
        "run_id": run.run_id,
        "run_dir": str(run.path.resolve()),
        "run_finished_at": run.meta.get("finished_at"),
        "format": fmt,
        "layout": units.layout,
        "units": {"energy": units.energy, "power": units.power},
        "filters": filters.as_dict(),
        "region_names": index.source,
        "rows": {k: len(v) for k, v in tables.items()},
        "inputs_sha256": run.meta.get("inputs_sha256", {}),
        "scenarios_sha256": {n: run.meta.get("scenarios_sha256", {}).get(n) for n in names},
        "scenarios_resolved": {n: scen.get(n, {}).get("resolved") for n in names},
        "parameters": run.meta.get("parameters", {}),
        "versions": run.meta.get("versions", {}),
        "git_commit": run.meta.get("git_commit"),
    }


def _provenance_rows(prov: dict[str, Any]) -> pd.DataFrame:
    """The provenance as ``key, value`` rows (nested values as JSON), for a sheet."""
    import json

    rows = []
    for key, value in prov.items():
        if isinstance(value, dict) and key != "filters":
            rows += [{"key": f"{key}.{k}", "value": v if isinstance(v, str) else json.dumps(v, sort_keys=True,
                                                                                            ensure_ascii=False)}
                     for k, v in value.items()]
        else:
            rows.append({"key": key, "value": value if isinstance(value, str) else json.dumps(value,
                                                                                              ensure_ascii=False)})
    return pd.DataFrame(rows, columns=["key", "value"])


@dataclass
class ExportResult:
    """Where an export went and what it holds."""

    out: Path
    files: list[Path] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


def _file_names(fmt: str, tables: dict[str, pd.DataFrame], layout: str) -> dict[str, str]:
    if fmt == "xlsx":
        return {"__book__": XLSX_NAME}
    if fmt == "csv":
        return {n: f"{n}.csv" for n in tables}
    return {n: n if EXPORT_TABLES[n].partitioned and layout == "long" and "scenario" in f.columns
            else f"{n}.parquet" for n, f in tables.items()}


def _sheet(frame: pd.DataFrame, cols: list[_Column]) -> Sheet:
    headers = [f"{c.column} [{c.unit}]" if c.unit and c.unit not in ("year",) else c.column for c in cols]
    formats = {c.column: f for c in cols if (f := _number_format(c)) is not None}
    if "variable" in frame.columns and "unit" in frame.columns:
        first_year = next((i for i, c in enumerate(cols) if c.column.isdigit()), len(cols))
        freeze = f"{chr(ord('A') + min(first_year, 25))}2"
        return Sheet(frame, headers, formats, freeze, "variable", None)
    return Sheet(frame, headers, formats)


def _write_files(root: Path, fmt: str, shaped: dict[str, tuple[pd.DataFrame, list[_Column]]],
                 names: dict[str, str], prov: dict[str, Any], columns: pd.DataFrame, bom: bool,
                 row_formats: dict[str, dict[str, str]]) -> list[Path]:
    written = []
    if fmt == "xlsx":
        sheets = {}
        for n, (frame, cols) in shaped.items():
            sheet = _sheet(frame, cols)
            if sheet.row_format:
                sheet.row_formats = row_formats[n]
            sheets[n] = sheet
        sheets["columns"] = Sheet(columns, list(columns.columns), {"decimals": "0"})
        prov_rows = _provenance_rows(prov)
        sheets["provenance"] = Sheet(prov_rows, list(prov_rows.columns), {})
        return [outputs.atomic_write_bytes(outputs.safe_child(root, XLSX_NAME), xlsx_bytes(sheets))]
    for n, (frame, _) in shaped.items():
        target = outputs.safe_child(root, names[n])
        if fmt == "csv":
            written.append(outputs.atomic_write_bytes(target, csv_bytes(frame, bom)))
        elif names[n] == n:
            for s in frame["scenario"].dropna().astype(str).unique():
                outputs.safe_child(root, n, f"scenario={s}")
            written.append(outputs.write_partitioned(target, frame))
        else:
            written.append(outputs.write_parquet(target, frame))
    return written


def export_run(run: RunFolder, out: Path, fmt: str, filters: ExportFilters, *, bom: bool = False,
               overwrite: bool = False, units: Units | None = None) -> ExportResult:
    """Write the filtered tables of ``run`` under ``out`` in one format, layout and set of units.

    Layout of ``out``: ``parquet``: one ``<table>.parquet`` each, big tables (``regional``,
    ``forecast``) as ``<table>/scenario=<name>/part-0.parquet`` (long layout); ``csv``:
    ``<table>.csv`` (UTF-8, byte-order mark if ``bom``); ``xlsx``: ``gridcast_export.xlsx``
    with one sheet per table plus ``columns`` and ``provenance``. Every format also writes
    ``columns.csv``, ``provenance.json`` and ``export_manifest.json``.

    Raises:
        GridcastError: unknown format, unit, table or filter value; ``out`` a run folder;
            non-empty ``out`` without ``overwrite``; a path that would leave ``out``.
    """
    if fmt not in FORMATS:
        raise GridcastError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    units = units or Units()
    index = run_regions(run)
    tables = filtered_tables(run, filters, index)
    shaped: dict[str, tuple[pd.DataFrame, list[_Column]]] = {}
    row_formats: dict[str, dict[str, str]] = {}
    for name, frame in tables.items():
        long, cols = _shape_long(name, frame, units, index)
        row_formats[name] = {c.column: f for c in cols if (f := _number_format(c)) is not None}
        shaped[name] = _shape_wide(long, cols) if units.layout == "wide" else (long, cols)
    names = _file_names(fmt, tables, units.layout)
    files = [*names.values(), "columns.csv", "provenance.json"]
    target = prepare_target(Path(out), run.path, [*files, MANIFEST], overwrite)
    prov = _provenance(run, filters, tables, fmt, units, index)
    columns = _columns_table({n: cols for n, (_, cols) in shaped.items()})
    manifest = {"gridcast_export": 1, "run_id": run.run_id, "format": fmt, "layout": units.layout}
    target.begin(files, manifest)
    result = ExportResult(out=target.root, rows={k: len(v[0]) for k, v in shaped.items()})
    result.files += _write_files(target.root, fmt, shaped, names, prov, columns, bom, row_formats)
    result.files.append(outputs.atomic_write_bytes(outputs.safe_child(target.root, "columns.csv"),
                                                   csv_bytes(columns, bom)))
    result.files.append(outputs.write_json(outputs.safe_child(target.root, "provenance.json"), prov))
    target.finish(files, manifest)
    return result
