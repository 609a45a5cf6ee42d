"""Scale benchmark: synthetic fleets of 1k, 100k and 1M compute centres over the 31 shipped regions.

For each fleet size, every step runs in its own subprocess so its wall time and peak RSS
are its own:

* ingest: ``load_inputs`` (read + validate) and ``store_inputs`` (DuckDB), in process;
* forecast: ``flows.compute.run_scenario`` on the stored inputs, 1,000 and 10,000 draws
  (the forecast works on region aggregates, so its cost should be ~flat in centres);
* export: writing the run's output tables to Parquet as ``write_outputs_task`` does
  (``hub_assignment`` has one row per centre);
* end to end: ``gridcast run --draws 1000|5000 --scenario data/scenarios/reference.toml``
  (real CLI, real Prefect), with the per-stage timings the run records in ``run.json``.

And the floors, in the same run: DuckDB alone loading the same centres CSV into a table
and writing it to Parquet, and an empty Prefect flow run in a subprocess with gridcast's
Prefect settings (``flows.settings.configure_prefect``).

Goals (issue 7): 1M centres end to end within 2x the floors added up; peak RSS under 2 GB;
cost linear in centres and in draws (fitted log-log exponents printed).

    .venv/bin/python benchmarks/bench.py            # 1k, 100k, 1M (~10-15 min on 2 cores)
    .venv/bin/python benchmarks/bench.py --quick    # 1k and 100k
    .venv/bin/python benchmarks/bench.py --profile ingest --sizes 1000000   # cProfile one step
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "default"
SCENARIO = ROOT / "data" / "scenarios" / "reference.toml"
MARK = "BENCH-RESULT "
GB = 1024**3
sys.path.insert(0, str(ROOT))
from flows.settings import MAX_DRAWS  # noqa: E402 - the CLI's cap on --draws (memory)

# --------------------------------------------------------------------------- synthetic data


def synthetic_folder(folder: Path, n: int, seed: int = 7) -> Path:
    """A data folder: the shipped files, with ``compute_centers.csv`` replaced by ``n`` centres.

    Centres are spread over the 31 shipped regions near each region's coordinates; the
    total IT capacity equals the shipped fleet's, so forecasts stay plausible at any n.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pacsv

    folder.mkdir(parents=True, exist_ok=True)
    for path in DATA.glob("*.csv"):
        shutil.copy2(path, folder / path.name)
    regions = pd.read_csv(DATA / "regions.csv")
    hubs = pd.read_csv(DATA / "hub_nodes.csv")
    shipped_mw = pd.read_csv(DATA / "compute_centers.csv")["it_capacity_mw"].sum()
    rng = np.random.default_rng(seed)
    r = rng.integers(0, len(regions), n)
    cap = rng.lognormal(0.0, 1.0, n)
    has_xy = rng.random(n) > 0.1
    lat = np.where(has_xy, regions["lat"].to_numpy()[r] + rng.normal(0, 0.5, n), np.nan)
    lon = np.where(has_xy, regions["lon"].to_numpy()[r] + rng.normal(0, 0.5, n), np.nan)
    hub = np.where(rng.random(n) < 0.05, hubs["hub_id"].to_numpy()[rng.integers(0, len(hubs), n)], None)
    own_pue = np.where(rng.random(n) < 0.2, np.round(rng.uniform(1.1, 1.6, n), 3), np.nan)
    year = np.where(rng.random(n) < 0.5, rng.integers(2000, 2025, n), -1)
    ids = np.char.add("C", np.char.zfill(np.arange(n).astype(str), 7))
    table = pa.table({
        "center_id": ids,
        "name": np.char.add("Synthetic centre ", np.arange(n).astype(str)),
        "region_id": regions["region_id"].to_numpy()[r],
        "lat": pa.array(np.round(lat, 5), from_pandas=True),
        "lon": pa.array(np.round(lon, 5), from_pandas=True),
        "hub_id": pa.array(hub, type=pa.string()),
        "size_class": np.where(rng.random(n) < 0.3, "small_medium", "large"),
        "it_capacity_mw": np.round(cap * shipped_mw / cap.sum(), 6),
        "utilization": np.round(rng.uniform(0.3, 0.9, n), 4),
        "ai_share": np.round(rng.uniform(0.0, 0.6, n), 4),
        "training_share": np.round(rng.uniform(0.0, 1.0, n), 4),
        "pue": pa.array(own_pue, from_pandas=True),
        "commissioning_year": pa.array(np.where(year < 0, None, year), type=pa.int64()),
    })
    pacsv.write_csv(table, folder / "compute_centers.csv",
                    pacsv.WriteOptions(quoting_style="needed", include_header=True))
    return folder


