"""Cost of rendering the run report (``flows.report_inputs.build_report``) on the shipped run.

Builds the run's tables in this process the way ``gridcast run`` does, without Prefect:
shipped data with its pipeline, every shipped scenario, 1,000 draws, seed 20241 (the
baseline's fits are cached in ``--warehouse``; the first use of a new warehouse fits them,
a few seconds). Then renders the report into a temporary folder: once as a run does (the
first render in a fresh process pays the one-off costs: templates, plotly.js, validators),
then ``--repeat`` more times. Prints wall and CPU seconds of the first render, the best of
the repeats, and the HTML size. ``--profile`` adds a cProfile of one more render.

    .venv/bin/python benchmarks/bench_report.py [--repeat 3] [--warehouse PATH] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run_tables(warehouse: Path, draws: int = 1000, seed: int = 20241):
    """(inputs, tables, meta) of the shipped run, computed as the pipeline computes them."""
    import flows.pipeline as pipeline
    from flows.baseline_cache import cached_forecast
    from flows.compute import fleet_from_inputs, run_scenario
    from flows.planned import add_planned_files
    from flows.run_sink import RunSink
    from flows.scenarios import load_scenarios
    from flows.validate import load_inputs
    from models.hubs import nearest_hub

    tables = load_inputs(ROOT / "data" / "default")
    scenarios = load_scenarios(None)
    inputs = dataclasses.replace(add_planned_files(tables, ()), raw={})
    base_year = min(s.scenario.horizon.base_year for s in scenarios)
    end_year = max(s.scenario.horizon.end_year for s in scenarios)
    base = cached_forecast(inputs.demand_history, inputs.statistical_breaks, base_year, end_year, warehouse)
    near = nearest_hub(inputs.compute_centers, inputs.hub_nodes)
    fleet = fleet_from_inputs(inputs, near)
    results = [
        run_scenario(inputs, s.scenario, pipeline._align_baseline(base, fleet.region_ids, s.scenario.years),
                     n_draws=draws, seed=seed, threshold=0.05, fleet=fleet, hourly_years=None)
        for s in scenarios
    ]
    hours_notes = list(dict.fromkeys(n for r in results for n in r.hours_notes))
    # the report reads the pipeline as the run hands it over: the lead scenario's rows and
    # the others' stage totals (flows/run_sink.py)
    with tempfile.TemporaryDirectory(prefix="gridcast-bench-report-") as tmp:
        sink = RunSink(Path(tmp), [s.name for s in scenarios])
        for s, r in zip(scenarios, results, strict=True):
            sink.take(s.name, {"pipeline": r.pipeline})
        report_pipeline = sink.report_pipeline()
        sink.abort()
    out = {**pipeline._collect(results, base), "pipeline": report_pipeline}
    meta = {
        "run_id": "bench", "hours_notes": hours_notes,
        "scenarios": {s.name: {"description": s.scenario.description, "chain": list(s.chain),
                               "resolved": s.scenario.model_dump(mode="json")} for s in scenarios},
    }
    return inputs, out, meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="renders after the first (best is printed)")
    parser.add_argument("--warehouse", type=Path, default=None,
                        help="DuckDB file caching the baseline fits (default: a new temporary one)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one more render")
    args = parser.parse_args()

    from flows.report_inputs import build_report

    with tempfile.TemporaryDirectory(prefix="gridcast-bench-report-") as tmp:
        warehouse = args.warehouse or Path(tmp) / "warehouse.duckdb"
        start = time.perf_counter()
        inputs, out, meta = run_tables(warehouse)
        print(f"tables built in {time.perf_counter() - start:.1f} s (not part of the report's cost)")
        folder = Path(tmp) / "run"

        def render() -> tuple[float, float]:
            wall, cpu = time.perf_counter(), time.process_time()
            build_report(folder, inputs, out, meta)
            return time.perf_counter() - wall, time.process_time() - cpu

        first = render()
        size_mb = (folder / "report.html").stat().st_size / 2**20
        repeats = [render() for _ in range(args.repeat)]
        print(f"{'render':<22} {'wall s':>8} {'cpu s':>8}")
        print(f"{'first (as a run)':<22} {first[0]:>8.3f} {first[1]:>8.3f}")
        if repeats:
            best = min(repeats)
            print(f"{f'best of {len(repeats)} more':<22} {best[0]:>8.3f} {min(r[1] for r in repeats):>8.3f}")
        print(f"report.html {size_mb:.2f} MB")
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            build_report(folder, inputs, out, meta)
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
