"""``gridcast export``: a run's tables for planners (registered by :mod:`flows.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.errors import GridcastError

__all__ = ["export"]

RunSpec = Annotated[str | None, typer.Option(
    "--run", help="Run to read: a run folder, a run id (or its unique start) under outputs/runs, or latest. "
                  "Default: outputs/latest, which the next run moves; the run read is always printed.")]


def export(
    out: Annotated[Path, typer.Option(
        "--out", help="Folder to write into. Refused if it is a run folder, or not empty unless --overwrite.")],
    run: RunSpec = None,
    fmt: Annotated[str, typer.Option("--format", help="parquet, csv, xlsx, or pypsa (a PyPSA CSV folder of one "
                                     "scenario's hourly load in one year: --scenario NAME --years YEAR).")] = "csv",
    table: Annotated[list[str] | None, typer.Option(
        "--table", help="Table(s) to export, repeatable or comma-separated, or 'all' (default: every "
                        "planner table the run has: regional, national, turning_points, forecast, baseline, "
                        "coincident_peak, hub_assignment, rise_odds, rise_start, sensitivity, ...).")] = None,
    scenario: Annotated[list[str] | None, typer.Option("--scenario", help="Keep this scenario (repeatable).")] = None,
    region: Annotated[list[str] | None, typer.Option(
        "--region", help="Keep this province: id, code, English or Chinese name, any case, repeatable or "
                         "comma-separated (--region cn-nx --region Guangdong,宁夏).")] = None,
    hub: Annotated[list[str] | None, typer.Option(
        "--hub", help="Keep regions hosting centres assigned to this hub, e.g. qingyang (repeatable).")] = None,
    years: Annotated[str | None, typer.Option("--years", help="Year or range, e.g. 2025-2030.")] = None,
    layout: Annotated[str, typer.Option(
        "--layout", help="long (one row per year) or wide (years as columns, one row per variable).")] = "long",
    energy_unit: Annotated[str, typer.Option(
        "--energy-unit", help="TWh (0.001 precision), GWh (1) or 亿kWh (0.01; 1 亿kWh = 0.1 TWh).")] = "TWh",
    power_unit: Annotated[str, typer.Option(
        "--power-unit", help="MW (0.1 precision) or 万kW (0.01; 1 万kW = 10 MW).")] = "MW",
    bom: Annotated[bool, typer.Option("--bom", help="CSV: start with a UTF-8 byte-order mark (for Excel).")] = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace the earlier export in --out (only the files it wrote), or write into a "
                            "non-empty folder without touching its files.")] = False,
) -> None:
    """Export a run's tables, filtered, in the layout and units you use, with provenance.

    Every table names its provinces in English and Chinese; values are rounded to the
    precision listed in columns.csv; text cells are safe to open in Excel or LibreOffice.

    Examples:

      gridcast export --region NX --layout wide --energy-unit 亿kWh --format xlsx --out /tmp/nx

      gridcast export --run 20260101T020000Z --table forecast,baseline --years 2025-2030 --out /tmp/x

      gridcast export --format pypsa --scenario reference --years 2030 --out /tmp/pypsa
    """
    from flows.cli_common import fail as _fail
    from flows.compare import describe_run, find_run
    from flows.export import ExportFilters, Units, export_run, parse_years

    try:
        folder = find_run(run)
        typer.echo(f"gridcast: {describe_run(folder, defaulted=run is None)}", err=True)
        if fmt.lower() == "pypsa":
            _export_pypsa(folder, out, scenario, years, overwrite)
            return
        units = Units.parse(energy_unit, power_unit, layout)
        filters = ExportFilters(scenarios=tuple(scenario or ()), regions=tuple(region or ()),
                                hubs=tuple(hub or ()), years=parse_years(years), tables=tuple(table or ()))
        result = export_run(folder, out, fmt.lower(), filters, bom=bom, overwrite=overwrite, units=units)
    except GridcastError as exc:
        _fail(exc)
    rows = ", ".join(f"{k} {v:,}" for k, v in result.rows.items())
    typer.echo(f"gridcast: exported {rows} rows ({units.layout}, {units.energy}, {units.power}) as {fmt} "
               f"to {result.out}")


def _export_pypsa(folder, out: Path, scenario: list[str] | None, years: str | None,  # noqa: ANN001
                  overwrite: bool) -> None:
    """One scenario's hourly total load in one year as a PyPSA CSV folder (flows.export_pypsa)."""
    from flows.export import parse_years
    from flows.export_pypsa import export_pypsa

    if scenario and len(scenario) > 1:
        raise GridcastError("--format pypsa exports one scenario: give --scenario once")
    span = parse_years(years)
    if span is not None and span[0] != span[1]:
        raise GridcastError(f"--format pypsa exports one year: give --years YEAR, got {years!r}")
    files = export_pypsa(folder, out, scenario[0] if scenario else None, span[0] if span else None,
                         overwrite=overwrite)
    typer.echo(f"gridcast: wrote a PyPSA CSV folder ({', '.join(f.name for f in files)}) to {files[0].parent}")
