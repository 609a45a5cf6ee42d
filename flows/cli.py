"""The ``gridcast`` command: one subcommand per job a planner does.

Errors a user can cause (bad input, bad scenario, bad option, busy warehouse) print
one line per problem naming file, row, column and rule (every problem of a file at once,
at most 20 lines and then a count), and exit with status 2; no traceback.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from flows.cli_common import fail as _fail
from flows.errors import GridcastError
from flows.settings import (
    DEFAULT_DATA,
    DEFAULT_OUT,
    DEFAULT_WAREHOUSE,
    MAX_DRAWS,
    configure_prefect,
)

app = typer.Typer(
    name="gridcast",
    help=(
        "Grid-level electricity demand forecasts for AI compute centres.\n\n"
        "Typical use: `gridcast run` (shipped data, all shipped scenarios, outputs/latest/), "
        "then open outputs/latest/report.html. Every figure is traceable: see docs/methodology.md "
        "and data/SOURCES.md."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DataOpt = Annotated[Path, typer.Option("--data", help="Folder with the six input CSV files (docs/methodology.md section 2).")]
WarehouseOpt = Annotated[Path, typer.Option("--warehouse", help="DuckDB warehouse file (created if missing).")]


class _DropUserErrors(logging.Filter):
    """Keep Prefect from printing tracebacks for errors the CLI reports in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], GridcastError):
            return False
        msg = record.getMessage()
        return not any(k in msg for k in ("InputError", "ScenarioError", "WarehouseBusyError", "GridcastError"))


def _quiet_prefect_user_errors() -> None:
    filt = _DropUserErrors()
    for name in ("prefect", "prefect.flow_runs", "prefect.task_runs", "prefect.engine"):
        logger = logging.getLogger(name)
        logger.addFilter(filt)
        for handler in logger.handlers:
            handler.addFilter(filt)
    for handler in logging.getLogger().handlers:
        handler.addFilter(filt)


def _prefect_ready(preload: tuple[str, ...] = ()) -> None:
    """Prefect configured and its API reachable (a temporary server started when none is set).

    ``preload``: modules to import on a thread while the server starts (see
    :func:`_import_in_background`).
    """
    configure_prefect()
    import prefect  # noqa: F401 - sets up Prefect's logging so the filter can attach

    _quiet_prefect_user_errors()
    from flows.prefect_server import api_url, prepare

    if preload and not api_url():
        # Prefect's server module first, on this thread: importing it beside our modules
        # only makes the two imports wait for each other's locks
        import prefect.server.api.server  # noqa: F401
    loading = _import_in_background(*preload) if preload else None
    try:
        prepare()  # a reachable PREFECT_API_URL, or a temporary server that dies with us
    except GridcastError as exc:
        _fail(exc)
    finally:
        if loading is not None:
            loading.join()


@app.command()
def ingest(
    data: DataOpt = DEFAULT_DATA,
    warehouse: WarehouseOpt = DEFAULT_WAREHOUSE,
    scenario: Annotated[
        Path | None,
        typer.Option("--scenario", help="Scenario file or folder whose base year and [pipeline] the inputs are "
                     "checked against, as `run` checks them (default: data/scenarios/reference.toml)."),
    ] = None,
) -> None:
    """Validate a data folder and load it into the DuckDB warehouse (raw_* and core_* tables).

    A file that breaks a rule is refused whole with a message naming file, row,
    column and rule of every problem; the warehouse keeps what it held before.
    """
    from flows.planned import check_planned
    from flows.scenarios import REFERENCE_SCENARIO, load_scenarios
    from flows.validate import check_with_scenarios, load_inputs

    try:  # refuse bad input in a second, before Prefect starts
        scenarios = load_scenarios(scenario if scenario is not None else REFERENCE_SCENARIO)
        tables = load_inputs(data)
        check_with_scenarios(tables, scenarios)
        for s in scenarios:
            check_planned(tables.planned_centers, s)
    except GridcastError as exc:
        _fail(exc)
    _prefect_ready()
    from flows.pipeline import ingest_flow

    t0 = time.perf_counter()
    typer.echo(f"gridcast: ingesting {data} into {warehouse} (starting Prefect) ...", err=True)
    try:
        hashes = ingest_flow(data_dir=data, warehouse=warehouse, scenario=scenario)
    except GridcastError as exc:
        _fail(exc)
    typer.echo(f"gridcast: loaded {len(hashes)} files in {time.perf_counter() - t0:.1f} s", err=True)


