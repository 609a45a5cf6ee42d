"""Prefect flows: ``gridcast-ingest`` and ``gridcast-forecast``.

Tasks are coarse (one call into ``models/`` or one I/O step each); I/O tasks
retry with back-off, but never on a :class:`GridcastError` (bad input does not
get better by retrying). Import :mod:`flows.settings` and call
``configure_prefect()`` before importing this module from a fresh process.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import logging
import os
import platform
import subprocess
import time
import uuid
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NONE
from prefect.task_runners import ThreadPoolTaskRunner

from flows import outputs, runfolder
from flows.baseline_cache import cached_forecast
from flows.compute import ScenarioOutputs, fleet_from_inputs, run_scenario
from flows.datastate import SHORT, inputs_hash
from flows.errors import GridcastError, InputError
from flows.params import RunParams
from flows.planned import add_planned_files, check_planned
from flows.procs import release_freed_memory, this_process
from flows.run_sink import STREAMED_NAMES, RunSink
from flows.scenarios import REFERENCE_SCENARIO, LoadedScenario, load_scenarios, scenario_hash
from flows.schema import InputTables
from flows.settings import DEFAULT_DATA, DEFAULT_WAREHOUSE, PROJECT_ROOT
from flows.validate import check_with_scenarios, load_inputs
from flows.warehouse import inputs_current, record_run, store_inputs
from models.baseline import BaselineResult
from models.engine import Fleet
from models.hubs import assign_hubs, nearest_hub
from models.summarize import Baseline

__all__ = ["RunParams", "ingest_flow", "forecast_flow", "flow_for", "run_pipeline"]


def _no_retry_on_user_error(task, task_run, state) -> bool:  # noqa: ANN001 - Prefect hook
    try:
        state.result()
    except GridcastError:
        return False
    except Exception:  # noqa: BLE001 - any other I/O error may be transient
        return True
    return True


_IO = {"retries": 2, "retry_delay_seconds": [1, 4], "retry_condition_fn": _no_retry_on_user_error,
       "cache_policy": NONE}
_CPU = {"cache_policy": NONE}


def _say(params: RunParams, msg: str) -> None:
    if params.progress:
        print(f"gridcast: {msg}", flush=True)  # noqa: T201 - CLI progress line


@task(name="validate-inputs", **_CPU)
def validate_inputs_task(data_dir: Path) -> InputTables:
    """Read and validate the input CSV files (InputError listing every broken rule of a file)."""
    return load_inputs(Path(data_dir))


@task(name="store-inputs", **_IO)
def store_inputs_task(warehouse: Path, tables: InputTables, owner: str) -> None:
    """Replace the warehouse's raw_* and core_* tables in one transaction."""
    store_inputs(Path(warehouse), tables, owner=owner)


def check_for_scenarios(tables: InputTables, scenarios: list[LoadedScenario]) -> None:
    """Every input rule that needs the scenarios, before anything is stored.

    The planned rows are checked against each scenario (its own base year and [pipeline]).
    """
    check_with_scenarios(tables, scenarios)
    for s in scenarios:
        check_planned(tables.planned_centers, s)


@flow(name="gridcast-ingest", log_prints=False)
def ingest_flow(data_dir: Path = DEFAULT_DATA, warehouse: Path = DEFAULT_WAREHOUSE,
                scenario: Path | None = None) -> dict[str, str]:
    """Validate a data folder and load it into the DuckDB warehouse; returns the files' sha256.

    Rules that need a base year use the scenario file or folder ``scenario`` (default: the
    shipped reference), so ``ingest`` refuses what ``run`` would.
    """
    scenarios = load_scenarios(Path(scenario) if scenario is not None else REFERENCE_SCENARIO)
    tables = validate_inputs_task(Path(data_dir))
    check_for_scenarios(tables, scenarios)
    store_inputs_task(Path(warehouse), tables, owner="ingest")
    return dict(tables.hashes)


@task(name="baseline", **_CPU)
def baseline_task(history: pd.DataFrame, base_year: int, end_year: int,
                  breaks: pd.DataFrame | None = None, warehouse: Path | None = None) -> BaselineResult:
    """Regional baseline forecast and its online backtest; the fits are cached in the warehouse."""
    try:
        return cached_forecast(history, breaks, base_year, end_year, warehouse)
    except ValueError as exc:
        raise InputError("demand_history.csv", f"cannot forecast the baseline: {exc}") from None


@task(name="fleet", **_CPU)
def fleet_task(inputs: InputTables) -> tuple[pd.DataFrame, Fleet]:
    """Each centre's nearest hub (once per run: costly at 1M centres) and the region arrays."""
    near = nearest_hub(inputs.compute_centers, inputs.hub_nodes)
    return near, fleet_from_inputs(inputs, near)


