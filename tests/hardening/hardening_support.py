"""Helpers shared by the hardening tests: the real CLI in a subprocess, warehouse snapshots,
and the shipped data as bytes.

Every CLI call starts Prefect (its temporary local server), so a call costs ~6-20 s on
the project's 2-core machine: the tests keep the number of calls small.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "default"
REFERENCE_TOML = ROOT / "data" / "scenarios" / "reference.toml"
GRIDCAST = [sys.executable, "-m", "flows.cli"]
CLI_TIMEOUT_S = 600


def shipped_files() -> dict[str, bytes]:
    """Every CSV of the shipped data folder, by file name."""
    return {p.name: p.read_bytes() for p in sorted(DATA.glob("*.csv"))}


def write_folder(folder: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` (name -> bytes) into a fresh ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def cli_env() -> dict[str, str]:
    """The test process's environment (GRIDCAST_HOME, PREFECT_HOME... from tests/conftest.py)."""
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def run_cli(args: list[str], timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess:
    """Run ``gridcast ARGS`` to completion in the project folder."""
    return subprocess.run(GRIDCAST + args, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=cli_env(), check=False)


def start_cli(args: list[str], log: Path) -> subprocess.Popen:
    """Start ``gridcast ARGS`` in its own process group (so a kill reaches Prefect's server too)."""
    fh = log.open("wb")
    try:
        return subprocess.Popen(GRIDCAST + args, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
                                env=cli_env(), start_new_session=True)
    finally:
        fh.close()


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the whole process group of ``proc`` and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=60)


def snapshot(warehouse: Path, prefixes: tuple[str, ...] = ("core_", "raw_", "in_inputs")) -> dict[str, list[tuple]]:
    """Contents of the warehouse's input tables, each as sorted rows (loaded_at left out)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = sorted(r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
                       if r[0].startswith(prefixes))
        out = {}
        for name in names:
            cols = [r[0] for r in con.execute(f'DESCRIBE "{name}"').fetchall() if r[0] != "loaded_at"]
            select = ", ".join(f'"{c}"' for c in cols)
            rows = con.execute(f'SELECT {select} FROM "{name}"').fetchall()
            out[name] = sorted(rows, key=repr)
    return out


def user_error_lines(stderr: str) -> list[str]:
    """The one-line user errors the CLI printed."""
    return [line for line in stderr.splitlines() if line.startswith("gridcast: invalid ")]
