"""``gridcast export --format pypsa``: one scenario-year's hourly load as a PyPSA CSV folder.

The folder follows PyPSA's CSV layout (``pypsa.Network(folder)`` or
``Network.import_from_csv_folder(folder)`` read it):

* ``network.csv``: the network's name (``gridcast <scenario> <year>``) and the PyPSA
  version whose layout the folder follows;
* ``snapshots.csv``: the 8,760 hours of the representative year as timestamps of the
  chosen year (29 February is left out of a leap year, as the representative year drops
  it), with weightings 1;
* ``buses.csv``: one bus per province (``x`` = longitude, ``y`` = latitude when the run's
  ``regions.csv`` is still there and unchanged), carrier AC;
* ``loads.csv``: one load per province, named as its bus;
* ``loads-p_set.csv``: the province's hourly ``total_load_mw`` (MW; load without compute +
  flexible compute load), one column per load, the snapshots as index.

Also ``provenance.json`` (run, scenario, year, what the load is). Files are written
atomically; a non-empty ``--out`` is refused unless ``overwrite``.

"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd

from flows import outputs
from flows.compare import RunFolder
from flows.datastate import read_if_unchanged
from flows.errors import GridcastError

__all__ = ["export_pypsa", "snapshots_of"]

PYPSA_LAYOUT_VERSION = "1.4.0"
"""The PyPSA release whose CSV layout the folder follows (written to ``network.csv``)."""


def snapshots_of(year: int) -> pd.DatetimeIndex:
    """The 8,760 hourly timestamps of ``year`` (29 February dropped in a leap year)."""
    hours = pd.date_range(f"{year}-01-01", periods=8784 if _leap(year) else 8760, freq="h")
    return hours[~((hours.month == 2) & (hours.day == 29))]


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _check_target(out: Path, overwrite: bool) -> Path:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GridcastError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise GridcastError(f"--out {out} is not empty; pass --overwrite to replace the export there")
    out.mkdir(parents=True, exist_ok=True)
    return out.resolve()


def _hourly(run: RunFolder, scenario: str) -> pd.DataFrame:
    try:
        return run.table("hourly", [scenario])
    except GridcastError:
        raise GridcastError(f"run {run.run_id} has no hourly table: it ran without an hourly system-load input "
                            "(system_hourly_load_mw.csv), or before gridcast wrote hourly profiles") from None


def _coordinates(run: RunFolder) -> pd.DataFrame | None:
    """region_id, x, y from the run's regions.csv if it is unchanged since the run, else None."""
    data_dir = run.meta.get("data_dir")
    recorded = run.meta.get("inputs_sha256", {}).get("regions.csv")
    blob = read_if_unchanged(Path(data_dir) / "regions.csv", recorded) if data_dir else None
    if blob is None:
        return None
    regions = pd.read_csv(io.BytesIO(blob), dtype={"region_id": "string"})
    if not {"lat", "lon"} <= set(regions.columns):
        return None
    return pd.DataFrame({"region_id": regions["region_id"], "x": regions["lon"], "y": regions["lat"]})


def _choose(run: RunFolder, scenario: str | None, year: int | None) -> tuple[str, pd.DataFrame, int]:
    known = run.scenarios
    if scenario is None:
        scenario = "reference" if "reference" in known else (known[0] if known else None)
    if scenario is None:
        raise GridcastError(f"run {run.run_id} records no scenarios")
    run.check_scenarios([scenario])
    hourly = _hourly(run, scenario)
    years = sorted(int(y) for y in hourly["year"].unique())
    if year is None:
        year = 2030 if 2030 in years else years[-1]
    if year not in years:
        raise GridcastError(f"--years {year}: the run's hourly profiles of {scenario!r} are for "
                            f"{', '.join(map(str, years))} (gridcast run --hourly-years sets them)")
    return scenario, hourly.loc[hourly["year"] == year], year


def export_pypsa(run: RunFolder, out: Path, scenario: str | None = None, year: int | None = None, *,
                 overwrite: bool = False) -> list[Path]:
    """Write the PyPSA CSV folder of one scenario and year (see the module docstring).

    Args:
        run: a finished run folder with an ``hourly`` table.
        out: folder to write into.
        scenario: scenario name (default: reference, else the run's first).
        year: one of the run's hourly years (default: 2030 if there, else the last).
        overwrite: allow a non-empty ``out``.

    Returns:
        The files written.

    Raises:
        GridcastError: no hourly table, unknown scenario or year, non-empty ``out``.
    """
    scenario, rows, year = _choose(run, scenario, year)
    wide = rows.pivot(index="hour", columns="region_id", values="total_load_mw").sort_index()
    wide.columns = [str(c) for c in wide.columns]
    if len(wide) != 8760:
        raise GridcastError(f"hourly table of {scenario!r} {year} has {len(wide)} hours, expected 8760")
    root = _check_target(out, overwrite)
    snaps = snapshots_of(year)
    names = list(wide.columns)
    buses = pd.DataFrame({"name": names, "carrier": "AC"})
    coords = _coordinates(run)
    if coords is not None:
        buses = buses.merge(coords.rename(columns={"region_id": "name"}), on="name", how="left")
    series = wide.set_axis(pd.Index(snaps, name="snapshot"))
    snap_frame = pd.DataFrame({"snapshot": snaps, "objective": 1.0, "stores": 1.0, "generators": 1.0})
    network = pd.DataFrame({"name": [f"gridcast {scenario} {year}"], "pypsa_version": [PYPSA_LAYOUT_VERSION]})
    files = {
        "network.csv": network.to_csv(index=False, lineterminator="\n"),
        "snapshots.csv": snap_frame.to_csv(index=True, lineterminator="\n", date_format="%Y-%m-%d %H:%M:%S"),
        "buses.csv": buses.to_csv(index=False, lineterminator="\n"),
        "loads.csv": pd.DataFrame({"name": names, "bus": names}).to_csv(index=False, lineterminator="\n"),
        "loads-p_set.csv": series.to_csv(lineterminator="\n", date_format="%Y-%m-%d %H:%M:%S", float_format="%.6f"),
    }
    written = [outputs.atomic_write_text(outputs.safe_child(root, name), text) for name, text in files.items()]
    prov: dict[str, Any] = {
        "run_id": run.run_id, "run_dir": str(run.path.resolve()), "format": "pypsa", "scenario": scenario,
        "year": year, "loads": "total_load_mw: load without compute + flexible compute load, MW",
        "snapshots": f"8760 hours of {year}" + (" without 29 February" if _leap(year) else ""),
        "inputs_sha256": run.meta.get("inputs_sha256", {}),
        "scenario_sha256": run.meta.get("scenarios_sha256", {}).get(scenario),
    }
    written.append(outputs.write_json(outputs.safe_child(root, "provenance.json"), prov))
    return written
