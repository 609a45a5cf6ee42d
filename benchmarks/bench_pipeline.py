"""Cost of the project pipeline: N planned rows x D draws, against the same run without them.

Both runs happen in this process, on the same fleet (the shipped data, or a synthetic fleet
of ``--centres`` centres), with the reference scenario: ``run_scenario`` (central run, draws,
every summary table, sensitivity, the pipeline table). Wall time is the best of
``--repeat``; peak RSS is the process high-water mark (VmHWM), reset before each measured
step through /proc/self/clear_refs (Linux), so each step's peak is its own.
Goal (issue 10): 100,000 planned rows x 1,000 draws linear in rows, peak RSS < 2 GB at
1M centres plus 100k planned rows.

    .venv/bin/python benchmarks/bench_pipeline.py                      # 100k rows, 1,000 draws
    .venv/bin/python benchmarks/bench_pipeline.py --rows 10000 100000 --centres 1000000
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flows.compute import fleet_from_inputs, run_scenario  # noqa: E402
from flows.planned import add_planned_files  # noqa: E402
from flows.scenarios import SHIPPED_SCENARIOS, resolve_scenario  # noqa: E402
from flows.validate import load_inputs  # noqa: E402
from models.pipeline_params import STAGES  # noqa: E402
from models.summarize import Baseline  # noqa: E402


def _hwm_reset() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def planned_csv(path: Path, n: int, regions: pd.DataFrame, hubs: pd.DataFrame, seed: int = 3) -> Path:
    """``n`` synthetic planned rows over the regions: random stages, years 2025-2034, a third with hubs."""
    rng = np.random.default_rng(seed)
    r = rng.integers(0, len(regions), n)
    has_xy = rng.random(n) < 0.7
    lat = np.where(has_xy, regions["lat"].to_numpy()[r] + rng.normal(0, 0.5, n), np.nan)
    lon = np.where(has_xy, regions["lon"].to_numpy()[r] + rng.normal(0, 0.5, n), np.nan)
    frame = pd.DataFrame({
        "project_id": np.char.add("PLN", np.char.zfill(np.arange(n).astype(str), 7)),
        "name": "synthetic project",
        "region_id": regions["region_id"].to_numpy()[r],
        "lat": np.round(lat, 5),
        "lon": np.round(lon, 5),
        "hub_id": np.where(rng.random(n) < 0.1, hubs["hub_id"].to_numpy()[rng.integers(0, len(hubs), n)], None),
        "it_capacity_mw": np.round(rng.lognormal(2.0, 1.0, n), 3),
        "utilization": np.where(rng.random(n) < 0.5, np.round(rng.uniform(0.3, 0.9, n), 3), np.nan),
        "ai_share": np.round(rng.uniform(0, 1, n), 3),
        "training_share": np.round(rng.uniform(0, 1, n), 3),
        "stage": np.asarray(STAGES)[rng.integers(0, len(STAGES), n)],
        "online_year": rng.integers(2025, 2035, n),
        "source": "benchmark",
    })
    frame.to_csv(path, index=False)
    return path


def _flat_baseline(inputs, fleet, years) -> Baseline:  # noqa: ANN001
    last = inputs.demand_history.sort_values("year").groupby("region_id")["consumption_twh"].last()
    level = last.reindex(list(fleet.region_ids)).to_numpy(float)[:, None] * np.ones(len(years))
    return Baseline(level, level * 0.95, level * 1.05)


def _measure(fn, repeat: int) -> tuple[float, float, object]:  # noqa: ANN001
    best, peak, out = float("inf"), 0.0, None
    for _ in range(repeat):
        _hwm_reset()
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
        peak = max(peak, _hwm_mb())
    return best, peak, out


def main() -> None:
    """Print wall time and peak RSS with and without the pipeline."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000])
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--centres", type=int, default=0, help="0: the shipped fleet; else a synthetic fleet")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data = ROOT / "data" / "default"
        if args.centres:
            sys.path.insert(0, str(ROOT / "benchmarks"))
            from bench import synthetic_folder

            data = synthetic_folder(Path(tmp) / "data", args.centres)
        inputs = load_inputs(data)
        inputs = dataclasses.replace(inputs, planned_centers=None, raw={})
        scenario = resolve_scenario(SHIPPED_SCENARIOS / "reference.toml").scenario
        fleet = fleet_from_inputs(inputs)
        base = _flat_baseline(inputs, fleet, scenario.years)
        print(f"fleet: {len(inputs.compute_centers):,} centres, {len(fleet.region_ids)} regions, "
              f"{len(scenario.years)} years, {args.draws} draws, scenario reference")

        def plain():  # noqa: ANN202
            return run_scenario(inputs, scenario, base, n_draws=args.draws, seed=1, fleet=fleet)

        wall0, peak0, _ = _measure(plain, args.repeat)
        print(f"{'planned rows':>12} {'validate_s':>10} {'fleet_s':>8} {'run_s':>8} {'run/plain':>9} "
              f"{'peak_MB':>8} {'plain_run_s':>11} {'plain_peak_MB':>13}")
        rows_out = []
        for n in args.rows:
            path = planned_csv(Path(tmp) / f"planned_{n}.csv", n, inputs.regions, inputs.hub_nodes)
            t0 = time.perf_counter()
            with_rows = add_planned_files(inputs, [path])
            t_val = time.perf_counter() - t0
            t0 = time.perf_counter()
            fleet_p = fleet_from_inputs(with_rows)
            t_fleet = time.perf_counter() - t0

            def piped(with_rows=with_rows, fleet_p=fleet_p):  # noqa: ANN001, ANN202
                return run_scenario(with_rows, scenario, base, n_draws=args.draws, seed=1, fleet=fleet_p)

            wall, peak, res = _measure(piped, args.repeat)
            assert res.pipeline is not None and len(res.pipeline) == n * len(scenario.years)
            rows_out.append((n, wall))
            print(f"{n:>12,} {t_val:>10.2f} {t_fleet:>8.2f} {wall:>8.2f} {wall / wall0:>9.2f} {peak:>8.0f} "
                  f"{wall0:>11.2f} {peak0:>13.0f}")
        if len(rows_out) > 1:
            x = np.log([r[0] for r in rows_out])
            y = np.log([max(r[1] - wall0, 1e-6) for r in rows_out])
            print(f"fitted exponent of the pipeline's extra wall time vs rows: {np.polyfit(x, y, 1)[0]:.2f} "
                  "(1.00 = linear)")
        print(f"process peak RSS overall: {_hwm_mb():.0f} MB (VmHWM since the last reset)")


if __name__ == "__main__":
    main()
