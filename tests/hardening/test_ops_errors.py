"""Operations errors a careless setup causes: each one line, no traceback.

Before the fixes: ``--warehouse some.csv`` "loaded 7 files" into an in-memory database and
exited 0, a directory or another file gave a 170-line DuckDB traceback; a ``run.json`` of
``[]`` or with non-UTF-8 bytes gave a traceback in compare/export; an unreachable
``PREFECT_API_URL`` gave Prefect's retries and a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.compare import open_run
from flows.errors import GridcastError
from flows.warehouse import check_database_path, connect, list_runs, record_run

ROOT = Path(__file__).resolve().parents[2]
GRIDCAST = [sys.executable, "-m", "flows.cli"]


def _cli(args: list[str], **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    full.update({"PYTHONUNBUFFERED": "1", **env})
    return subprocess.run(GRIDCAST + args, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=full, check=False)


def _one_line(res: subprocess.CompletedProcess, *words: str) -> str:
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    assert "Traceback" not in res.stderr + res.stdout, res.stderr[-3000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("gridcast: ") and all(w in ln for w in words)]
    assert len(lines) == 1, res.stderr[-2000:]
    return lines[0]


@pytest.mark.parametrize("kind", ["csv", "csv-absent", "directory", "junk", "empty"])
def test_a_path_that_is_not_a_duckdb_database_is_refused(tmp_path: Path, kind: str) -> None:
    path = {"csv": tmp_path / "some.csv", "csv-absent": tmp_path / "new.csv", "directory": tmp_path / "dir",
            "junk": tmp_path / "junk.duckdb", "empty": tmp_path / "empty.duckdb"}[kind]
    if kind == "csv":
        path.write_text("a,b\n1,2\n")
    elif kind == "directory":
        path.mkdir()
    elif kind == "junk":
        path.write_bytes(bytes(range(256)) * 20)
    elif kind == "empty":
        path.write_bytes(b"")
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(GridcastError, match="DuckDB database") as err:
        with connect(path):
            pass
    assert "\n" not in str(err.value)
    assert (path.read_bytes() if path.is_file() else None) == before
    with pytest.raises(GridcastError):
        record_run(path, {"run_id": "r1", "state": "RUNNING"})


def test_a_real_warehouse_and_a_new_path_are_accepted(tmp_path: Path) -> None:
    record_run(tmp_path / "wh.duckdb", {"run_id": "r1", "state": "RUNNING"})
    check_database_path(tmp_path / "wh.duckdb")
    check_database_path(tmp_path / "new-warehouse")
    assert list(list_runs(tmp_path / "wh.duckdb")["run_id"]) == ["r1"]


def test_cli_runs_with_a_csv_or_a_directory_as_warehouse(tmp_path: Path) -> None:
    csv = tmp_path / "some.csv"
    csv.write_text("a,b\n1,2\n")
    _one_line(_cli(["runs", "--warehouse", str(csv)]), "not a DuckDB database", str(csv))
    _one_line(_cli(["runs", "--warehouse", str(tmp_path)]), "is a directory", str(tmp_path))


@pytest.mark.parametrize("content", [b"[]", b'"text"', b"\xff\xfe{\x00}\x00", b'{"scenarios": []}'])
def test_a_broken_run_json_is_one_line(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "run.json").write_bytes(content)
    with pytest.raises(GridcastError, match="cannot read .*run.json") as err:
        open_run(tmp_path)
    assert "\n" not in str(err.value)


def test_cli_compare_and_export_of_a_broken_run_json(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_bytes(b"[]")
    _one_line(_cli(["compare", "reference", "hub_push", "--run", str(tmp_path)]), "run.json", "list")
    (tmp_path / "run.json").write_bytes(b'{"run_id": "\xff"}')
    _one_line(_cli(["export", "--run", str(tmp_path), "--out", str(tmp_path / "x")]), "not UTF-8")


@pytest.mark.slow
def test_an_unreachable_prefect_api_url_is_one_line() -> None:
    # port 9 (discard) on loopback: nothing listens there
    res = _cli(["run", "--draws", "0", "--scenario", str(ROOT / "data" / "scenarios" / "reference.toml")],
               PREFECT_API_URL="http://127.0.0.1:9/api")
    line = _one_line(res, "PREFECT_API_URL=http://127.0.0.1:9/api does not answer")
    assert "unset PREFECT_API_URL" in line


@pytest.mark.slow
@pytest.mark.integration
def test_cli_run_with_a_csv_as_warehouse_stores_nothing_and_says_so(tmp_path: Path) -> None:
    csv = tmp_path / "some.csv"
    csv.write_text("a,b\n1,2\n")
    res = _cli(["run", "--draws", "0", "--scenario", str(ROOT / "data" / "scenarios" / "reference.toml"),
                "--out", str(tmp_path / "out"), "--warehouse", str(csv)])
    _one_line(res, "not a DuckDB database", str(csv))
    assert csv.read_text() == "a,b\n1,2\n"
    assert not (tmp_path / "out" / "run.json").exists()


def test_draws_are_capped_where_memory_stays_under_two_gigabytes() -> None:
    # Before: the documented maximum of 1,000,000 draws passed 14 GB of memory.
    from pydantic import ValidationError

    from flows.pipeline import RunParams
    from flows.settings import MAX_DRAWS

    assert MAX_DRAWS == 5000  # measured: 1.3-1.4 GB peak RSS (docs/operations.md section 13)
    RunParams(draws=MAX_DRAWS)
    with pytest.raises(ValidationError):
        RunParams(draws=MAX_DRAWS + 1)
    res = _cli(["run", "--draws", str(MAX_DRAWS + 1)])
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "--draws" in res.stderr and str(MAX_DRAWS) in res.stderr
    assert "starting Prefect" not in res.stderr  # refused before any work
    assert str(MAX_DRAWS) in _cli(["run", "--help"]).stdout
