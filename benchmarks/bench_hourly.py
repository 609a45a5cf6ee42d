"""Cost of the hours outputs per scenario: hourly profiles, headroom, draw peaks, Parquet size.

On the shipped data (31 provinces, 2024-2035, flat baseline), for one scenario:

* candidate hours: found once per run and seasonal amplitude;
* central hours: the central peaks of every year, the 8,760-hour arrays of the hourly
  years (system load, compute load, water-filling), the ``hourly`` table, the headroom;
* draw peaks: the exact peaks of every draw and year on the candidate hours, against a
  brute-force evaluation over all 8,760 hours (for a few draws, scaled);
* the ``hourly/`` Parquet folder: write time and size on disk.

    .venv/bin/python benchmarks/bench_hourly.py [--draws 1000] [--scenario flexible_training]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from flows import outputs
from flows.compute import all_ranges, fleet_from_inputs, simulate_draws
from flows.hours import (
    _CANDIDATES,
    _candidates,
    _noncompute_twh,
    _profiles,
    _system_peaks,
    hours_tables,
)
from flows.scenarios import load_scenarios
from flows.validate import load_inputs
from models.engine import simulate
from models.hourly import seasonal_modulation
from models.sampling import central_params, draw_params, scenario_seed
from models.summarize import Baseline

ROOT = Path(__file__).resolve().parent.parent


def _best(fn, repeat: int) -> tuple[float, object]:  # noqa: ANN001
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--scenario", default="flexible_training")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    inputs = load_inputs(ROOT / "data" / "default")
    fleet = fleet_from_inputs(inputs)
    sc = next(s.scenario for s in load_scenarios(None) if s.name == args.scenario)
    years = sc.years
    last = inputs.demand_history.groupby("region_id")["consumption_twh"].last()
    level = last.reindex(fleet.region_ids).to_numpy()[:, None] * np.linspace(1.0, 1.3, len(years))
    base = Baseline(level, level * 0.95, level * 1.05)
    ranges = all_ranges(sc, inputs)
    central = simulate(fleet, sc, central_params(ranges))
    draws = simulate_draws(fleet, sc, draw_params(ranges, args.draws, scenario_seed(1, sc.name)))
    z = np.random.default_rng(0).standard_normal((args.draws, len(fleet.region_ids)))

    share, have = _profiles(inputs, fleet.region_ids)
    season = seasonal_modulation(sc.seasonal.pue_amplitude)

    def fresh() -> object:
        _CANDIDATES.clear()
        return _candidates(share, fleet, season)

    t_cand, (_, padded) = _best(fresh, args.repeat)
    t_central, out = _best(lambda: hours_tables(inputs, fleet, sc, base, central, None, None), args.repeat)
    cands = _candidates(share, fleet, season)
    nc_d = _noncompute_twh(base.paths(z), draws.region_facility_twh)
    t_draws, _ = _best(lambda: _system_peaks(cands, nc_d, draws.facility_twh), args.repeat)
    t_all, _ = _best(lambda: hours_tables(inputs, fleet, sc, base, central, draws, z), args.repeat)
    n_hourly_years = out.hourly["year"].nunique()
    print(f"scenario {sc.name}: {len(fleet.region_ids)} provinces, {len(years)} years, "
          f"{n_hourly_years} hourly years, {args.draws} draws")
    print(f"candidate hours, once per run (shared by scenarios with the same seasonal amplitude): {t_cand:.2f} s; "
          f"at most {padded.shape[1]} candidate hours per province")
    print(f"central hours (peaks of every year, 8760-h arrays of the hourly years, water-filling, hourly table, "
          f"headroom): {t_central:.2f} s per scenario")
    print(f"draw peaks, exact on candidate hours ({args.draws} draws x {len(years)} years): "
          f"{t_draws:.2f} s per scenario, {1e3 * t_draws / len(years):.0f} ms per scenario-year; with their "
          f"p10/p50/p90 and every table, hours_tables takes {t_all:.2f} s per scenario")

    k = 5  # brute force over all hours (one BLAS matmul) for k draws, scaled to the full draw count
    hod = np.arange(8760) % 24
    t0 = time.perf_counter()
    nc = np.maximum(base.paths(z[:k]) - draws.region_facility_twh[:k, :, :1], 0.0)
    avg = draws.facility_twh[:k].astype(float).reshape(-1, 3) * (1e6 / 8760)
    comp = (avg @ fleet.load_factors[:, hod]).reshape(*nc.shape, 8760)
    (nc[..., None] * 1e6 * share[None, :, None, :] + comp).max(axis=-1)
    t_brute = (time.perf_counter() - t0) * args.draws / k
    print(f"brute force over 8760 hours, same peaks: ~{t_brute:.1f} s per scenario (scaled from {k} draws): "
          f"candidate hours are ~{t_brute / max(t_draws, 1e-9):.0f}x faster")

    rows = len(out.hourly)
    with tempfile.TemporaryDirectory() as tmp:
        t_write, _ = _best(lambda: outputs.write_partitioned(Path(tmp) / "hourly", out.hourly, "scenario"), 1)
        size = _folder_bytes(Path(tmp) / "hourly")
        small = out.hourly.astype({c: "float32" for c in out.hourly.columns if c.endswith("_mw")})
        outputs.write_partitioned(Path(tmp) / "hourly32", small, "scenario")
        size32 = _folder_bytes(Path(tmp) / "hourly32")
    print(f"hourly table: {rows:,} rows ({rows // n_hourly_years:,} per scenario-year), in memory "
          f"{out.hourly.memory_usage(deep=True).sum() / 1e6:.0f} MB")
    print(f"hourly/ Parquet (float64, as written): {size / 1e6:.1f} MB per scenario, "
          f"{size / 1e6 / n_hourly_years:.1f} MB per scenario-year, written in {t_write:.2f} s "
          f"(float32 would be {size32 / 1e6:.1f} MB)")
    print(f"of the 31 provinces, {int(have.sum())} have an hourly system-load profile")


if __name__ == "__main__":
    main()
