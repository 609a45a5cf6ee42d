"""``gridcast export``: a run's forecasts, filtered, as Parquet, CSV or Excel for planners.

Three tables leave the run (column names are stable; see docs/scenarios.md and the
``columns`` sheet / ``columns.csv``):

* ``regional``: one row per scenario, region, year and statistic (the run's ``regional/``),
  filtered by scenario, region, hub and years.
* ``national``: the national totals (``national.parquet``), filtered by scenario and years
  only (a national total is not a sum of the chosen regions).
* ``turning_points``: shape and rise start per scenario and region, filtered by scenario
  and region; the national row (``region_id = ALL``) is always kept.

A ``provenance`` record (sheet, or ``provenance.json``) says which run, inputs, scenarios,
versions and filters the files come from. Every file is written atomically; nothing is
written outside ``--out``, and a non-empty ``--out`` is refused unless ``overwrite``.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from flows import outputs
from flows.compare import RunFolder
from flows.errors import GridcastError

__all__ = ["EXPORT_COLUMNS", "FORMATS", "ExportFilters", "ExportResult", "export_run", "filtered_tables",
           "hub_regions", "parse_years"]

Format = Literal["parquet", "csv", "xlsx"]
FORMATS: tuple[str, ...] = ("parquet", "csv", "xlsx")
XLSX_NAME = "gridcast_export.xlsx"

EXPORT_COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "regional": {
        "scenario": ("", "scenario name (data/scenarios/<name>.toml)"),
        "region_id": ("", "province, ISO 3166-2 (CN-GD)"),
        "year": ("year", "calendar year, base year to end year inclusive"),
        "stat": ("", "central (all parameters central), p10, p50 or p90 of the Monte Carlo draws"),
        "facility_energy_twh": ("TWh/yr", "compute-centre electricity incl. cooling and losses (IT x PUE)"),
        "peak_load_mw": ("MW", "compute-centre peak hour of the region (sum of workloads x hourly shape)"),
        "baseline_twh": ("TWh/yr", "regional electricity demand without the change in compute load"),
        "total_twh": ("TWh/yr", "baseline + facility energy - base-year facility energy"),
        "compute_share": ("fraction", "facility_energy_twh / total_twh"),
        "pipeline_it_energy_twh": ("TWh/yr", "IT energy of the region's planned projects (central: expected "
                                   "value; p10/p50/p90: of the projects built in each draw)"),
        "pipeline_added_it_twh": ("TWh/yr", "what the planned projects added to the trend (floor mode: the part "
                                  "beyond the trend's growth; additional mode: all of it)"),
    },
    "national": {
        "scenario": ("", "scenario name"),
        "year": ("year", "calendar year"),
        "stat": ("", "central, p10, p50 or p90"),
        "facility_energy_twh": ("TWh/yr", "national compute-centre electricity (sum of regions)"),
        "it_energy_twh": ("TWh/yr", "national IT electricity (before PUE)"),
        "peak_load_mw": ("MW", "national compute-centre peak hour"),
        "baseline_twh": ("TWh/yr", "national demand without the change in compute load"),
        "total_twh": ("TWh/yr", "baseline + change in compute load"),
        "compute_share": ("fraction", "facility_energy_twh / total_twh"),
    },
    "turning_points": {
        "scenario": ("", "scenario name"),
        "region_id": ("", "province, or ALL for the national total"),
        "shape": ("", "rising, flat-then-rising, flat or declining (central run)"),
        "rise_start": ("year", "first year of >= 5%/yr growth for three years (empty: none)"),
        "flat_until": ("year", "rise_start - 1 (empty: none)"),
    },
    "pipeline": {
        "scenario": ("", "scenario name"),
        "project_id": ("", "planned project (phase) id of planned_centers.csv or a --planned file"),
        "region_id": ("", "province of the project"),
        "year": ("year", "calendar year, base year to end year inclusive"),
        "stage": ("", "announced, requested, approved or under_construction"),
        "requested_it_mw": ("MW", "IT MW online as requested: capacity x online share, no delay, no derating"),
        "expected_it_mw": ("MW", "realisation x capacity x online share with the stage's central delay"),
        "expected_it_energy_twh": ("TWh/yr", "realisation x IT energy if built (central run)"),
    },
}
OPTIONAL_TABLES: tuple[str, ...] = ("pipeline",)
"""Tables exported when the run has them (a run without planned projects has no pipeline)."""


@dataclass(frozen=True)
class ExportFilters:
    """What to keep; an empty tuple keeps everything. Filters combine with AND."""

    scenarios: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    hubs: tuple[str, ...] = ()
    years: tuple[int, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The filters as recorded in the provenance."""
        return {"scenarios": list(self.scenarios), "regions": list(self.regions), "hubs": list(self.hubs),
                "years": list(self.years) if self.years else None}


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
    blob = path.read_bytes()
    if recorded and hashlib.sha256(blob).hexdigest() != recorded:
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


