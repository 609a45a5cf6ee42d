"""The DuckDB warehouse: validated inputs (``raw_*``, ``core_*``, ``in_inputs``) and run records.

Layers:
    * ``raw_<name>``: each input file as read, every column text, plus ``source_row``
      (the spreadsheet row: header = row 1).
    * ``core_<name>``: the validated, typed rows (columns and types from ``flows.schema``).
    * ``in_inputs``: one row per file loaded: file, sha256, rows, loaded_at (UTC).
    * ``out_runs``: one row per forecast run (see :data:`RUN_COLUMNS`).

DuckDB lets one process write a database file at a time; another process opening it fails
at once. :func:`connect` waits with a short back-off and then raises
:class:`~flows.errors.WarehouseBusyError` naming the holder, read from the owner file
``<warehouse>.owner`` that a writing connection keeps beside the database.

Crash safety comes from DuckDB itself: every store is one transaction written through the
write-ahead log, so after a kill the file holds the last committed state.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from flows.errors import GridcastError, StorageError, WarehouseBusyError
from flows.schema import (
    SOURCE_ROW,
    SYSTEM_HOURLY_LEGACY_FILE,
    TABLES,
    InputTables,
    Table,
    cast_typed,
)

__all__ = [
    "INPUTS_TABLE",
    "RUNS_TABLE",
    "RUN_COLUMNS",
    "WAIT_ENV",
    "connect",
    "list_runs",
    "read_inputs",
    "record_run",
    "store_inputs",
    "check_database_path",
    "inputs_current",
    "stored_hashes",
    "table_names",
]

WAIT_ENV = "GRIDCAST_WAREHOUSE_WAIT_SECONDS"
_DEFAULT_WAIT_S = 30.0
INPUTS_TABLE = "in_inputs"
RUNS_TABLE = "out_runs"

RUN_COLUMNS: dict[str, str] = {
    "run_id": "VARCHAR PRIMARY KEY",
    "started_at": "TIMESTAMP",  # UTC
    "finished_at": "TIMESTAMP",  # UTC
    "state": "VARCHAR",
    "reason": "VARCHAR",
    "data_dir": "VARCHAR",
    "inputs_sha256": "VARCHAR",  # JSON: file name -> sha256
    "scenarios_sha256": "VARCHAR",  # JSON: scenario file -> sha256
    "parameters": "VARCHAR",  # JSON
    "package_version": "VARCHAR",
    "git_commit": "VARCHAR",
    "timings_s": "VARCHAR",  # JSON: step -> seconds
    "out_dir": "VARCHAR",
    "user": "VARCHAR",  # who started the run
    "host": "VARCHAR",  # where the run's process runs
    "pid": "BIGINT",  # its process id: a RUNNING row whose process is gone was killed
    "pid_start": "BIGINT",  # the process's start (clock ticks since boot), against pid reuse
    "inputs_hash": "VARCHAR",  # sha256 over the input files' sha256 (flows.datastate)
    "inputs_changed": "BOOLEAN",  # the inputs differed from the warehouse's and were re-ingested
}
"""Columns of ``out_runs`` and their DuckDB types; JSON columns hold JSON text."""

_JSON_COLUMNS = {"inputs_sha256", "scenarios_sha256", "parameters", "timings_s"}
_TIME_COLUMNS = {"started_at", "finished_at"}
_VIEW = "_gridcast_frame"


# --------------------------------------------------------------------------- connections


@contextmanager
def connect(
    warehouse: Path,
    *,
    read_only: bool = False,
    wait_seconds: float | None = None,
    owner: str = "gridcast",
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse, waiting up to ``wait_seconds`` for another process's lock.

    Args:
        warehouse: path of the DuckDB file; parent directories are created.
        read_only: open read-only (several reading processes may share the file).
        wait_seconds: how long to wait for a lock held elsewhere; None reads
            GRIDCAST_WAREHOUSE_WAIT_SECONDS, else 30.
        owner: who holds a write connection, written to ``<warehouse>.owner``.

    Yields:
        An open DuckDB connection, closed on exit.

    Raises:
        WarehouseBusyError: the lock is still held after the wait.
        GridcastError: ``read_only`` and the warehouse does not exist.
    """
    path = Path(warehouse)
    wait = _wait_seconds(wait_seconds)
    if read_only and not path.exists():
        raise GridcastError(f"warehouse {path} does not exist yet; load the inputs first")
    check_database_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _storage(exc, path.parent) from exc
    con = _open(path, read_only, wait)
    owner_file = None if read_only else _write_owner(path, owner)
    try:
        yield con
    finally:
        # Remove the owner file before releasing the lock, so it never names a
        # process that no longer holds it over the next holder's file.
        if owner_file is not None:
            _remove_owner(owner_file)
        con.close()


