"""Who is running: this process's identity, and whether a recorded process still exists.

A process is recorded as ``{"host", "pid", "pid_start"}``: ``pid_start`` is the process's
start time in clock ticks since boot (``/proc/<pid>/stat`` field 22, Linux), so a pid that
the kernel has reused for another process is not mistaken for the recorded one. Where
``/proc`` is missing it is None and only the pid is checked.
"""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["release_freed_memory", "HOST", "process_alive", "start_ticks", "this_process"]

HOST = socket.gethostname()


def start_ticks(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = text.rsplit(")", 1)[-1].split()
    try:
        return int(fields[19])  # field 22 of stat; fields[0] is field 3
    except (IndexError, ValueError):
        return None


def this_process() -> dict[str, Any]:
    """``{"host", "pid", "pid_start"}`` of the calling process."""
    pid = os.getpid()
    return {"host": HOST, "pid": pid, "pid_start": start_ticks(pid)}


def process_alive(info: dict[str, Any] | None) -> bool | None:
    """Whether the recorded process still runs: True, False, or None when it cannot be told.

    None for a record of another host or without a pid (gridcast cannot see that machine).
    """
    if not info or info.get("host") != HOST:
        return None
    try:
        pid = int(info["pid"])
    except (KeyError, TypeError, ValueError):
        return None
    if pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another account
    start = info.get("pid_start")
    if start is not None:
        now = start_ticks(pid)
        if now is not None and now != int(start):
            return False  # the pid was reused by a newer process
    return True


def release_freed_memory() -> None:
    """Hand memory the process has freed back to the system (glibc's ``malloc_trim``).

    A run frees each scenario's big tables once they are written, but glibc keeps freed
    blocks in its per-thread arenas, so the process's resident size kept the high-water
    mark of every scenario task (about 1.5 GB more at 1M centres); Arrow's allocator (behind
    pandas' text columns and every Parquet write) keeps its own. Where there is no glibc,
    only Arrow's pool is released.
    """
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` from the process's own symbols (looked up once), or None."""
    import ctypes

    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None  # not glibc (musl, macOS)
