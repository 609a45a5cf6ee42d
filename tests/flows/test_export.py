"""``gridcast export``: round trips of every format, filters, provenance, refusals.

Expected rows are selected here by hand (pandas on the run's Parquet files).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.compare import open_run
from flows.errors import GridcastError
from flows.export import EXPORT_COLUMNS, XLSX_NAME, ExportFilters, export_run, parse_years
from flows.outputs import safe_child

KEYS = ["scenario", "region_id", "year", "stat"]


@pytest.fixture(scope="module")
def raw(run_dir: Path) -> dict[str, pd.DataFrame]:
    regional = pd.read_parquet(run_dir / "regional")
    regional["scenario"] = regional["scenario"].astype(str)
    national = pd.read_parquet(run_dir / "national.parquet").astype({"scenario": str})
    tp = pd.read_parquet(run_dir / "turning_points.parquet").astype({"scenario": str, "region_id": str})
    return {"regional": regional, "national": national, "turning_points": tp}


# The stated precision, written out here: 0.001 TWh, 0.1 MW, 1e-4 for a fraction.
DECIMALS = {"_twh": 3, "_mw": 1, "share": 4}


def _rounded(col: str, values: np.ndarray) -> np.ndarray:
    dec = next((d for suffix, d in DECIMALS.items() if col.endswith(suffix)), None)
    return values if dec is None else np.array([round(float(v), dec) for v in values])


def _same(got: pd.DataFrame, want: pd.DataFrame, keys: list[str], rtol: float = 0.0) -> None:
    """Same rows and values (floats as rounded to their precision, exactly unless ``rtol``)."""
    got = got.astype({k: str for k in keys if k != "year"}).sort_values(keys).reset_index(drop=True)
    want = want.astype({k: str for k in keys if k != "year"}).sort_values(keys).reset_index(drop=True)
    assert len(got) == len(want)
    for col in want.columns:
        if pd.api.types.is_float_dtype(want[col]):
            np.testing.assert_allclose(got[col].to_numpy(float), _rounded(col, want[col].to_numpy(float)),
                                       rtol=rtol, atol=0, err_msg=col)
        elif col == "year" or col in ("rise_start", "flat_until"):
            assert got[col].astype("Int64").tolist() == want[col].astype("Int64").tolist(), col
        else:
            assert got[col].astype(str).tolist() == want[col].astype(str).tolist(), col


def _documented(columns) -> list[str]:
    """The columns without the province names (checked on their own in test_export_planner)."""
    return [c for c in columns if not str(c).startswith("region_name")]


def _pick(raw, scenarios=None, regions=None, years=None) -> dict[str, pd.DataFrame]:
    reg, nat, tp = raw["regional"], raw["national"], raw["turning_points"]
    if scenarios:
        reg, nat, tp = (f[f["scenario"].isin(scenarios)] for f in (reg, nat, tp))
    if regions:
        reg = reg[reg["region_id"].isin(regions)]
        tp = tp[tp["region_id"].isin([*regions, "ALL"])]
    if years:
        reg = reg[(reg["year"] >= years[0]) & (reg["year"] <= years[1])]
        nat = nat[(nat["year"] >= years[0]) & (nat["year"] <= years[1])]
    return {"regional": reg, "national": nat, "turning_points": tp}


FILTERS = ExportFilters(scenarios=("reference", "efficiency_led"), regions=("CN-GD", "CN-NX"), years=(2025, 2030))


def test_parquet_round_trip(run_dir: Path, raw, tmp_path: Path) -> None:
    out = tmp_path / "pq"
    export_run(open_run(run_dir), out, "parquet", FILTERS)
    want = _pick(raw, ["reference", "efficiency_led"], ["CN-GD", "CN-NX"], (2025, 2030))
    with duckdb.connect() as con:
        regional = con.execute("SELECT * FROM read_parquet($p, hive_partitioning = true)",
                               {"p": str(out / "regional" / "*" / "*.parquet")}).df()
    assert sorted(p.name for p in (out / "regional").iterdir()) == ["scenario=efficiency_led", "scenario=reference"]
    _same(regional[want["regional"].columns], want["regional"], KEYS)
    _same(pd.read_parquet(out / "national.parquet"), want["national"], ["scenario", "year", "stat"])
    _same(pd.read_parquet(out / "turning_points.parquet"), want["turning_points"], ["scenario", "region_id"])
    assert not list(out.rglob("*.tmp")), "no temporary files left behind"


@pytest.mark.parametrize("bom", [False, True])
def test_csv_round_trip_and_bom(run_dir: Path, raw, tmp_path: Path, bom: bool) -> None:
    out = tmp_path / "csv"
    export_run(open_run(run_dir), out, "csv", FILTERS, bom=bom)
    want = _pick(raw, ["reference", "efficiency_led"], ["CN-GD", "CN-NX"], (2025, 2030))
    for name, keys in (("regional", KEYS), ("national", ["scenario", "year", "stat"]),
                       ("turning_points", ["scenario", "region_id"])):
        blob = (out / f"{name}.csv").read_bytes()
        assert blob.startswith(b"\xef\xbb\xbf") == bom
        back = pd.read_csv(out / f"{name}.csv", encoding="utf-8-sig")
        assert _documented(back.columns)[: len(EXPORT_COLUMNS[name])] == list(EXPORT_COLUMNS[name])
        _same(back, want[name], keys)


def test_xlsx_round_trip_and_provenance(run_dir: Path, raw, run_meta: dict, tmp_path: Path) -> None:
    out = tmp_path / "xl"
    export_run(open_run(run_dir), out, "xlsx", FILTERS)
    book = openpyxl.load_workbook(out / XLSX_NAME, read_only=True)
    assert book.sheetnames[:3] == ["regional", "national", "turning_points"]
    assert book.sheetnames[-2:] == ["columns", "provenance"]
    assert {"forecast", "baseline", "hub_assignment"} <= set(book.sheetnames)
    want = _pick(raw, ["reference", "efficiency_led"], ["CN-GD", "CN-NX"], (2025, 2030))
    for name, keys in (("regional", KEYS), ("national", ["scenario", "year", "stat"]),
                       ("turning_points", ["scenario", "region_id"])):
        rows = list(book[name].iter_rows(values_only=True))
        header = [h.split(" [")[0] for h in rows[0]]  # "facility_energy_twh [TWh/yr]"
        back = pd.DataFrame(rows[1:], columns=header)
        assert _documented(header) == list(EXPORT_COLUMNS[name])
        # openpyxl writes floats with 17 significant digits at most and may round the last
        # bit; Excel itself shows 15, so equal to 1e-15 relative is equal for a workbook
        _same(back, want[name], keys, rtol=1e-15)
    prov = dict(list(book["provenance"].iter_rows(values_only=True))[1:])
    assert prov["run_id"] == run_meta["run_id"]
    for file, sha in run_meta["inputs_sha256"].items():
        assert prov[f"inputs_sha256.{file}"] == sha
    assert prov["scenarios_sha256.reference"] == run_meta["scenarios_sha256"]["reference"]
    resolved = json.loads(prov["scenarios_resolved.efficiency_led"])
    assert resolved == run_meta["scenarios"]["efficiency_led"]["resolved"]
    assert json.loads(prov["filters"])["regions"] == ["CN-GD", "CN-NX"]
    assert "versions.pandas" in prov
    units = {(r[0], r[1].split(" [")[0]): r[2] for r in list(book["columns"].iter_rows(values_only=True))[1:]}
    assert units[("regional", "facility_energy_twh")] == "TWh/yr" and units[("regional", "peak_load_mw")] == "MW"
    # the same provenance as JSON beside the workbook
    assert json.loads((out / "provenance.json").read_text(encoding="utf-8"))["run_id"] == run_meta["run_id"]


def test_hub_filter_keeps_regions_hosting_the_hubs_centres(run_dir: Path, raw, tmp_path: Path) -> None:
    export_run(open_run(run_dir), tmp_path / "h", "parquet", ExportFilters(hubs=("qingyang", "guian")))
    assigned = pd.read_parquet(run_dir / "hub_assignment.parquet").astype({"scenario": str})
    centres = pd.read_csv("data/default/compute_centers.csv")[["center_id", "region_id"]]
    hit = assigned[assigned["assigned_hub_id"].isin(["qingyang", "guian"])].merge(centres, on="center_id")
    pairs = set(zip(hit["scenario"], hit["region_id"], strict=True))
    assert ("reference", "CN-GS") in pairs and ("reference", "CN-GZ") in pairs
    want = raw["regional"][[(s, r) in pairs for s, r in zip(raw["regional"]["scenario"],
                                                            raw["regional"]["region_id"], strict=True)]]
    got = pd.read_parquet(tmp_path / "h" / "regional")
    _same(got[want.columns], want, KEYS)
    tp = pd.read_parquet(tmp_path / "h" / "turning_points.parquet")
    assert set(tp["region_id"].astype(str)) == {r for _, r in pairs} | {"ALL"}


def test_everything_without_filters(run_dir: Path, raw, tmp_path: Path) -> None:
    res = export_run(open_run(run_dir), tmp_path / "all", "csv", ExportFilters())
    assert {k: res.rows[k] for k in raw} == {k: len(v) for k, v in raw.items()}
    hubs = pd.read_parquet(run_dir / "hub_assignment.parquet")
    assert res.rows["hub_assignment"] == len(hubs) and res.rows["baseline"] == 31 * 12


def test_non_empty_target_needs_overwrite(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    run = open_run(run_dir)
    with pytest.raises(GridcastError, match="not empty"):
        export_run(run, out, "csv", FILTERS)
    export_run(run, out, "csv", FILTERS, overwrite=True)
    export_run(run, out, "csv", FILTERS, overwrite=True)  # again, over its own files
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert (out / "regional.csv").is_file()


@pytest.mark.parametrize("filters,match", [
    (ExportFilters(scenarios=("../../etc",)), "not in run"),
    (ExportFilters(scenarios=("no_such",)), "not in run"),
    (ExportFilters(regions=("CN-XX",)), "region 'CN-XX'"),
    (ExportFilters(hubs=("../x",)), "hub '../x'"),
    (ExportFilters(years=(1990, 1995)), "no rows"),
])
def test_bad_filters_are_refused(run_dir: Path, tmp_path: Path, filters: ExportFilters, match: str) -> None:
    with pytest.raises(GridcastError, match=match):
        export_run(open_run(run_dir), tmp_path / "bad", "csv", filters)
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())


def test_unknown_format_is_refused(run_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(GridcastError, match="--format"):
        export_run(open_run(run_dir), tmp_path / "f", "json", FILTERS)


@pytest.mark.parametrize("part", ["../escape", "/etc/passwd", "a/../../b", "scenario=x/../../../y"])
def test_paths_outside_out_are_refused(tmp_path: Path, part: str) -> None:
    with pytest.raises(GridcastError, match="outside"):
        safe_child(tmp_path / "out", "regional", part) if part.startswith("scenario=") else safe_child(
            tmp_path / "out", part)
    assert safe_child(tmp_path / "out", "regional", "scenario=ok") == (tmp_path / "out" / "regional" /
                                                                       "scenario=ok").resolve()


@pytest.mark.parametrize("text,want", [("2025-2030", (2025, 2030)), ("2030", (2030, 2030)), (None, None)])
def test_parse_years(text, want) -> None:
    assert parse_years(text) == want


@pytest.mark.parametrize("text", ["2030-2025", "20x0", "2025-2027-2029"])
def test_parse_years_refuses(text: str) -> None:
    with pytest.raises(GridcastError, match="--years"):
        parse_years(text)


def test_cli_export(run_dir: Path, tmp_path: Path) -> None:
    from flows.cli import app

    args = ["export", "--run", str(run_dir), "--out", str(tmp_path / "x"), "--format", "xlsx",
            "--scenario", "hub_push", "--hub", "zhongwei", "--years", "2030"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "x" / XLSX_NAME).is_file()
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "--overwrite" in again.output