# Bytes 8-11 of every DuckDB database file (after an 8-byte checksum).
_MAGIC = b"DUCK"
_DATA_SUFFIXES = {".csv", ".tsv", ".txt", ".parquet", ".json", ".jsonl", ".ndjson", ".xlsx", ".xls",
                  ".toml", ".html", ".sqlite", ".sqlite3", ".gz", ".zip"}


def check_database_path(path: Path) -> None:
    """Refuse a warehouse path that is not a DuckDB database file (or absent).

    DuckDB itself opens ``some.csv`` as an in-memory database (the run then "stores" into
    nothing) and answers a directory or another file with a long traceback.

    Raises:
        GridcastError: a directory, a file without DuckDB's header, or an absent path
            named like a data file (``.csv``, ``.parquet``...).
    """
    path = Path(path)
    hint = "give --warehouse a DuckDB file, e.g. .gridcast/warehouse.duckdb (created if missing)"
    if path.is_dir():
        raise GridcastError(f"warehouse {path} is a directory, not a DuckDB database file; {hint}")
    if path.exists():
        try:
            with path.open("rb") as fh:
                head = fh.read(12)
        except OSError as exc:
            raise _storage(exc, path, "read") from exc
        if len(head) < 12 or head[8:12] != _MAGIC:
            raise GridcastError(f"warehouse {path} is not a DuckDB database file (no DuckDB header); {hint}")
    elif path.suffix.lower() in _DATA_SUFFIXES:
        raise GridcastError(f"warehouse {path} is named like a {path.suffix} data file, not a DuckDB "
                            f"database; {hint}")


def _storage(exc: OSError, path: Path, action: str = "write") -> StorageError:
    from flows.outputs import storage_error

    return storage_error(exc, path, action)


def _wait_seconds(wait_seconds: float | None) -> float:
    if wait_seconds is not None:
        value, what = float(wait_seconds), "the wait for the warehouse"
    else:
        text = os.environ.get(WAIT_ENV, "").strip()
        if not text:
            return _DEFAULT_WAIT_S
        try:
            value = float(text)
        except ValueError:
            raise GridcastError(f"{WAIT_ENV} must be a number of seconds, got {text!r}") from None
        what = WAIT_ENV
    # nan would wait for ever (no deadline compares true) and inf does by definition.
    if not math.isfinite(value) or value < 0:
        raise GridcastError(f"{what} must be a finite number of seconds >= 0, got {value!r}")
    return value


def _open(path: Path, read_only: bool, wait: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            con.execute("SET enable_progress_bar = false")
            return con
        except duckdb.IOException as err:
            if "lock" not in str(err).lower():
                # read-only or full file system, no permission...: DuckDB's own words
                raise StorageError(f"cannot open warehouse {path}: {err}") from None
            last: Exception = err
        except duckdb.ConnectionException as err:
            # This process already has the file open with the other mode; a reader can
            # share that instance by asking for the same (read-write) mode.
            if read_only and "different configuration" in str(err):
                con = duckdb.connect(str(path), read_only=False)
                con.execute("SET enable_progress_bar = false")
                return con
            last = err
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WarehouseBusyError(_busy_message(path, wait, last)) from last
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.5)


