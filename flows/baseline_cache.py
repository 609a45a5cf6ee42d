"""The baseline's fitted paths, computed once per history and kept in the warehouse.

Fitting every candidate at every rolling origin (``models.baseline.backtest_paths``) costs
tens of seconds; it depends only on the demand history, the break years, the method
version and three integers. ``out_baseline_cache`` holds its output keyed by the sha256
of all of those, so a run on an unchanged history reads it back in milliseconds. The
cache is an optimisation: a warehouse that is busy or unreadable means the paths are
computed (and, if the write fails too, not stored), never a failed run.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from flows.errors import GridcastError
from flows.warehouse import connect, table_names
from models.baseline import (
    METHOD_VERSION,
    PATH_COLUMNS,
    BaselinePaths,
    BaselineResult,
    backtest_paths,
    forecast_baseline,
    required_horizon,
)

__all__ = ["CACHE_TABLE", "KEEP_KEYS", "breaks_from_table", "cache_key", "cached_forecast", "cached_paths"]

CACHE_TABLE = "out_baseline_cache"
KEEP_KEYS = 8
"""Histories kept in the cache (the most recently computed)."""
_WAIT_S = 5.0
_VIEW = "_gridcast_baseline_paths"
_log = logging.getLogger(__name__)


def breaks_from_table(breaks: pd.DataFrame | None, region_ids) -> dict[str, int]:  # noqa: ANN001
    """``statistical_breaks.csv`` rows as region -> break year, for the regions given."""
    if breaks is None or not len(breaks):
        return {}
    wanted = {str(r) for r in region_ids}
    pairs = zip(breaks["region_id"].astype(str), breaks["year"].astype(int), strict=True)
    return {r: int(y) for r, y in pairs if r in wanted}


def cache_key(
    history: pd.DataFrame,
    breaks: Mapping[str, int],
    h_max: int,
    min_points: int,
    horizon_backtest: int,
) -> str:
    """sha256 of the history's values (sorted, exact repr), the breaks and the settings."""
    frame = history[["region_id", "year", "consumption_twh"]].sort_values(["region_id", "year"])
    digest = hashlib.sha256()
    digest.update(
        json.dumps(
            {
                "method": METHOD_VERSION,
                "breaks": sorted((str(k), int(v)) for k, v in breaks.items()),
                "h_max": int(h_max),
                "min_points": int(min_points),
                "horizon_backtest": int(horizon_backtest),
            }
        ).encode()
    )
    for col in ("region_id", "year", "consumption_twh"):
        digest.update("\x1f".join(map(repr, frame[col].tolist())).encode())
    return digest.hexdigest()


def cached_paths(
    warehouse: Path | None,
    history: pd.DataFrame,
    breaks: Mapping[str, int],
    h_max: int,
    *,
    min_points: int = 8,
    horizon_backtest: int = 5,
) -> tuple[BaselinePaths, bool]:
    """The fitted paths for this history: from the cache when present, else computed and stored.

    Args:
        warehouse: DuckDB file; None computes without caching.
        history, breaks, h_max, min_points, horizon_backtest: see
            ``models.baseline.backtest_paths``.

    Returns:
        (paths, reused): ``reused`` is True when they came from the cache.
    """
    key = cache_key(history, breaks, h_max, min_points, horizon_backtest)
    if warehouse is not None:
        points = _read(Path(warehouse), key)
        if points is not None:
            return BaselinePaths(points, min_points, horizon_backtest), True
    paths = backtest_paths(
        history, h_max, breaks=breaks, min_points=min_points, horizon_backtest=horizon_backtest
    )
    if warehouse is not None:
        _write(Path(warehouse), key, paths.points)
    return paths, False


def _read(warehouse: Path, key: str) -> pd.DataFrame | None:
    if not warehouse.exists():
        return None
    try:
        with connect(warehouse, read_only=True, wait_seconds=_WAIT_S) as con:
            if CACHE_TABLE not in table_names(con):
                return None
            cols = ", ".join(f'"{c}"' for c in PATH_COLUMNS)
            frame = con.execute(
                f'SELECT {cols} FROM "{CACHE_TABLE}" WHERE cache_key = ? ORDER BY row_no', [key]
            ).df()
    except (GridcastError, duckdb.Error) as err:
        _log.warning("baseline cache not read (%s); fitting the baseline", err)
        return None
    if not len(frame):
        return None
    return frame.astype(
        {"region_id": "str", "model": "str", "origin_year": "int64", "n_train": "int64", "h": "int64"}
    )


def _write(warehouse: Path, key: str, points: pd.DataFrame) -> None:
    frame = points[PATH_COLUMNS].reset_index(drop=True)
    frame.insert(0, "row_no", range(len(frame)))
    frame.insert(0, "cache_key", key)
    frame.insert(1, "method_version", METHOD_VERSION)
    frame.insert(2, "created_at", datetime.now(UTC).replace(tzinfo=None))
    try:
        with connect(warehouse, wait_seconds=_WAIT_S, owner="baseline cache") as con:
            con.register(_VIEW, pa.Table.from_pandas(frame, preserve_index=False))
            try:
                con.execute("BEGIN TRANSACTION")
                con.execute(f'CREATE TABLE IF NOT EXISTS "{CACHE_TABLE}" AS SELECT * FROM {_VIEW} LIMIT 0')
                con.execute(f'DELETE FROM "{CACHE_TABLE}" WHERE cache_key = ?', [key])
                con.execute(f'INSERT INTO "{CACHE_TABLE}" SELECT * FROM {_VIEW}')
                con.execute(
                    f'DELETE FROM "{CACHE_TABLE}" WHERE cache_key NOT IN (SELECT cache_key FROM '
                    f'"{CACHE_TABLE}" GROUP BY cache_key ORDER BY max(created_at) DESC LIMIT ?)',
                    [KEEP_KEYS],
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            finally:
                con.unregister(_VIEW)
    except (GridcastError, duckdb.Error) as err:
        _log.warning("baseline cache not written (%s); the next run fits again", err)


def cached_forecast(history: pd.DataFrame, breaks: pd.DataFrame | None, base_year: int, end_year: int,
                    warehouse: Path | None = None) -> BaselineResult:
    """The baseline forecast from ``base_year`` to ``end_year``, its fits from the cache when present.

    Args:
        history: typed ``demand_history``.
        breaks: typed ``statistical_breaks`` (or None: no breaks).
        warehouse: DuckDB file holding the cache; None computes without caching.

    Raises:
        ValueError: the history cannot be forecast (the caller names the file).
    """
    years = breaks_from_table(breaks, history["region_id"].unique())
    paths, _ = cached_paths(warehouse, history, years, required_horizon(history, end_year))
    return forecast_baseline(history, base_year, end_year, breaks=years, paths=paths)
