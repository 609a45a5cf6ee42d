"""Owning a run folder: a lock while a run writes it, and a manifest of what gridcast wrote.

* ``gridcast.lock`` (JSON: run id, host, pid, start) exists while a run writes the folder.
  A second run given the same folder is refused while the holder lives; a lock left by a
  process that no longer exists (a killed run) is taken over.
* ``gridcast-manifest.json`` lists the top-level names the run writes (``forecast``,
  ``national.parquet``, ``report.html``, ``run.json``...). It is written before the first
  output, so even a run killed midway leaves a record of what is gridcast's. With
  ``--overwrite``, gridcast replaces or removes only names in that manifest; a file of the
  user's is never replaced or deleted (a folder holding one under a name gridcast would
  write is refused).
* ``run.json`` is written last and marks a complete run.

A folder is a gridcast run when it holds ``run.json``, the manifest or the lock. Folders
of version 1 runs (``run.json``, no manifest) adopt the known output names they hold.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flows import outputs
from flows.errors import GridcastError
from flows.procs import process_alive, this_process

__all__ = [
    "KNOWN_OUTPUTS",
    "LOCK",
    "MANIFEST",
    "RUN_JSON",
    "claim_new",
    "claim_out",
    "clean_crashed_runs",
    "discard",
    "finish",
    "is_run_folder",
    "plan_outputs",
    "release",
]

LOCK = "gridcast.lock"
MANIFEST = "gridcast-manifest.json"
RUN_JSON = "run.json"
KNOWN_OUTPUTS = frozenset({
    "forecast", "regional", "national.parquet", "turning_points.parquet", "rise_odds.parquet",
    "rise_start.parquet", "sensitivity.parquet", "coincident_peak.parquet", "baseline.parquet",
    "backtest.parquet", "hub_assignment.parquet", "report.html", RUN_JSON,
})
"""Names a run writes today (checked before the run starts; the exact list at write time)."""

_OWN = {LOCK, MANIFEST}
_EMPTY_LOCK_GRACE_S = 10.0  # a lock file still empty after this long was left by a kill


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def is_run_folder(folder: Path) -> bool:
    """True when ``folder`` holds run.json, a manifest or a lock."""
    folder = Path(folder)
    return any((folder / n).exists() for n in (RUN_JSON, MANIFEST, LOCK))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _manifest(folder: Path) -> set[str]:
    data = _read_json(Path(folder) / MANIFEST)
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return set()
    # only plain names directly in the folder: a tampered manifest cannot reach elsewhere
    return {e for e in entries if isinstance(e, str) and e and "/" not in e and "\\" not in e
            and e not in (".", "..") and e not in _OWN}


def _write_manifest(folder: Path, run_id: str, entries: set[str]) -> None:
    outputs.write_json(Path(folder) / MANIFEST, {"written_by": "gridcast", "run_id": run_id,
                                                 "entries": sorted(entries)})


# --------------------------------------------------------------------------- the lock


def _acquire(folder: Path, run_id: str) -> None:
    lock = Path(folder) / LOCK
    info = {"run_id": run_id, **this_process(), "started_at": _now()}
    # The lock appears whole: its content is written to a private temp file first, then
    # hard-linked into place (atomic, and refused when the lock exists), so a racing run never
    # reads an empty lock and always learns who holds it.
    tmp = lock.with_name(f".{LOCK}.{outputs.TEMP_MARK}{uuid.uuid4().hex}.tmp")  # gridcast's temp naming
    try:
        tmp.write_text(json.dumps(info), encoding="utf-8")
    except OSError as exc:
        raise outputs.storage_error(exc, lock) from exc
    try:
        _link_lock(folder, lock, tmp)
    finally:
        tmp.unlink(missing_ok=True)


def _link_lock(folder: Path, lock: Path, tmp: Path) -> None:
    for _ in range(3):
        try:
            os.link(tmp, lock)
        except FileExistsError:
            holder = _read_json(lock)
            if isinstance(holder, dict) and holder.get("pid") == os.getpid():
                return  # this process holds it already
            if not _stale(lock, holder):
                raise GridcastError(_held_message(folder, holder)) from None
            lock.unlink(missing_ok=True)  # the holder is gone: take the lock over
            continue
        except OSError as exc:
            raise outputs.storage_error(exc, lock) from exc
        return
    raise GridcastError(f"{folder}: could not take the run lock {lock}")


def _stale(lock: Path, holder: Any) -> bool:
    if not isinstance(holder, dict):
        # empty or torn: written by a process killed between create and write
        try:
            return time.time() - lock.stat().st_mtime > _EMPTY_LOCK_GRACE_S
        except OSError:
            return True
    return process_alive(holder) is False


def _held_message(folder: Path, holder: Any) -> str:
    if not isinstance(holder, dict):
        return f"{folder} is being written by another gridcast run (lock {LOCK} is new); try again shortly"
    who = f"run {holder.get('run_id')} (pid {holder.get('pid')} on {holder.get('host')}, since {holder.get('started_at')})"
    hint = ("" if process_alive(holder) else
            f"; if that process is gone (another machine), delete {Path(folder) / LOCK}")
    return f"{folder} is being written by {who}; wait for it to finish or choose another --out{hint}"


def release(folder: Path) -> None:
    """Remove the folder's lock if this process holds it."""
    lock = Path(folder) / LOCK
    holder = _read_json(lock)
    if isinstance(holder, dict) and holder.get("pid") == os.getpid():
        lock.unlink(missing_ok=True)