# --------------------------------------------------------------------------- worker steps
# Each runs in a fresh subprocess and prints one MARK line of JSON.


def _flat_baseline(inputs, fleet, years):  # noqa: ANN001, ANN202
    from models.summarize import Baseline

    hist = inputs.demand_history
    last = hist.sort_values("year").groupby("region_id")["consumption_twh"].last()
    level = last.reindex(list(fleet.region_ids)).to_numpy(float)[:, None] * np.ones(len(years))
    return Baseline(level, level * 0.95, level * 1.05)


def step_ingest(args: argparse.Namespace) -> dict:
    from flows.validate import load_inputs
    from flows.warehouse import store_inputs

    t0 = time.perf_counter()
    tables = load_inputs(Path(args.data))
    t1 = time.perf_counter()
    store_inputs(Path(args.warehouse), tables)
    t2 = time.perf_counter()
    return {"validate_s": t1 - t0, "store_s": t2 - t1}


def step_forecast(args: argparse.Namespace) -> dict:
    from flows import outputs
    from flows.compute import fleet_from_inputs, run_scenario
    from flows.scenarios import load_scenarios
    from flows.warehouse import read_inputs
    from models.hubs import assign_hubs

    t0 = time.perf_counter()
    inputs = read_inputs(Path(args.warehouse))
    t1 = time.perf_counter()
    fleet = fleet_from_inputs(inputs)
    t2 = time.perf_counter()
    loaded = load_scenarios(SCENARIO)[0]
    base = _flat_baseline(inputs, fleet, loaded.scenario.years)
    t3 = time.perf_counter()
    res = run_scenario(inputs, loaded.scenario, base, n_draws=args.draws, seed=1, fleet=fleet)
    t4 = time.perf_counter()
    out = {"read_s": t1 - t0, "fleet_s": t2 - t1, "run_scenario_s": t4 - t3}
    if args.export:
        hubs = assign_hubs(inputs.compute_centers, inputs.hub_nodes, loaded.scenario.hubs.assignment_radius_km[1])
        hubs.insert(0, "scenario", loaded.name)
        t5 = time.perf_counter()
        folder = Path(args.out)
        tables = {"forecast": res.forecast, "regional": res.regional, "national": res.national,
                  "turning_points": res.turning_points, "sensitivity": res.sensitivity,
                  "hub_assignment": hubs}
        for name, frame in tables.items():
            if name in ("forecast", "regional"):
                outputs.write_partitioned(folder / name, frame, "scenario")
            elif frame is not None and not frame.empty:
                outputs.write_parquet(folder / f"{name}.parquet", frame)
        t6 = time.perf_counter()
        out |= {"hub_assignment_s": t5 - t4, "export_s": t6 - t5}
    return out


def step_duckdb_floor(args: argparse.Namespace) -> dict:
    import duckdb

    csv = Path(args.data) / "compute_centers.csv"
    t0 = time.perf_counter()
    with duckdb.connect(args.warehouse) as con:
        con.execute("CREATE OR REPLACE TABLE centers AS SELECT * FROM read_csv(?, header = true)", [str(csv)])
        t1 = time.perf_counter()
        con.execute(f"COPY centers TO '{Path(args.out) / 'centers.parquet'}' (FORMAT parquet)")
    t2 = time.perf_counter()
    return {"load_s": t1 - t0, "parquet_s": t2 - t1}


