"""``gridcast scenarios`` and ``gridcast scenarios show``.

Registered on the main typer app by :func:`register` (``flows.cli``). These commands do
not start Prefect: they read scenario files only. User errors print one line and exit
with status 2, like the rest of the CLI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from flows.cli_common import fail as _fail
from flows.errors import GridcastError

__all__ = ["register", "scenario_listing", "scenario_toml"]

DirOpt = Annotated[
    Path | None, typer.Option("--dir", help="Folder of scenario TOML files (default: the shipped data/scenarios/).")
]

def scenario_listing(folder: Path | None) -> str:
    """One line per scenario: name, parent, description (plain text, aligned)."""
    from flows.scenarios import load_scenarios

    rows = [(s.name, s.scenario.extends or "-", s.scenario.description) for s in load_scenarios(folder)]
    w0 = max(len("name"), *(len(r[0]) for r in rows))
    w1 = max(len("extends"), *(len(r[1]) for r in rows))
    lines = [f"{'name':<{w0}}  {'extends':<{w1}}  description"]
    lines += [f"{n:<{w0}}  {e:<{w1}}  {d}" for n, e, d in rows]
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, list | tuple) and len(value) == 3 and all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in value
    ):
        lo, mid, hi = value
        return f"{mid:g}" if lo == mid == hi else f"[{lo:g}, {mid:g}, {hi:g}]"
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value, ensure_ascii=False)


def _set_keys(data: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for k, v in data.items():
        keys |= _set_keys(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}"}
    return keys


def _emit_table(lines: list[str], header: str, table: dict[str, Any], own: set[str], parent: str) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict) and v != ""}
    if scalars:
        lines += ["", f"[{header}]"]
        for k, v in scalars.items():
            dotted = f"{header}.{k}"
            origin = "" if not parent else ("   # set here" if dotted in own else f"   # from {parent}")
            lines.append(f"{k} = {_toml_value(v)}{origin}")
    for k, v in table.items():
        if isinstance(v, dict):
            _emit_table(lines, f"{header}.{k}", v, own, parent)


def scenario_toml(name: str, folder: Path | None) -> str:
    """The resolved scenario ``name`` as TOML: numbers as ``[low, central, high]``.

    A key this file sets is marked ``# set here``; an inherited one ``# from <parent>``.
    """
    import tomllib

    from flows.scenarios import load_scenarios

    found = {s.name: s for s in load_scenarios(folder)}
    if name not in found:
        raise GridcastError(f"no scenario named {name!r}; known: {', '.join(sorted(found))}")
    loaded = found[name]
    own = _set_keys(tomllib.loads(loaded.path.read_text(encoding="utf-8")))
    data = loaded.scenario.model_dump(mode="json")
    parent = " <- ".join(loaded.chain[1:])
    lines = [
        f"# scenario {name!r}, resolved from {loaded.path}",
        f"# extends chain: {' <- '.join(loaded.chain)}",
        "# numbers: one value, or [low, central, high] (triangular in the Monte Carlo)",
        f"name = {json.dumps(name)}",
        f"description = {json.dumps(data.get('description', ''), ensure_ascii=False)}",
    ]
    if data.get("extends"):
        lines.append(f"extends = {json.dumps(data['extends'])}")
    for section in ("horizon", "growth", "hardware_efficiency_gain", "levers", "rebound", "hubs", "pue", "flexibility",
                    "seasonal", "sources"):
        block = data.get(section)
        if not block:
            continue
        if section == "levers":
            for lever, body in block.items():
                _emit_table(lines, f"levers.{lever}", body, own, parent)
        elif section == "sources":
            lines += ["", "[sources]"] + [f"{json.dumps(k)} = {json.dumps(v, ensure_ascii=False)}"
                                          for k, v in block.items()]
        else:
            _emit_table(lines, section, block, own, parent)
    return "\n".join(lines)


scenarios_app = typer.Typer(help="List the scenarios, or show one fully resolved (`gridcast scenarios show NAME`).",
                            invoke_without_command=True, no_args_is_help=False)


@scenarios_app.callback()
def scenarios_list(ctx: typer.Context, folder: DirOpt = None) -> None:
    """List scenarios: name, the scenario it extends, description."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        typer.echo(scenario_listing(folder))
    except GridcastError as exc:
        _fail(exc)


@scenarios_app.command("show")
def scenarios_show(
    name: Annotated[str, typer.Argument(help="Scenario name, e.g. efficiency_led.")],
    folder: DirOpt = None,
) -> None:
    """Print a scenario's resolved parameters (TOML, with [low, central, high] ranges)."""
    try:
        typer.echo(scenario_toml(name, folder))
    except GridcastError as exc:
        _fail(exc)


def register(app: typer.Typer) -> None:
    """Add ``scenarios`` to the ``gridcast`` app."""
    app.add_typer(scenarios_app, name="scenarios")