@app.command()
def run(
    data: DataOpt = DEFAULT_DATA,
    scenario: Annotated[
        Path | None,
        typer.Option("--scenario", help="A scenario TOML file or a folder of them (default: all shipped scenarios)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write outputs directly into this folder (default: outputs/runs/<run id>, "
                     "with outputs/latest pointing at it)."),
    ] = None,
    draws: Annotated[int, typer.Option("--draws", help=(
        f"Monte Carlo draws per scenario (0 = central run only; at most {MAX_DRAWS}, which keeps the "
        "peak memory of a run of the shipped data under 2 GB: docs/operations.md)."))] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives identical outputs.")] = 20241,
    warehouse: WarehouseOpt = DEFAULT_WAREHOUSE,
    rise_threshold: Annotated[
        float, typer.Option("--rise-threshold", help="Year-on-year growth that counts as rising (0.05 = 5%).")
    ] = 0.05,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Allow --out to replace an earlier run there.")] = False,
    runner: Annotated[
        str, typer.Option("--runner", help="Where scenarios run: local (threads, default) or dask "
                          "(prefect-dask; see docs/operations.md for when it pays off).")
    ] = "local",
    dask_address: Annotated[
        str | None, typer.Option("--dask-address", help="Dask scheduler tcp://HOST:PORT for --runner dask "
                                 "(default: a LocalCluster on 127.0.0.1).")
    ] = None,
    lang: Annotated[
        str, typer.Option("--lang", help="Language of the report's own text: en (default) or zh (中文: "
                          "headings, captions, table headers and the province stories).")
    ] = "en",
    hourly_years: Annotated[
        str | None, typer.Option("--hourly-years", help="Years of the 8760-hour profiles and headroom, e.g. "
                                 "2024,2030,2035 (default: base year, 2030, end year).")
    ] = None,
    planned: Annotated[
        list[Path] | None,
        typer.Option("--planned", metavar="FILE", help="A planned_centers CSV of your own projects, added to the data "
                     "folder's pipeline (repeatable; project_id must not collide). Example: "
                     "--planned data/examples/planned_ningxia.csv"),
    ] = None,
) -> None:
    """Run the whole pipeline: ingest, forecast every scenario, write Parquet and the HTML report.

    Add your own planned projects with --planned FILE (same columns as planned_centers.csv),
    e.g. `gridcast run --planned data/examples/planned_ningxia.csv`.
    """
    from flows.params import check_runner, run_params
    from flows.scenarios import load_scenarios

    try:
        check_runner(runner, dask_address)
    except GridcastError as exc:
        _fail(exc)

    try:  # refuse bad values and bad scenarios before Prefect or any work starts
        found = load_scenarios(scenario)
        years = _parse_hourly_years(hourly_years)
        if years:
            from flows.hours import resolve_hourly_years

            for s in found:
                resolve_hourly_years(s.scenario, years)
        params = run_params(data_dir=data, scenario=scenario, out=out, out_root=DEFAULT_OUT, draws=draws,
                            seed=seed, warehouse=warehouse, rise_threshold=rise_threshold,
                            overwrite=overwrite, progress=True, runner=runner, dask_address=dask_address,
                            lang=lang, hourly_years=years, planned=tuple(planned or ()))
    except GridcastError as exc:
        _fail(exc)
    typer.echo(f"gridcast: {len(found)} scenario(s): {', '.join(s.name for s in found)}", err=True)
    typer.echo("gridcast: starting Prefect (first start sets up its database; ~10-20 s) ...", err=True)
    _prefect_ready(preload=("flows.pipeline", "flows.report_inputs", "reports.report"))
    from flows.pipeline import run_pipeline

    t0 = time.perf_counter()
    try:
        run_dir = run_pipeline(params)
    except GridcastError as exc:
        _fail(exc)
    typer.echo(f"gridcast: finished in {time.perf_counter() - t0:.1f} s", err=True)
    typer.echo(f"gridcast: outputs in {run_dir}")
    typer.echo(f"gridcast: report   {run_dir / 'report.html'}")


def _import_in_background(*modules: str) -> threading.Thread:
    """Import the forecast's modules (pandas, DuckDB, scikit-learn, ...: ~1.5 s) on a thread
    while the main thread waits seconds for Prefect's server process to answer (measured:
    5.65 s instead of 7.1 s to a ready server and loaded modules).

    The server must be started from the main thread (its child is told to die with the
    thread that started it: flows/prefect_server.py). An import that fails here fails
    again, with its traceback, where the module is imported for use.
    """
    def load() -> None:
        for name in modules:
            with contextlib.suppress(Exception):
                importlib.import_module(name)

    thread = threading.Thread(target=load, name="gridcast-imports", daemon=True)
    thread.start()
    return thread


def _parse_hourly_years(text: str | None) -> tuple[int, ...] | None:
    """``"2024,2030"`` -> (2024, 2030); None or blank -> None (the default years)."""
    if text is None or not text.strip():
        return None
    try:
        return tuple(sorted({int(p) for p in text.split(",") if p.strip()}))
    except ValueError:
        raise GridcastError(f"--hourly-years {text!r}: expected years separated by commas, e.g. "
                            "2024,2030,2035") from None


def _register_more_commands() -> None:
    """Commands that live in their own modules: scenarios, compare, export; schedule, runs."""
    from flows.cli_compare import compare
    from flows.cli_export import export
    from flows.cli_ops import register as register_ops
    from flows.cli_scenarios import register as register_scenarios

    register_scenarios(app)
    app.command("compare")(compare)
    app.command("export")(export)
    register_ops(app)


_register_more_commands()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except SystemExit as exc:
        _leave(exc.code)
    except GridcastError as exc:  # pragma: no cover - commands handle their own
        typer.echo(f"gridcast: {exc}", err=True)
        _leave(2)
    except OSError as exc:  # a full or read-only disk anywhere: the path and the cause, no traceback
        from flows.outputs import storage_error

        typer.echo(f"gridcast: {storage_error(exc)}", err=True)
        _leave(2)
    _leave(0)


def _leave(code: int | str | None) -> NoReturn:
    """Exit once the command is done, without tearing the interpreter down.

    Every output is already whole on disk (each write is atomic and synced, each warehouse
    connection closed). What normal exit still does is run the exit handlers (Prefect stops
    its temporary server, logging flushes), then free every module and object one by one:
    with pandas, Arrow, DuckDB, scikit-learn and Prefect loaded that took ~1 s of a 12 s
    run. Here the threads' and the exit handlers run as usual, the streams are flushed, and
    the process ends without the teardown. An interrupted or crashed command (Ctrl-C, a
    traceback) never comes here and exits the usual way.
    """
    if isinstance(code, str):  # sys.exit("message"): printed, status 1, as Python does
        print(code, file=sys.stderr)  # noqa: T201
        code = 1
    status = 0 if code is None else int(code)
    try:
        threading._shutdown()  # joins non-daemon threads, as interpreter exit does first
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(status)


if __name__ == "__main__":
    main()
