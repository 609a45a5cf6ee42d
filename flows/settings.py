"""Where gridcast keeps its state, and Prefect settings that must be set before import.

Prefect reads its settings from the environment when it is first imported, so
:func:`configure_prefect` runs before any ``import prefect`` in the CLI. Every
value is a default: a user's own environment wins.
"""

from __future__ import annotations

import os
from pathlib import Path

# One BLAS thread: our matrix products are tiny, and with OpenBLAS's default threads a
# busy 2-core machine made the baseline 50x slower (measured: 102 s vs 1.4-2.0 s).
# Set here, at import, because BLAS reads it when numpy is first imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

__all__ = ["PROJECT_ROOT", "STATE_DIR", "DEFAULT_DATA", "DEFAULT_OUT", "DEFAULT_WAREHOUSE", "MAX_DRAWS",
           "configure_prefect", "server_environment"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = Path(os.environ.get("GRIDCAST_HOME", PROJECT_ROOT / ".gridcast"))
DEFAULT_DATA = PROJECT_ROOT / "data" / "default"
DEFAULT_OUT = PROJECT_ROOT / "outputs"
DEFAULT_WAREHOUSE = STATE_DIR / "warehouse.duckdb"

MAX_DRAWS = 5000
"""Most Monte Carlo draws per scenario. Every draw is kept in memory (float32 arrays) for
exact quantiles, so peak memory grows with draws: a run of the shipped data and all six
shipped scenarios peaked at 1.30-1.41 GB RSS at 5000 draws (three runs), 1.7 GB at 8000 and 3.4 GB at 20000
(``benchmarks/draws_memory.py``; docs/operations.md). 5000 keeps a run under 2 GB."""


# Telemetry off by default: Prefect's server reports usage to Prefect's cloud, which on
# a machine without internet only produces errors in the logs; DO_NOT_TRACK turns off the
# client side. A user's own setting wins (setdefault).
_NO_TELEMETRY = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}


def server_environment() -> dict[str, str]:
    """Environment for ``gridcast server``: the long-lived server's own PREFECT_HOME, no telemetry."""
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)  # the server does not talk to another server
    for key, value in {"PREFECT_HOME": str(STATE_DIR / "prefect-server"), **_NO_TELEMETRY,
                       "PREFECT_SERVER_LOGGING_LEVEL": "WARNING"}.items():
        env.setdefault(key, value)
    Path(env["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    return env


def configure_prefect() -> None:
    """Persistent PREFECT_HOME in the project, quiet logs, no telemetry, patient start-up."""
    defaults = {
        "PREFECT_HOME": str(STATE_DIR / "prefect"),
        **_NO_TELEMETRY,
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
