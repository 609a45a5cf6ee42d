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
* ``compare_costs`` (when the run has a ``costs`` table): national electricity cost,
  emissions and green-supplied energy with the differences to the base scenario
  (``flows.compare_costs``).

The run folder is read as written by ``gridcast run`` (Parquet + ``run.json``);
nothing in it is modified.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from flows import outputs
from flows.compare_costs import cost_comparison
from flows.errors import GridcastError
from flows.settings import DEFAULT_OUT

__all__ = [
    "COMPARE_METRICS",
    "COMPARE_STATS",
    "COMPARE_TABLES",
    "compare_items",
    "Comparison",
    "RunFolder",
    "compare_scenarios",
    "describe_run",
    "find_run",
    "flatten_parameters",
    "national_summary",
    "open_run",
    "region_text",
    "summary_text",
    "write_comparison",
]

COMPARE_STATS = ("central", "p10", "p90")
# Compared columns of national and regional: one line each (a column a run lacks is skipped);
# the differences are named <stem>_diff_<unit> and <stem>_diff_rel.
COMPARE_METRICS: tuple[str, ...] = ("facility_energy_twh", "peak_load_mw", "total_twh")
# Further run tables compared the same way, written as compare_<table>: one line each,
# table -> (key columns, compared columns). A table some item lacks is left out.
COMPARE_TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "coincident_peak": (("region_id", "year"), ("system_peak_with_compute_mw", "peak_increment_mw")),
}
# The ScenarioOutputs field holding a table, where its name differs from the run table's.
OUTPUT_FIELDS: dict[str, str] = {"coincident_peak": "coincident"}
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

    def has_table(self, name: str) -> bool:
        """True if the run wrote ``name`` (a partitioned folder or one Parquet file)."""
        return (self.path / name).is_dir() or (self.path / f"{name}.parquet").is_file()

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


def find_run(spec: str | Path | None, root: Path | None = None) -> RunFolder:
    """The run named by ``spec``: a run folder, ``latest``, a run id or a unique prefix of one.

    Ids are looked up under ``root/runs`` (default ``outputs/runs``); None means ``root/latest``.

    Raises:
        GridcastError: nothing matches, or a prefix matches several runs.
    """
    root = Path(root) if root is not None else DEFAULT_OUT
    if spec is None or str(spec) == "latest":
        return open_run(root / "latest")
    path = Path(spec)
    if (path / "run.json").is_file() or path.is_dir() or "/" in str(spec):
        return open_run(path)
    runs = root / "runs"
    if (runs / str(spec) / "run.json").is_file():
        return open_run(runs / str(spec))
    hits = sorted(p for p in runs.glob(f"{spec}*") if (p / "run.json").is_file()) if runs.is_dir() else []
    if len(hits) == 1:
        return open_run(hits[0])
    if len(hits) > 1:
        raise GridcastError(f"--run {spec!r} matches {len(hits)} runs ({', '.join(h.name for h in hits[:5])}); "
                            "give more of the id")
    raise GridcastError(f"--run {spec!r}: no such run folder, and no run id under {runs} starts with it "
                        "(`gridcast runs` lists them)")


def describe_run(run: RunFolder, defaulted: bool = False) -> str:
    """One line saying which run a command reads: id, folder, scenarios, draws, finish time.

    ``defaulted`` says the run came from ``outputs/latest`` because no ``--run`` was given.
    """
    params = run.meta.get("parameters", {}) or {}
    when = run.meta.get("finished_at") or run.meta.get("started_at") or "time not recorded"
    where = f"{run.path.resolve()}" + (f" (default {run.path}; pass --run to choose)" if defaulted else "")
    names = run.scenarios
    return (f"reading run {run.run_id} from {where}: {len(names)} scenario(s) {', '.join(names)}; "
            f"{params.get('draws', '?')} draws; finished {when}")