def step_prefect_floor(args: argparse.Namespace) -> dict:
    from flows.settings import configure_prefect

    configure_prefect()
    from prefect import flow

    @flow
    def noop() -> None:
        pass

    t0 = time.perf_counter()
    noop()
    return {"flow_s": time.perf_counter() - t0}


STEPS = {"ingest": step_ingest, "forecast": step_forecast, "duckdb_floor": step_duckdb_floor,
         "prefect_floor": step_prefect_floor}


def worker(args: argparse.Namespace) -> None:
    import resource

    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        result = prof.runcall(STEPS[args.worker], args)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
    else:
        result = STEPS[args.worker](args)
    result["self_peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(MARK + json.dumps(result), flush=True)


# --------------------------------------------------------------------------- measuring


def measure(cmd: list[str], env: dict[str, str] | None = None, echo: bool = False) -> dict:
    """Run ``cmd``; wall time, peak RSS of its whole process tree (psutil, 20 ms polls)."""
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=None if echo else subprocess.PIPE,
                            text=True, env=env or os.environ.copy(), start_new_session=True)
    peak = 0
    ps = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            tree = [ps, *ps.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.02)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{(err or '')[-3000:]}")
    result = {"wall_s": wall, "tree_peak_rss": peak}
    for line in out.splitlines():
        if line.startswith(MARK):
            result |= json.loads(line[len(MARK):])
    return result


def run_step(step: str, **kw: object) -> dict:
    cmd = [sys.executable, __file__, "--worker", step]
    for k, v in kw.items():
        if v is True:
            cmd.append(f"--{k}")
        elif v is not None and v is not False:
            cmd += [f"--{k}", str(v)]
    return measure(cmd)


def run_cli(data: Path, warehouse: Path, out: Path, draws: int) -> dict:
    cmd = [sys.executable, "-m", "flows.cli", "run", "--draws", str(draws), "--scenario", str(SCENARIO),
           "--data", str(data), "--out", str(out), "--overwrite", "--warehouse", str(warehouse)]
    res = measure(cmd)
    meta = json.loads((out / "run.json").read_text(encoding="utf-8"))
    res["stages"] = meta.get("timings_s", {})
    return res


# --------------------------------------------------------------------------- reporting


def _mb(b: float) -> str:
    return f"{b / 2**20:,.0f}"


def exponent(xs: list[float], ys: list[float]) -> float:
    """Slope of log(y) against log(x): 1.0 = linear, 0 = flat."""
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def print_table(rows: list[tuple[str, str, dict, str]]) -> None:
    print(f"\n{'centres':>9} | {'step':<34} | {'wall s':>7} | {'peak RSS MB':>11} | detail")
    print(f"{'-' * 9}-+-{'-' * 34}-+-{'-' * 7}-+-{'-' * 11}-+-{'-' * 40}")
    for size, step, res, detail in rows:
        rss = max(res.get("tree_peak_rss", 0), res.get("self_peak_rss", 0))
        print(f"{size:>9} | {step:<34} | {res['wall_s']:>7.2f} | {_mb(rss):>11} | {detail}")


def _fmt_stages(stages: dict) -> str:
    return " ".join(f"{k}={v:.1f}" for k, v in stages.items())


