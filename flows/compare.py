"""``gridcast compare``: scenarios of one run side by side, with differences and parameters.

Every table is long (one row per scenario, region, year and statistic) with the
first scenario named on the command line as the comparison base, so the column
names stay the same whatever scenarios are compared:

* ``compare_national``: national facility energy and peak by scenario and year,
  ``stat`` central (and p10/p90 where the run has draws), with the difference to
  the base scenario in absolute (``*_diff_twh``, ``*_diff_mw``) and relative
  (``*_diff_rel``, a fraction; empty where the base is 0) terms.
* ``compare_regional``: the same per region.
* ``compare_turning_points``: shape, rise start and flat-until per scenario and
  region (``ALL`` = national) beside the base scenario's, and the shift in years.
* ``compare_parameters``: every resolved parameter (dotted key) whose value
  differs between the scenarios, one row per key and scenario.

The run folder is read as written by ``gridcast run`` (Parquet + ``run.json``);
nothing in it is modified.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from flows import outputs
from flows.errors import GridcastError
from flows.settings import DEFAULT_OUT
from models.observed_growth import observed_growth_flags

__all__ = [
    "COMPARE_STATS",
    "Comparison",
    "RunFolder",
    "compare_scenarios",
    "flatten_parameters",
    "national_summary",
    "open_run",
    "summary_text",
    "write_comparison",
]

COMPARE_STATS = ("central", "p10", "p90")
_METRICS = {"facility_energy_twh": ("facility_energy_diff_twh", "facility_energy_diff_rel"),
            "peak_load_mw": ("peak_load_diff_mw", "peak_load_diff_rel")}
_NOT_PARAMETERS = {"name", "description", "extends", "sources"}
_TEXT_KEYS = {"description", "source"}  # per-lever prose, not parameters


@dataclass(frozen=True)
class RunFolder:
    """A finished run's folder and its metadata (``run.json``)."""

    path: Path
    meta: dict[str, Any]

    @property
    def run_id(self) -> str:
        """The run's id (or the folder name for a run.json without one)."""
        return str(self.meta.get("run_id") or self.path.name)

    @property
    def scenarios(self) -> list[str]:
        """Scenario names recorded in ``run.json``, in the run's order."""
        return list(self.meta.get("scenarios", {}))

    def table(self, name: str, scenarios: list[str] | None = None) -> pd.DataFrame:
        """One output table (a partitioned folder or a single file), optionally for some scenarios.

        Raises:
            GridcastError: the run has no such table.
        """
        folder, single = self.path / name, self.path / f"{name}.parquet"
        if folder.is_dir():
            source, hive = str(folder / "**" / "*.parquet"), True
        elif single.is_file():
            source, hive = str(single), False
        else:
            raise GridcastError(f"run folder {self.path} has no {name!r} table ({name}/ or {name}.parquet)")
        query = f"SELECT * FROM read_parquet($src, hive_partitioning = {str(hive).lower()})"
        params: dict[str, Any] = {"src": source}
        if scenarios is not None:
            query += " WHERE scenario IN (SELECT unnest($names))"
            params["names"] = list(scenarios)
        with duckdb.connect() as con:
            frame = con.execute(query, params).df()
        front = ["scenario"] if "scenario" in frame.columns else []
        return frame[front + [c for c in frame.columns if c not in front]]

    def check_scenarios(self, names: list[str]) -> None:
        """Refuse names the run does not hold, naming the ones it does."""
        known = self.scenarios
        for n in names:
            if n not in known:
                raise GridcastError(
                    f"scenario {n!r} is not in run {self.run_id} ({self.path}); it holds: {', '.join(known) or 'none'}"
                )


def open_run(path: Path | None) -> RunFolder:
    """The run folder at ``path`` (default ``outputs/latest``), checked to hold a ``run.json``."""
    path = Path(path) if path is not None else DEFAULT_OUT / "latest"
    meta_file = path / "run.json"
    if not meta_file.is_file():
        raise GridcastError(
            f"{path} is not a gridcast run folder (no run.json); run `gridcast run` first or pass --run DIR"
        )
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise GridcastError(f"cannot read {meta_file}: {exc}") from None
    return RunFolder(path=path, meta=meta)


