"""The baseline's fitted paths are kept in the warehouse: reused, or recomputed on change."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from flows.baseline_cache import CACHE_TABLE, breaks_from_table, cache_key, cached_paths


def _history(bump: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    frames = []
    for rid in ("A", "B"):
        steps = 0.05 + 0.03 * rng.standard_normal(9)
        values = 40.0 * np.exp(np.r_[0.0, np.cumsum(steps)])
        frames.append(pd.DataFrame({"region_id": rid, "year": np.arange(2010, 2020),
                                    "consumption_twh": values}))
    hist = pd.concat(frames, ignore_index=True)
    hist.loc[hist.index[-1], "consumption_twh"] *= bump
    return hist


def _rows(warehouse: Path) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"SELECT count(DISTINCT cache_key) FROM {CACHE_TABLE}").fetchone()[0]


def test_second_run_reuses_and_a_changed_history_recomputes(tmp_path: Path) -> None:
    wh = tmp_path / "w.duckdb"
    first, reused = cached_paths(wh, _history(), {}, 4, min_points=8, horizon_backtest=2)
    assert not reused
    again, reused = cached_paths(wh, _history(), {}, 4, min_points=8, horizon_backtest=2)
    assert reused
    pd.testing.assert_frame_equal(first.points.reset_index(drop=True), again.points,
                                  check_dtype=False)
    changed, reused = cached_paths(wh, _history(1.01), {}, 4, min_points=8, horizon_backtest=2)
    assert not reused
    last = changed.points.query("region_id == 'B' and model == 'drift' and origin_year == 2019")
    assert not np.allclose(last["log_pred"], again.points.query(
        "region_id == 'B' and model == 'drift' and origin_year == 2019")["log_pred"])
    assert _rows(wh) == 2


def test_key_depends_on_history_breaks_and_settings() -> None:
    base = cache_key(_history(), {}, 4, 8, 2)
    assert base == cache_key(_history().sample(frac=1, random_state=1), {}, 4, 8, 2)  # row order
    assert base != cache_key(_history(1.0000001), {}, 4, 8, 2)
    assert base != cache_key(_history(), {"A": 2015}, 4, 8, 2)
    assert base != cache_key(_history(), {}, 5, 8, 2)


def test_no_warehouse_computes_without_caching() -> None:
    paths, reused = cached_paths(None, _history(), {}, 3, min_points=8, horizon_backtest=2)
    assert not reused and len(paths.points)


@pytest.mark.parametrize("frame", [None, pd.DataFrame(columns=["region_id", "year"])])
def test_breaks_from_an_absent_table(frame) -> None:  # noqa: ANN001
    assert breaks_from_table(frame, ["A"]) == {}


def test_breaks_from_table_keeps_regions_in_the_history() -> None:
    table = pd.DataFrame({"region_id": ["A", "Z"], "year": [2015, 2019],
                          "reason": ["x", "y"], "source": ["s", "s"]})
    assert breaks_from_table(table, ["A", "B"]) == {"A": 2015}
