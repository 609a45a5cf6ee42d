"""Operations: serving the forecast flow on a cron schedule, and the run history.

``serve_forecast`` registers a deployment of ``gridcast-forecast`` with a Prefect
server and then polls it for work (Prefect's ``Flow.serve``); it returns only when the
process is stopped. Schedules need a real, long-lived server: the temporary server a
plain ``gridcast run`` starts dies with its process, so ``require_api_url`` refuses to
schedule without ``PREFECT_API_URL`` (docs/operations.md shows how to start one).

``serving`` refuses a second process serving the same deployment. ``run_history`` and
``format_runs`` read ``out_runs`` from the warehouse (no Prefect); a ``RUNNING`` row whose
process is gone is shown, and recorded, as ``CRASHED`` (:func:`mark_crashed`).
Import :mod:`flows.settings` and call ``configure_prefect()`` before ``serve_forecast``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from flows.datastate import SHORT
from flows.errors import GridcastError
from flows.procs import process_alive
from flows.warehouse import list_runs, record_run

__all__ = [
    "DEFAULT_DEPLOYMENT",
    "FLOW_NAME",
    "RUNS_COLUMNS",
    "check_schedule",
    "format_runs",
    "mark_crashed",
    "require_api_url",
    "run_history",
    "serve_forecast",
    "serving",
]

FLOW_NAME = "gridcast-forecast"
DEFAULT_DEPLOYMENT = "gridcast-weekly"
RUNS_COLUMNS = ["run_id", "state", "started_utc", "duration_s", "scenarios", "draws", "data_dir", "inputs",
                "changed", "out_dir", "reason"]
"""Columns of :func:`run_history`, in display order."""

_START_SERVER = "prefect server start --host 127.0.0.1 --port 4200"


def require_api_url() -> str:
    """The Prefect API URL a schedule will be registered with.

    Reads ``PREFECT_API_URL`` from the environment or the active Prefect profile.

    Raises:
        GridcastError: no URL is set, so there is no server to hold the schedule.
    """
    url = os.environ.get("PREFECT_API_URL", "").strip()
    if not url:
        from prefect.settings import get_current_settings

        url = (get_current_settings().api.url or "").strip()
    if not url:
        raise GridcastError(
            "scheduling needs a running Prefect server and PREFECT_API_URL pointing at it: "
            f"start one with `{_START_SERVER}` and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api (see docs/operations.md)"
        )
    return url


def check_schedule(cron: str, timezone: str) -> None:
    """Refuse a malformed cron string or an unknown IANA time zone with one clear message.

    >>> check_schedule("0 6 * * 1", "Asia/Shanghai")
    """
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise GridcastError(f"--timezone {timezone!r} is not an IANA time zone (e.g. Asia/Shanghai)") from None
    from prefect.client.schemas.schedules import CronSchedule

    try:
        CronSchedule(cron=cron, timezone=timezone)
    except ValueError:
        raise GridcastError(f"--cron {cron!r} is not a valid cron string (e.g. '0 6 * * 1': Mondays 06:00)") from None


_POLLED_WINDOW_S = 30.0  # a runner polls about every 10 s: polled this recently = served


def _schedule_lock(name: str, url: str) -> Path:
    from flows.settings import STATE_DIR

    key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:8]
    return STATE_DIR / "schedules" / f"{name}-{key}.json"


@contextmanager
def serving(name: str, url: str) -> Iterator[None]:
    """Hold the right to serve ``gridcast-forecast/<name>`` at ``url``; refuse a second server.

    On this machine (one ``GRIDCAST_HOME``) a lock file names the serving process; a lock of
    a process that no longer exists (or marked stopped at a clean exit) is taken over. Without such a file (another machine, or
    another GRIDCAST_HOME) the Prefect server is asked whether a runner polled the deployment
    in the last 30 s.

    Raises:
        GridcastError: a live process serves it already.
    """
    from flows.procs import this_process

    lock = _schedule_lock(name, url)
    lock.parent.mkdir(parents=True, exist_ok=True)
    me = {**this_process(), "deployment": f"{FLOW_NAME}/{name}", "api_url": url,
          "started_at": datetime.now(UTC).isoformat(timespec="seconds")}
    if not lock.exists():
        _refuse_if_polled(name)
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = json.loads(lock.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                holder = None
            if isinstance(holder, dict) and not holder.get("stopped_at") and process_alive(holder) is not False:
                raise GridcastError(
                    f"{FLOW_NAME}/{name} is already served by pid {holder.get('pid')} on {holder.get('host')} "
                    f"since {holder.get('started_at')} (lock {lock}); stop that `gridcast schedule` first, "
                    "or serve another --name") from None
            lock.unlink(missing_ok=True)  # its process is gone (killed): take over
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(me))
        break
    else:
        raise GridcastError(f"could not take the schedule lock {lock}")
    try:
        yield
    finally:
        # Keep the file, marked stopped: a restart here need not wait for the server to
        # forget this runner's last poll.
        with contextlib.suppress(OSError, ValueError):
            if json.loads(lock.read_text(encoding="utf-8")).get("pid") == os.getpid():
                stopped = {**me, "stopped_at": datetime.now(UTC).isoformat(timespec="seconds")}
                lock.write_text(json.dumps(stopped), encoding="utf-8")


def _refuse_if_polled(name: str) -> None:
    """Ask the server whether a runner elsewhere serves the deployment (polled within 30 s)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as client:
            dep = client.read_deployment_by_name(f"{FLOW_NAME}/{name}")
    except ObjectNotFound:
        return
    polled = getattr(dep, "last_polled", None)
    if polled is None:
        return
    age = (datetime.now(UTC) - polled.astimezone(UTC)).total_seconds()
    if age < _POLLED_WINDOW_S:
        raise GridcastError(
            f"{FLOW_NAME}/{name} is already served: a runner polled it {age:.0f} s ago (another machine or "
            "GRIDCAST_HOME); stop it first, or serve another --name (if it has just stopped, retry in "
            f"{_POLLED_WINDOW_S:.0f} s)")


