"""Crash safety: ``gridcast ingest`` and ``gridcast run`` killed with SIGKILL at several points.

Each kill hits the whole process group (the CLI and the Prefect server it started) at a
seeded random moment inside one stage: Prefect's start-up, the warehouse transaction,
the Parquet writes, the report. Afterwards:

* the warehouse opens (read-only first, as ``gridcast runs`` would) and its input tables
  equal either the state before or a full ingest of the new data, never a mixture;
* no file under its final name is half-written: every visible Parquet file reads back,
  ``run.json`` parses, ``report.html`` is complete; temporary files are hidden
  (``.<name>.gridcast-<random>.tmp``);
* the next run succeeds.

Kills are few (each CLI call starts Prefect, ~6-20 s): three during ingest, four during runs.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from hardening_support import (
    REFERENCE_TOML,
    kill_group,
    run_cli,
    shipped_files,
    snapshot,
    start_cli,
    write_folder,
)

from flows import outputs
from flows.validate import load_inputs
from flows.warehouse import store_inputs

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SEED = 20241
POLL_S = 0.005
STAGE_TIMEOUT_S = 300
PARTITIONED = ("forecast", "regional")


def _wait_for(proc, ready, timeout: float = STAGE_TIMEOUT_S) -> bool:  # noqa: ANN001
    """Poll until ``ready()``; False if the process ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(POLL_S)
    raise AssertionError("the stage never started")


def _kill_at(args: list[str], log: Path, ready, delay: float) -> str:  # noqa: ANN001
    """Start gridcast, wait for ``ready``, sleep ``delay`` s, SIGKILL the group. Returns the log."""
    proc = start_cli(args, log)
    try:
        reached = _wait_for(proc, ready)
        if reached:
            time.sleep(delay)
    finally:
        kill_group(proc)
    text = log.read_text(encoding="utf-8", errors="replace")
    assert reached or proc.returncode == 0, f"gridcast failed before the kill point:\n{text[-3000:]}"
    return text


def _log_says(log: Path, marker: str):  # noqa: ANN202
    return lambda: log.exists() and marker in log.read_text(encoding="utf-8", errors="replace")


def _hidden(path: Path) -> bool:
    return any(part.startswith(".") for part in path.parts)


def check_outputs(out: Path) -> list[str]:
    """Every visible output reads back whole; returns the hidden temporary leftovers."""
    if not out.exists():
        return []
    for path in out.rglob("*"):
        rel = path.relative_to(out)
        if _hidden(rel) or path.is_dir():
            continue
        if path.suffix == ".parquet" and rel.parts[0] not in PARTITIONED:
            pq.read_table(path)
        elif path.name == "run.json":
            assert json.loads(path.read_text(encoding="utf-8"))["state"] == "COMPLETED"
        elif path.name == "report.html":
            assert path.read_text(encoding="utf-8").rstrip().endswith("</html>")
    for name in PARTITIONED:
        if (out / name).is_dir():
            ds.dataset(out / name, format="parquet", partitioning="hive").to_table()
    return sorted(str(p.relative_to(out)) for p in out.rglob(".*"))


def check_warehouse(warehouse: Path, allowed: list[dict]) -> None:
    """The warehouse opens read-only and holds one of the ``allowed`` complete states."""
    state = snapshot(warehouse)
    assert any(state == a for a in allowed), "the warehouse holds a state no ingest wrote"


def test_killed_ingest_and_run_leave_a_consistent_state(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    shipped = shipped_files()
    data = write_folder(tmp_path / "data", shipped)
    warehouse = tmp_path / "warehouse.duckdb"
    out = tmp_path / "out"

    # The complete states: a full ingest of the shipped data (new), and an older one (old).
    store_inputs(tmp_path / "new.duckdb", load_inputs(data))
    new = snapshot(tmp_path / "new.duckdb")
    older = dict(shipped)
    older["compute_centers.csv"] = shipped["compute_centers.csv"].replace(b",654.45,", b",600,", 1)
    assert older["compute_centers.csv"] != shipped["compute_centers.csv"]
    store_inputs(warehouse, load_inputs(write_folder(tmp_path / "older", older)))
    old = snapshot(warehouse)
    assert old != new

    ingest = ["ingest", "--data", str(data), "--warehouse", str(warehouse)]
    owner = warehouse.with_name(warehouse.name + ".owner")
    started = lambda: True  # noqa: E731
    ingest_kills = [
        ("prefect start-up", started, rng.uniform(1.0, 4.0)),
        ("store, at once", owner.exists, rng.uniform(0.0, 0.05)),
        ("store, later", owner.exists, rng.uniform(0.05, 0.4)),
    ]
    for i, (_stage, ready, delay) in enumerate(ingest_kills):
        owner.unlink(missing_ok=True)
        _kill_at(ingest, tmp_path / f"ingest{i}.log", ready, delay)
        check_warehouse(warehouse, [old, new])

    run = ["run", "--draws", "50", "--scenario", str(REFERENCE_TOML), "--data", str(data),
           "--out", str(out), "--overwrite", "--warehouse", str(warehouse)]
    leftovers: dict[str, list[str]] = {}
    run_kills = [
        ("store", "loading inputs into", rng.uniform(0.0, 0.3)),
        ("parquet", "writing Parquet to", rng.uniform(0.0, 0.15)),
        ("report", "writing Parquet to", rng.uniform(0.15, 1.5)),
    ]
    for i, (stage, marker, delay) in enumerate(run_kills):
        log = tmp_path / f"run{i}.log"
        _kill_at(run, log, _log_says(log, marker), delay)
        check_warehouse(warehouse, [old, new])
        leftovers[stage] = check_outputs(out)

    # The next run succeeds, over whatever the killed runs left, and ingests in full.
    res = run_cli(run)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Traceback" not in res.stderr
    assert snapshot(warehouse) == new
    stale = check_outputs(out)
    assert (out / "run.json").is_file() and (out / "report.html").is_file()

    # A run killed while overwriting a complete run: files under final names stay whole.
    log = tmp_path / "run-over.log"
    _kill_at(run, log, _log_says(log, "writing Parquet to"), rng.uniform(0.0, 1.0))
    check_warehouse(warehouse, [new])
    check_outputs(out)

    # Temporary files are hidden, and outputs.remove_stale_temps clears exactly them.
    assert all(name.startswith(".") for name in stale)
    removed = outputs.remove_stale_temps(out)
    assert not list(out.rglob(".*"))
    check_outputs(out)
    print(json.dumps({"after_kills": leftovers, "after_next_run": stale,
                      "removed": [str(p.relative_to(out)) for p in removed]}, indent=1))  # -s shows it
