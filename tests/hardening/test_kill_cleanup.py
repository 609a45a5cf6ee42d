"""After ``kill -9`` of gridcast: no Prefect server left behind, the run shown as CRASHED.

Before the fix, the temporary Prefect server (uvicorn, ~215 MB) outlived a killed
``gridcast run``, re-parented to init and still listening on 127.0.0.1, and the run stayed
``RUNNING`` in ``gridcast runs`` for ever.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hardening_support import REFERENCE_TOML, kill_group, run_cli, start_cli

from flows.prefect_server import stop_orphans
from flows.procs import HOST, this_process
from flows.warehouse import list_runs

MARK = "prefect.server.api.server:create_app"


def _children_servers(pid: int) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[-1].split()
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if int(stat[1]) == pid and MARK in cmd:
            found.append(int(proc.name))
    return found


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return True
    return state == "Z"


def test_an_orphaned_server_is_stopped_by_the_next_command(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", MARK])
    decoy = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        for p in (server, decoy):
            (tmp_path / f"{p.pid}.json").write_text(json.dumps({
                "server": {"host": HOST, "pid": p.pid, "pid_start": None},
                "parent": {"host": HOST, "pid": dead.pid, "pid_start": None}}))
        live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", MARK])
        (tmp_path / f"{live.pid}.json").write_text(json.dumps({
            "server": {"host": HOST, "pid": live.pid}, "parent": this_process()}))
        assert stop_orphans(tmp_path) == [server.pid]  # not the decoy (not a server), not a live parent's
        server.wait(timeout=10)
        assert decoy.poll() is None and live.poll() is None
        assert sorted(p.name for p in tmp_path.iterdir()) == [f"{live.pid}.json"]
    finally:
        for p in (server, decoy, live):
            p.kill()
            p.wait()


@pytest.mark.slow
@pytest.mark.integration
def test_kill_9_leaves_no_server_and_the_run_shows_crashed(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    wh = tmp_path / "wh.duckdb"
    out = tmp_path / "out"
    proc = start_cli(["run", "--draws", "20", "--scenario", str(REFERENCE_TOML), "--out", str(out),
                      "--warehouse", str(wh)], log)
    try:
        deadline = time.monotonic() + 300
        while "forecasting" not in log.read_text(errors="replace"):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.05)
        servers = _children_servers(proc.pid)
        assert len(servers) == 1, "the run's temporary Prefect server"
        os.kill(proc.pid, signal.SIGKILL)  # gridcast only: its server gets no chance to be told
        proc.wait(timeout=30)
        deadline = time.monotonic() + 15
        while not _gone(servers[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(servers[0]), "the Prefect server outlived gridcast"
    finally:
        kill_group(proc)
    res = run_cli(["runs", "--warehouse", str(wh)])
    assert res.returncode == 0, res.stderr[-2000:]
    assert "CRASHED" in res.stdout and "RUNNING" not in res.stdout, res.stdout
    runs = list_runs(wh)
    assert list(runs["state"]) == ["CRASHED"], "recorded in the warehouse, not only shown"
    assert "ended without finishing" in runs["reason"].iloc[0]