def serve_forecast(params: Any, *, name: str = DEFAULT_DEPLOYMENT, cron: str, timezone: str,
                   limit: int = 1) -> None:
    """Register ``gridcast-forecast/<name>`` with ``cron`` and serve it until stopped.

    Args:
        params: the :class:`flows.pipeline.RunParams` every scheduled run gets (they can be
            overridden per run, e.g. ``prefect deployment run ... --param``).
        name: deployment name.
        cron: five-field cron string, read in ``timezone``.
        timezone: IANA time zone of the cron string.
        limit: flow runs this process executes at once; 1 keeps scheduled runs from
            queueing on the warehouse lock behind each other.
    """

    from flows.pipeline import flow_for

    flow = flow_for(params)
    with serving(name, require_api_url()):
        _serve(flow, params, name, cron, timezone, limit)


def _serve(flow: Any, params: Any, name: str, cron: str, timezone: str, limit: int) -> None:
    from prefect.schedules import Cron

    flow.serve(
        name=name,
        schedules=[Cron(cron, timezone=timezone)],
        parameters={"params": json.loads(params.model_dump_json())},
        description="gridcast forecast (see docs/operations.md)",
        tags=["gridcast"],
        limit=limit,
        pause_on_shutdown=True,
    )


def run_history(warehouse: Path, limit: int | None = 20) -> pd.DataFrame:
    """Recorded runs, newest first: the columns of :data:`RUNS_COLUMNS`.

    ``duration_s`` is empty for a run still going; ``reason`` is set for failed and crashed
    runs. A ``RUNNING`` row whose process (host, pid) no longer exists was killed: it is
    shown as ``CRASHED`` and, when the warehouse is free, recorded so (see
    :func:`mark_crashed`). ``inputs`` is the short input hash, ``changed`` whether it
    differs from the previous run's (``new`` for the first run with a hash).
    """
    runs = list_runs(Path(warehouse))
    if runs.empty:
        return pd.DataFrame({c: pd.Series([], dtype="object") for c in RUNS_COLUMNS})
    runs = mark_crashed(Path(warehouse), runs)
    runs = runs.sort_values(["started_at", "run_id"], ascending=False, na_position="last")
    changed = _changed_since_previous(runs["inputs_hash"])
    if limit is not None:
        runs, changed = runs.head(limit), changed.head(limit)
    duration = (runs["finished_at"] - runs["started_at"]).dt.total_seconds().round(1)
    return pd.DataFrame({
        "run_id": runs["run_id"],
        "state": runs["state"],
        "started_utc": runs["started_at"].dt.strftime("%Y-%m-%d %H:%M:%S"),
        "duration_s": duration,
        "scenarios": runs["scenarios_sha256"].map(_json_keys),
        "draws": runs["parameters"].map(lambda text: _json_field(text, "draws")),
        "data_dir": runs["data_dir"],
        "inputs": runs["inputs_hash"].map(lambda h: h[:SHORT] if isinstance(h, str) else None),
        "changed": changed,
        "out_dir": runs["out_dir"],
        "reason": runs["reason"],
    }).reset_index(drop=True)


