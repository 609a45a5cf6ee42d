"""Planned compute centres: the scenario-dependent rules and a planner's extra files.

``planned_centers.csv`` passes the file rules of ``flows.schema`` in ``load_inputs``;
the rules that need a scenario (its base year, its ``[pipeline]`` table) live here and
run in both ``gridcast ingest`` and ``gridcast run`` before anything is stored.
``gridcast run --planned FILE`` adds a planner's own projects to the data folder's:
each file is checked with the same rules and named in every message, and a
``project_id`` already used by the data folder or another file is refused by name.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pandas as pd

from flows.errors import InputError, ScenarioError
from flows.scenarios import LoadedScenario
from flows.schema import SOURCE_ROW, TABLES, InputTables
from flows.validate import validate_table_bytes

__all__ = ["MAX_LISTED", "PLANNED_FILE", "add_planned_files", "check_planned", "planned_key"]

PLANNED_FILE = TABLES["planned_centers"].file
MAX_LISTED = 20
"""Broken rows listed in one message; the rest are counted."""


def _listing(lines: list[str]) -> str:
    shown = "; ".join(lines[:MAX_LISTED])
    more = len(lines) - MAX_LISTED
    return shown + (f"; and {more} more" if more > 0 else "")


def check_planned(planned: pd.DataFrame | None, loaded: LoadedScenario, file: str = PLANNED_FILE) -> None:
    """Refuse planned rows the scenario cannot forecast, listing every broken row at once.

    Args:
        planned: validated planned rows (index ``source_row``; a ``source_file`` column, when
            present, names each row's file), or None.
        loaded: the scenario the rows will run with.
        file: file name for the message when rows carry no ``source_file``.

    Raises:
        ScenarioError: rows present and the scenario has no ``[pipeline]`` table (key ``pipeline``).
        InputError: a row whose ``online_year`` is not after the base year (all such rows listed).
    """
    if planned is None or planned.empty:
        return
    scenario = loaded.scenario
    if scenario.pipeline is None:
        raise ScenarioError(
            str(loaded.path),
            f"the data has {len(planned)} planned rows ({file}) but scenario {scenario.name!r} has no "
            "[pipeline] table (add one, or extends = \"reference\")",
            key="pipeline",
        )
    base = scenario.horizon.base_year
    late = planned["online_year"].to_numpy() <= base
    if not late.any():
        return
    bad = planned[late]
    files = bad["source_file"].astype(str) if "source_file" in bad.columns else pd.Series(file, index=bad.index)
    lines = [f"{f} row {int(r)} project {pid!r} online_year {int(y)}"
             for f, r, pid, y in zip(files, bad.index, bad["project_id"], bad["online_year"], strict=True)]
    first = int(bad.index[0])
    raise InputError(
        str(files.iloc[0]),
        f"{late.sum()} planned row(s) have online_year not after the scenario's base year {base} "
        f"({_listing(lines)}): a centre already operating belongs in compute_centers.csv",
        row=first,
        column="online_year",
    )


def planned_key(path: Path) -> str:
    """Key of an extra planned file in a run's ``inputs_sha256``."""
    return f"--planned {path}"


def add_planned_files(tables: InputTables, paths: tuple[Path, ...] | list[Path]) -> InputTables:
    """The data folder's tables with the projects of ``paths`` appended to its pipeline.

    Each file is validated as ``planned_centers.csv`` against the folder's regions and
    hubs (messages name that file); ids must be unique across the folder and every file.
    Rows keep their own ``source_row``; a ``source_file`` column says where each came from.
    The extra files' sha256 are added to ``hashes`` under :func:`planned_key`.

    Raises:
        InputError: a broken rule in one of the files, or a colliding ``project_id``.
    """
    if not paths:
        return tables
    table = TABLES["planned_centers"]
    frames = []
    base = tables.planned_centers
    if base is not None and not base.empty:
        frames.append(base.assign(source_file=PLANNED_FILE))
    hashes = dict(tables.hashes)
    for path in paths:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(str(path), f"cannot read the --planned file ({exc.strerror})") from None
        _, frame = validate_table_bytes(data, dataclasses.replace(table, file=str(path)), tables)
        hashes[planned_key(path)] = hashlib.sha256(data).hexdigest()
        frames.append(frame.assign(source_file=str(path)))
    merged = pd.concat(frames) if frames else None
    if merged is not None:
        _check_collisions(merged)
    return dataclasses.replace(tables, planned_centers=merged, hashes=hashes)


def _check_collisions(merged: pd.DataFrame) -> None:
    ids = merged["project_id"].astype(str)
    dup = ids.duplicated(keep=False).to_numpy()
    if not dup.any():
        return
    clash = merged[dup].rename_axis(SOURCE_ROW).reset_index()
    lines = []
    for pid, group in clash.groupby(clash["project_id"].astype(str), sort=True):
        where = ", ".join(f"{f} row {int(r)}" for f, r in zip(group["source_file"], group[SOURCE_ROW], strict=True))
        lines.append(f"{pid!r} ({where})")
    last = clash.iloc[-1]
    raise InputError(
        str(last["source_file"]),
        f"project_id must be unique across the data folder and every --planned file: {_listing(lines)}",
        row=int(last[SOURCE_ROW]),
        column="project_id",
    )
