"""Exports a hostile run cannot turn into an attack, and --out folders an export cannot wreck.

Formula injection (OWASP CSV injection): every text cell whose text a spreadsheet would
evaluate (``=``, ``+``, ``-``, ``@`` first, or a tab / CR / LF first) must reach the CSV
with a single quote in front, and the workbook as a string cell (never ``data_type 'f'``);
numbers stay numbers. The hostile strings sit in ids, names, Chinese names, centre ids and
the provenance.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from flows import outputs
from flows.compare import open_run
from flows.errors import GridcastError
from flows.export import XLSX_NAME, ExportFilters, Units, export_run

EVIL_ID = "=cmd|' /C calc'!A0"
HOSTILE = [EVIL_ID, "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", " =1+1", "=HYPERLINK(\"http://x\")"]
RISKY_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def _risky(text: str) -> bool:
    return text.startswith(("\t", "\r", "\n")) or text.lstrip().startswith(("=", "+", "-", "@"))


@pytest.fixture(scope="module")
def hostile_run(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture run with CN-NX renamed to a formula, hostile names, centre ids and provenance."""
    root = tmp_path_factory.mktemp("hostile")
    run = root / "run"
    shutil.copytree(run_dir, run)
    regional = pd.read_parquet(run / "regional")
    regional["scenario"] = regional["scenario"].astype(str)
    regional["region_id"] = regional["region_id"].astype(str).replace({"CN-NX": EVIL_ID})
    regional.loc[regional.index[:5], "compute_share"] = -0.5  # a negative number stays a number
    outputs.write_partitioned(run / "regional", regional)
    tp = pd.read_parquet(run / "turning_points.parquet")
    tp["region_id"] = tp["region_id"].astype(str).replace({"CN-NX": EVIL_ID})
    outputs.write_parquet(run / "turning_points.parquet", tp)
    hubs = pd.read_parquet(run / "hub_assignment.parquet")
    hubs["center_id"] = [HOSTILE[i % len(HOSTILE)] + str(i) for i in range(len(hubs))]
    outputs.write_parquet(run / "hub_assignment.parquet", hubs)
    data = root / "data"
    data.mkdir()
    regions = pd.read_csv("data/default/regions.csv", dtype=str)
    regions.loc[regions["region_id"] == "CN-NX", ["region_id", "name", "name_zh"]] = [EVIL_ID, "@evil", "+宁夏"]
    regions.loc[regions["region_id"] == "CN-GD", "name"] = "-Guangdong"
    regions.to_csv(data / "regions.csv", index=False)
    meta = json.loads((run / "run.json").read_text(encoding="utf-8"))
    meta["data_dir"] = str(data)
    meta["inputs_sha256"].pop("regions.csv", None)
    meta["git_commit"] = "=HYPERLINK(\"http://evil\")"
    meta["scenarios"]["reference"]["resolved"]["description"] = "@danger"
    (run / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    return run


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["long", "wide"])
def test_workbook_has_no_formula_cells(hostile_run: Path, tmp_path: Path, layout: str) -> None:
    export_run(open_run(hostile_run), tmp_path / "x", "xlsx", ExportFilters(tables=("all",)),
               units=Units(layout=layout))
    book = openpyxl.load_workbook(tmp_path / "x" / XLSX_NAME, read_only=True)  # read-only cells keep data_type
    seen_evil = seen_negative = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not _risky(cell.value), (sheet.title, cell.coordinate, cell.value)
                    seen_evil += cell.value == "'" + EVIL_ID
                elif isinstance(cell.value, float) and cell.value < 0:
                    seen_negative += 1
                    assert cell.data_type == "n"
    assert seen_evil > 10, "the hostile id reached the workbook, quoted"
    assert seen_negative >= 5 or layout == "wide"
    prov = {r[0]: r[1] for r in book["provenance"].iter_rows(min_row=2, values_only=True)}
    assert prov["git_commit"] == "'=HYPERLINK(\"http://evil\")"