def bench(sizes: list[int], keep: bool) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="gridcast-bench-"))
    rows: list[tuple[str, str, dict, str]] = []
    results: dict[int, dict[str, dict]] = {}
    try:
        print("warming up Prefect (first start sets up its database) ...", flush=True)
        run_step("prefect_floor")
        prefect = min((run_step("prefect_floor") for _ in range(2)), key=lambda r: r["wall_s"])
        rows.append(("-", "floor: empty Prefect flow (process)", prefect, f"flow call {prefect['flow_s']:.2f} s"))
        for n in sizes:
            print(f"{n:,} centres ...", flush=True)
            data = synthetic_folder(tmp / f"data-{n}", n)
            mb = (data / "compute_centers.csv").stat().st_size / 2**20
            wh = tmp / f"wh-{n}.duckdb"
            r: dict[str, dict] = {}
            r["duckdb"] = run_step("duckdb_floor", data=data, warehouse=tmp / f"floor-{n}.duckdb", out=tmp)
            r["ingest"] = run_step("ingest", data=data, warehouse=wh)
            r["fc1k"] = run_step("forecast", warehouse=wh, draws=1000, export=True, out=tmp / f"export-{n}")
            r["fc10k"] = run_step("forecast", warehouse=wh, draws=10000)
            r["e2e1k"] = run_cli(data, tmp / f"cli-{n}.duckdb", tmp / f"run-{n}-1k", 1000)
            # the CLI caps --draws at MAX_DRAWS (5000: memory, docs/operations.md section 13)
            r["e2e10k"] = run_cli(data, tmp / f"cli-{n}.duckdb", tmp / f"run-{n}-5k", MAX_DRAWS)
            results[n] = r
            size = f"{n:,}"
            rows += [
                (size, "floor: DuckDB CSV -> table -> Parquet", r["duckdb"],
                 f"load {r['duckdb']['load_s']:.2f} s, parquet {r['duckdb']['parquet_s']:.2f} s ({mb:.0f} MB CSV)"),
                (size, "ingest (validate + store)", r["ingest"],
                 f"validate {r['ingest']['validate_s']:.2f} s, store {r['ingest']['store_s']:.2f} s"),
                (size, "forecast 1,000 draws + export", r["fc1k"],
                 f"read {r['fc1k']['read_s']:.2f}, fleet {r['fc1k']['fleet_s']:.2f}, "
                 f"run_scenario {r['fc1k']['run_scenario_s']:.2f}, hubs {r['fc1k']['hub_assignment_s']:.2f}, "
                 f"export {r['fc1k']['export_s']:.2f} s"),
                (size, "forecast 10,000 draws", r["fc10k"],
                 f"read {r['fc10k']['read_s']:.2f}, fleet {r['fc10k']['fleet_s']:.2f}, "
                 f"run_scenario {r['fc10k']['run_scenario_s']:.2f} s"),
                (size, "gridcast run --draws 1000 (CLI)", r["e2e1k"], _fmt_stages(r["e2e1k"]["stages"])),
                (size, f"gridcast run --draws {MAX_DRAWS} (CLI)", r["e2e10k"], _fmt_stages(r["e2e10k"]["stages"])),
            ]
    finally:
        if keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print_table(rows)
    verdicts(sizes, results, prefect)


