"""The default run against its floor, side by side in one benchmark run.

Measures, each in a fresh process:

* floor: an empty Prefect flow with gridcast's Prefect settings (``benchmarks/bench.py``'s
  ``prefect_floor`` step);
* ``gridcast run`` as ``make run`` runs it (shipped data with its pipeline, every shipped
  scenario, 1,000 draws), first on an empty warehouse (cold: the baseline's statsmodels
  fits are computed and cached) and then again on the same warehouse (warm: cached);
* the same run without the hourly outputs' cost, by the stage timings it records.

It prints wall time, peak RSS of the process tree, the ratio to the floor (goal <= 1.5),
and the stage timings from ``run.json``. With ``--centres N --planned M`` the data folder is
the shipped one with N synthetic centres and M synthetic planned rows added (the memory goal
of issue 10: peak RSS < 2 GB at 1M centres plus 100k planned rows).

    .venv/bin/python benchmarks/bench_default_run.py [--repeat N]
    .venv/bin/python benchmarks/bench_default_run.py --centres 1000000 --planned 100000 --repeat 0
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import ROOT, measure, run_step  # noqa: E402 - the sibling benchmark's helpers


def _run(warehouse: Path, out: Path, data: Path | None = None) -> dict:
    cmd = [sys.executable, "-m", "flows.cli", "run", "--draws", "1000", "--out", str(out), "--overwrite",
           "--warehouse", str(warehouse)]
    if data is not None:
        cmd += ["--data", str(data)]
    res = measure(cmd)
    meta = json.loads((out / "run.json").read_text(encoding="utf-8"))
    res["stages"] = meta.get("timings_s", {})
    res["report_mb"] = (out / "report.html").stat().st_size / 2**20
    res["out_mb"] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    return res


def _data_folder(folder: Path, centres: int, planned: int) -> Path | None:
    """None (the shipped data), or the shipped data with synthetic centres and planned rows."""
    if not centres and not planned:
        return None
    import shutil

    import pandas as pd
    from bench import synthetic_folder
    from bench_pipeline import planned_csv

    if centres:
        synthetic_folder(folder, centres)
    else:
        shutil.copytree(ROOT / "data" / "default", folder)
    if planned:
        regions, hubs = pd.read_csv(folder / "regions.csv"), pd.read_csv(folder / "hub_nodes.csv")
        planned_csv(folder / "planned_centers.csv", planned, regions, hubs)
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1, help="warm runs to take (the best is reported too)")
    ap.add_argument("--centres", type=int, default=0, help="synthetic centres in place of the shipped fleet")
    ap.add_argument("--planned", type=int, default=0, help="synthetic planned rows added to the pipeline")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="gridcast-bench-") as tmp:
        tmp_path = Path(tmp)
        data = _data_folder(tmp_path / "data", args.centres, args.planned)
        floor = run_step("prefect_floor")
        cold = _run(tmp_path / "wh.duckdb", tmp_path / "cold", data)
        warm = [_run(tmp_path / "wh.duckdb", tmp_path / f"warm{i}", data) for i in range(args.repeat)]
    base = floor["wall_s"]
    print(f"machine: {ROOT}")
    print(f"{'what':44} {'wall s':>8} {'x floor':>8} {'peak RSS MB':>12}")
    rows = [("floor: empty Prefect flow (fresh process)", floor), ("gridcast run, cold warehouse", cold)]
    rows += [(f"gridcast run, warm warehouse #{i + 1}", w) for i, w in enumerate(warm)]
    for name, r in rows:
        print(f"{name:44} {r['wall_s']:8.1f} {r['wall_s'] / base:8.2f} {r['tree_peak_rss'] / 2**20:12,.0f}")
    if not warm:
        return
    best = min(warm, key=lambda r: r["wall_s"])
    print(f"goal: warm run <= 1.5 x floor; best warm {best['wall_s'] / base:.2f} x "
          f"({'met' if best['wall_s'] <= 1.5 * base else 'MISSED'})")
    for name, r in rows[1:]:
        stages = ", ".join(f"{k} {v:.1f}" for k, v in r["stages"].items())
        print(f"{name}: stages (s) {stages}; report {r['report_mb']:.1f} MB, outputs {r['out_mb']:.0f} MB")


if __name__ == "__main__":
    main()
