"""Operations: run history, schedule refusals, a busy warehouse, failed runs, re-run determinism.

The fast tests need no Prefect. The slow ones run the real forecast flow in this process
(one temporary Prefect server for the session) on the shipped data with the reference
scenario and few draws, and compare the Parquet they write with DuckDB.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from flows.errors import GridcastError
from flows.ops import RUNS_COLUMNS, check_schedule, format_runs, run_history
from flows.warehouse import list_runs, record_run

ROOT = Path(__file__).resolve().parents[2]
GRIDCAST = [sys.executable, "-m", "flows.cli"]
REFERENCE = ROOT / "data" / "scenarios" / "reference.toml"
DRAWS = 20
SEED = 7


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    # One BLAS thread: on a shared 2-core machine OpenBLAS's spinning threads can make the
    # baseline fit ~50x slower (docs/operations.md).
    env.update({"PYTHONUNBUFFERED": "1", "OPENBLAS_NUM_THREADS": "1", **extra})
    return env


def _gridcast(args: list[str], timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(GRIDCAST + args, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=_env(**env), check=False)


# --------------------------------------------------------------------------- run history


def _record(wh: Path, run_id: str, start: datetime, seconds: float | None, state: str,
            reason: str | None = None, draws: int = 20) -> None:
    record_run(wh, {
        "run_id": run_id, "started_at": start, "state": state, "reason": reason,
        "finished_at": None if seconds is None else start + timedelta(seconds=seconds),
        "parameters": {"draws": draws, "seed": 1},
        "scenarios_sha256": {"reference": "a" * 64, "hub_push": "b" * 64},
        "out_dir": f"/out/{run_id}",
    })


def test_run_history_is_newest_first_with_duration_and_reason(tmp_path: Path) -> None:
    wh = tmp_path / "wh.duckdb"
    t0 = datetime(2025, 3, 1, 6, 0, 0)
    _record(wh, "r1", t0, 61.25, "COMPLETED", draws=1000)
    _record(wh, "r2", t0 + timedelta(days=7), 3.0, "FAILED",
            reason="invalid input: file regions.csv, row 4, column 'zone': not a zone")
    _record(wh, "r3", t0 + timedelta(days=14), None, "RUNNING")
    table = run_history(wh, limit=None)
    assert list(table.columns) == RUNS_COLUMNS
    assert list(table["run_id"]) == ["r3", "r2", "r1"]
    assert list(table["state"]) == ["RUNNING", "FAILED", "COMPLETED"]
    assert table.loc[2, "duration_s"] == pytest.approx(61.2, abs=0.06)  # rounded to 0.1 s
    assert table.loc[1, "reason"].startswith("invalid input: file regions.csv")
    assert table.loc[2, "draws"] == 1000
    assert table.loc[0, "scenarios"] == "hub_push,reference"
    assert table.loc[2, "started_utc"] == "2025-03-01 06:00:00"
    assert list(run_history(wh, limit=2)["run_id"]) == ["r3", "r2"]
    text = format_runs(table).splitlines()
    assert text[0].split() == RUNS_COLUMNS
    assert text[1].split()[:2] == ["r3", "RUNNING"] and " - " in text[1]  # no duration yet
    assert text[2].endswith("not a zone")


def test_run_history_of_an_empty_or_missing_warehouse(tmp_path: Path) -> None:
    assert run_history(tmp_path / "none.duckdb").empty
    assert format_runs(run_history(tmp_path / "none.duckdb")) == "no runs recorded yet"


def test_runs_command_prints_the_table(tmp_path: Path) -> None:
    wh = tmp_path / "wh.duckdb"
    _record(wh, "old", datetime(2025, 1, 1), 10.0, "COMPLETED")
    _record(wh, "new", datetime(2025, 1, 8), 12.0, "COMPLETED")
    res = _gridcast(["runs", "--warehouse", str(wh), "--limit", "1"], timeout=120)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("new ")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_killed_run_is_shown_and_recorded_as_crashed(tmp_path: Path) -> None:
    # Before: a run killed with SIGKILL stayed RUNNING in `gridcast runs` for ever.
    from flows.procs import HOST, this_process

    wh = tmp_path / "wh.duckdb"
    t0 = datetime(2025, 3, 1, 6, 0, 0)
    dead = _dead_pid()
    record_run(wh, {"run_id": "killed", "started_at": t0, "state": "RUNNING", "host": HOST, "pid": dead})
    record_run(wh, {"run_id": "live", "started_at": t0 + timedelta(hours=1), "state": "RUNNING",
                    **this_process()})
    record_run(wh, {"run_id": "elsewhere", "started_at": t0 + timedelta(hours=2), "state": "RUNNING",
                    "host": "another-machine", "pid": dead})
    # finished, but the final record was lost (busy warehouse): run.json tells
    done = tmp_path / "done"
    done.mkdir()
    (done / "run.json").write_text(json.dumps({"run_id": "unrecorded", "state": "COMPLETED",
                                               "finished_at": "2025-03-01T09:00:30+00:00"}))
    record_run(wh, {"run_id": "unrecorded", "started_at": t0 + timedelta(hours=3), "state": "RUNNING",
                    "host": HOST, "pid": dead, "out_dir": str(done)})
    table = run_history(wh).set_index("run_id")
    assert table.loc["killed", "state"] == "CRASHED"
    assert f"process {dead} on {HOST} ended without finishing" in table.loc["killed", "reason"]
    assert table.loc["live", "state"] == "RUNNING" and table.loc["elsewhere", "state"] == "RUNNING"
    assert table.loc["unrecorded", "state"] == "COMPLETED" and table.loc["unrecorded", "duration_s"] == 30.0
    stored = list_runs(wh).set_index("run_id")["state"].to_dict()
    assert stored == {"killed": "CRASHED", "live": "RUNNING", "elsewhere": "RUNNING", "unrecorded": "COMPLETED"}


def test_runs_show_the_data_location_and_whether_inputs_changed(tmp_path: Path) -> None:
    wh = tmp_path / "wh.duckdb"
    t0 = datetime(2025, 3, 1, 6, 0, 0)
    for i, h in enumerate(["a" * 64, "a" * 64, None, "b" * 64, "b" * 64]):
        record_run(wh, {"run_id": f"r{i}", "started_at": t0 + timedelta(days=i), "state": "COMPLETED",
                        "data_dir": "/srv/data", "inputs_hash": h})
    table = run_history(wh)
    assert list(table["run_id"]) == ["r4", "r3", "r2", "r1", "r0"]
    assert list(table["changed"].fillna("-")) == ["no", "yes", "-", "no", "new"]
    assert list(table["inputs"].fillna("-")) == ["b" * 12, "b" * 12, "-", "a" * 12, "a" * 12]
    assert set(table["data_dir"]) == {"/srv/data"}
    assert format_runs(table).splitlines()[0].split() == RUNS_COLUMNS


def test_an_old_out_runs_table_gains_the_new_columns(tmp_path: Path) -> None:
    wh = tmp_path / "wh.duckdb"
    with duckdb.connect(str(wh)) as con:
        con.execute("CREATE TABLE out_runs (run_id VARCHAR PRIMARY KEY, started_at TIMESTAMP, state VARCHAR)")
        con.execute("INSERT INTO out_runs VALUES ('v1', '2025-01-01 00:00:00', 'COMPLETED')")
    assert list(run_history(wh)["state"]) == ["COMPLETED"]
    record_run(wh, {"run_id": "v2", "state": "RUNNING", "pid": 1, "host": "h", "inputs_changed": True})
    runs = list_runs(wh).set_index("run_id")
    assert runs.loc["v2", "pid"] == 1 and bool(runs.loc["v2", "inputs_changed"]) is True


def test_a_second_schedule_of_a_served_deployment_is_refused(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from flows import ops

    monkeypatch.setattr("flows.settings.STATE_DIR", tmp_path)
    monkeypatch.setattr(ops, "_refuse_if_polled", lambda name: None)  # no server in this test
    url = "http://127.0.0.1:4200/api"
    script = ("import sys, time\n"
              "from flows import ops\n"
              "ops._refuse_if_polled = lambda name: None\n"
              "import flows.settings as s; from pathlib import Path; s.STATE_DIR = Path(sys.argv[1])\n"
              "from flows.errors import GridcastError\n"
              "try:\n"
              "    with ops.serving('weekly', sys.argv[2]):\n"
              "        print('serving', flush=True)\n"
              "except GridcastError as e:\n"
              "    print(e, flush=True); sys.exit(2)\n")
    with ops.serving("weekly", url):
        res = subprocess.run([sys.executable, "-c", script, str(tmp_path), url], cwd=ROOT, capture_output=True,
                             text=True, timeout=120, check=False)
        assert res.returncode == 2, res.stdout + res.stderr
        assert f"gridcast-forecast/weekly is already served by pid {os.getpid()}" in res.stdout
        other = subprocess.run([sys.executable, "-c", script, str(tmp_path), "http://other:4200/api"], cwd=ROOT,
                               capture_output=True, text=True, timeout=120, check=False)
        assert other.returncode == 0 and "serving" in other.stdout  # another server's deployment
    # stopped cleanly: the next one serves at once
    again = subprocess.run([sys.executable, "-c", script, str(tmp_path), url], cwd=ROOT, capture_output=True,
                           text=True, timeout=120, check=False)
    assert again.returncode == 0 and "serving" in again.stdout, again.stdout + again.stderr


# --------------------------------------------------------------------------- schedule refusals


def test_schedule_refuses_without_a_server_url(tmp_path: Path) -> None:
    res = _gridcast(["schedule", "--cron", "0 6 * * 1"], timeout=120,
                    PREFECT_HOME=str(tmp_path / "prefect"), GRIDCAST_HOME=str(tmp_path / "gc"))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert "PREFECT_API_URL" in res.stderr and "prefect server start --host 127.0.0.1" in res.stderr


@pytest.mark.parametrize(("cron", "tz", "word"), [("61 6 * * 1", "Asia/Shanghai", "--cron"),
                                                  ("every monday", "Asia/Shanghai", "--cron"),
                                                  ("0 6 * * 1", "Asia/Beijingg", "--timezone")])
def test_bad_cron_or_timezone_is_refused(cron: str, tz: str, word: str) -> None:
    with pytest.raises(GridcastError, match=word):
        check_schedule(cron, tz)


def test_good_cron_is_accepted() -> None:
    check_schedule("0 6 * * 1", "Asia/Shanghai")
    check_schedule("*/15 * * * *", "UTC")


# --------------------------------------------------------------------------- busy warehouse

_HOLD_LOCK = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE IF NOT EXISTS held (x INTEGER)")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _stop(proc: subprocess.Popen) -> None:
    """Stop a process this test started (its own session), by its id; escalate if needed."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, 9)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.integration