def _owner_path(path: Path) -> Path:
    return path.with_name(path.name + ".owner")


def _write_owner(path: Path, owner: str) -> Path:
    owner_file = _owner_path(path)
    info = {
        "owner": owner,
        "pid": os.getpid(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    tmp = owner_file.with_name(f"{owner_file.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(info), encoding="utf-8")
    tmp.replace(owner_file)
    return owner_file


def _remove_owner(owner_file: Path) -> None:
    try:
        info = json.loads(owner_file.read_text(encoding="utf-8"))
        if info.get("pid") == os.getpid():
            owner_file.unlink()
    except (OSError, ValueError):
        pass


def _busy_message(path: Path, wait: float, err: Exception) -> str:
    try:
        info = json.loads(_owner_path(path).read_text(encoding="utf-8"))
        holder = f"{info['owner']} (pid {info['pid']}) since {info['started_at']}"
    except (OSError, ValueError, KeyError, TypeError):
        pid = re.search(r"PID (\d+)", str(err))
        holder = f"another process (pid {pid.group(1)})" if pid else "another connection"
    return f"warehouse busy: {path} is held by {holder}; waited {wait:g} s"


# --------------------------------------------------------------------------- inputs


def store_inputs(
    warehouse: Path,
    tables: InputTables,
    *,
    wait_seconds: float | None = None,
    owner: str = "ingest",
) -> None:
    """Replace the stored inputs with ``tables`` in one transaction.

    Writes ``raw_<name>`` and ``core_<name>`` for every table (dropping both for an absent
    optional table) and ``in_inputs``. On any error the transaction is rolled back and
    the warehouse keeps its previous contents.

    Args:
        warehouse: DuckDB file.
        tables: validated inputs from :func:`flows.validate.load_inputs`.
        wait_seconds: see :func:`connect`.
        owner: name shown to processes waiting for the lock.
    """
    with connect(warehouse, wait_seconds=wait_seconds, owner=owner) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            for table in TABLES.values():
                _store_table(con, table, tables)
            _write_frame(con, INPUTS_TABLE, _inputs_frame(tables))
            con.execute("COMMIT")
        except BaseException as exc:
            _rollback(con)
            if isinstance(exc, duckdb.IOException | duckdb.TransactionException | OSError):
                raise StorageError(f"cannot store inputs in warehouse {warehouse}: {exc}; "
                                   "it keeps its previous contents") from None
            raise


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back, quietly when DuckDB already ended the transaction (a failed COMMIT does).

    Otherwise "cannot rollback - no transaction is active" would replace the real error.
    """
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass


def _store_table(con: duckdb.DuckDBPyConnection, table: Table, tables: InputTables) -> None:
    typed = getattr(tables, table.name)
    if typed is None:
        con.execute(f'DROP TABLE IF EXISTS "{table.raw_table}"')
        con.execute(f'DROP TABLE IF EXISTS "{table.core_table}"')
        return
    columns = list(typed.columns) if table.wide else [c.name for c in table.columns]
    _write_frame(con, table.core_table, _with_source_row(typed[columns]))
    _write_frame(con, table.raw_table, _with_source_row(tables.raw[table.name]))


def _with_source_row(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename_axis(SOURCE_ROW).reset_index()


def _write_frame(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
    # `name` is always a constant of this package, never user text; values travel by
    # registration, never inside SQL.
    # Arrow is DuckDB's fast path for pandas' pyarrow-backed string columns.
    con.register(_VIEW, pa.Table.from_pandas(frame, preserve_index=False))
    try:
        con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM {_VIEW}')
    finally:
        con.unregister(_VIEW)


def _inputs_frame(tables: InputTables) -> pd.DataFrame:
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    by_file = {t.file: t for t in TABLES.values()}
    by_file[SYSTEM_HOURLY_LEGACY_FILE] = TABLES["system_hourly"]  # version 1's name, still read
    rows = [
        (file, digest, len(getattr(tables, by_file[file].name)), loaded_at)
        for file, digest in tables.hashes.items()
    ]
    return pd.DataFrame(rows, columns=["file", "sha256", "rows", "loaded_at"]).astype(
        {"file": "str", "sha256": "str", "rows": "int64", "loaded_at": "datetime64[us]"}
    )


def read_inputs(
    warehouse: Path, *, wait_seconds: float | None = None, raw: bool = True
) -> InputTables:
    """Read the stored inputs back as typed frames (index ``source_row``) with their hashes.

    Args:
        warehouse: DuckDB file.
        wait_seconds: see :func:`connect`.
        raw: also read the ``raw_*`` tables (all text) into ``InputTables.raw``; the
            forecast does not need them, and at 1M centres they cost ~1 s and ~0.4 GB.

    Raises:
        GridcastError: the warehouse does not exist or holds no inputs yet.
        WarehouseBusyError: a writer holds the lock longer than ``wait_seconds``.
    """
    with connect(warehouse, read_only=True, wait_seconds=wait_seconds) as con:
        present = table_names(con)
        if INPUTS_TABLE not in present:
            raise GridcastError(f"warehouse {warehouse} holds no inputs yet; load them first")
        typed: dict[str, pd.DataFrame | None] = {}
        texts: dict[str, pd.DataFrame] = {}
        for table in TABLES.values():
            if table.core_table not in present:
                typed[table.name] = None
                continue
            core = _read_table(con, table.core_table)
            typed[table.name] = cast_typed(core, table)
            if raw:
                texts[table.name] = _read_table(con, table.raw_table).astype("str")
        hashes = dict(
            con.execute(f'SELECT file, sha256 FROM "{INPUTS_TABLE}" ORDER BY file').fetchall()
        )
    return InputTables(**typed, raw=texts, hashes=hashes)


def _read_table(con: duckdb.DuckDBPyConnection, name: str) -> pd.DataFrame:
    frame = con.sql(f'SELECT * FROM "{name}" ORDER BY "{SOURCE_ROW}"').to_arrow_table().to_pandas()
    return frame.set_index(frame[SOURCE_ROW].astype("int64")).drop(columns=SOURCE_ROW)


# --------------------------------------------------------------------------- runs


def record_run(
    warehouse: Path, run: dict[str, Any], *, wait_seconds: float | None = None, owner: str = "run"
) -> None:
    """Insert or update one row of ``out_runs``, keyed by ``run["run_id"]``.

    Only the keys given are written, so a run can be recorded when it starts and
    completed later. JSON columns take a dict/list (or JSON text); times take a datetime
    (naive = UTC) or ISO 8601 text.

    Raises:
        ValueError: no run_id, or a key that is not a column of out_runs.
    """
    unknown = sorted(set(run) - set(RUN_COLUMNS))
    if unknown:
        raise ValueError(f"unknown out_runs column(s): {', '.join(unknown)}")
    if not run.get("run_id"):
        raise ValueError("record_run needs a run_id")
    cols = [c for c in RUN_COLUMNS if c in run]
    values = [_run_value(c, run[c]) for c in cols]
    # Column names come from RUN_COLUMNS (checked above); values are bound parameters.
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in cols if c != "run_id")
    on_conflict = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    names = ", ".join(f'"{c}"' for c in cols)
    marks = ", ".join("?" for _ in cols)
    sql = (
        f'INSERT INTO "{RUNS_TABLE}" ({names}) VALUES ({marks}) '
        f'ON CONFLICT ("run_id") {on_conflict}'
    )
    with connect(warehouse, wait_seconds=wait_seconds, owner=owner) as con:
        try:
            con.execute(_create_runs_sql())
            _add_missing_run_columns(con)
            con.execute(sql, values)
        except (duckdb.IOException, duckdb.TransactionException) as exc:
            raise StorageError(f"cannot record run in warehouse {warehouse}: {exc}") from None


def _add_missing_run_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Columns added since a warehouse's out_runs was created (names and types are constants)."""
    have = {r[0] for r in con.execute(f'DESCRIBE "{RUNS_TABLE}"').fetchall()}
    for column, kind in RUN_COLUMNS.items():
        if column not in have:
            con.execute(f'ALTER TABLE "{RUNS_TABLE}" ADD COLUMN "{column}" {kind}')


def _create_runs_sql() -> str:
    body = ", ".join(f'"{c}" {t}' for c, t in RUN_COLUMNS.items())
    return f'CREATE TABLE IF NOT EXISTS "{RUNS_TABLE}" ({body})'


def _run_value(column: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool | int) and RUN_COLUMNS[column] in ("BIGINT", "BOOLEAN"):
        return value
    if column in _JSON_COLUMNS:
        return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    if column in _TIME_COLUMNS:
        stamp = datetime.fromisoformat(value) if isinstance(value, str) else value
        if stamp.tzinfo is not None:
            stamp = stamp.astimezone(UTC).replace(tzinfo=None)
        return stamp
    return str(value)


def list_runs(warehouse: Path, *, wait_seconds: float | None = None) -> pd.DataFrame:
    """All recorded runs, oldest first (an empty frame when there are none)."""
    empty = pd.DataFrame(
        {
            c: pd.Series([], dtype="datetime64[us]" if c in _TIME_COLUMNS else "str")
            for c in RUN_COLUMNS
        }
    )
    if not Path(warehouse).exists():
        return empty
    with connect(warehouse, read_only=True, wait_seconds=wait_seconds) as con:
        present = table_names(con)
        if RUNS_TABLE not in present:
            return empty
        frame = con.execute(
            f'SELECT * FROM "{RUNS_TABLE}" ORDER BY started_at NULLS LAST, run_id'
        ).df()
    for column in RUN_COLUMNS:  # an out_runs written by an older gridcast
        if column not in frame.columns:
            frame[column] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]") \
                if column in _TIME_COLUMNS else None
    return frame


def inputs_current(warehouse: Path, tables: InputTables, *, wait_seconds: float | None = None) -> bool:
    """True when the warehouse already holds exactly ``tables``: same files (sha256), same tables
    and columns as this version of gridcast writes. A run then need not store them again."""
    if not Path(warehouse).exists():
        return False
    with connect(warehouse, read_only=True, wait_seconds=wait_seconds) as con:
        present = table_names(con)
        if _stored_hashes(con, present) != dict(sorted(tables.hashes.items())):
            return False
        for table in TABLES.values():
            typed = getattr(tables, table.name)
            if typed is None:
                if table.core_table in present:
                    return False
                continue
            if table.core_table not in present or table.raw_table not in present:
                return False
            want = [SOURCE_ROW] + (list(typed.columns) if table.wide else [c.name for c in table.columns])
            have = [r[0] for r in con.execute(f'DESCRIBE "{table.core_table}"').fetchall()]
            if have != want:
                return False
    return True


def stored_hashes(warehouse: Path, *, wait_seconds: float | None = None) -> dict[str, str] | None:
    """The sha256 of every input file the warehouse holds (``in_inputs``), None when it holds none."""
    if not Path(warehouse).exists():
        return None
    with connect(warehouse, read_only=True, wait_seconds=wait_seconds) as con:
        return _stored_hashes(con, table_names(con))


def _stored_hashes(con: duckdb.DuckDBPyConnection, present: set[str]) -> dict[str, str] | None:
    if INPUTS_TABLE not in present:
        return None
    return dict(con.execute(f'SELECT file, sha256 FROM "{INPUTS_TABLE}" ORDER BY file').fetchall())


def table_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Names of the tables in the open warehouse."""
    return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