def _with_differences(frame: pd.DataFrame, keys: list[str], base: str) -> pd.DataFrame:
    """Add ``base_scenario`` and the differences of each metric to the base scenario's value."""
    ref = frame.loc[frame["scenario"] == base, keys + list(_METRICS)]
    merged = frame.merge(ref, on=keys, how="left", suffixes=("", "_base"), validate="many_to_one")
    out = frame.assign(base_scenario=base)
    for metric, (diff, rel) in _METRICS.items():
        b = merged[f"{metric}_base"].to_numpy(float)
        d = frame[metric].to_numpy(float) - b
        out[diff] = d
        out[rel] = pd.Series(d, index=frame.index).div(pd.Series(b, index=frame.index).where(b != 0))
    return out


def _order(frame: pd.DataFrame, names: list[str], keys: list[str]) -> pd.DataFrame:
    rank = {n: i for i, n in enumerate(names)}
    stat_rank = {s: i for i, s in enumerate(COMPARE_STATS)}
    return (frame.assign(_s=frame["scenario"].map(rank), _t=frame["stat"].map(stat_rank))
            .sort_values(["_s", *[k for k in keys if k != "stat"], "_t"], kind="stable")
            .drop(columns=["_s", "_t"]).reset_index(drop=True))


def _energy_table(run: RunFolder, table: str, names: list[str], keys: list[str]) -> pd.DataFrame:
    raw = run.table(table, names)
    raw = raw.loc[raw["stat"].isin(COMPARE_STATS), ["scenario", *keys, *_METRICS]]
    raw = raw.astype({"scenario": "string", "stat": "string"})
    out = _with_differences(raw, keys, names[0])
    cols = ["scenario", "base_scenario", *keys]
    for metric, (diff, rel) in _METRICS.items():
        cols += [metric, diff, rel]
    return _order(out[cols], names, keys)


def _turning_table(run: RunFolder, names: list[str]) -> pd.DataFrame:
    tp = run.table("turning_points", names).astype({"scenario": "string", "region_id": "string",
                                                     "shape": "string"})
    tp = tp[["scenario", "region_id", "shape", "rise_start", "flat_until"]]
    base = tp.loc[tp["scenario"] == names[0], ["region_id", "shape", "rise_start"]]
    out = tp.merge(base.rename(columns={"shape": "base_shape", "rise_start": "base_rise_start"}),
                   on="region_id", how="left", validate="many_to_one")
    out.insert(1, "base_scenario", names[0])
    for col in ("rise_start", "flat_until", "base_rise_start"):
        out[col] = out[col].astype("Int64")
    out["rise_start_shift_years"] = out["rise_start"] - out["base_rise_start"]
    out["same_shape"] = (out["shape"] == out["base_shape"]).astype("boolean")
    rank = {n: i for i, n in enumerate(names)}
    # national row first, then regions alphabetically, scenario by scenario
    out = out.assign(_s=out["scenario"].map(rank), _r=out["region_id"] != "ALL")
    return out.sort_values(["_s", "_r", "region_id"], kind="stable").drop(columns=["_s", "_r"]).reset_index(drop=True)