def test_second_process_gets_warehouse_busy_in_one_line(tmp_path: Path) -> None:
    wh = tmp_path / "wh.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(wh), "300"], stdout=subprocess.PIPE,
                              text=True, start_new_session=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        res = _gridcast(["ingest", "--warehouse", str(wh)], GRIDCAST_WAREHOUSE_WAIT_SECONDS="2")
    finally:
        _stop(holder)
    assert res.returncode == 2, res.stderr[-3000:]
    out = res.stdout + res.stderr
    assert "Traceback" not in out
    busy = [ln for ln in out.splitlines() if "warehouse busy" in ln]
    assert len(busy) == 1, out[-3000:]
    assert str(wh) in busy[0] and "waited 2 s" in busy[0]


# --------------------------------------------------------------------------- real runs in-process


@pytest.fixture(scope="module")
def one_blas_thread():  # noqa: ANN201
    """See _env: the baseline fit is small; BLAS threads only contend on a shared machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def twin_runs(tmp_path_factory: pytest.TempPathFactory, one_blas_thread) -> dict[str, Path]:  # noqa: ANN001
    """Two runs of the same inputs and parameters into one out root (outputs/runs/<id>)."""
    from flows.pipeline import RunParams, run_pipeline

    base = tmp_path_factory.mktemp("twins")
    params = RunParams(scenario=REFERENCE, draws=DRAWS, seed=SEED, out_root=base / "outputs",
                       warehouse=base / "wh.duckdb")
    first = run_pipeline(params)
    second = run_pipeline(params)
    return {"first": first, "second": second, "root": base / "outputs", "warehouse": base / "wh.duckdb"}


def _tables(run_dir: Path) -> dict[str, str]:
    """Each output table of a run folder as a DuckDB read_parquet() expression."""
    out = {p.stem: f"read_parquet('{p}')" for p in sorted(run_dir.glob("*.parquet"))}
    for part in ("forecast", "regional"):
        out[part] = f"read_parquet('{run_dir / part}/**/*.parquet', hive_partitioning=true)"
    return out


def _differing_rows(left: str, right: str) -> int:
    with duckdb.connect() as con:
        a = con.execute(f"SELECT count(*) FROM (SELECT * FROM {left} EXCEPT ALL SELECT * FROM {right})").fetchone()[0]
        b = con.execute(f"SELECT count(*) FROM (SELECT * FROM {right} EXCEPT ALL SELECT * FROM {left})").fetchone()[0]
    return a + b


@pytest.mark.slow
@pytest.mark.integration
def test_rerun_with_same_inputs_and_seed_gives_identical_tables(twin_runs: dict[str, Path]) -> None:
    first, second = twin_runs["first"], twin_runs["second"]
    assert first != second
    left, right = _tables(first), _tables(second)
    assert set(left) == set(right) and {"forecast", "regional", "national", "rise_odds"} <= set(left)
    for name in left:
        with duckdb.connect() as con:
            n = con.execute(f"SELECT count(*) FROM {left[name]}").fetchone()[0]
        assert n > 0, name
        assert _differing_rows(left[name], right[name]) == 0, name
    stats = {r[0] for r in duckdb.sql(f"SELECT DISTINCT stat FROM {left['national']}").fetchall()}
    assert {"p10", "p50", "p90"} <= stats, "the draws must have run"


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
@pytest.mark.integration
def test_failed_run_is_recorded_and_earlier_outputs_are_kept(twin_runs: dict[str, Path], tmp_path: Path) -> None:
    from flows.pipeline import RunParams, run_pipeline

    root, wh, last_good = twin_runs["root"], twin_runs["warehouse"], twin_runs["second"]
    before = _digest(root / "runs")
    assert (root / "latest").resolve() == last_good.resolve()
    bad = tmp_path / "bad"
    shutil.copytree(ROOT / "data" / "default", bad)
    text = (bad / "regions.csv").read_text(encoding="utf-8")
    (bad / "regions.csv").write_text(text.replace("CN-AH,Anhui,安徽,east,", "CN-AH,Anhui,安徽,nowhere,", 1),
                                     encoding="utf-8")
    params = RunParams(data_dir=bad, scenario=REFERENCE, draws=DRAWS, seed=SEED, out_root=root, warehouse=wh)
    with pytest.raises(GridcastError) as err:
        run_pipeline(params)
    # The good runs' files are untouched, the failed run wrote no table, and latest still
    # points at the last good run.
    after = _digest(root / "runs")
    assert after == before
    assert (root / "latest").resolve() == last_good.resolve()
    runs = list_runs(wh).sort_values("started_at")
    assert list(runs["state"]) == ["COMPLETED", "COMPLETED", "FAILED"]
    failed = runs.iloc[-1]
    assert failed["reason"] == str(err.value) and "regions.csv" in failed["reason"]
    assert json.loads(failed["parameters"])["data_dir"] == str(bad)
    assert not [p for p in Path(failed["out_dir"]).rglob("*") if p.is_file()]


def test_read_if_unchanged_checks_the_recorded_sha256(tmp_path: Path) -> None:
    from flows.datastate import read_if_unchanged

    path = tmp_path / "regions.csv"
    path.write_bytes(b"region_id\nCN-NX\n")
    recorded = hashlib.sha256(b"region_id\nCN-NX\n").hexdigest()
    assert read_if_unchanged(path, recorded) == b"region_id\nCN-NX\n"
    assert read_if_unchanged(path, None) == b"region_id\nCN-NX\n"  # nothing recorded: as it is
    path.write_bytes(b"region_id\nCN-SX\n")  # edited since the run
    assert read_if_unchanged(path, recorded) is None
    assert read_if_unchanged(tmp_path / "gone.csv", recorded) is None
