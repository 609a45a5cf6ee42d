"""Cost of one scenario's forecast (``flows.compute.run_scenario``), single-threaded, shipped data.

Every shipped scenario on the shipped data (31 provinces, 2024-2035), 1,000 draws by
default: central run, draws, every summary table, costs, coincident peaks, hours. Each
scenario is timed alone on one thread; the figure is the best of ``--repeat`` passes.
Before each pass the per-run caches (candidate peak hours, profile shares) are emptied,
so the first scenario carries what a run computes once, as in a fresh process.
Goal (issue 10): at most 0.2 s per scenario, 2.5 s for the ten shipped scenarios.

The baseline is flat at each region's last observed consumption (+-5 % as its 80 %
interval): the baseline fit is not part of this cost (see bench_baseline.py).

    .venv/bin/python benchmarks/bench_scenario.py [--draws 1000] [--repeat 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from flows import compute, hours
from flows.compute import fleet_from_inputs, run_scenario
from flows.scenarios import load_scenarios
from flows.validate import load_inputs
from models.summarize import Baseline

ROOT = Path(__file__).resolve().parent.parent


def _clear_caches() -> None:
    for cache in (getattr(hours, "_CANDIDATES", None), getattr(hours, "_PROFILES", None), getattr(hours, "_SHARE_DIGEST", None),
                  getattr(compute, "_PROFILES", None)):
        if cache is not None:
            cache.clear()
    if hasattr(hours, "_region_arrow"):
        hours._region_arrow.cache_clear()


def main() -> None:
    """Run the benchmark and print per-scenario and total seconds."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=20241)
    ap.add_argument("--workers", type=int, default=0,
                    help="also time all scenarios on this many threads, as the pipeline runs them (0: skip)")
    args = ap.parse_args()

    inputs = load_inputs(ROOT / "data" / "default")
    fleet = fleet_from_inputs(inputs)
    scenarios = [s.scenario for s in load_scenarios(None)]
    last = inputs.demand_history.groupby("region_id")["consumption_twh"].last()
    baselines = {}
    for s in scenarios:
        level = last.reindex(fleet.region_ids).to_numpy()[:, None] * np.ones(len(s.years))
        baselines[s.name] = Baseline(level, level * 0.95, level * 1.05)
    best: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for _ in range(args.repeat):
        _clear_caches()
        for s in scenarios:
            t0, c0 = time.perf_counter(), time.process_time()
            run_scenario(inputs, s, baselines[s.name], n_draws=args.draws, seed=args.seed, fleet=fleet)
            best[s.name] = min(best.get(s.name, np.inf), time.perf_counter() - t0)
            cpu[s.name] = min(cpu.get(s.name, np.inf), time.process_time() - c0)
    print(f"run_scenario, {args.draws} draws, one thread, best of {args.repeat} (s; CPU = this process' CPU "
          "time, steadier than wall time on a shared machine):")
    print(f"  {'scenario':<24} {'wall':>6} {'CPU':>6}")
    for name, sec in best.items():
        print(f"  {name:<24} {sec:6.3f} {cpu[name]:6.3f}")
    for label, times in (("wall", best), ("CPU", cpu)):
        total = sum(times.values())
        rest = list(times.values())[1:]
        print(f"{label}: total {total:.2f} s for {len(times)} scenarios, {total / len(times):.3f} s per scenario "
              f"(first {next(iter(times.values())):.3f} s with the once-per-run work, "
              f"others {np.mean(rest) if rest else float('nan'):.3f} s on average)")
    per = sum(best.values()) / len(best)
    print(f"goal <= 0.2 s per scenario (wall): {'MET' if per <= 0.2 else 'MISSED'} ({per:.3f} s)")
    if args.workers:
        walls = []
        for _ in range(args.repeat):
            _clear_caches()
            t0 = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.workers) as pool:
                list(pool.map(lambda s: run_scenario(inputs, s, baselines[s.name], n_draws=args.draws, seed=args.seed,
                                                     fleet=fleet), scenarios))
            walls.append(time.perf_counter() - t0)
        print(f"all {len(scenarios)} scenarios on {args.workers} threads: {min(walls):.2f} s wall (best of {args.repeat})")


if __name__ == "__main__":
    main()