def _in_years(frame: pd.DataFrame, years: tuple[int, int] | None) -> pd.Series:
    if years is None:
        return pd.Series(True, index=frame.index)
    return frame["year"].between(years[0], years[1])


def filtered_tables(run: RunFolder, filters: ExportFilters) -> dict[str, pd.DataFrame]:
    """The three export tables of ``run`` after ``filters`` (see the module docstring).

    Raises:
        GridcastError: a scenario, region or hub the run does not hold, or no row left.
    """
    scenarios = list(filters.scenarios) or run.scenarios
    run.check_scenarios(scenarios)
    regional = run.table("regional", scenarios)
    national = run.table("national", scenarios)
    turning = run.table("turning_points", scenarios)
    for frame in (regional, national, turning):
        frame["scenario"] = frame["scenario"].astype("string")
    regional["region_id"] = regional["region_id"].astype("string")
    turning["region_id"] = turning["region_id"].astype("string")
    _check_known("region", filters.regions, sorted(regional["region_id"].unique()))
    keep = _in_years(regional, filters.years)
    tp_keep = pd.Series(True, index=turning.index)
    if filters.regions:
        keep &= regional["region_id"].isin(list(filters.regions))
        tp_keep &= turning["region_id"].isin(list(filters.regions))
    if filters.hubs:
        pairs = hub_regions(run, filters.hubs, scenarios)
        key = pd.MultiIndex.from_frame(pairs[["scenario", "region_id"]])
        keep &= pd.MultiIndex.from_frame(regional[["scenario", "region_id"]]).isin(key)
        tp_keep &= pd.MultiIndex.from_frame(turning[["scenario", "region_id"]]).isin(key)
    tp_keep |= turning["region_id"] == "ALL"
    out = {
        "regional": regional.loc[keep],
        "national": national.loc[_in_years(national, filters.years)],
        "turning_points": turning.loc[tp_keep],
    }
    for name in OPTIONAL_TABLES:
        if (run.path / name).is_dir() or (run.path / f"{name}.parquet").is_file():
            extra = run.table(name, scenarios)
            pairs = pd.MultiIndex.from_frame(out["regional"][["scenario", "region_id"]].astype(str).drop_duplicates())
            extra_keep = pd.MultiIndex.from_frame(extra[["scenario", "region_id"]].astype(str)).isin(pairs)
            out[name] = extra.loc[extra_keep & _in_years(extra, filters.years).to_numpy()]
    if out["regional"].empty and out["national"].empty:
        raise GridcastError(f"no rows left after the filters {filters.as_dict()}")
    return {name: _stable(name, frame) for name, frame in out.items()}


