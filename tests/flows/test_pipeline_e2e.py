"""End to end: the real `gridcast` console script, real Prefect flows, a real DuckDB file,
real Parquet read back with DuckDB, on the shipped data.

Expected values are recomputed here from the Parquet with plain Python (the rules of docs/methodology.md),
independently of the code that wrote them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
GRIDCAST = [sys.executable, "-m", "flows.cli"]
DRAWS = 64
PLANNED = "data/examples/planned_ningxia.csv"  # a planner's own project, added with --planned

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _run(args: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(GRIDCAST + args, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=env, check=False)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("e2e")
    out = base / "out"
    res = _run(["run", "--draws", str(DRAWS), "--seed", "7", "--out", str(out),
                "--warehouse", str(base / "wh.duckdb"), "--planned", PLANNED])
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Traceback" not in res.stderr
    return out


def _q(sql: str, *params: object) -> list[tuple]:
    with duckdb.connect() as con:
        return con.execute(sql, list(params)).fetchall()


def test_every_output_is_written(run_dir: Path) -> None:
    for name in ("forecast", "regional"):
        assert list((run_dir / name).glob("scenario=*/*.parquet")), name
    for name in ("national", "turning_points", "baseline", "backtest", "run"):
        suffix = ".json" if name == "run" else ".parquet"
        assert (run_dir / f"{name}{suffix}").is_file(), name
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html")
    assert not list(run_dir.rglob("*.tmp")), "a temporary file was left behind"


def test_forecast_contract_columns_and_stats(run_dir: Path) -> None:
    glob = str(run_dir / "forecast" / "**" / "*.parquet")
    cols = [r[0] for r in _q(f"DESCRIBE SELECT * FROM read_parquet('{glob}', hive_partitioning=true)")]
    assert sorted(cols) == sorted(["scenario", "region_id", "year", "workload", "stat", "it_energy_twh",
                                   "facility_energy_twh", "avg_load_mw", "pue_effective"])
    stats = {r[0] for r in _q(f"SELECT DISTINCT stat FROM read_parquet('{glob}', hive_partitioning=true)")}
    assert stats == {"central", "p10", "p50", "p90"}
    years = _q(f"SELECT min(year), max(year), count(DISTINCT region_id) FROM read_parquet('{glob}', hive_partitioning=true)")
    assert years[0] == (2024, 2035, 31)
    # avg MW = TWh * 1e6 / 8760 on every row
    bad = _q(f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning=true) "
             "WHERE abs(avg_load_mw - facility_energy_twh * 1e6 / 8760) > 1e-6 * (1 + avg_load_mw)")
    assert bad[0][0] == 0
    # central facility = IT * pue_effective, with one pue_effective per region-year
    bad = _q(f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning=true) WHERE stat = 'central' "
             "AND abs(facility_energy_twh - it_energy_twh * pue_effective) > 1e-9")
    assert bad[0][0] == 0
    spread = _q(f"SELECT max(n) FROM (SELECT count(DISTINCT round(pue_effective, 12)) AS n FROM "
                f"read_parquet('{glob}', hive_partitioning=true) WHERE stat='central' GROUP BY scenario, region_id, year)")
    assert spread[0][0] == 1
    # quantiles ordered
    order = _q(f"""
        WITH w AS (PIVOT (SELECT scenario, region_id, year, workload, stat, facility_energy_twh
                          FROM read_parquet('{glob}', hive_partitioning=true))
                   ON stat USING first(facility_energy_twh))
        SELECT count(*) FROM w WHERE NOT (p10 <= p50 + 1e-9 AND p50 <= p90 + 1e-9)""")
    assert order[0][0] == 0


def test_regional_and_national_agree(run_dir: Path) -> None:
    reg = str(run_dir / "regional" / "**" / "*.parquet")
    nat = str(run_dir / "national.parquet")
    cols = [r[0] for r in _q(f"DESCRIBE SELECT * FROM read_parquet('{reg}', hive_partitioning=true)")]
    assert sorted(cols) == sorted(["scenario", "region_id", "year", "stat", "facility_energy_twh", "peak_load_mw",
                                   "baseline_twh", "total_twh", "compute_share", "pipeline_it_energy_twh",
                                   "pipeline_added_it_twh"])
    rows = _q(f"""
        SELECT r.scenario, r.year, sum(r.facility_energy_twh) AS f, any_value(n.facility_energy_twh) AS nf
        FROM read_parquet('{reg}', hive_partitioning=true) r
        JOIN read_parquet('{nat}') n USING (scenario, year, stat)
        WHERE stat = 'central' GROUP BY ALL""")
    assert rows
    for _, _, f, nf in rows:
        assert abs(f - nf) <= 1e-9 * max(1.0, nf)
    # total = baseline + F - F(t0) and share = F / total, central rows, computed here
    bad = _q(f"""
        WITH r AS (SELECT * FROM read_parquet('{reg}', hive_partitioning=true) WHERE stat='central'),
             b AS (SELECT scenario, region_id, facility_energy_twh AS f0 FROM r WHERE year = 2024)
        SELECT count(*) FROM r JOIN b USING (scenario, region_id)
        WHERE abs(total_twh - (baseline_twh + facility_energy_twh - f0)) > 1e-9
           OR abs(compute_share - facility_energy_twh / total_twh) > 1e-12""")
    assert bad[0][0] == 0


def _online(year: int, start: float, ramp: float) -> float:
    return min(1.0, max(0.0, (year + 1 - start) / ramp))


def test_pipeline_table_matches_a_hand_calculation(run_dir: Path) -> None:
    meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert meta["parameters"]["planned"] == [PLANNED] and f"--planned {PLANNED}" in meta["inputs_sha256"]
    glob = str(run_dir / "pipeline" / "**" / "*.parquet")
    rows = _q(f"SELECT scenario, year, stage, requested_it_mw, expected_it_mw, expected_it_energy_twh "
              f"FROM read_parquet('{glob}', hive_partitioning=true) "
              "WHERE project_id = 'example-nx-zhongwei-ai-1' ORDER BY scenario, year")
    assert {r[0] for r in rows} == set(meta["scenarios"]) and len(rows) == 12 * len(meta["scenarios"])
    for scn, year, stage, requested, expected, energy in rows:
        pipe = meta["scenarios"][scn]["resolved"]["pipeline"]
        p, delay = pipe["realisation"][stage][1], pipe["delay_years"][stage][1]
        ramp, util = pipe["ramp_years"][1], pipe["utilization"][1]
        assert requested == pytest.approx(300 * _online(year, 2027, ramp), abs=1e-9)
        assert expected == pytest.approx(p * 300 * _online(year, 2027 + delay, ramp), abs=1e-9)
        assert energy == pytest.approx(expected * util * 8.76e-3, abs=1e-12)
    # the regional pipeline column is the sum of the region's planned rows (central run)
    reg = str(run_dir / "regional" / "**" / "*.parquet")
    bad = _q(f"""
        WITH p AS (SELECT scenario, region_id, year, sum(expected_it_energy_twh) AS e
                   FROM read_parquet('{glob}', hive_partitioning=true) GROUP BY ALL)
        SELECT count(*) FROM read_parquet('{reg}', hive_partitioning=true) r
        LEFT JOIN p USING (scenario, region_id, year)
        WHERE r.stat = 'central' AND abs(r.pipeline_it_energy_twh - coalesce(p.e, 0)) > 1e-12""")
    assert bad[0][0] == 0


def _rise_start(series: list[float], years: list[int], threshold: float = 0.05) -> int | None:
    growth = []
    for prev, cur in zip(series[:-1], series[1:], strict=True):
        growth.append(0.0 if prev == 0 and cur == 0 else (float("inf") if prev == 0 else cur / prev - 1))
    for i in range(len(growth)):
        window = growth[i:i + 3]
        if all(g >= threshold for g in window):
            return years[i + 1]
    return None


def test_turning_points_match_a_hand_recomputation(run_dir: Path) -> None:
    nat = _q(f"SELECT scenario, year, facility_energy_twh FROM read_parquet('{run_dir / 'national.parquet'}') "
             "WHERE stat='central' ORDER BY scenario, year")
    tps = {r[0]: r[1:] for r in _q(f"SELECT scenario, shape, rise_start, flat_until FROM "
                                   f"read_parquet('{run_dir / 'turning_points.parquet'}') WHERE region_id='ALL'")}
    by_scn: dict[str, list[tuple[int, float]]] = {}
    for scn, year, f in nat:
        by_scn.setdefault(scn, []).append((year, f))
    assert set(by_scn) == set(tps)
    for scn, pts in by_scn.items():
        years = [p[0] for p in pts]
        f = [p[1] for p in pts]
        start = _rise_start(f, years)
        shape, rise, flat = tps[scn]
        assert rise == start, scn
        if start is None:
            assert shape == ("declining" if f[-1] < f[0] else "flat")
            assert flat is None
        else:
            assert shape == ("rising" if start == years[0] + 1 else "flat-then-rising")
            assert flat == start - 1


def test_reference_lands_inside_published_figures(run_dir: Path) -> None:
    """Issue 2: base year 100-200 TWh (IEA 102, CAICT ~140); 2030 within 277 (IEA) - 600 (GS)."""
    rows = dict(_q(f"SELECT year, facility_energy_twh FROM read_parquet('{run_dir / 'national.parquet'}') "
                   "WHERE scenario='reference' AND stat='central'"))
    assert 100 <= rows[2024] <= 200
    assert 277 <= rows[2030] <= 600
    # observed: internet data services electricity +30.9% (2024), +43.3% (Jan-Nov 2025):
    # the reference must not show a flat 2025.
    assert rows[2025] / rows[2024] - 1 >= 0.2


def test_run_metadata_and_warehouse(run_dir: Path) -> None:
    meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert meta["state"] == "COMPLETED"
    assert set(meta["inputs_sha256"]) >= {"regions.csv", "hub_nodes.csv", "compute_centers.csv",
                                         "pue_assumptions.csv", "demand_history.csv", "load_shapes.csv"}
    assert meta["parameters"]["draws"] == DRAWS
    wh = run_dir.parent / "wh.duckdb"
    with duckdb.connect(str(wh), read_only=True) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        assert {"raw_compute_centers", "core_compute_centers", "core_regions", "out_runs"} <= tables
        n = con.execute("SELECT count(*) FROM core_regions").fetchone()[0]
        assert n == 31
        state = con.execute("SELECT state FROM out_runs WHERE run_id = ?", [meta["run_id"]]).fetchone()
        assert state == ("COMPLETED",)


def test_bad_input_is_refused_in_one_line_and_warehouse_kept(tmp_path: Path) -> None:
    wh = tmp_path / "wh.duckdb"
    good = ROOT / "data" / "default"
    res = _run(["ingest", "--data", str(good), "--warehouse", str(wh)])
    assert res.returncode == 0, res.stderr[-2000:]
    with duckdb.connect(str(wh), read_only=True) as con:
        before = con.execute("SELECT * FROM core_compute_centers ORDER BY center_id").fetchall()
    bad = tmp_path / "bad"
    shutil.copytree(good, bad)
    lines = (bad / "compute_centers.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    col = header.index("utilization")
    cells = lines[3].split(",")
    cells[col] = "1.4"
    lines[3] = ",".join(cells)
    (bad / "compute_centers.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = _run(["ingest", "--data", str(bad), "--warehouse", str(wh)])
    assert res.returncode == 2
    assert "Traceback" not in res.stderr + res.stdout
    err_lines = [ln for ln in res.stderr.splitlines() if ln.startswith("gridcast: invalid input")]
    assert len(err_lines) == 1, res.stderr
    msg = err_lines[0]
    assert "compute_centers.csv" in msg and "row 4" in msg and "utilization" in msg
    with duckdb.connect(str(wh), read_only=True) as con:
        after = con.execute("SELECT * FROM core_compute_centers ORDER BY center_id").fetchall()
    assert after == before


def test_hourly_profiles_sum_to_the_annual_tables(run_dir: Path) -> None:
    """hourly/: default years, every province, energies and peaks equal the regional table's."""
    hourly = str(run_dir / "hourly" / "**" / "*.parquet")
    reg = str(run_dir / "regional" / "**" / "*.parquet")
    shape = _q(f"SELECT count(DISTINCT scenario), list(DISTINCT year ORDER BY year), count(DISTINCT region_id), "
               f"max(hour) FROM read_parquet('{hourly}', hive_partitioning=true)")
    assert shape[0][1:] == ([2024, 2030, 2035], 31, 8759)
    worst = _q(f"""
        WITH h AS (SELECT scenario, region_id, year, sum(compute_load_mw) / 1e6 AS f, sum(total_load_mw) / 1e6 AS t,
                          max(compute_load_mw) AS pk
                   FROM read_parquet('{hourly}', hive_partitioning=true) GROUP BY ALL)
        SELECT max(abs(h.f - r.facility_energy_twh)), max(abs(h.t - r.total_twh) / r.total_twh),
               max(abs(h.pk - r.peak_load_mw)), count(*)
        FROM h JOIN read_parquet('{reg}', hive_partitioning=true) r USING (scenario, region_id, year)
        WHERE r.stat = 'central'""")[0]
    assert worst[0] < 1e-9 and worst[1] < 1e-12 and worst[2] < 1e-6 and worst[3] == shape[0][0] * 31 * 3
    limits = _q(f"SELECT list(DISTINCT curtailment_limit ORDER BY curtailment_limit), min(headroom_mw) "
                f"FROM read_parquet('{run_dir / 'headroom.parquet'}')")[0]
    assert limits[0] == [0.0025, 0.005, 0.01] and limits[1] >= 0
    stats = _q(f"SELECT list(DISTINCT stat ORDER BY stat) FROM read_parquet('{run_dir / 'peaks.parquet'}')")[0][0]
    assert stats == ["central", "p10", "p50", "p90"]
