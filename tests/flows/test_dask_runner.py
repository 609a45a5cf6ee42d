"""Scale-out: a run on prefect-dask's DaskTaskRunner equals a local run, table for table.

Both runs use every shipped scenario (so the Dask run really fans out) with few draws and
the same seed. The first test lets the runner start its own LocalCluster on 127.0.0.1;
the second starts a LocalCluster here and passes its address, as `--dask-address` does.
Timings go to test-artifacts/ops/dask_runner.json (not asserted: timings vary with the machine).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import duckdb
import pytest

pytest.importorskip("prefect_dask")

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "ops"
DRAWS = 20
SEED = 11

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():  # noqa: ANN201
    """One BLAS thread here and in the Dask workers (they inherit the environment)."""
    from threadpoolctl import threadpool_limits

    old = os.environ.get("OPENBLAS_NUM_THREADS")
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    with threadpool_limits(limits=1, user_api="blas"):
        yield
    if old is None:
        os.environ.pop("OPENBLAS_NUM_THREADS", None)
    else:
        os.environ["OPENBLAS_NUM_THREADS"] = old


def _run(base: Path, name: str, **runner: str) -> tuple[Path, float]:
    from flows.pipeline import RunParams, run_pipeline

    params = RunParams(draws=DRAWS, seed=SEED, out=base / name, warehouse=base / f"{name}.duckdb", **runner)
    t0 = time.perf_counter()
    out = run_pipeline(params)
    return out, time.perf_counter() - t0


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    return _run(tmp_path_factory.mktemp("dask"), "local")


def _assert_same_tables(left: Path, right: Path) -> list[str]:
    names = sorted(p.stem for p in left.glob("*.parquet"))
    assert names == sorted(p.stem for p in right.glob("*.parquet"))
    exprs = {n: (f"read_parquet('{left / n}.parquet')", f"read_parquet('{right / n}.parquet')") for n in names}
    for part in ("forecast", "regional"):
        exprs[part] = tuple(f"read_parquet('{d / part}/**/*.parquet', hive_partitioning=true)"
                            for d in (left, right))
    with duckdb.connect() as con:
        for name, (a, b) in exprs.items():
            n_a = con.execute(f"SELECT count(*) FROM {a}").fetchone()[0]
            n_b = con.execute(f"SELECT count(*) FROM {b}").fetchone()[0]
            diff = con.execute(f"SELECT count(*) FROM ((SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}) "
                               f"UNION ALL (SELECT * FROM {b} EXCEPT ALL SELECT * FROM {a}))").fetchone()[0]
            assert (n_a, diff) == (n_b, 0), name
            assert n_a > 0, name
    return sorted(exprs)


def _save(key: str, figures: dict) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "dask_runner.json"
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    data[key] = figures
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    print(f"\n{key}: {figures}")


def test_dask_local_cluster_run_equals_local_run(local_run: tuple[Path, float], tmp_path: Path) -> None:
    local_dir, local_s = local_run
    dask_dir, dask_s = _run(tmp_path, "dask", runner="dask")
    tables = _assert_same_tables(local_dir, dask_dir)
    with duckdb.connect() as con:
        scenarios = con.execute(f"SELECT count(DISTINCT scenario) FROM read_parquet('{dask_dir}/national.parquet')"
                                ).fetchone()[0]
    assert scenarios == len(list((ROOT / "data" / "scenarios").glob("*.toml")))
    _save("own_local_cluster", {"draws": DRAWS, "scenarios": scenarios, "tables": len(tables),
                                "local_s": round(local_s, 1), "dask_s": round(dask_s, 1)})


def test_dask_address_of_a_running_cluster(local_run: tuple[Path, float], tmp_path: Path) -> None:
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=40) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        dask_dir, dask_s = _run(tmp_path, "dask_addr", runner="dask", dask_address=address)
    _assert_same_tables(local_run[0], dask_dir)
    _save("existing_cluster", {"draws": DRAWS, "dask_s": round(dask_s, 1)})