def open_run(path: Path | None) -> RunFolder:
    """The run folder at ``path`` (default ``outputs/latest``), checked to hold a ``run.json``."""
    path = Path(path) if path is not None else DEFAULT_OUT / "latest"
    meta_file = path / "run.json"
    if not meta_file.is_file():
        raise GridcastError(
            f"{path} is not a gridcast run folder (no run.json); run `gridcast run` first or pass --run DIR"
        )
    try:
        meta = json.loads(meta_file.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise GridcastError(f"cannot read {meta_file}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} "
                            f"at offset {exc.start}); it is not a run record gridcast wrote") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise GridcastError(f"cannot read {meta_file}: {exc}") from None
    if not isinstance(meta, dict):
        raise GridcastError(f"cannot read {meta_file}: it holds a JSON {type(meta).__name__}, not a run "
                            "record (a JSON object with run_id, scenarios...)")
    if not isinstance(meta.get("scenarios", {}), dict):
        raise GridcastError(f"cannot read {meta_file}: 'scenarios' must be an object of scenario names")
    return RunFolder(path=path, meta=meta)


def _with_differences(frame: pd.DataFrame, keys: list[str], bases: dict[str, str],
                      metrics: list[str]) -> pd.DataFrame:
    """Add ``base_scenario`` (each item's base) and each metric's difference to the base's value."""
    out = frame.assign(base_scenario=frame["scenario"].map(bases).astype("string"))
    ref = frame[["scenario", *keys, *metrics]].rename(columns={"scenario": "base_scenario",
                                                             **{m: f"{m}_base" for m in metrics}})
    merged = out.merge(ref, on=["base_scenario", *keys], how="left", validate="many_to_one")
    for metric in metrics:
        diff, rel = _diff_names(metric)
        b = merged[f"{metric}_base"].to_numpy(float)
        d = merged[metric].to_numpy(float) - b
        out[diff] = d
        out[rel] = pd.Series(d, index=out.index).div(pd.Series(b, index=out.index).where(b != 0))
    return out


def _diff_names(metric: str) -> tuple[str, str]:
    """``facility_energy_twh`` -> (``facility_energy_diff_twh``, ``facility_energy_diff_rel``)."""
    stem, unit = metric.rsplit("_", 1)
    return f"{stem}_diff_{unit}", f"{stem}_diff_rel"


def _order(frame: pd.DataFrame, names: list[str], keys: list[str]) -> pd.DataFrame:
    rank = {n: i for i, n in enumerate(names)}
    stat_rank = {s: i for i, s in enumerate(COMPARE_STATS)}
    stat = frame["stat"].map(stat_rank) if "stat" in frame.columns else 0
    return (frame.assign(_s=frame["scenario"].map(rank), _t=stat)
            .sort_values(["_s", *[k for k in keys if k != "stat"], "_t"], kind="stable")
            .drop(columns=["_s", "_t"]).reset_index(drop=True))


def _stacked(items: list[Any], table: str) -> pd.DataFrame:
    """One table of every item, its ``scenario`` column holding the item's label."""
    frames = [i.tables[table].assign(scenario=i.label) for i in items]
    return pd.concat(frames, ignore_index=True).astype({"scenario": "string"})


def _energy_table(items: list[Any], table: str, keys: list[str], metrics: tuple[str, ...] = COMPARE_METRICS
                  ) -> pd.DataFrame:
    raw = _stacked(items, table)
    if "stat" in keys:
        raw = raw.astype({"stat": "string"})
        raw = raw.loc[raw["stat"].isin(COMPARE_STATS)]
    present = [m for m in metrics if m in raw.columns]
    raw = raw[["scenario", *keys, *present]]
    if "region_id" in raw.columns:
        raw = raw.astype({"region_id": "string"})
    out = _with_differences(raw, keys, {i.label: i.base for i in items}, present)
    cols = ["scenario", "base_scenario", *keys]
    for metric in present:
        cols += [metric, *_diff_names(metric)]
    return _order(out[cols], [i.label for i in items], keys)


def _extra_tables(items: list[Any]) -> dict[str, pd.DataFrame]:
    """``compare_<table>`` for each table of COMPARE_TABLES that every item has."""
    out = {}
    for name, (keys, metrics) in COMPARE_TABLES.items():
        if all(i.tables.get(name) is not None and not i.tables[name].empty for i in items):
            out[f"compare_{name}"] = _energy_table(items, name, list(keys), metrics)
    return out


def _turning_table(items: list[Any]) -> pd.DataFrame:
    tp = _stacked(items, "turning_points").astype({"region_id": "string", "shape": "string"})
    tp = tp[["scenario", "region_id", "shape", "rise_start", "flat_until"]]
    tp.insert(1, "base_scenario", tp["scenario"].map({i.label: i.base for i in items}).astype("string"))
    base = tp[["scenario", "region_id", "shape", "rise_start"]].rename(
        columns={"scenario": "base_scenario", "shape": "base_shape", "rise_start": "base_rise_start"})
    out = tp.merge(base, on=["base_scenario", "region_id"], how="left", validate="many_to_one")
    for col in ("rise_start", "flat_until", "base_rise_start"):
        out[col] = out[col].astype("Int64")
    out["rise_start_shift_years"] = out["rise_start"] - out["base_rise_start"]
    out["same_shape"] = (out["shape"] == out["base_shape"]).astype("boolean")
    rank = {i.label: k for k, i in enumerate(items)}
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


def _parameter_table(items: list[Any]) -> pd.DataFrame:
    """Parameters whose value differs between the items: one row per key and item."""
    flat = {i.label: flatten_parameters(i.resolved) for i in items}
    names = [i.label for i in items]
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


def _sources_table(items: list[Any]) -> pd.DataFrame:
    rows = [{"scenario": i.label, "base_scenario": i.base, "scenario_name": i.scenario, "source": i.source,
             "run_id": i.run.run_id if i.run is not None else pd.NA,
             "run_dir": str(i.run.path.resolve()) if i.run is not None else pd.NA,
             "file": str(i.file) if i.file is not None else pd.NA,
             "draws": i.draws} for i in items]
    return pd.DataFrame(rows).astype({"scenario": "string", "base_scenario": "string", "scenario_name": "string",
                                      "source": "string", "run_id": "string", "run_dir": "string",
                                      "file": "string", "draws": "Int64"})


@dataclass
class Comparison:
    """The comparison tables, the items compared and the run they were read from."""

    run: RunFolder
    scenarios: list[str]
    national: pd.DataFrame
    regional: pd.DataFrame
    turning_points: pd.DataFrame
    parameters: pd.DataFrame
    sources: pd.DataFrame | None = None
    sensitivity: pd.DataFrame | None = None
    extra: dict[str, pd.DataFrame] = field(default_factory=dict)
    items: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        """``compare_*`` name -> table, in the order they are written."""
        out = {"compare_national": self.national, "compare_regional": self.regional,
               "compare_turning_points": self.turning_points, "compare_parameters": self.parameters}
        out.update(self.extra)
        if self.sources is not None:
            out["compare_sources"] = self.sources
        if self.sensitivity is not None and not self.sensitivity.empty:
            out["compare_sensitivity"] = self.sensitivity
        return out


def compare_items(sources: Any) -> Comparison:
    """Compare the items of a :class:`flows.compare_sources.SourceSet`, each with its base."""
    from flows.export import run_regions

    items = sources.items
    names = run_regions(sources.default_run).with_names  # English and Chinese province names
    return Comparison(
        run=sources.default_run, scenarios=[i.label for i in items],
        national=_energy_table(items, "national", ["year", "stat"]),
        regional=names(_energy_table(items, "regional", ["region_id", "year", "stat"])),
        turning_points=names(_turning_table(items)),
        parameters=_parameter_table(items),
        sources=_sources_table(items), extra={k: names(v) for k, v in _extra_tables(items).items()},
        items=list(items), notes=list(sources.notes),
    )


def compare_scenarios(run: RunFolder, names: list[str]) -> Comparison:
    """Compare scenarios of one run; the first name is the base of every difference.

    Raises:
        GridcastError: fewer than two distinct names, or a name the run does not hold.
    """
    from flows.compare_sources import SourceSet, _run_item

    if len(names) < 2:
        raise GridcastError("compare needs at least two scenarios, e.g. `gridcast compare reference efficiency_led`")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise GridcastError(f"scenario {dupes[0]!r} is named twice")
    run.check_scenarios(names)
    items = [_run_item(run, n) for n in names]
    for i in items:
        i.base = names[0]
    return compare_items(SourceSet(items=items, default_run=run, runs=[run]))


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
    return _with_costs(pd.DataFrame(rows), cost_comparison(comp.run, comp.scenarios), year)


def _with_costs(summary: pd.DataFrame, costs: pd.DataFrame | None, year: int) -> pd.DataFrame:
    """Add ``cost_mid_bn_cny`` and ``emissions_mid_mt_co2`` (central, ``year``) when the run has costs."""
    if costs is None:
        return summary
    at = costs.loc[(costs["year"] == year) & (costs["stat"] == "central")].set_index("scenario")
    return summary.assign(cost_mid_bn_cny=summary["scenario"].map(at["electricity_cost_bn_cny"]),
                          emissions_mid_mt_co2=summary["scenario"].map(at["emissions_mt_co2"]))


def _fmt(x: float, spec: str) -> str:
    if pd.isna(x):
        return "–"
    if spec.endswith("%") and abs(x) < 0.0005:
        return "±0.0%"  # not "-0.0%": a rounding sign would read as a real change
    return format(x, spec)


def _grid(head: list[str], body: list[list[str]]) -> list[str]:
    widths = [max(len(str(row[i])) for row in [head, *body]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return [line(head), rule, *(line(b) for b in body)]


def _vs(comp: Comparison) -> str:
    bases = {i.base for i in comp.items} if comp.items else {comp.scenarios[0]}
    return f"vs {comp.scenarios[0]}" if bases == {comp.scenarios[0]} else "vs base"


def summary_text(comp: Comparison, year: int = 2030) -> str:
    """The compact national table printed to stdout (pipe-separated, pastes as Markdown)."""
    s = national_summary(comp, year)
    ends = sorted(set(s["end_year"]))
    end_label = f"{ends[0]}" if len(ends) == 1 else "end year"
    vs = _vs(comp)
    head = ["scenario", f"{year} TWh", f"{year} p10-p90", f"Δ{year} {vs}",
            f"{end_label} TWh", f"Δ{end_label} {vs}", "national shape", "rise_start"]
    bases = {i.label: i.base for i in comp.items}
    body = []
    for r in s.itertuples(index=False):
        band = ("–" if pd.isna(r.p10_mid_twh) else f"{r.p10_mid_twh:,.0f}-{r.p90_mid_twh:,.0f}")
        end_cell = _fmt(r.facility_energy_end_twh, ",.1f") + ("" if len(ends) == 1 else f" ({r.end_year})")
        is_base = bases.get(r.scenario, comp.scenarios[0]) == r.scenario
        body.append([r.scenario, _fmt(r.facility_energy_mid_twh, ",.1f"), band,
                     "base" if is_base else _fmt(r.diff_mid_rel, "+.1%"), end_cell,
                     "base" if is_base else _fmt(r.diff_end_rel, "+.1%"), r.shape or "–",
                     "–" if pd.isna(r.rise_start) else str(int(r.rise_start))])
        if "cost_mid_bn_cny" in s.columns:
            body[-1] += [_fmt(r.cost_mid_bn_cny, ",.1f"), _fmt(r.emissions_mid_mt_co2, ",.1f")]
    if "cost_mid_bn_cny" in s.columns:
        head += [f"{year} cost bn CNY", f"{year} CO2 Mt"]
    title = (f"National compute-centre facility electricity, central run (TWh/yr); run {comp.run.run_id}")
    return "\n".join([title, *_grid(head, body)])


def region_text(comp: Comparison, region_ids: list[str], labels: dict[str, str], year: int = 2030) -> str:
    """Province tables for the console: central TWh and peak MW, differences to the base (absolute and %).

    ``labels`` maps a region id to its display name (``Ningxia 宁夏 (CN-NX)``).
    """
    reg = comp.regional
    reg = reg.loc[reg["stat"] == "central"]
    tp = comp.turning_points
    blocks = []
    vs = _vs(comp)
    bases = {i.label: i.base for i in comp.items}
    for rid in region_ids:
        part = reg.loc[reg["region_id"] == rid]
        if part.empty:
            blocks.append(f"{labels.get(rid, rid)}: not in the compared runs")
            continue
        end = int(part["year"].max())
        head = ["scenario", f"{year} TWh", f"Δ{year} {vs} TWh", "Δ%", f"{end} TWh", f"Δ{end} TWh", "Δ%",
                f"{end} peak MW", "Δ peak MW", "shape", "rise_start"]
        body = []
        for s in comp.scenarios:
            rows = part.loc[part["scenario"] == s].set_index("year")

            def v(y: int, col: str, rows: pd.DataFrame = rows) -> float:
                return float(rows.loc[y, col]) if y in rows.index else float("nan")

            base = bases.get(s, comp.scenarios[0]) == s
            t = tp.loc[(tp["scenario"] == s) & (tp["region_id"] == rid)]
            dash = "base" if base else None
            body.append([
                s, _fmt(v(year, "facility_energy_twh"), ",.2f"),
                dash or _fmt(v(year, "facility_energy_diff_twh"), "+,.2f"),
                dash or _fmt(v(year, "facility_energy_diff_rel"), "+.1%"),
                _fmt(v(end, "facility_energy_twh"), ",.2f"),
                dash or _fmt(v(end, "facility_energy_diff_twh"), "+,.2f"),
                dash or _fmt(v(end, "facility_energy_diff_rel"), "+.1%"),
                _fmt(v(end, "peak_load_mw"), ",.0f"), dash or _fmt(v(end, "peak_load_diff_mw"), "+,.0f"),
                str(t["shape"].iloc[0]) if len(t) else "–",
                "–" if t.empty or pd.isna(t["rise_start"].iloc[0]) else str(int(t["rise_start"].iloc[0])),
            ])
        blocks.append("\n".join([f"{labels.get(rid, rid)}: compute-centre electricity, central run", 
                                 *_grid(head, body)]))
    return "\n\n".join(blocks)


def _default_out(comp: Comparison) -> Path:
    from flows.compare_sources import folder_name

    # the run id is used as is, so safe_child refuses one that would leave outputs/compare
    return outputs.safe_child(DEFAULT_OUT, "compare", f"{comp.run.run_id}--{folder_name(comp.scenarios)}")


def _render_html(comp: Comparison, path: Path) -> str | None:
    """Write the comparison page; returns a message instead of raising when reports/ cannot."""
    try:
        from reports.compare_page import render_difference_page
    except Exception as exc:  # noqa: BLE001 - the HTML page is optional; the tables are written
        return f"HTML page skipped: reports.compare_page is not available ({exc})"
    try:
        from flows.export import run_regions

        names = run_regions(comp.run)
        render_difference_page(comp.tables(), names.names, path,
                               f"gridcast: {' vs '.join(comp.scenarios)} (run {comp.run.run_id})")
    except Exception as exc:  # noqa: BLE001 - a broken page must not lose the tables
        return f"HTML page skipped: the comparison page failed ({type(exc).__name__}: {exc})"
    return None


def write_comparison(comp: Comparison, out: Path | None = None, html: bool = True) -> tuple[Path, list[str]]:
    """Write every table as Parquet and CSV (UTF-8, text cells inert) and the HTML page; returns (folder, notes).

    Each file is written atomically; files of an earlier comparison in the same folder
    are replaced. A run folder is refused as the target.
    """
    from flows.export_write import csv_bytes

    folder = Path(out) if out is not None else _default_out(comp)
    for parent in (folder.resolve(), *folder.resolve().parents):
        if (parent / "run.json").is_file():
            raise GridcastError(f"--out {folder} is inside a gridcast run folder ({parent}); choose another")
    folder.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    tables = comp.tables()
    costs = cost_comparison(comp.run, comp.scenarios)
    if costs is not None:
        tables["compare_costs"] = costs
    for name, frame in tables.items():
        outputs.write_parquet(outputs.safe_child(folder, f"{name}.parquet"), frame)
        outputs.atomic_write_bytes(outputs.safe_child(folder, f"{name}.csv"), csv_bytes(frame))
    if html:
        msg = _render_html(comp, outputs.safe_child(folder, "comparison.html"))
        if msg:
            notes.append(msg)
    return folder, notes