def flatten_parameters(resolved: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted key -> value of a resolved scenario's parameters (prose and names left out).

    >>> flatten_parameters({"name": "x", "growth": {"taper": [0.8, 0.85, 0.9]},
    ...                     "levers": {"a": {"saving": 0.5, "description": "text"}}})
    {'growth.taper': [0.8, 0.85, 0.9], 'levers.a.saving': 0.5}
    """
    out: dict[str, Any] = {}
    for key, value in resolved.items():
        if not prefix and key in _NOT_PARAMETERS:
            continue
        if prefix.startswith("levers.") and key in _TEXT_KEYS:
            continue
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten_parameters(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def _as_triple(value: Any) -> tuple[float | None, float | None, float | None]:
    if isinstance(value, list | tuple) and len(value) == 3 and all(isinstance(x, int | float) for x in value):
        return float(value[0]), float(value[1]), float(value[2])
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value), float(value), float(value)
    return None, None, None


def _value_text(value: Any) -> str:
    if value is None:
        return "(not set)"
    lo, mid, hi = _as_triple(value)
    if mid is not None and lo == mid == hi:
        return f"{mid:g}"
    if mid is not None:
        return f"[{lo:g}, {mid:g}, {hi:g}]"
    return json.dumps(value, ensure_ascii=False)


def _parameter_table(run: RunFolder, names: list[str]) -> pd.DataFrame:
    """Parameters whose value differs between the scenarios: one row per key and scenario."""
    flat = {}
    for n in names:
        resolved = run.meta.get("scenarios", {}).get(n, {}).get("resolved")
        if resolved is None:
            raise GridcastError(f"run.json of {run.path} has no resolved parameters for scenario {n!r}")
        flat[n] = flatten_parameters(resolved)
    keys = sorted(set().union(*flat.values()))
    rows = []
    for key in keys:
        values = [flat[n].get(key) for n in names]
        if all(json.dumps(v, sort_keys=True) == json.dumps(values[0], sort_keys=True) for v in values):
            continue
        for n, v in zip(names, values, strict=True):
            lo, mid, hi = _as_triple(v)
            rows.append({"parameter": key, "scenario": n, "value": _value_text(v),
                         "low": lo, "central": mid, "high": hi})
    frame = pd.DataFrame(rows, columns=["parameter", "scenario", "value", "low", "central", "high"])
    return frame.astype({"parameter": "string", "scenario": "string", "value": "string",
                         "low": "float64", "central": "float64", "high": "float64"})


@dataclass
class Comparison:
    """The four comparison tables and the raw run rows the HTML page needs."""

    run: RunFolder
    scenarios: list[str]
    national: pd.DataFrame
    regional: pd.DataFrame
    turning_points: pd.DataFrame
    parameters: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        """``compare_*`` name -> table, in the order they are written."""
        return {"compare_national": self.national, "compare_regional": self.regional,
                "compare_turning_points": self.turning_points, "compare_parameters": self.parameters}


def compare_scenarios(run: RunFolder, names: list[str]) -> Comparison:
    """Compare scenarios of one run; the first name is the base of every difference.

    Raises:
        GridcastError: fewer than two distinct names, or a name the run does not hold.
    """
    if len(names) < 2:
        raise GridcastError("compare needs at least two scenarios, e.g. `gridcast compare reference efficiency_led`")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise GridcastError(f"scenario {dupes[0]!r} is named twice")
    run.check_scenarios(names)
    return Comparison(
        run=run, scenarios=list(names),
        national=_energy_table(run, "national", names, ["year", "stat"]),
        regional=_energy_table(run, "regional", names, ["region_id", "year", "stat"]),
        turning_points=_turning_table(run, names),
        parameters=_parameter_table(run, names),
    )


def national_summary(comp: Comparison, year: int = 2030) -> pd.DataFrame:
    """One row per scenario: central TWh in ``year`` and the end year, p10-p90, rise start.

    Columns: ``scenario``, ``year_mid``, ``facility_energy_mid_twh``, ``p10_mid_twh``,
    ``p90_mid_twh``, ``diff_mid_rel`` (to the base scenario), ``end_year``,
    ``facility_energy_end_twh``, ``diff_end_rel``, ``shape``, ``rise_start``.
    """
    nat = comp.national
    tp = comp.turning_points
    rows = []
    for s in comp.scenarios:
        part = nat.loc[nat["scenario"] == s]
        end = int(part["year"].max())

        def at(y: int, stat: str, col: str = "facility_energy_twh", part: pd.DataFrame = part) -> float:
            v = part.loc[(part["year"] == y) & (part["stat"] == stat), col]
            return float(v.iloc[0]) if len(v) else float("nan")

        t = tp.loc[(tp["scenario"] == s) & (tp["region_id"] == "ALL")]
        rows.append({
            "scenario": s, "year_mid": year,
            "facility_energy_mid_twh": at(year, "central"), "p10_mid_twh": at(year, "p10"),
            "p90_mid_twh": at(year, "p90"), "diff_mid_rel": at(year, "central", "facility_energy_diff_rel"),
            "end_year": end, "facility_energy_end_twh": at(end, "central"),
            "diff_end_rel": at(end, "central", "facility_energy_diff_rel"),
            "shape": str(t["shape"].iloc[0]) if len(t) else "",
            "rise_start": t["rise_start"].iloc[0] if len(t) else pd.NA,
        })
    return pd.DataFrame(rows)


def _fmt(x: float, spec: str) -> str:
    if pd.isna(x):
        return "–"
    if spec.endswith("%") and abs(x) < 0.0005:
        return "±0.0%"  # not "-0.0%": a rounding sign would read as a real change
    return format(x, spec)


def summary_text(comp: Comparison, year: int = 2030) -> str:
    """The compact national table printed to stdout (pipe-separated, pastes as Markdown)."""
    s = national_summary(comp, year)
    ends = sorted(set(s["end_year"]))
    end_label = f"{ends[0]}" if len(ends) == 1 else "end year"
    head = ["scenario", f"{year} TWh", f"{year} p10-p90", f"Δ{year} vs {comp.scenarios[0]}",
            f"{end_label} TWh", f"Δ{end_label} vs {comp.scenarios[0]}", "national shape", "rise_start"]
    body = []
    for r in s.itertuples(index=False):
        band = ("–" if pd.isna(r.p10_mid_twh) else f"{r.p10_mid_twh:,.0f}-{r.p90_mid_twh:,.0f}")
        end_cell = _fmt(r.facility_energy_end_twh, ",.1f") + ("" if len(ends) == 1 else f" ({r.end_year})")
        is_base = r.scenario == comp.scenarios[0]
        body.append([r.scenario, _fmt(r.facility_energy_mid_twh, ",.1f"), band,
                     "base" if is_base else _fmt(r.diff_mid_rel, "+.1%"), end_cell,
                     "base" if is_base else _fmt(r.diff_end_rel, "+.1%"), r.shape or "–",
                     "–" if pd.isna(r.rise_start) else str(int(r.rise_start))])
    widths = [max(len(str(row[i])) for row in [head, *body]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    title = (f"National compute-centre facility electricity, central run (TWh/yr); run {comp.run.run_id}")
    observed = observed_growth_flags(comp.national)["sentence"].tolist()  # issue 12 item 6
    return "\n".join([title, line(head), rule, *(line(b) for b in body), *observed])


def _default_out(comp: Comparison) -> Path:
    return outputs.safe_child(DEFAULT_OUT, "compare", f"{comp.run.run_id}--{'-vs-'.join(comp.scenarios)}")


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def _render_html(comp: Comparison, path: Path) -> str | None:
    """Write the comparison page; returns a message instead of raising when reports/ cannot."""
    try:
        from reports import render_comparison
    except Exception as exc:  # noqa: BLE001 - the HTML page is optional; the tables are written
        return f"HTML page skipped: reports.render_comparison is not available ({exc})"
    names = comp.scenarios
    run_id = comp.run.run_id
    national = comp.run.table("national", names).assign(run=run_id)
    regional = comp.run.table("regional", names).assign(run=run_id)
    tps = comp.run.table("turning_points", names).assign(run=run_id)
    wide = (comp.parameters.pivot_table(index="parameter", columns="scenario", values="value", aggfunc="first")
            .reindex(columns=names).reset_index()) if len(comp.parameters) else comp.parameters
    try:
        render_comparison(national, regional, tps, wide, path, f"gridcast: {' vs '.join(names)} (run {run_id})")
    except Exception as exc:  # noqa: BLE001 - a broken page must not lose the tables
        return f"HTML page skipped: reports.render_comparison failed ({type(exc).__name__}: {exc})"
    return None


def write_comparison(comp: Comparison, out: Path | None = None, html: bool = True) -> tuple[Path, list[str]]:
    """Write every table as Parquet and CSV (UTF-8) and the HTML page; returns (folder, notes).

    Each file is written atomically; files of an earlier comparison in the same folder
    are replaced.
    """
    folder = Path(out) if out is not None else _default_out(comp)
    folder.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    for name, frame in comp.tables().items():
        outputs.write_parquet(outputs.safe_child(folder, f"{name}.parquet"), frame)
        outputs.atomic_write_bytes(outputs.safe_child(folder, f"{name}.csv"), _csv_bytes(frame))
    if html:
        msg = _render_html(comp, outputs.safe_child(folder, "comparison.html"))
        if msg:
            notes.append(msg)
    return folder, notes