@task(name="scenario", **_CPU)
def scenario_task(inputs: InputTables, loaded: LoadedScenario, baseline: Baseline, draws: int, seed: int,
                  threshold: float, fleet: Fleet | None = None,
                  hourly_years: tuple[int, ...] | None = None,
                  near: pd.DataFrame | None = None) -> tuple[ScenarioOutputs, pd.DataFrame]:
    """Central run, Monte Carlo draws and summaries of one scenario, and its centres' hubs."""
    t0 = time.perf_counter()
    out = run_scenario(inputs, loaded.scenario, baseline, n_draws=draws, seed=seed, threshold=threshold,
                       fleet=fleet, hourly_years=hourly_years)
    out.timings_s["simulate"] = time.perf_counter() - t0
    return out, hub_assignment(inputs, loaded, near)


def hub_assignment(inputs: InputTables, loaded: LoadedScenario, near: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per centre: the hub it is assigned to under the scenario's central radius.

    At 1M centres and ten scenarios that is 10M rows: ``center_id`` is the input's own column
    (no copy) and the other text columns are categoricals (a few bytes a row).
    """
    radius = loaded.scenario.hubs.assignment_radius_km[1]
    h = assign_hubs(inputs.compute_centers, inputs.hub_nodes, radius, near)
    h.insert(0, "scenario", pd.Categorical.from_codes(np.zeros(len(h), dtype=np.int8), [loaded.name]))
    h.insert(2, "region_id", pd.Categorical(inputs.compute_centers["region_id"].astype(str)))
    return h


@task(name="write-outputs", **_IO)
def write_outputs_task(run_dir: Path, tables: dict[str, pd.DataFrame]) -> list[str]:
    """Write every table atomically: partitioned folders for the big ones, files for the rest."""
    written = []
    for name, frame in tables.items():
        if frame is None or frame.empty:
            continue
        if name in ("forecast", "regional"):
            outputs.write_partitioned(run_dir / name, frame, "scenario")
        else:
            outputs.write_parquet(run_dir / f"{name}.parquet", frame)
        written.append(name)
    return written


@task(name="report", **_IO)
def report_task(run_dir: Path, inputs: InputTables, tables: dict[str, pd.DataFrame], meta: dict[str, Any]) -> Path:
    """Render the self-contained HTML report."""
    from flows.report_inputs import build_report

    try:
        return build_report(run_dir, inputs, tables, meta)
    except OSError as exc:
        raise outputs.storage_error(exc, Path(run_dir) / "report.html") from exc


def _align_baseline(result: BaselineResult, region_ids: np.ndarray, years: list[int]) -> Baseline:
    aligned = Baseline.from_forecast(result.forecast, region_ids, years)
    if np.isnan(aligned.central_twh).any():
        missing = [r for r, row in zip(region_ids, aligned.central_twh, strict=True) if np.isnan(row).any()]
        raise InputError("demand_history.csv", f"no consumption history for region {missing[0]!r}",
                         column="region_id")
    return aligned


def _git_commit() -> str | None:
    try:
        res = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=False)
    except OSError:
        return None
    return res.stdout.strip() or None


def _versions() -> dict[str, str]:
    names = ["gridcast", "prefect", "pandas", "numpy", "duckdb", "pyarrow", "statsmodels",
             "scikit-learn", "plotly", "pydantic"]
    out = {"python": platform.python_version()}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = "not installed"
    return out


def new_run_id() -> str:
    """``YYYYMMDDTHHMMSSZ-xxxxxx``: sortable by start time, unique."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def _resolve_out(params: RunParams, run_id: str) -> tuple[Path, Path | None]:
    """The run's folder, locked, and the root whose ``latest`` should point at it (None for --out).

    flows/runfolder.py: an --out folder that is not a gridcast run is refused unless
    --overwrite, and even then no file gridcast did not write is replaced.
    """
    if params.out is None:
        runfolder.clean_crashed_runs(params.out_root)  # folders of killed runs
        run_dir = outputs.new_run_dir(params.out_root, run_id)
        runfolder.claim_new(run_dir, run_id)
        return run_dir, Path(params.out_root)
    return runfolder.claim_out(Path(params.out), run_id, params.overwrite), None


# Two workers, one per core: the scenario tasks are numpy-bound, and running every scenario at
# once (Prefect's default pool) only multiplies peak memory (ten scenarios: 2.9 GB vs 1.x GB).
SCENARIO_WORKERS = 2


@flow(name="gridcast-forecast", log_prints=False,
      task_runner=ThreadPoolTaskRunner(max_workers=SCENARIO_WORKERS))
def forecast_flow(params: RunParams, run_id: str | None = None) -> str:
    """Ingest, forecast every scenario, write Parquet + HTML, record the run. Returns the run folder."""
    # A served deployment runs a by-value pickle of this function, whose globals hold only the
    # names its body uses: naming RunParams here lets Prefect resolve the string annotation.
    params = RunParams.model_validate(params)
    run_id = run_id or new_run_id()
    started = datetime.now(UTC)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 3)
        clock = now

    scenarios = load_scenarios(params.scenario)
    run_dir, latest_root = _resolve_out(params, run_id)
    record = {
        "run_id": run_id, "started_at": started.isoformat(), "state": "RUNNING", "reason": None,
        "data_dir": str(params.data_dir), "parameters": json.loads(params.model_dump_json()),
        "scenarios_sha256": {s.name: scenario_hash(s) for s in scenarios},
        "package_version": _versions()["gridcast"], "git_commit": _git_commit(), "out_dir": str(run_dir),
        "user": getpass.getuser(), **this_process(),
    }
    _safe_record(params, record)  # RUNNING: a killed run still leaves a trace in out_runs
    try:
        _say(params, f"run {run_id}: validating {params.data_dir}")
        tables = validate_inputs_task(Path(params.data_dir))
        # the planner's --planned files join the forecast's pipeline; the warehouse keeps the
        # data folder as it is (its hashes describe those files only)
        merged = add_planned_files(tables, params.planned)
        check_for_scenarios(merged, scenarios)  # every rule, before anything is stored
        lap("validate")
        record["inputs_sha256"] = dict(merged.hashes)
        record["inputs_hash"] = inputs_hash(tables.hashes)
        # The forecast uses the validated typed tables, the very frames stored next; the
        # baseline and the fleet's hub search run on the task runner while DuckDB writes
        # (a large fleet spends seconds in each). The raw text is only needed by the store.
        inputs = dataclasses.replace(merged, raw={})
        del merged
        base_year = min(s.scenario.horizon.base_year for s in scenarios)
        end_year = max(s.scenario.horizon.end_year for s in scenarios)
        _say(params, f"loading inputs into {params.warehouse}; baseline backtest and hub search alongside")
        base_future = baseline_task.submit(inputs.demand_history, base_year, end_year,
                                           inputs.statistical_breaks, Path(params.warehouse))
        fleet_future = fleet_task.submit(inputs)
        # A scheduled run re-reads its data folder each time: store it only when it changed.
        record["inputs_changed"] = not inputs_current(Path(params.warehouse), tables)
        if record["inputs_changed"]:
            _say(params, f"inputs {record['inputs_hash'][:SHORT]} differ from the warehouse's: re-ingesting")
            store_inputs_task(Path(params.warehouse), tables, owner=f"run {run_id}")
        else:
            _say(params, f"inputs {record['inputs_hash'][:SHORT]} unchanged since the last ingest: "
                 "warehouse reused")
        del tables  # the warehouse holds them now; free the raw text before the forecast
        lap("ingest")
        base = base_future.result()
        near, fleet = fleet_future.result()
        lap("baseline_and_fleet_after_ingest")
        _say(params, f"forecasting {len(scenarios)} scenarios x {params.draws} draws")
        futures = [
            scenario_task.submit(inputs, s, _align_baseline(base, fleet.region_ids, s.scenario.years),
                                 params.draws, params.seed, params.rise_threshold, fleet, params.hourly_years,
                                 near)
            for s in scenarios
        ]
        # Each scenario's big tables are written as soon as it is done, while the others are
        # still computed, and freed: the run never holds all ten (flows/run_sink.py).
        sink = RunSink(run_dir, [s.name for s in scenarios])
        runfolder.plan_outputs(run_dir, run_id, STREAMED_NAMES)
        results = []
        try:
            for i, s in enumerate(scenarios):
                out, hubs = futures[i].result()
                futures[i] = None  # a finished future holds its result: let the big tables go
                sink.take(s.name, {"hourly": out.hourly, "pipeline": out.pipeline, "hub_assignment": hubs})
                out.hourly = out.pipeline = None
                del hubs
                release_freed_memory()
                results.append(out)
                _say(params, f"  {s.name}: done ({len(results)}/{len(scenarios)})")
            lap("forecast")
            hours_notes = list(dict.fromkeys(n for r in results for n in r.hours_notes))
            for note in hours_notes:
                _say(params, note)
            out_tables = _collect(results, base)
            names = _output_names(out_tables) | sink.names()
            runfolder.plan_outputs(run_dir, run_id, names)
            _say(params, f"writing Parquet to {run_dir} and the report alongside")
            # The report renders from the tables in memory, so it need not wait for the Parquet.
            # Only the local runner writes on a thread here: a Dask worker may be another
            # machine, where run_dir does not exist.
            local = params.runner == "local"
            written = write_outputs_task.submit(run_dir, out_tables) if local else None
            if not local:
                write_outputs_task(run_dir, out_tables)
            meta = {**record, "hours_notes": hours_notes, "timings_s": timings, "versions": _versions(),
                    "scenarios": {s.name: {"description": s.scenario.description, "chain": list(s.chain),
                                            "resolved": s.scenario.model_dump(mode="json")} for s in scenarios}}
            report_task(run_dir, inputs, {**out_tables, "pipeline": sink.report_pipeline()}, meta)
            if written is not None:
                written.result()
            sink.commit()
            lap("write_and_report")
        except BaseException:
            sink.abort()
            raise
        record.update(state="COMPLETED", finished_at=datetime.now(UTC).isoformat(), timings_s=timings)
        outputs.write_json(run_dir / "run.json", {**meta, **record})
        runfolder.finish(run_dir, run_id, names)
        if latest_root is not None:
            outputs.point_latest(latest_root, run_dir)
        _say(params, f"done in {sum(timings.values()):.1f} s: {run_dir}")
    except BaseException as exc:
        record.update(state="FAILED", reason=str(exc) or type(exc).__name__,
                      finished_at=datetime.now(UTC).isoformat(), timings_s=timings)
        _safe_record(params, record)
        if latest_root is not None:
            runfolder.discard(run_dir)  # a failed run leaves no folder under runs/
        raise
    finally:
        runfolder.release(run_dir)
    _safe_record(params, record)
    return str(run_dir)


