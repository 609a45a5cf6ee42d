"""What ``gridcast compare`` compares: scenarios of recorded runs and scenario files.

Each thing compared is an :class:`Item` with a unique label:

* ``NAME``: scenario NAME of the default run (the first ``--run``, else outputs/latest);
  with several ``--run`` given, NAME of every one of them.
* ``NAME@RUN``: scenario NAME of RUN (a run folder, a run id or its unique start, latest).
* ``FILE.toml`` (or a folder of them): the scenario(s) forecast now on the default run's
  inputs (without ``--run`` or a bare NAME: the run of the first ``NAME@RUN``), baseline,
  seed and rise threshold, with ``--draws`` Monte Carlo draws. The same
  forecast code as ``gridcast run`` (``flows.compute.run_scenario``), without Prefect.
* nothing, with two or more ``--run``: every scenario the runs have in common.

Every item is compared with its base: the same scenario of the first run when several
``--run`` are given and items are named without ``@``; otherwise the first item.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flows.compare import RunFolder, find_run
from flows.errors import GridcastError

__all__ = ["DEFAULT_DRAWS", "Item", "SourceSet", "resolve_items"]

DEFAULT_DRAWS = 200
_TABLES = ("national", "regional", "turning_points")


@dataclass
class Item:
    """One scenario being compared, wherever it comes from."""

    label: str
    scenario: str
    source: str  # "run <id>" or "file <path>"
    tables: dict[str, pd.DataFrame]
    resolved: dict[str, Any]
    draws: int | None
    run: RunFolder | None = None
    file: Path | None = None
    base: str = ""
    model: Any = None  # the resolved models.scenario.Scenario, when at hand


@dataclass
class SourceSet:
    """The items, the run whose inputs forecast the files, and notes for the user."""

    items: list[Item]
    default_run: RunFolder
    runs: list[RunFolder]
    notes: list[str] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)  # inputs, fleet: reused by the sensitivity


def _run_item(run: RunFolder, name: str) -> Item:
    run.check_scenarios([name])
    from flows.compare import COMPARE_TABLES

    tables = {t: run.table(t, [name]) for t in _TABLES}
    tables |= {t: run.table(t, [name]) for t in COMPARE_TABLES if run.has_table(t)}
    resolved = run.meta.get("scenarios", {}).get(name, {}).get("resolved")
    if resolved is None:
        raise GridcastError(f"run.json of {run.path} has no resolved parameters for scenario {name!r}")
    draws = (run.meta.get("parameters") or {}).get("draws")
    return Item(name, name, f"run {run.run_id}", tables, resolved, draws, run=run)


def _is_file(spec: str) -> bool:
    return spec.endswith(".toml") or Path(spec).is_file() or (Path(spec).is_dir() and "@" not in spec)


def _baseline(run: RunFolder, inputs: Any, region_ids: np.ndarray, years: list[int], notes: list[str]) -> Any:
    """The run's own baseline on the fleet's regions and the scenario's years, else a fresh one."""
    from models.summarize import Baseline

    if run.has_table("baseline"):
        stored = Baseline.from_forecast(run.table("baseline"), region_ids, years)
        if not any(np.isnan(g).any() for g in (stored.central_twh, stored.lo80_twh, stored.hi80_twh)):
            return stored
    from flows.baseline_cache import cached_forecast

    notes.append(f"run {run.run_id} has no baseline for {years[0]}-{years[-1]}: fitted again from its inputs")
    try:
        result = cached_forecast(inputs.demand_history, inputs.statistical_breaks, years[0], years[-1])
    except ValueError as exc:
        raise GridcastError(f"cannot forecast the baseline for the scenario file: {exc}") from None
    return Baseline.from_forecast(result.forecast, region_ids, years)


def _context(run: RunFolder, sources: SourceSet) -> dict[str, Any]:
    """The run's validated inputs and fleet, loaded once (the data folder recorded in run.json)."""
    if "inputs" in sources.context:
        return sources.context
    from flows.compute import fleet_from_inputs
    from flows.validate import load_inputs

    data_dir = run.meta.get("data_dir")
    if not data_dir or not Path(data_dir).is_dir():
        raise GridcastError(f"run {run.run_id} recorded no data folder that still exists ({data_dir}); "
                            "a scenario file needs the run's inputs")
    inputs = load_inputs(Path(data_dir))
    recorded = run.meta.get("inputs_sha256", {}) or {}
    changed = sorted(f for f, h in inputs.hashes.items() if recorded.get(f) not in (None, h))
    if changed:
        sources.notes.append(f"{', '.join(changed)} in {data_dir} changed since run {run.run_id}; "
                             "scenario files are forecast on the files as they are now")
    sources.context.update(inputs=inputs, fleet=fleet_from_inputs(inputs), run=run)
    return sources.context


