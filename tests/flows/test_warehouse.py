"""The DuckDB warehouse: round trip, all-or-nothing stores, lock waiting, run records."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

# Shared inline CSV dataset (pytest puts this folder on sys.path: no __init__.py here).
from test_validate import BASE, REGIONS, SYSTEM, hourly, write

from flows.errors import GridcastError, WarehouseBusyError
from flows.schema import InputTables
from flows.validate import load_inputs
from flows.warehouse import (
    RUN_COLUMNS,
    WAIT_ENV,
    connect,
    list_runs,
    read_inputs,
    record_run,
    store_inputs,
)


def inputs(folder: Path, overrides: dict[str, str | None] | None = None) -> InputTables:
    folder.mkdir(parents=True, exist_ok=True)
    return load_inputs(write(folder, overrides))


def assert_same(a: InputTables, b: InputTables) -> None:
    assert set(a.typed()) == set(b.typed())
    for name, frame in a.typed().items():
        pd.testing.assert_frame_equal(frame, b.typed()[name])
    assert set(a.raw) == set(b.raw)
    for name, frame in a.raw.items():
        pd.testing.assert_frame_equal(frame, b.raw[name])
    assert a.hashes == b.hashes


def table_names(db: Path) -> set[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    finally:
        con.close()


def test_round_trip(tmp_path: Path) -> None:
    tables = inputs(tmp_path / "data", {SYSTEM: hourly()})
    db = tmp_path / "state" / "nested" / "w.duckdb"
    store_inputs(db, tables)
    back = read_inputs(db)
    assert_same(tables, back)
    assert back.system_hourly is not None and back.system_hourly.shape == (8760, 3)
    assert not (tmp_path / "state" / "nested" / "w.duckdb.owner").exists()
    con = duckdb.connect(str(db), read_only=True)
    try:
        stored = dict(con.execute("SELECT file, rows FROM in_inputs").fetchall())
        raw_cols = [r[0] for r in con.execute("DESCRIBE raw_regions").fetchall()]
    finally:
        con.close()
    assert stored == {
        **{f: 2 for f in BASE},
        "hub_nodes.csv": 1,
        "demand_history.csv": 4,
        "pue_assumptions.csv": 4,
        "load_shapes.csv": 72,
        SYSTEM: 8760,
    }
    assert raw_cols[0] == "source_row"


def test_store_replaces_previous_contents(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    store_inputs(db, inputs(tmp_path / "a", {SYSTEM: hourly()}))
    second = inputs(tmp_path / "b", {"regions.csv": REGIONS.replace("Beijing", "Peking")})
    store_inputs(db, second)
    back = read_inputs(db)
    assert_same(second, back)
    assert back.regions["name"].tolist() == ["Peking", "Xinjiang"]
    assert back.system_hourly is None
    assert "core_system_hourly" not in table_names(db)


def test_failed_store_leaves_previous_contents(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    first = inputs(tmp_path / "a")
    store_inputs(db, first)
    second = inputs(tmp_path / "b", {"regions.csv": REGIONS.replace("Beijing", "Peking")})
    # regions and hubs are written before load_shapes fails, inside the same transaction.
    broken = dataclasses.replace(second, load_shapes="not a frame")
    with pytest.raises(TypeError):
        store_inputs(db, broken)
    assert_same(first, read_inputs(db))
    assert not db.with_name("w.duckdb.owner").exists()


def test_read_missing_or_empty_warehouse(tmp_path: Path) -> None:
    with pytest.raises(GridcastError, match="does not exist"):
        read_inputs(tmp_path / "none.duckdb")
    record_run(tmp_path / "runs.duckdb", {"run_id": "r"})
    with pytest.raises(GridcastError, match="holds no inputs yet"):
        read_inputs(tmp_path / "runs.duckdb")


HOLDER = """
import sys
from flows.warehouse import connect
with connect(sys.argv[1], owner="holder-test"):
    print("ready", flush=True)
    sys.stdin.readline()