def _output_names(tables: dict[str, pd.DataFrame | None]) -> set[str]:
    """Top-level names write_outputs_task and the report will write (see runfolder)."""
    names = {"report.html", "run.json"}
    for name, frame in tables.items():
        if frame is not None and not frame.empty:
            names |= {name, f"{name}.parquet"}  # a partitioned folder, or one file
    return names


def _safe_record(params: RunParams, record: dict[str, Any]) -> None:
    """Record the run in out_runs; a busy warehouse must not mask the run's own outcome."""
    try:
        record_run(Path(params.warehouse), record)
    except GridcastError:
        pass


def _collect(results: list[ScenarioOutputs], base: BaselineResult) -> dict[str, pd.DataFrame]:
    """The scenarios' tables the run keeps in memory, each concatenated (the big ones were streamed)."""
    def cat(attr: str) -> pd.DataFrame | None:
        frames = [getattr(r, attr) for r in results if getattr(r, attr) is not None]
        frames = [f for f in frames if not f.empty]
        out = pd.concat(frames, ignore_index=True) if frames else None
        for r in results:  # the run keeps the concatenated table only
            setattr(r, attr, None)
        return out

    return {
        "forecast": cat("forecast"),
        "regional": cat("regional"),
        "national": cat("national"),
        "turning_points": cat("turning_points"),
        "rise_odds": cat("rise_odds"),
        "rise_start": cat("rise_start_dist"),
        "sensitivity": cat("sensitivity"),
        "coincident_peak": cat("coincident"),
        "costs": cat("costs"),
        "headroom": cat("headroom"),
        "peaks": cat("peaks"),
        "baseline": base.forecast,
        "backtest": base.backtest,
    }


