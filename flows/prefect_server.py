"""The Prefect API a command talks to: a reachable ``PREFECT_API_URL``, or a temporary server
that cannot outlive gridcast.

Without ``PREFECT_API_URL``, Prefect 3.8 starts a temporary ("ephemeral") API server as a
child process (``python -m uvicorn ... prefect.server.api.server:create_app``, about
215 MB) and stops it at exit. A gridcast killed with SIGKILL runs no exit handler, and the
server used to stay up, re-parented to init and listening on 127.0.0.1. :func:`prepare`
starts that server itself, from the main thread, so that:

* on Linux the child asks the kernel for SIGKILL when its parent dies
  (``prctl(PR_SET_PDEATHSIG)``, set between fork and exec);
* everywhere, a pid file ``<PREFECT_HOME>/ephemeral/<pid>.json`` names the server and its
  parent; the next gridcast command stops servers whose parent is gone
  (:func:`stop_orphans`).

With ``PREFECT_API_URL`` set, :func:`prepare` checks that it answers, so an unreachable
server is one line instead of Prefect's retries and a traceback.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from flows.errors import GridcastError
from flows.procs import process_alive, start_ticks, this_process

__all__ = ["api_url", "check_reachable", "prepare", "server_dir", "stop_orphans"]

_PR_SET_PDEATHSIG = 1
_SERVER_MARK = "prefect.server.api.server:create_app"
_HEALTH_TIMEOUT_S = 5.0


def api_url() -> str:
    """``PREFECT_API_URL`` from the environment or the active Prefect profile ('' when unset)."""
    url = os.environ.get("PREFECT_API_URL", "").strip()
    if url:
        return url
    from prefect.settings import get_current_settings

    return (get_current_settings().api.url or "").strip()


def check_reachable(url: str, timeout: float = _HEALTH_TIMEOUT_S) -> None:
    """Refuse, in one line, a ``PREFECT_API_URL`` whose ``/health`` does not answer 200.

    Raises:
        GridcastError: the server cannot be reached or answers with an error.
    """
    import httpx

    health = url.rstrip("/") + "/health"
    hint = ("start it (`prefect server start --host 127.0.0.1 --port 4200`, docs/operations.md) "
            "or unset PREFECT_API_URL to let gridcast use a temporary server")
    try:
        response = httpx.get(health, timeout=timeout)
    except (httpx.HTTPError, ValueError) as exc:
        raise GridcastError(f"PREFECT_API_URL={url} does not answer ({type(exc).__name__}: {exc}); {hint}") from None
    if response.status_code != 200:
        raise GridcastError(f"PREFECT_API_URL={url} answered {health} with HTTP {response.status_code}; {hint}")


def server_dir() -> Path:
    """Where the pid files of temporary servers live."""
    home = os.environ.get("PREFECT_HOME") or str(Path.home() / ".prefect")
    return Path(home) / "ephemeral"


def _is_server(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return False
    return _SERVER_MARK in cmdline


def stop_orphans(folder: Path | None = None) -> list[int]:
    """Stop temporary servers left by a gridcast process that no longer exists.

    Only a process that the pid file names, that is still the same process (start time),
    and whose command line is Prefect's server is signalled. Returns the pids stopped.
    """
    folder = server_dir() if folder is None else Path(folder)
    stopped: list[int] = []
    if not folder.is_dir():
        return stopped
    for pid_file in sorted(folder.glob("*.json")):
        try:
            info = json.loads(pid_file.read_text(encoding="utf-8"))
            server, parent = info["server"], info["parent"]
        except (OSError, ValueError, KeyError, TypeError):
            pid_file.unlink(missing_ok=True)
            continue
        if process_alive(parent) is not False:
            continue  # its gridcast still runs (or another machine's)
        if process_alive(server) and _is_server(int(server["pid"])):
            _terminate(int(server["pid"]))
            stopped.append(int(server["pid"]))
        pid_file.unlink(missing_ok=True)
    return stopped


def _terminate(pid: int, grace_s: float = 5.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            if not Path(f"/proc/{pid}").exists():
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class _SubprocessWithDeathSignal:
    """Stands in for the ``subprocess`` module inside Prefect's server module: same names,
    but ``Popen`` children get a parent-death signal (Linux)."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def Popen(self, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 - mirrors subprocess.Popen
        kwargs.setdefault("preexec_fn", _die_with_parent)
        return self._real.Popen(*args, **kwargs)


def _start_ephemeral() -> None:
    import prefect.server.api.server as server_module

    if sys.platform.startswith("linux") and not isinstance(server_module.subprocess, _SubprocessWithDeathSignal):
        server_module.subprocess = _SubprocessWithDeathSignal(server_module.subprocess)
    server = server_module.SubprocessASGIServer()  # the instance Prefect's clients use
    if server.running:
        return
    server.start()
    proc = server.server_process
    if proc is None:
        return
    folder = server_dir()
    folder.mkdir(parents=True, exist_ok=True)
    pid_file = folder / f"{proc.pid}.json"
    child = {"host": this_process()["host"], "pid": proc.pid, "pid_start": start_ticks(proc.pid)}
    pid_file.write_text(json.dumps({"server": child, "parent": this_process(), "url": server.api_url}),
                        encoding="utf-8")
    atexit.register(pid_file.unlink, missing_ok=True)


def prepare() -> None:
    """Before a command talks to Prefect: check the configured server, or start a temporary one
    that dies with this process (and stop any left by a killed gridcast)."""
    url = api_url()
    if url:
        check_reachable(url)
        return
    from prefect.settings import get_current_settings

    if not get_current_settings().server.ephemeral.enabled:
        return  # Prefect itself will refuse: no URL and no temporary server
    with contextlib.suppress(OSError):
        stop_orphans()
    _start_ephemeral()