def _file_items(spec: str, sources: SourceSet, draws: int) -> list[Item]:
    from flows.compare import COMPARE_TABLES, OUTPUT_FIELDS
    from flows.compute import run_scenario
    from flows.scenarios import load_scenarios
    from flows.validate import check_commissioning

    run = sources.default_run
    ctx = _context(run, sources)
    params = run.meta.get("parameters", {}) or {}
    seed, threshold = int(params.get("seed", 20241)), float(params.get("rise_threshold", 0.05))
    items = []
    for loaded in load_scenarios(Path(spec)):
        sc = loaded.scenario
        check_commissioning(ctx["inputs"].compute_centers, sc.horizon.base_year)
        base = _baseline(run, ctx["inputs"], ctx["fleet"].region_ids, sc.years, sources.notes)
        out = run_scenario(ctx["inputs"], sc, base, n_draws=draws, seed=seed, threshold=threshold,
                           fleet=ctx["fleet"])
        tables = {"national": out.national, "regional": out.regional, "turning_points": out.turning_points}
        tables |= {t: getattr(out, OUTPUT_FIELDS.get(t, t), None) for t in COMPARE_TABLES}
        items.append(Item(loaded.name, loaded.name, f"file {loaded.path}", tables,
                          sc.model_dump(mode="json"), draws, file=loaded.path, model=sc))
    return items


def _unique_labels(items: list[Item]) -> None:
    names = [i.label for i in items]
    for item in items:
        if names.count(item.scenario) > 1:
            where = item.run.run_id if item.run is not None else (item.file.name if item.file else "")
            item.label = f"{item.scenario}@{where}"
    labels = [i.label for i in items]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise GridcastError(f"{dupes[0]!r} is named twice; compare each scenario once")


def resolve_items(specs: list[str], runs: list[str] | None, draws: int = DEFAULT_DRAWS,
                  root: Path | None = None) -> SourceSet:
    """The items for ``gridcast compare SPEC... [--run RUN]...`` (see the module docstring).

    Raises:
        GridcastError: fewer than two items, an unknown scenario or run, or a bad scenario file.
    """
    named = [s.split("@", 1)[1] for s in specs if "@" in s and not _is_file(s)]
    bare = not specs or any("@" not in s and not _is_file(s) for s in specs)
    # without --run and bare names, the first NAME@RUN is the default run (`compare reference@RUN my.toml`)
    first = runs or (named[:1] if named and not bare else [None])
    run_list = [find_run(r, root) for r in first]
    sources = SourceSet(items=[], default_run=run_list[0], runs=run_list)
    many = len(run_list) > 1
    if not specs:
        if not many:
            raise GridcastError("compare needs at least two scenarios, e.g. `gridcast compare reference "
                                "efficiency_led`, `gridcast compare reference my.toml` or --run A --run B")
        specs = [n for n in run_list[0].scenarios if all(n in r.scenarios for r in run_list[1:])]
        specs.sort(key=lambda n: n != "reference")  # the reference first, as in a run
        if not specs:
            raise GridcastError("the runs have no scenario in common; name the scenarios as NAME@RUN")
    paired = many and all("@" not in s and not _is_file(s) for s in specs)
    for spec in specs:
        if _is_file(spec):
            sources.items += _file_items(spec, sources, draws)
        elif "@" in spec:
            name, where = spec.split("@", 1)
            run = find_run(where, root)
            sources.runs.append(run)
            sources.items.append(_run_item(run, name))
        else:
            sources.items += [_run_item(r, spec) for r in (run_list if many else run_list[:1])]
    if paired:  # each scenario of a later run is compared with the same scenario of the first run
        sources.items.sort(key=lambda i: [r.path for r in run_list].index(i.run.path) if i.run else 0)
    if len(sources.items) < 2:
        raise GridcastError("compare needs at least two scenarios (one given)")
    _unique_labels(sources.items)
    first = sources.items[0].label
    by_name = {i.scenario: i.label for i in reversed(sources.items) if i.run is run_list[0]}
    for item in sources.items:
        item.base = by_name.get(item.scenario, first) if paired else first
    return sources


def folder_name(labels: list[str]) -> str:
    """A safe folder name for the comparison of ``labels``.

    >>> folder_name(["reference", "mine@my"])
    'reference-vs-mine@my'
    """
    name = re.sub(r"[^A-Za-z0-9_.@-]", "_", "-vs-".join(labels))
    return name[:120]
