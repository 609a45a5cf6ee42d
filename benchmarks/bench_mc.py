"""Monte Carlo speed: draws x 31 regions x 17 years x scenarios, on the shipped data.

Prints a table of wall time per (draws, scenarios) and the fitted exponent of
cost against draws (1.0 = linear). Goal (issue 3): 10,000 draws x 31 regions x
17 years x 6 scenarios in under 10 s on a 2-core machine.

    .venv/bin/python benchmarks/bench_mc.py [--draws 1000 10000] [--scenarios 6]
"""

from __future__ import annotations

import argparse
import resource
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from flows.compute import fleet_from_inputs, run_scenario
from flows.scenarios import load_scenarios
from flows.validate import load_inputs
from models.summarize import Baseline

ROOT = Path(__file__).resolve().parent.parent


def _one(fleet, s, inputs, n_draws: int, baseline: Baseline) -> None:  # noqa: ANN001
    """Everything a scenario costs in a run: draws, simulation, every quantile table."""
    run_scenario(inputs, s, baseline, n_draws=n_draws, seed=1, fleet=fleet)


def _time_once(fleet, scenarios, inputs, n_draws: int, workers: int, baseline: Baseline) -> float:  # noqa: ANN001
    t0 = time.perf_counter()
    # the pipeline submits scenarios to Prefect's thread pool; numpy releases the GIL in its
    # heavy loops, so two threads use both cores of this machine
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda s: _one(fleet, s, inputs, n_draws, baseline), scenarios))
    return time.perf_counter() - t0


def main() -> None:
    """Run the benchmark and print its table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--draws", type=int, nargs="+", default=[1000, 3000, 10000])
    ap.add_argument("--scenarios", type=int, default=6)
    ap.add_argument("--end-year", type=int, default=2040, help="17 years from 2024 by default")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="threads, as Prefect's default task runner")
    args = ap.parse_args()

    inputs = load_inputs(ROOT / "data" / "default")
    fleet = fleet_from_inputs(inputs)
    loaded = load_scenarios(None)
    base = [s.scenario for s in loaded]
    scenarios = []
    for i in range(args.scenarios):
        s = base[i % len(base)]
        horizon = s.horizon.model_copy(update={"end_year": args.end_year})
        scenarios.append(s.model_copy(update={"horizon": horizon, "name": f"{s.name}-{i}"}))
    n_years = args.end_year - scenarios[0].horizon.base_year + 1
    last = inputs.demand_history.groupby("region_id")["consumption_twh"].last()
    level = last.reindex(fleet.region_ids).to_numpy()[:, None] * np.ones(n_years)
    baseline = Baseline(level, level * 0.95, level * 1.05)  # flat: the baseline is not timed here
    print(f"regions={len(fleet.region_ids)} years={n_years} scenarios={len(scenarios)} workers={args.workers} "
          f"(shapes: draws x {len(fleet.region_ids)} x {n_years} x 3 workloads)")
    print(f"{'draws':>8} {'wall_s(best)':>13} {'us/draw/scn':>12}")
    rows = []
    for n in args.draws:
        best = min(_time_once(fleet, scenarios, inputs, n, args.workers, baseline) for _ in range(args.repeat))
        rows.append((n, best))
        print(f"{n:>8} {best:>13.2f} {1e6 * best / n / len(scenarios):>12.1f}")
    if len(rows) > 1:
        x = np.log([r[0] for r in rows])
        y = np.log([r[1] for r in rows])
        slope = np.polyfit(x, y, 1)[0]
        print(f"fitted exponent of wall time vs draws: {slope:.2f} (1.00 = linear)")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak_mb:.0f} MB")
    goal = dict(rows).get(10000)
    if goal is not None:
        verdict = "MET" if goal < 10 else "MISSED"
        print(f"goal 10,000 draws x {len(scenarios)} scenarios < 10 s: {goal:.2f} s -> {verdict}")


if __name__ == "__main__":
    main()