"""


def test_busy_warehouse_waits_then_names_holder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "w.duckdb"
    store_inputs(db, inputs(tmp_path / "a"))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        start = time.monotonic()
        with pytest.raises(WarehouseBusyError) as info:
            with connect(db, wait_seconds=1):
                pass
        elapsed = time.monotonic() - start
        # waited its 1 s, and gave up long before the 30 s default (a generous upper bound:
        # this checks the behaviour, not the speed, on a busy CI machine)
        assert 0.9 <= elapsed < 20.0
        msg = str(info.value)
        assert msg.startswith(f"warehouse busy: {db} is held by holder-test (pid {holder.pid})")
        assert msg.endswith("waited 1 s")
        # Readers wait too, and the environment sets the default wait.
        monkeypatch.setenv(WAIT_ENV, "0.3")
        start = time.monotonic()
        with pytest.raises(WarehouseBusyError):
            read_inputs(db)
        assert time.monotonic() - start < 20.0  # used the 0.3 s from the environment, not 30 s
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=10)
    assert holder.returncode == 0
    assert not db.with_name("w.duckdb.owner").exists()
    with connect(db, wait_seconds=1) as con:
        assert con.execute("SELECT count(*) FROM core_regions").fetchone() == (2,)


def test_waiter_gets_the_lock_when_holder_leaves(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
    assert holder.stdin is not None

    def release() -> None:
        holder.stdin.write("\n")
        holder.stdin.close()

    timer = threading.Timer(0.5, release)
    start = time.monotonic()
    timer.start()
    try:
        with connect(db, wait_seconds=10, owner="second") as con:
            waited = time.monotonic() - start
            con.execute("SELECT 1")
            info = json.loads(db.with_name("w.duckdb.owner").read_text())
            assert (info["owner"], info["pid"]) == ("second", os.getpid())
    finally:
        timer.join()
        holder.wait(timeout=10)
    assert waited >= 0.4


@pytest.mark.parametrize("text", ["soon", "nan", "inf", "-1"])
def test_bad_wait_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    # "nan" used to be accepted and a busy warehouse then waited for ever
    monkeypatch.setenv(WAIT_ENV, text)
    with pytest.raises(GridcastError, match=WAIT_ENV):
        with connect(tmp_path / "w.duckdb"):
            pass


def test_record_run_upserts(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    assert list(list_runs(db).columns) == list(RUN_COLUMNS)
    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    record_run(
        db,
        {
            "run_id": "r1",
            "started_at": started,
            "state": "RUNNING",
            "parameters": {"draws": 100, "seed": 1},
            "user": "planner",
        },
    )
    record_run(
        db, {"run_id": "r0", "started_at": "2025-12-31T23:00:00+00:00", "state": "COMPLETED"}
    )
    record_run(
        db,
        {
            "run_id": "r1",
            "state": "COMPLETED",
            "finished_at": "2026-01-02T11:05:00+08:00",
            "timings_s": {"ingest": 0.5},
        },
    )
    runs = list_runs(db)
    assert runs["run_id"].tolist() == ["r0", "r1"]
    r1 = runs.iloc[1]
    assert r1["state"] == "COMPLETED"
    assert r1["started_at"] == pd.Timestamp("2026-01-02 03:04:05")
    assert r1["finished_at"] == pd.Timestamp("2026-01-02 03:05:00")  # 11:05 +08:00 in UTC
    assert json.loads(r1["parameters"]) == {"draws": 100, "seed": 1}
    assert json.loads(r1["timings_s"]) == {"ingest": 0.5}
    assert r1["user"] == "planner"
    with pytest.raises(ValueError, match="unknown out_runs column"):
        record_run(db, {"run_id": "r2", "colour": "blue"})


CRASHER = """
import sys, dataclasses
import pandas as pd
from flows.validate import load_inputs
from flows.warehouse import store_inputs
a, b = load_inputs(sys.argv[2]), load_inputs(sys.argv[3])
print("ready", flush=True)
while True:
    for t in (a, b):
        store_inputs(sys.argv[1], t)
"""


@pytest.mark.slow
def test_kill_during_store_keeps_a_complete_state(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = 100_000
    big = (
        "center_id,name,region_id,size_class,it_capacity_mw,utilization,ai_share,"
        "training_share\n"
        + "".join(
            f"C{i},n,BJ,large,{c:.3f},0.5,0.5,0.5\n" for i, c in enumerate(rng.uniform(1, 100, n))
        )
    )
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    a = inputs(a_dir)
    b = inputs(b_dir, {"compute_centers.csv": big})
    db = tmp_path / "w.duckdb"
    for delay in (0.3, 0.7, 1.1):
        proc = subprocess.Popen(
            [sys.executable, "-c", CRASHER, str(db), str(a_dir), str(b_dir)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        if not db.exists():
            continue
        back = read_inputs(db, wait_seconds=5)
        expected = a if len(back.compute_centers) == 2 else b
        assert_same(expected, back)