def _changed_since_previous(hashes: pd.Series) -> pd.Series:
    """For runs newest first: yes/no against the next older run that has a hash; new for the oldest."""
    known = hashes.where(hashes.map(lambda h: isinstance(h, str)))
    previous = known[::-1].ffill().shift(1)[::-1]  # the nearest older hash
    out = pd.Series("yes", index=hashes.index, dtype="object")
    out[known == previous] = "no"
    out[previous.isna()] = "new"
    out[known.isna()] = None
    return out


def mark_crashed(warehouse: Path, runs: pd.DataFrame) -> pd.DataFrame:
    """Rows ``RUNNING`` whose recorded process is gone become ``CRASHED`` (or ``COMPLETED``).

    A run that finished but could not record it (a busy warehouse) left a complete
    ``run.json``: its state is taken from there. The warehouse is updated when it can be
    written at once; a read-only or busy warehouse only changes what is shown.
    """
    runs = runs.copy()
    for i in runs.index[runs["state"] == "RUNNING"]:
        row = runs.loc[i]
        proc = {"host": row.get("host"), "pid": _int(row.get("pid")), "pid_start": _int(row.get("pid_start"))}
        if process_alive(proc) is not False:
            continue  # still running, or on another machine
        update = _finished_record(row) or {
            "state": "CRASHED",
            "reason": f"process {proc['pid']} on {proc['host']} ended without finishing the run (killed?)",
        }
        for key, value in update.items():
            runs.at[i, key] = _naive_utc(value) if key == "finished_at" else value
        try:
            record_run(warehouse, {"run_id": row["run_id"], **update}, wait_seconds=0, owner="gridcast runs")
        except (GridcastError, OSError):
            pass  # shown as crashed; recorded by a later command
    return runs


def _naive_utc(value: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(value) if value else pd.NaT
    if stamp is not pd.NaT and stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp


def _int(value: Any) -> int | None:
    try:
        return None if value is None or pd.isna(value) else int(value)
    except (TypeError, ValueError):
        return None


def _finished_record(row: pd.Series) -> dict[str, Any] | None:
    out_dir = row.get("out_dir")
    if not isinstance(out_dir, str):
        return None
    try:
        meta = json.loads((Path(out_dir) / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("run_id") != row["run_id"] or meta.get("state") != "COMPLETED":
        return None
    return {"state": "COMPLETED", "finished_at": meta.get("finished_at"), "reason": None}


def _json_keys(text: Any) -> str:
    try:
        return ",".join(sorted(json.loads(text)))
    except (TypeError, ValueError):
        return ""


def _json_field(text: Any, key: str) -> Any:
    try:
        return json.loads(text).get(key)
    except (TypeError, ValueError, AttributeError):
        return None


def format_runs(table: pd.DataFrame) -> str:
    """A plain, aligned text table (reasons kept on one line)."""
    if table.empty:
        return "no runs recorded yet"

    def cell(value: Any) -> str:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return "-"
        return " ".join(str(value).split())

    rows = [[cell(v) for v in rec] for rec in table[RUNS_COLUMNS].itertuples(index=False)]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(RUNS_COLUMNS)]
    # The last column (reason) is left unpadded so long messages do not widen every line.
    lines = ["  ".join(c.ljust(w) for c, w in zip(RUNS_COLUMNS[:-1], widths, strict=False)) + "  reason"]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r[:-1], widths, strict=False)) + "  " + r[-1] for r in rows]
    return "\n".join(line.rstrip() for line in lines)