def _dask_task_runner(address: str | None):  # noqa: ANN202 - prefect_dask is an optional extra
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise GridcastError("--runner dask needs the optional extra: pip install 'gridcast[dask]'") from None
    # distributed logs every worker start and stop at INFO; keep runs as quiet as local ones.
    logging.getLogger("distributed").setLevel(logging.ERROR)
    if address:
        return DaskTaskRunner(address=address)
    # Processes, not threads, so scenarios do not share one GIL. One worker per core, at most
    # 4. Everything listens on loopback only; the scheduler's HTTP server (it starts even
    # without a dashboard) takes a free port rather than 8787.
    workers = max(1, min(4, os.cpu_count() or 1))
    return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1,
                                          "processes": True, "host": "127.0.0.1",
                                          "dashboard_address": "127.0.0.1:0", "silence_logs": logging.ERROR})


def flow_for(params: RunParams):  # noqa: ANN201 - a prefect Flow
    """The forecast flow with the task runner ``params.runner`` asks for."""
    if params.runner == "local":
        return forecast_flow
    return forecast_flow.with_options(task_runner=_dask_task_runner(params.dask_address))


def run_pipeline(params: RunParams) -> Path:
    """Run the forecast flow in this process and return the run folder."""
    return Path(flow_for(params)(params))