def _stable(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The documented columns in the documented order, sorted; extra run columns follow."""
    cols = [c for c in EXPORT_COLUMNS[name] if c in frame.columns]
    cols += [c for c in frame.columns if c not in cols]
    keys = [c for c in ("scenario", "region_id", "project_id", "year", "stat") if c in frame.columns]
    return frame[cols].sort_values(keys, kind="stable").reset_index(drop=True)


def _provenance(run: RunFolder, filters: ExportFilters, tables: dict[str, pd.DataFrame], fmt: str) -> dict[str, Any]:
    names = sorted(set(tables["regional"]["scenario"].astype(str)) | set(tables["national"]["scenario"].astype(str)))
    scen = run.meta.get("scenarios", {})
    return {
        "run_id": run.run_id,
        "run_dir": str(run.path.resolve()),
        "run_finished_at": run.meta.get("finished_at"),
        "format": fmt,
        "filters": filters.as_dict(),
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
    rows = []
    for key, value in prov.items():
        if isinstance(value, dict) and key != "filters":
            rows += [{"key": f"{key}.{k}", "value": v if isinstance(v, str) else json.dumps(v, sort_keys=True)}
                     for k, v in value.items()]
        else:
            rows.append({"key": key, "value": value if isinstance(value, str) else json.dumps(value)})
    return pd.DataFrame(rows, columns=["key", "value"])


def _columns_table() -> pd.DataFrame:
    return pd.DataFrame([{"table": t, "column": c, "unit": u, "meaning": m}
                         for t, cols in EXPORT_COLUMNS.items() for c, (u, m) in cols.items()])


def _csv_bytes(frame: pd.DataFrame, bom: bool) -> bytes:
    text = frame.to_csv(index=False, lineterminator="\n")
    return text.encode("utf-8-sig" if bom else "utf-8")


def _xlsx_bytes(sheets: dict[str, pd.DataFrame]) -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xl:
        for name, frame in sheets.items():
            # Excel has no NA: empty cells; pandas string/Int64 columns go out as objects
            frame.astype(object).where(frame.notna(), None).to_excel(xl, sheet_name=name, index=False)
            sheet = xl.sheets[name]
            sheet.freeze_panes = "A2"
            for col in sheet.columns:
                width = max(len(str(col[0].value or "")), *(len(str(c.value or "")) for c in col[1:50]))
                sheet.column_dimensions[col[0].column_letter].width = min(60, width + 2)
    return buf.getvalue()


def _check_target(out: Path, overwrite: bool) -> Path:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GridcastError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise GridcastError(f"--out {out} is not empty; pass --overwrite to replace the export there")
    out.mkdir(parents=True, exist_ok=True)
    return out.resolve()


@dataclass
class ExportResult:
    """Where an export went and what it holds."""

    out: Path
    files: list[Path] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


def export_run(run: RunFolder, out: Path, fmt: str, filters: ExportFilters, *, bom: bool = False,
               overwrite: bool = False) -> ExportResult:
    """Write the filtered tables of ``run`` under ``out`` in one format.

    Layout: ``parquet``: ``regional/scenario=<name>/part-0.parquet`` (hive), ``national.parquet``,
    ``turning_points.parquet``; ``csv``: ``regional.csv``, ``national.csv``,
    ``turning_points.csv`` (UTF-8, with a byte-order mark if ``bom``); ``xlsx``:
    ``gridcast_export.xlsx`` with sheets regional, national, turning_points, columns,
    provenance. Every format also writes ``provenance.json`` and ``columns.csv``.

    Raises:
        GridcastError: unknown format or filter value, non-empty ``out`` without
            ``overwrite``, or a path that would leave ``out``.
    """
    if fmt not in FORMATS:
        raise GridcastError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    tables = filtered_tables(run, filters)
    root = _check_target(out, overwrite)
    prov = _provenance(run, filters, tables, fmt)
    result = ExportResult(out=root, rows={k: len(v) for k, v in tables.items()})
    if fmt == "parquet":
        for s in tables["regional"]["scenario"].astype(str).unique():
            outputs.safe_child(root, "regional", f"scenario={s}")
        result.files.append(outputs.write_partitioned(outputs.safe_child(root, "regional"), tables["regional"]))
        for name in ("national", "turning_points", *(t for t in OPTIONAL_TABLES if t in tables)):
            result.files.append(outputs.write_parquet(outputs.safe_child(root, f"{name}.parquet"), tables[name]))
    elif fmt == "csv":
        for name, frame in tables.items():
            result.files.append(outputs.atomic_write_bytes(outputs.safe_child(root, f"{name}.csv"),
                                                           _csv_bytes(frame, bom)))
    else:
        sheets = {**tables, "columns": _columns_table(), "provenance": _provenance_rows(prov)}
        result.files.append(outputs.atomic_write_bytes(outputs.safe_child(root, XLSX_NAME), _xlsx_bytes(sheets)))
    result.files.append(outputs.atomic_write_bytes(outputs.safe_child(root, "columns.csv"),
                                                   _csv_bytes(_columns_table(), bom)))
    result.files.append(outputs.write_json(outputs.safe_child(root, "provenance.json"), prov))
    return result