def test_csv_text_cells_are_quoted(hostile_run: Path, tmp_path: Path) -> None:
    export_run(open_run(hostile_run), tmp_path / "c", "csv", ExportFilters(tables=("all",)))
    numeric = 0
    for path in sorted((tmp_path / "c").glob("*.csv")):
        rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8"), newline="")))
        header, body = rows[0], rows[1:]
        for j, col in enumerate(header):
            assert not _risky(col)
            cells = [r[j] for r in body if r[j] != ""]
            if cells and pd.to_numeric(pd.Series(cells), errors="coerce").notna().all():
                numeric += 1
                continue  # a number column: "-0.5" is a number, not text
            for r in body:
                assert not _risky(r[j]), (path.name, col, r[j])
    regional = pd.read_csv(tmp_path / "c" / "regional.csv", dtype=str)
    assert "'" + EVIL_ID in set(regional["region_id"])
    assert set(regional.loc[regional["region_id"] == "'" + EVIL_ID, "region_name_zh"]) == {"'+宁夏"}
    assert (pd.to_numeric(regional["compute_share"]) == -0.5).sum() == 5
    assert numeric > 5


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_run_folder_is_never_an_export_target(run_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    before = _digest(run)
    for target in (run, run / "exports", run / "regional"):
        for overwrite in (False, True):
            with pytest.raises(GridcastError, match="run folder"):
                export_run(open_run(run), target, "parquet", ExportFilters(), overwrite=overwrite)
    assert _digest(run) == before


def test_a_users_folder_keeps_its_files(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    (out / "forecast").mkdir(parents=True)
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    (out / ".hidden.x.tmp").write_text("mine too", encoding="utf-8")
    (out / "forecast" / "keep.csv").write_text("a", encoding="utf-8")
    with pytest.raises(GridcastError, match="not empty"):
        export_run(open_run(run_dir), out, "csv", ExportFilters())
    export_run(open_run(run_dir), out, "csv", ExportFilters(), overwrite=True)
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert (out / ".hidden.x.tmp").read_text(encoding="utf-8") == "mine too"
    assert (out / "forecast" / "keep.csv").read_text(encoding="utf-8") == "a"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "regional.csv").write_text("my own table", encoding="utf-8")
    with pytest.raises(GridcastError, match="regional.csv is there and was not written"):
        export_run(open_run(run_dir), tmp_path / "other", "csv", ExportFilters(), overwrite=True)
    assert (tmp_path / "other" / "regional.csv").read_text(encoding="utf-8") == "my own table"


@pytest.mark.slow
def test_overwrite_in_another_format_removes_the_old_files(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "fmt"
    export_run(open_run(run_dir), out, "csv", ExportFilters())
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    assert (out / "regional.csv").is_file()
    with pytest.raises(GridcastError, match="earlier gridcast export"):
        export_run(open_run(run_dir), out, "xlsx", ExportFilters())
    export_run(open_run(run_dir), out, "xlsx", ExportFilters(), overwrite=True)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["columns.csv", "export_manifest.json", XLSX_NAME, "notes.txt", "provenance.json"])
    export_run(open_run(run_dir), out, "parquet", ExportFilters(tables=("regional",)), overwrite=True)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["columns.csv", "export_manifest.json", "regional", "notes.txt", "provenance.json"])
    manifest = json.loads((out / "export_manifest.json").read_text(encoding="utf-8"))
    assert manifest["state"] == "complete" and "regional" in manifest["files"]


def test_a_manifest_cannot_point_outside(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "m"
    export_run(open_run(run_dir), out, "csv", ExportFilters(tables=("national",)))
    (tmp_path / "victim.txt").write_text("keep", encoding="utf-8")
    (out / "export_manifest.json").write_text(json.dumps({"files": ["../victim.txt"]}), encoding="utf-8")
    with pytest.raises(GridcastError, match="outside"):
        export_run(open_run(run_dir), out, "csv", ExportFilters(tables=("national",)), overwrite=True)
    assert (tmp_path / "victim.txt").read_text(encoding="utf-8") == "keep"


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1", "\n=1", "  =1", " \t@x",
                                  "=cmd|' /C calc'!A0"])
def test_every_risky_prefix_is_quoted(text: str) -> None:
    from flows.safe_text import inert

    assert inert(text) == "'" + text
    assert inert(text, workbook=True).startswith("'")


@pytest.mark.parametrize("value", ["CN-GD", "宁夏", "flat-then-rising", "a=b", "", 3, -2.5, None])
def test_harmless_values_are_unchanged(value: object) -> None:
    from flows.safe_text import inert

    assert inert(value) == value
