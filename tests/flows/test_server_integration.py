"""A real Prefect server, `gridcast schedule` serving the deployment, a triggered run.

Starts `prefect server start` on 127.0.0.1 (a free port, a fresh PREFECT_HOME), serves
gridcast-forecast/<name> with `gridcast schedule` in a second process, checks the cron
schedule reached the server (with its upcoming runs), triggers a run with
`prefect deployment run`, waits for Completed and reads the Parquet back with DuckDB.
Every process started here runs in its own session and is stopped by its process group
in a finally block. Timings go to test-artifacts/ops/server_integration.json.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import httpx
import pytest

from flows.ops import run_history

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GRIDCAST = [sys.executable, "-m", "flows.cli"]
ARTIFACTS = ROOT / "test-artifacts" / "ops"
DEPLOYMENT = "it-weekly"
CRON, TZ = "0 6 * * 1", "Asia/Shanghai"  # Mondays 06:00 Beijing = Sundays 22:00 UTC
DRAWS, SEED = 20, 7

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """Stop a process started here (own session) and its children, by process group id."""
    if proc.poll() is not None:
        return
    for sig, wait in ((15, 20), (9, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait(what: str, probe, timeout: float, every: float = 0.5):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """A Prefect server on 127.0.0.1 with its own database; yields (api_url, env, start_s)."""
    base = tmp_path_factory.mktemp("server")
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    # Telemetry is left to `gridcast server`'s default (off): offline, Prefect's server logs
    # "Failed to send telemetry" errors otherwise (checked at the end of the test).
    env = {k: v for k, v in os.environ.items()
           if k not in ("PREFECT_API_URL", "PREFECT_SERVER_ANALYTICS_ENABLED", "DO_NOT_TRACK")}
    env.update({"PREFECT_HOME": str(base / "prefect"),
                "PREFECT_SERVER_LOGGING_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1",
                "OPENBLAS_NUM_THREADS": "1", "GRIDCAST_HOME": str(base / "gridcast")})
    log = (base / "server.log").open("w")
    t0 = time.perf_counter()
    proc = subprocess.Popen([*GRIDCAST, "server", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def healthy() -> bool:
            assert proc.poll() is None, (base / "server.log").read_text()[-3000:]
            try:
                return httpx.get(f"{api}/health", timeout=2).json() is True
            except (httpx.HTTPError, ValueError):
                return False

        _wait("the server's /api/health", healthy, timeout=240)
        start_s = time.perf_counter() - t0
        yield api, {**env, "PREFECT_API_URL": api}, start_s, base
    finally:
        _stop(proc)
        log.close()


def _deployment(api: str) -> dict | None:
    res = httpx.get(f"{api}/deployments/name/gridcast-forecast/{DEPLOYMENT}", timeout=5)
    return res.json() if res.status_code == 200 else None


def _scheduled_runs(api: str, deployment_id: str) -> list[dict]:
    body = {"deployments": {"id": {"any_": [deployment_id]}},
            "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}}, "limit": 10}
    return httpx.post(f"{api}/flow_runs/filter", json=body, timeout=5).json()


def _final_state(api: str, run_id: str) -> str | None:
    state = httpx.get(f"{api}/flow_runs/{run_id}", timeout=5).json().get("state") or {}
    kind = state.get("type")
    return kind if kind in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"} else None


def test_scheduled_deployment_runs_to_completion(server, tmp_path: Path) -> None:  # noqa: ANN001
    api, env, server_start_s, base = server
    out_root, wh = tmp_path / "outputs", tmp_path / "wh.duckdb"
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data" / "default", data)  # the deployment's data location
    serve_log = (base / "serve.log").open("w")
    t_serve = time.perf_counter()
    schedule = [*GRIDCAST, "schedule", "--cron", CRON, "--timezone", TZ, "--name", DEPLOYMENT,
                "--scenario", str(ROOT / "data" / "scenarios" / "reference.toml"), "--draws", str(DRAWS),
                "--seed", str(SEED), "--warehouse", str(wh), "--out-root", str(out_root), "--data", str(data)]
    serve = subprocess.Popen(schedule, cwd=ROOT, env=env, stdout=serve_log, stderr=subprocess.STDOUT,
                             start_new_session=True)
    try:
        def deployed() -> dict | None:
            assert serve.poll() is None, (base / "serve.log").read_text()[-3000:]
            return _deployment(api)

        dep = _wait("the deployment to be registered", deployed, timeout=180)
        serve_ready_s = time.perf_counter() - t_serve
        assert [s["schedule"] for s in dep["schedules"]] == [{"cron": CRON, "timezone": TZ, "day_or": True}]
        assert dep["parameters"]["params"]["draws"] == DRAWS
        assert dep["parameters"]["params"]["runner"] == "local"
        # The server's scheduler turned the cron into upcoming runs: Sundays 22:00 UTC.
        upcoming = _wait("scheduled runs", lambda: _scheduled_runs(api, dep["id"]), timeout=120, every=2)
        for run in upcoming:
            when = datetime.fromisoformat(run["expected_start_time"].replace("Z", "+00:00")).astimezone(UTC)
            assert (when.weekday(), when.hour, when.minute) == (6, 22, 0), when

        # A second `gridcast schedule` of the same deployment is refused: on this machine by
        # its lock file, from elsewhere (another GRIDCAST_HOME) by the runner's recent poll.
        for home, words in ((env["GRIDCAST_HOME"], "already served by pid"),
                            (str(base / "elsewhere"), "a runner polled it")):
            second = subprocess.run(schedule, cwd=ROOT, env={**env, "GRIDCAST_HOME": home},
                                    capture_output=True, text=True, timeout=180, check=False)
            assert second.returncode == 2, second.stderr[-3000:]
            assert "Traceback" not in second.stderr
            assert [ln for ln in second.stderr.splitlines() if words in ln], second.stderr[-3000:]

        def trigger() -> tuple[str, float, dict]:
            t_trigger = time.perf_counter()
            res = subprocess.run([str(BIN / "prefect"), "deployment", "run", f"gridcast-forecast/{DEPLOYMENT}"],
                                 cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
            assert res.returncode == 0, res.stdout + res.stderr
            run_id = re.search(r"UUID: ([0-9a-f-]{36})", res.stdout).group(1)
            state = _wait("the triggered run to finish", lambda: _final_state(api, run_id), timeout=600, every=1)
            assert state == "COMPLETED", (base / "serve.log").read_text()[-5000:]
            return run_id, time.perf_counter() - t_trigger, httpx.get(f"{api}/flow_runs/{run_id}", timeout=5).json()

        run_id, latency_s, run = trigger()  # new data: ingested
        trigger()  # the same data: the warehouse is reused
        centers = data / "compute_centers.csv"
        text = centers.read_bytes()
        assert b",654.45," in text
        centers.write_bytes(text.replace(b",654.45,", b",600,", 1))
        trigger()  # changed data: re-validated and re-ingested
    finally:
        _stop(serve)
        serve_log.close()
    assert "Failed to send telemetry" not in (base / "server.log").read_text(errors="replace")
    said = (base / "serve.log").read_text(errors="replace")  # each run says whether its inputs changed
    assert said.count("re-ingesting") == 2 and said.count("warehouse reused") == 1, said[-3000:]

    latest = out_root / "latest"
    meta = json.loads((latest / "run.json").read_text(encoding="utf-8"))
    assert meta["state"] == "COMPLETED" and meta["parameters"]["draws"] == DRAWS
    with duckdb.connect() as con:
        rows = con.execute(
            f"SELECT scenario, stat, count(*) FROM read_parquet('{latest / 'national.parquet'}') "
            "GROUP BY ALL ORDER BY ALL").fetchall()
        regional = con.execute(
            f"SELECT count(DISTINCT region_id) FROM read_parquet('{latest}/regional/**/*.parquet', "
            "hive_partitioning=true)").fetchone()[0]
    assert {r[0] for r in rows} == {"reference"}
    assert {r[1] for r in rows} >= {"central", "p10", "p50", "p90"}
    assert regional == 31
    listing = subprocess.run([*GRIDCAST, "runs", "--warehouse", str(wh)], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120, check=False)
    assert listing.returncode == 0, listing.stderr
    assert meta["run_id"] in listing.stdout and "COMPLETED" in listing.stdout
    history = run_history(wh)  # what `gridcast runs` prints, as a table
    assert list(history["state"]) == ["COMPLETED"] * 3, listing.stdout
    # newest first: changed data, then the unchanged re-run, then the first run
    assert list(history["changed"]) == ["yes", "no", "new"], listing.stdout
    hashes = list(history["inputs"])
    assert hashes[1] == hashes[2] != hashes[0] and all(h in listing.stdout for h in hashes)
    assert set(history["data_dir"]) == {str(data)} and str(data) in listing.stdout
    assert set(history["draws"]) == {DRAWS} and set(history["scenarios"]) == {"reference"}
    recorded = duckdb.connect(str(wh), read_only=True).execute(
        "SELECT inputs_changed FROM out_runs ORDER BY started_at").fetchall()
    assert [r[0] for r in recorded] == [True, False, True]

    figures = {
        "server_start_s": round(server_start_s, 1),
        "serve_to_deployment_registered_s": round(serve_ready_s, 1),
        "trigger_to_completed_s": round(latency_s, 1),
        "flow_run_total_run_time_s": round(run.get("total_run_time") or 0.0, 1),
        "pipeline_stage_s": meta.get("timings_s"),
        "draws": DRAWS,
        "scenarios": 1,
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "server_integration.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print(f"\nserver integration: {figures}")
