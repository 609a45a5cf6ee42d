"""Test-wide settings: Prefect state in a persistent, test-only folder; quiet logs."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Before anything imports prefect: a separate PREFECT_HOME for tests, kept between runs so
# the ephemeral server's database is set up once (docs/operations.md section 10: 12-18 s the first time, 6-8 s after).
os.environ.setdefault("GRIDCAST_HOME", str(ROOT / ".gridcast" / "test"))
os.environ.setdefault("PREFECT_HOME", str(ROOT / ".gridcast" / "test" / "prefect"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("GRIDCAST_WAREHOUSE_WAIT_SECONDS", "5")
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # see flows/settings.py: BLAS threads thrash 2 cores
Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