# --------------------------------------------------------------------------- claiming a folder


def claim_new(run_dir: Path, run_id: str) -> None:
    """Lock a fresh ``outputs/runs/<run id>`` folder."""
    _acquire(run_dir, run_id)


def claim_out(out: Path, run_id: str, overwrite: bool) -> Path:
    """Check and lock a user-given ``--out`` folder; returns it, created.

    Raises:
        GridcastError: ``out`` is a file; it holds a run and not ``overwrite``; it holds
            files that are not gridcast's and not ``overwrite``; with ``overwrite``, a file
            not written by gridcast sits under a name the run writes; another live run
            writes there.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GridcastError(f"--out {out} is a file, not a folder")
    entries = {p.name for p in out.iterdir()} if out.is_dir() else set()
    if entries and is_run_folder(out):
        if not overwrite:
            state = "a gridcast run" if (out / RUN_JSON).exists() else "an incomplete gridcast run"
            raise GridcastError(f"{out} already holds {state}; pass --overwrite to replace it, "
                                "or leave out --out to get a new folder per run")
    elif entries and not overwrite:
        raise GridcastError(
            f"--out {out} is not empty and is not a gridcast run folder (no {RUN_JSON}); "
            "choose an empty or new folder, or pass --overwrite to write beside the files there "
            "(gridcast never replaces a file it did not write)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise outputs.storage_error(exc, out) from exc
    _acquire(out, run_id)
    try:
        owned = _manifest(out)
        if not (out / MANIFEST).exists() and (out / RUN_JSON).exists():
            owned = entries & KNOWN_OUTPUTS  # a version 1 run folder: its outputs are gridcast's
            _write_manifest(out, run_id, owned)
        foreign = sorted((entries & KNOWN_OUTPUTS) - owned)
        if foreign:
            raise GridcastError(_foreign_message(out, foreign))
        # run.json marks a complete run: remove it first, so a run killed while
        # overwriting never leaves an old run.json beside newer tables
        if RUN_JSON in owned:
            (out / RUN_JSON).unlink(missing_ok=True)
        outputs.remove_stale_temps(out, owned | KNOWN_OUTPUTS)
    except BaseException:
        release(out)
        raise
    return out


def _foreign_message(out: Path, names: list[str]) -> str:
    return (f"--out {out} holds {', '.join(names)} not written by gridcast; refusing to replace "
            "them: move them away or choose another folder")


def plan_outputs(run_dir: Path, run_id: str, names: set[str]) -> None:
    """Record the names about to be written (and the folder's earlier ones) before writing.

    Raises:
        GridcastError: a name to write exists in the folder but is not gridcast's.
    """
    run_dir = Path(run_dir)
    owned = _manifest(run_dir)
    foreign = sorted(n for n in names - owned if (run_dir / n).exists() or (run_dir / n).is_symlink())
    if foreign:
        raise GridcastError(_foreign_message(run_dir, foreign))
    _write_manifest(run_dir, run_id, owned | set(names))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def finish(run_dir: Path, run_id: str, names: set[str]) -> list[str]:
    """After a complete run: remove an earlier run's outputs this run did not rewrite.

    Returns:
        The names removed.
    """
    run_dir = Path(run_dir)
    stale = sorted(_manifest(run_dir) - set(names))
    for name in stale:
        _remove(run_dir / name)
    _write_manifest(run_dir, run_id, set(names))
    return stale


def discard(run_dir: Path) -> None:
    """Remove a failed run's own folder under ``outputs/runs``: its manifest entries, lock, manifest."""
    run_dir = Path(run_dir)
    owned = _manifest(run_dir)
    for name in owned:
        _remove(run_dir / name)
    outputs.remove_stale_temps(run_dir, owned | KNOWN_OUTPUTS)
    (run_dir / MANIFEST).unlink(missing_ok=True)
    release(run_dir)
    try:
        run_dir.rmdir()  # only if nothing else is left
    except OSError:
        pass


def clean_crashed_runs(out_root: Path) -> list[Path]:
    """Remove ``<out_root>/runs/<id>`` folders of killed runs: no run.json, lock of a dead process.

    Returns:
        The folders removed (or emptied of gridcast's files).
    """
    runs = Path(out_root) / "runs"
    if not runs.is_dir():
        return []
    removed = []
    for folder in sorted(runs.iterdir()):
        lock = folder / LOCK
        if not folder.is_dir() or folder.is_symlink() or (folder / RUN_JSON).exists() or not lock.exists():
            continue
        if not _stale(lock, _read_json(lock)):
            continue  # a live run
        lock.unlink(missing_ok=True)
        owned = _manifest(folder)
        for name in owned:
            _remove(folder / name)
        outputs.remove_stale_temps(folder, owned | KNOWN_OUTPUTS)
        (folder / MANIFEST).unlink(missing_ok=True)
        try:
            folder.rmdir()
        except OSError:
            pass
        removed.append(folder)
    return removed
