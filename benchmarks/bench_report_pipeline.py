"""Report cost of the "Known projects" section for long project lists.

Builds a synthetic pipeline table (projects x 12 years x scenarios; random stage, size and
online year) over the 31 synthetic provinces of the report tests and times
``reports.section_pipeline.section``. Prints seconds per size and the fitted exponent of
cost against rows (1.0 = linear).

    .venv/bin/python benchmarks/bench_report_pipeline.py [--projects 10000 100000] [--scenarios 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "reports"))

from report_synthetic import make_inputs  # noqa: E402

from reports.section_pipeline import STAGES, section  # noqa: E402

YEARS = np.arange(2024, 2036)


def pipeline(n: int, scenarios: list[str], regions: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """``n`` projects x 12 years x scenarios, expected = half of requested."""
    rng = np.random.default_rng(seed)
    mw = rng.uniform(1, 300, n)
    online = rng.integers(2025, 2034, n)
    share = np.clip((YEARS[None, :] + 1 - online[:, None]) / 2, 0, 1)
    one = pd.DataFrame(
        {
            "project_id": np.repeat([f"P{i}" for i in range(n)], len(YEARS)),
            "region_id": np.repeat(rng.choice(regions, n), len(YEARS)),
            "stage": np.repeat(rng.choice(STAGES, n), len(YEARS)),
            "year": np.tile(YEARS, n),
            "requested_it_mw": (mw[:, None] * share).ravel(),
            "it_capacity_mw": np.repeat(mw, len(YEARS)),
        }
    )
    one["expected_it_mw"] = 0.5 * one["requested_it_mw"]
    one["expected_it_energy_twh"] = one["expected_it_mw"] * 0.5 * 8.76e-3
    one["name"] = one["project_id"]
    one["source"] = "synthetic"
    return pd.concat([one.assign(scenario=s) for s in scenarios], ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--scenarios", type=int, default=2)
    args = parser.parse_args()
    inputs = make_inputs(n_scenarios=args.scenarios, n_regions=31)
    scenarios = [str(s) for s in pd.unique(inputs.regional["scenario"])]
    regions = inputs.regions["region_id"].to_numpy()
    sizes, seconds = [], []
    print(f"{'projects':>10} {'rows':>12} {'section s':>10}")
    for n in args.projects:
        pipe = pipeline(n, scenarios, regions)
        start = time.perf_counter()
        section(dataclasses.replace(inputs, pipeline=pipe))
        took = time.perf_counter() - start
        sizes.append(len(pipe))
        seconds.append(took)
        print(f"{n:>10,} {len(pipe):>12,} {took:>10.2f}")
    if len(sizes) > 1:
        slope = np.polyfit(np.log(sizes), np.log(seconds), 1)[0]
        print(f"cost ~ rows^{slope:.2f}")


if __name__ == "__main__":
    main()
