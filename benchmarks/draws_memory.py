"""Peak memory of a whole `gridcast run` by draws per scenario (shipped data, all shipped scenarios).

Usage: .venv/bin/python benchmarks/draws_memory.py [DRAWS ...]   (default: 1000 5000)

Each run goes to a temporary folder and warehouse; the peak resident set size of the
largest process (GNU time's "Maximum resident set size": the CLI, not Prefect's server) is
printed with the wall time. Needs /usr/bin/time (GNU time, Linux).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(draws: int) -> tuple[float, str, int]:
    """(peak RSS in MB, wall time, exit status) of one run with ``draws``."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GRIDCAST_HOME": str(Path(tmp) / "home")}
        cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "flows.cli", "run", "--draws", str(draws),
               "--out", str(Path(tmp) / "out"), "--warehouse", str(Path(tmp) / "wh.duckdb")]
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, check=False)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", res.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", res.stderr)
    return (int(rss.group(1)) / 1024 if rss else float("nan")), (wall.group(1) if wall else "?"), res.returncode


def main() -> None:
    draws = [int(a) for a in sys.argv[1:]] or [1000, 5000]
    print("draws  peak_rss_mb  wall     exit")  # noqa: T201
    for d in draws:
        rss, wall, code = measure(d)
        print(f"{d:<6} {rss:>11.0f}  {wall:<8} {code}")  # noqa: T201


if __name__ == "__main__":
    main()