def verdicts(sizes: list[int], results: dict[int, dict[str, dict]], prefect: dict) -> None:
    print("\nscaling (log-log exponent; 1.0 = linear, 0 = flat):")
    if len(sizes) > 1:
        # Fixed costs (Python imports, Prefect) flatten the fit over all sizes; the exponent
        # between the two largest sizes shows how the per-centre work grows.
        top = sizes[-2:]
        series = {
            "ingest wall": [results[n]["ingest"]["wall_s"] for n in sizes],
            "  validate": [results[n]["ingest"]["validate_s"] for n in sizes],
            "  store": [results[n]["ingest"]["store_s"] for n in sizes],
            "run_scenario (1k draws)": [results[n]["fc1k"]["run_scenario_s"] for n in sizes],
            "hub assignment (per centre)": [results[n]["fc1k"]["hub_assignment_s"] for n in sizes],
            "export to Parquet": [results[n]["fc1k"]["export_s"] for n in sizes],
            "end to end (1k draws) wall": [results[n]["e2e1k"]["wall_s"] for n in sizes],
        }
        print(f"  {'':<32} {'all sizes':>10} {f'{top[0]:,}->{top[1]:,}':>18}")
        for label, ys in series.items():
            print(f"  {label:<32} {exponent(sizes, ys):>10.2f} {exponent(top, ys[-2:]):>18.2f}")
    for n in sizes:
        r = results[n]
        print(f"  {'run_scenario 1k -> 10k draws':<40} at {n:,}: "
              f"{exponent([1000, 10000], [r['fc1k']['run_scenario_s'], r['fc10k']['run_scenario_s']]):.2f}"
              f"; CLI forecast stage: {exponent([1000, MAX_DRAWS], [r['e2e1k']['stages'].get('forecast', 1e-9), r['e2e10k']['stages'].get('forecast', 1e-9)]):.2f}")
    big = max(sizes)
    r = results[big]
    floors = r["duckdb"]["wall_s"] + prefect["wall_s"]
    e2e = r["e2e1k"]["wall_s"]
    print("\ngoals:")
    print(f"  {big:,} centres end to end {e2e:.1f} s vs 2 x floors (DuckDB {r['duckdb']['wall_s']:.1f} s + "
          f"Prefect {prefect['wall_s']:.1f} s = {floors:.1f} s) -> limit {2 * floors:.1f} s: "
          f"{'MET' if e2e <= 2 * floors else 'MISSED'} ({e2e / floors:.2f}x floors)")
    peak = max(max(v.get("tree_peak_rss", 0), v.get("self_peak_rss", 0)) for v in r.values())
    print(f"  peak RSS at {big:,} centres (largest step, whole process tree) {peak / GB:.2f} GB < 2 GB: "
          f"{'MET' if peak < 2 * GB else 'MISSED'}")
    if len(sizes) > 1:
        top = sizes[-2:]
        for key, label in (("ingest", "ingest"), ("e2e1k", "end to end")):
            slope = exponent(top, [results[n][key]["wall_s"] for n in top])
            print(f"  {label} at most linear in centres ({top[0]:,}->{top[1]:,} exponent <= 1.1): {slope:.2f} -> "
                  f"{'MET' if slope <= 1.1 else 'MISSED'}")
    slope = exponent([1000, 10000], [r["fc1k"]["run_scenario_s"], r["fc10k"]["run_scenario_s"]])
    print(f"  forecast linear in draws at {big:,} (exponent <= 1.1): {slope:.2f} -> {'MET' if slope <= 1.1 else 'MISSED'}")


def main() -> None:
    """Parse arguments; run the benchmark, or one worker step."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1k and 100k centres only")
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=None,
                    help="comma-separated fleet sizes (default 1000,100000,1000000)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--profile", choices=sorted(STEPS), default=None,
                    help="cProfile one step (top 30 by cumulative time) at the first --sizes size")
    ap.add_argument("--worker", choices=sorted(STEPS), default=None, help=argparse.SUPPRESS)
    for name in ("data", "warehouse", "out"):
        ap.add_argument(f"--{name}", help=argparse.SUPPRESS)
    ap.add_argument("--draws", type=int, default=1000, help=argparse.SUPPRESS)
    ap.add_argument("--export", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return
    sizes = args.sizes or ([1000, 100_000] if args.quick else [1000, 100_000, 1_000_000])
    if args.profile:
        _profile(args.profile, sizes[0])
        return
    bench(sizes, args.keep)


def _profile(step: str, n: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="gridcast-profile-"))
    try:
        data = synthetic_folder(tmp / "data", n)
        wh = tmp / "wh.duckdb"
        if step == "forecast":
            run_step("ingest", data=data, warehouse=wh)
        cmd = [sys.executable, __file__, "--worker", step, "--profile", step, "--data", str(data),
               "--warehouse", str(wh), "--out", str(tmp), "--export"]
        print(measure(cmd, echo=True))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
