"""Atomic output writing: every file or folder appears whole or not at all.

Each write goes to a temporary name in the same folder, is flushed, then
renamed over the target (``os.replace`` is atomic on one file system). A
hive-partitioned folder is written whole under a temporary name and swapped in.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from flows.errors import GridcastError, StorageError

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "write_parquet",
    "write_partitioned",
    "PartitionedWriter",
    "ParquetStream",
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
    # pyarrow reports a full disk as OSError naming no file: _aborting names the target
    with _aborting(lambda: Path(tmp).unlink(missing_ok=True), path):
        write(tmp)
        _place_file(Path(tmp), path)
    _fsync_dir(path.parent)
    return path


def _place_file(tmp: Path, path: Path) -> None:
    """Flush the finished temp file ``tmp`` to disk, give it the output mode, rename it over ``path``."""
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.chmod(tmp, _FILE_MODE)
    os.replace(tmp, path)


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, then rename)."""
    return _atomic(path, lambda tmp: Path(tmp).write_bytes(data))


def atomic_write_text(path: Path, text: str) -> Path:
    """UTF-8 text, atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj: Any) -> Path:
    """Pretty JSON (UTF-8), atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str, ensure_ascii=False) + "\n")


def _write_options(schema: pa.Schema) -> dict[str, Any]:
    """Dictionary-encode the key columns only (ids, years, hours): a dictionary buys a float
    column nothing and was most of the time of writing the hourly tables."""
    return {"use_dictionary": [f.name for f in schema if not pa.types.is_floating(f.type)]}


def write_parquet(path: Path, frame: pd.DataFrame) -> Path:
    """One Parquet file, atomically."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return _atomic(path, lambda tmp: pq.write_table(table, tmp, **_write_options(table.schema)))


def _temp_name(target: Path, suffix: str = "tmp") -> Path:
    return target.parent / f".{target.name}.{TEMP_MARK}{uuid.uuid4().hex}.{suffix}"


def _swap_in(tmp: Path, folder: Path) -> None:
    """Replace ``folder`` by the finished folder ``tmp`` (the old one restored on failure)."""
    old = _temp_name(folder, "old")

    def restore() -> None:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not folder.exists():
            os.replace(old, folder)

    with _aborting(restore, folder):
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)
    _fsync_dir(folder.parent)


@contextlib.contextmanager
def _aborting(abort: Callable[[], None], target: Path) -> Iterator[None]:
    """On any failure inside: drop the partial write, and name ``target`` in a disk error."""
    try:
        yield
    except BaseException as exc:
        abort()
        if isinstance(exc, OSError):
            raise storage_error(exc, target) from exc
        raise


class PartitionedWriter:
    """A hive-partitioned Parquet folder (``scenario=<name>/part-0.parquet``) written one
    partition at a time under a hidden temporary name, and swapped in whole by :meth:`commit`.

    A run writes each scenario's big tables as soon as the scenario is computed and frees
    them, instead of holding every scenario until the end. The layout is the one
    ``pyarrow.dataset.write_dataset`` makes with hive partitioning (the partition column is
    in the folder name, not in the files; its value URI-escaped).
    """

    def __init__(self, folder: Path, partition: str = "scenario") -> None:
        self.folder = Path(folder)
        self.partition = partition
        self._format = ds.partitioning(pa.schema([(partition, pa.string())]), flavor="hive")
        self._tmp = _temp_name(self.folder)
        self._parts: dict[str, int] = {}
        try:
            self._tmp.mkdir(parents=True)
        except OSError as exc:
            raise storage_error(exc, self.folder) from exc

    def add(self, frame: pd.DataFrame) -> None:
        """Append ``frame``'s rows (any number of partition values; rows keep their order)."""
        if frame is None or frame.empty:
            return
        column = frame[self.partition]
        distinct = [str(v) for v in pd.unique(column)]  # in order of first appearance
        body = frame.drop(columns=[self.partition])
        for value in distinct:
            part = body.loc[(column.astype(str) == value).to_numpy()] if len(distinct) > 1 else body
            table = pa.Table.from_pandas(part, preserve_index=False)
            sub, _ = self._format.format(pc.field(self.partition) == value)
            index = self._parts.get(value, 0)
            self._parts[value] = index + 1
            path = self._tmp / sub / f"part-{index}.parquet"
            with _aborting(self.abort, self.folder):
                path.parent.mkdir(exist_ok=True)
                pq.write_table(table, path, **_write_options(table.schema))

    def commit(self) -> Path:
        """Swap the finished folder in (an earlier one at the name is replaced)."""
        _swap_in(self._tmp, self.folder)
        return self.folder

    def abort(self) -> None:
        """Drop what was written; the folder at the name is left as it was."""
        shutil.rmtree(self._tmp, ignore_errors=True)


def _int32_dictionaries(table: pa.Table) -> pa.Table:
    """Categorical columns with 32-bit codes, so frames whose categories differ in number
    share one schema (pandas picks 8 or 16 bits by the number of categories)."""
    fields = [pa.field(f.name, pa.dictionary(pa.int32(), f.type.value_type, f.type.ordered))
              if pa.types.is_dictionary(f.type) else f for f in table.schema]
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


class ParquetStream:
    """One Parquet file written a row group at a time under a temporary name, renamed into
    place by :meth:`commit`. Every frame added must have the same columns and types."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._tmp = _temp_name(self.path)
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None

    def add(self, frame: pd.DataFrame) -> None:
        """Append ``frame`` as one row group."""
        if frame is None or frame.empty:
            return
        table = _int32_dictionaries(pa.Table.from_pandas(frame, preserve_index=False))
        with _aborting(self.abort, self.path):
            if self._writer is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._schema = table.schema
                self._writer = pq.ParquetWriter(self._tmp, table.schema, **_write_options(table.schema))
            self._writer.write_table(table.cast(self._schema))

    def commit(self) -> Path:
        """Close the file, flush it to disk and rename it into place."""
        if self._writer is None:
            raise GridcastError(f"nothing was written to {self.path}")
        with _aborting(self.abort, self.path):
            self._writer.close()
            _place_file(self._tmp, self.path)
        _fsync_dir(self.path.parent)
        return self.path

    def abort(self) -> None:
        """Drop what was written."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        Path(self._tmp).unlink(missing_ok=True)


def write_partitioned(folder: Path, frame: pd.DataFrame, partition: str = "scenario") -> Path:
    """A hive-partitioned Parquet folder (``scenario=<name>/part-0.parquet``), swapped in whole."""
    folder = Path(folder)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, folder) from exc
    writer = PartitionedWriter(folder, partition)
    writer.add(frame)
    return writer.commit()


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
