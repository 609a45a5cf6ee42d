"""``gridcast compare``: scenarios of any runs and scenario files (registered by :mod:`flows.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.errors import GridcastError

__all__ = ["compare"]


def compare(
    scenarios: Annotated[list[str] | None, typer.Argument(
        help="What to compare, the first being the base: NAME (a scenario of the default run), NAME@RUN "
             "(of another run: folder, id or its start), or FILE.toml (forecast now on the default run's "
             "inputs). Empty with two --run: their common scenarios.", show_default=False)] = None,
    run: Annotated[list[str] | None, typer.Option(
        "--run", help="Run(s) to read: folder, run id (or its unique start) or latest. Default: outputs/latest "
                      "(moved by every new run; the run read is always printed). Given twice, each NAME is "
                      "compared across the runs.")] = None,
    draws: Annotated[int, typer.Option(
        "--draws", min=0, max=100_000, help="Monte Carlo draws for scenario files (central run always).")] = 200,
    region: Annotated[list[str] | None, typer.Option(
        "--region", help="Also print these provinces (id, code, English or Chinese name; repeatable or "
                         "comma-separated).")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Folder for the tables and comparison.html (default: outputs/compare/<run id>--A-vs-B).")] = None,
    year: Annotated[int, typer.Option("--year", help="Milestone year of the printed tables.")] = 2030,
    html: Annotated[bool, typer.Option("--html/--no-html", help="Also write comparison.html.")] = True,
    sensitivity: Annotated[bool, typer.Option(
        "--sensitivity/--no-sensitivity", help="Also compute what each difference is sensitive to "
                                               "(one-at-a-time; a second or two).")] = True,
) -> None:
    """Compare scenarios of any runs and scenario files: energy and peak by year and province.

    Writes compare_national, compare_regional, compare_turning_points, compare_parameters,
    compare_sources and compare_sensitivity (Parquet and CSV) and comparison.html, and prints
    the national table (and --region provinces) with differences to the base.

    Examples:

      gridcast compare reference efficiency_led

      gridcast compare reference my.toml --region 宁夏

      gridcast compare reference@20260101T020000Z my.toml --draws 500   (file on that run's inputs)

      gridcast compare reference@20260101T020000Z reference          (same scenario, two runs)

      gridcast compare --run 20260101T020000Z --run latest           (every common scenario)
    """
    from flows.cli_common import fail as _fail
    from flows.compare import (
        compare_items,
        describe_run,
        region_text,
        summary_text,
        write_comparison,
    )
    from flows.compare_sensitivity import difference_sensitivity
    from flows.compare_sources import resolve_items
    from flows.export import run_regions

    try:
        sources = resolve_items(list(scenarios or []), list(run or []) or None, draws)
        for r in {str(r.path.resolve()): r for r in sources.runs}.values():
            typer.echo(f"gridcast: {describe_run(r, defaulted=not run and r is sources.default_run)}", err=True)
        for item in sources.items:
            if item.file is not None:
                typer.echo(f"gridcast: forecast {item.file} ({item.draws} draws) on the inputs of run "
                           f"{sources.default_run.run_id}", err=True)
        comp = compare_items(sources)
        if sensitivity:
            comp.sensitivity, notes = difference_sensitivity(sources)
            comp.notes += notes
        index = run_regions(sources.default_run)
        regions = index.resolve(region) if region else []
        folder, notes = write_comparison(comp, out, html=html)
    except GridcastError as exc:
        _fail(exc)
    typer.echo(summary_text(comp, year))
    if regions:
        typer.echo("")
        typer.echo(region_text(comp, regions, {r: index.label(r) for r in regions}, year))
    for note in [*comp.notes, *notes]:
        typer.echo(f"gridcast: {note}", err=True)
    typer.echo(f"gridcast: comparison tables in {folder}", err=True)
