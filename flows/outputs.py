"""Atomic output writing: every file or folder appears whole or not at all.

Each write goes to a temporary name in the same folder, is flushed, then
renamed over the target (``os.replace`` is atomic on one file system). A
hive-partitioned folder is written whole under a temporary name and swapped in.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from flows.errors import GridcastError, StorageError

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "write_parquet",
    "write_partitioned",
    "write_json",
    "safe_child",
    "new_run_dir",
    "remove_stale_temps",
    "point_latest",
    "TEMP_MARK",
    "storage_error",
]

TEMP_MARK = "gridcast-"
"""Every temporary name this module makes is ``.<name>.gridcast-<random>.tmp`` (or ``.old``)."""

_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.gridcast-[A-Za-z0-9_]+\.(tmp|old)$")

_CAUSES = {
    errno.ENOSPC: "no space left on the device",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EDQUOT: "disk quota exceeded",
}


def storage_error(exc: OSError, path: Path | str | None = None, action: str = "write") -> StorageError:
    """A one-line :class:`StorageError` for ``exc``: the path and the cause in words.

    >>> str(storage_error(OSError(errno.ENOSPC, "No space left on device"), "/o/x.parquet"))
    'cannot write /o/x.parquet: no space left on the device (ENOSPC)'
    """
    # the target, not the temporary name the error may carry (it is gone by now)
    where = path if path is not None else exc.filename
    code = errno.errorcode.get(exc.errno or 0, "")
    cause = _CAUSES.get(exc.errno or 0) or (exc.strerror or str(exc) or type(exc).__name__)
    return StorageError(f"cannot {action} {where}: {cause}" + (f" ({code})" if code else ""))


def _file_mode() -> int:
    """Mode for new files: rw for everyone, less the process umask (mkstemp makes 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic(path: Path, write: Callable[[str], None]) -> Path:
    """Let ``write`` fill a temp file beside ``path``, flush it to disk, then rename it over ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{TEMP_MARK}", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise storage_error(exc, path) from exc
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            # pyarrow reports a full disk as OSError naming no file: name the target
            raise storage_error(exc, path) from exc
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, then rename)."""
    return _atomic(path, lambda tmp: Path(tmp).write_bytes(data))


def atomic_write_text(path: Path, text: str) -> Path:
    """UTF-8 text, atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj: Any) -> Path:
    """Pretty JSON (UTF-8), atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str, ensure_ascii=False) + "\n")


def write_parquet(path: Path, frame: pd.DataFrame) -> Path:
    """One Parquet file, atomically."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return _atomic(path, lambda tmp: pq.write_table(table, tmp))


def write_partitioned(folder: Path, frame: pd.DataFrame, partition: str = "scenario") -> Path:
    """A hive-partitioned Parquet folder (``scenario=<name>/part-0.parquet``), swapped in whole."""
    folder = Path(folder)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, folder) from exc
    tmp = folder.parent / f".{folder.name}.{TEMP_MARK}{uuid.uuid4().hex}.tmp"
    old = folder.parent / f".{folder.name}.{TEMP_MARK}{uuid.uuid4().hex}.old"
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        ds.write_dataset(
            table,
            tmp,
            format="parquet",
            partitioning=ds.partitioning(pa.schema([(partition, pa.string())]), flavor="hive"),
            basename_template="part-{i}.parquet",
            existing_data_behavior="error",
            preserve_order=True,  # same rows, same order, same bytes on a re-run
            use_threads=False,
        )
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not folder.exists():
            os.replace(old, folder)
        if isinstance(exc, OSError):
            raise storage_error(exc, folder) from exc
        raise
    shutil.rmtree(old, ignore_errors=True)
    _fsync_dir(folder.parent)
    return folder


def remove_stale_temps(folder: Path, names: set[str] | None = None) -> list[Path]:
    """Delete the hidden leftovers of gridcast writes that were killed midway, in ``folder``.

    Only names this module (and the report writer) make are touched, directly in
    ``folder``: ``.<name>.gridcast-<random>.tmp`` (a file, or the folder of a partitioned
    write) and ``.<name>.gridcast-<hex>.old`` (a folder being swapped out); with ``names``,
    only those whose ``<name>`` is in it (the run's own outputs). A user's ``.x.tmp`` is
    never touched. Call it when a run starts in a folder it holds the lock of.

    Returns:
        The paths removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for path in sorted(folder.iterdir()):
        match = _TEMP_RE.match(path.name)
        if match is None or (names is not None and match["name"] not in names):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def safe_child(root: Path, *parts: str) -> Path:
    """``root / parts`` refusing any path that would leave ``root`` (``..``, absolute parts)."""
    root = Path(root).resolve()
    target = root.joinpath(*parts).resolve()
    if target != root and root not in target.parents:
        raise GridcastError(f"refusing to write outside {root}: {'/'.join(parts)!r}")
    return target


def new_run_dir(root: Path, run_id: str) -> Path:
    """``root/runs/<run_id>``, created; never reuses an existing folder."""
    path = safe_child(root, "runs", run_id)
    try:
        path.mkdir(parents=True, exist_ok=False)
    except OSError as exc:
        raise storage_error(exc, path) from exc
    return path


def point_latest(root: Path, run_dir: Path) -> Path:
    """Atomically repoint ``root/latest`` (a relative symlink) at ``run_dir``."""
    root = Path(root)
    link = root / "latest"
    tmp = root / f".latest.{TEMP_MARK}{uuid.uuid4().hex}.tmp"
    try:
        os.symlink(os.path.relpath(run_dir, root), tmp)
        os.replace(tmp, link)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise storage_error(exc, link) from exc
    return link
