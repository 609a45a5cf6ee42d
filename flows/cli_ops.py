"""``gridcast schedule``, ``gridcast runs`` and ``gridcast server``.

Registered on the main typer app by :func:`register` (one line in ``flows.cli``).
User errors print one line and exit with status 2, like the rest of the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli_common import fail as _fail
from flows.errors import GridcastError
from flows.settings import DEFAULT_DATA, DEFAULT_OUT, DEFAULT_WAREHOUSE, MAX_DRAWS

__all__ = ["register"]


def schedule(
    cron: Annotated[str, typer.Option("--cron", help="Five-field cron string, e.g. '0 6 * * 1' (Mondays 06:00).")],
    name: Annotated[str, typer.Option("--name", help="Deployment name: runs are gridcast-forecast/<name>.")] = "gridcast-weekly",
    data: Annotated[Path, typer.Option("--data", help="Folder with the input CSV files.")] = DEFAULT_DATA,
    scenario: Annotated[
        Path | None, typer.Option("--scenario", help="A scenario TOML file or folder (default: all shipped).")
    ] = None,
    draws: Annotated[int, typer.Option("--draws",
                                       help=f"Monte Carlo draws per scenario (at most {MAX_DRAWS}).")] = 1000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed.")] = 20241,
    timezone: Annotated[str, typer.Option("--timezone", help="IANA time zone the cron string is read in.")] = "Asia/Shanghai",
    warehouse: Annotated[Path, typer.Option("--warehouse", help="DuckDB warehouse file.")] = DEFAULT_WAREHOUSE,
    out_root: Annotated[
        Path, typer.Option("--out-root", help="Runs go to <out-root>/runs/<run id>, with <out-root>/latest.")
    ] = DEFAULT_OUT,
    runner: Annotated[str, typer.Option("--runner", help="local or dask (fixed for this deployment).")] = "local",
    dask_address: Annotated[str | None, typer.Option("--dask-address", help="Dask scheduler tcp://HOST:PORT.")] = None,
) -> None:
    """Serve the forecast as a deployment on a cron schedule, against the server in PREFECT_API_URL.

    Keeps running (polling the server for scheduled or triggered runs) until stopped with
    Ctrl-C or SIGTERM, which pauses the schedule. Trigger a run at any time with
    `prefect deployment run 'gridcast-forecast/<name>'`.
    """
    from flows.settings import configure_prefect

    configure_prefect()
    from flows import ops
    from flows.params import check_runner, run_params
    from flows.scenarios import load_scenarios

    try:
        url = ops.require_api_url()
        from flows.prefect_server import check_reachable

        check_reachable(url)  # one line, not Prefect's retries, when the server is down
        ops.check_schedule(cron, timezone)
        check_runner(runner, dask_address)
        load_scenarios(scenario)  # refuse a bad scenario now, not at 06:00 on Monday
        params = run_params(data_dir=data.resolve(), scenario=scenario.resolve() if scenario else None,
                            out_root=out_root.resolve(), draws=draws, seed=seed, warehouse=warehouse.resolve(),
                            runner=runner, dask_address=dask_address,
                            progress=True)  # each run says what it does (inputs changed or not) in this log
    except GridcastError as exc:
        _fail(exc)
    typer.echo(f"gridcast: serving {ops.FLOW_NAME}/{name} at {url}: cron '{cron}' ({timezone}); "
               "Ctrl-C to stop", err=True)
    try:
        ops.serve_forecast(params, name=name, cron=cron, timezone=timezone)
    except GridcastError as exc:
        _fail(exc)


def runs(
    warehouse: Annotated[Path, typer.Option("--warehouse", help="DuckDB warehouse file.")] = DEFAULT_WAREHOUSE,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most this many runs.")] = 20,
) -> None:
    """List past forecast runs from the warehouse, newest first: state, data folder, input hash and
    whether it changed, scenarios, draws (failed runs show their reason; killed ones show as CRASHED)."""
    from flows.ops import format_runs, run_history

    try:
        table = run_history(warehouse, limit=limit)
    except GridcastError as exc:
        _fail(exc)
    typer.echo(format_runs(table))


def server(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port on 127.0.0.1.")] = 4200,
) -> None:
    """Start a long-lived Prefect server for schedules on 127.0.0.1 (runs until stopped).

    It is `prefect server start --host 127.0.0.1 --port PORT` with gridcast's defaults: its
    database in .gridcast/prefect-server (PREFECT_HOME), telemetry off (on a machine without
    internet the server's telemetry only logs errors), quiet logs. Your own environment
    wins. Then `export PREFECT_API_URL=http://127.0.0.1:PORT/api` and `gridcast schedule`.
    """
    import os
    import sys

    from flows.settings import server_environment

    env = server_environment()
    prefect = Path(sys.executable).with_name("prefect")
    args = [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    typer.echo(f"gridcast: starting the Prefect server at http://127.0.0.1:{port}/api "
               f"(PREFECT_HOME={env['PREFECT_HOME']}); Ctrl-C to stop", err=True)
    os.execve(prefect, args, env)  # the server takes over this process: signals reach it directly


def register(app: typer.Typer) -> None:
    """Add ``schedule``, ``runs`` and ``server`` to the ``gridcast`` app."""
    app.command("schedule")(schedule)
    app.command("runs")(runs)
    app.command("server")(server)
