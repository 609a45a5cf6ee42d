"""Streaming a run's big tables one scenario at a time (flows/run_sink.py, flows/outputs.py).

The streamed folder must read back exactly like the folder ``pyarrow.dataset.write_dataset``
writes from the whole table, a failed run must leave nothing under the final names (and an
earlier run's tables untouched), and the report's reduced pipeline must hold the lead
scenario's rows as they were and the other scenarios' totals by stage and year.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from flows import outputs
from flows.run_sink import RunSink, lead_scenario, stage_totals


def _hourly(scenario: str, seed: int, rows: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "scenario": scenario,
        "region_id": rng.choice(["CN-NX", "CN-SX", "CN-GD"], rows),
        "year": rng.choice([2024, 2030], rows).astype(np.int32),
        "hour": np.arange(rows, dtype=np.int32),
        "total_load_mw": rng.random(rows) * 1e4,
    })


def _pipeline(scenario: str, seed: int, projects: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    years = np.arange(2025, 2029)
    ids = [f"P{i}" for i in range(projects)]
    frame = pd.DataFrame({
        "scenario": scenario,
        "project_id": np.repeat(ids, len(years)),
        "region_id": np.repeat(rng.choice(["CN-NX", "CN-SX"], projects), len(years)),
        "year": np.tile(years, projects).astype(np.int32),
        "stage": np.repeat(rng.choice(["announced", "under_construction"], projects), len(years)),
        "requested_it_mw": rng.random(projects * len(years)) * 300,
        "expected_it_mw": rng.random(projects * len(years)) * 100,
        "expected_it_energy_twh": rng.random(projects * len(years)),
    })
    for col in ("scenario", "project_id", "region_id", "stage"):
        frame[col] = frame[col].astype("category")
    return frame


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].astype(str)
    return out.reset_index(drop=True)


def test_streamed_partitions_read_back_like_write_dataset(tmp_path: Path) -> None:
    parts = [_hourly("reference", 1), _hourly("hub_push", 2), _hourly("my scenario/é", 3)]
    writer = outputs.PartitionedWriter(tmp_path / "hourly", "scenario")
    for part in parts:
        writer.add(part)
    assert not (tmp_path / "hourly").exists()  # nothing under the final name before commit
    writer.commit()
    whole = pd.concat(parts, ignore_index=True)
    ds.write_dataset(pa.Table.from_pandas(whole, preserve_index=False), tmp_path / "expected", format="parquet",
                     partitioning=ds.partitioning(pa.schema([("scenario", pa.string())]), flavor="hive"),
                     basename_template="part-{i}.parquet")
    got = sorted(p.relative_to(tmp_path / "hourly").as_posix() for p in (tmp_path / "hourly").rglob("*.parquet"))
    want = sorted(p.relative_to(tmp_path / "expected").as_posix()
                  for p in (tmp_path / "expected").rglob("*.parquet"))
    assert got == want  # same folder names, the odd scenario name escaped the same way
    a = _as_text(pd.read_parquet(tmp_path / "hourly")).sort_values(["scenario", "hour"], ignore_index=True)
    b = _as_text(pd.read_parquet(tmp_path / "expected")).sort_values(["scenario", "hour"], ignore_index=True)
    pd.testing.assert_frame_equal(a, b)


def test_a_second_add_of_one_partition_becomes_a_second_file(tmp_path: Path) -> None:
    writer = outputs.PartitionedWriter(tmp_path / "t", "scenario")
    writer.add(_hourly("a", 1, rows=5))
    writer.add(_hourly("a", 2, rows=7))
    writer.commit()
    files = sorted(p.name for p in (tmp_path / "t" / "scenario=a").iterdir())
    assert files == ["part-0.parquet", "part-1.parquet"]
    assert len(pd.read_parquet(tmp_path / "t")) == 12


def test_abort_leaves_the_earlier_folder_and_no_temporary(tmp_path: Path) -> None:
    outputs.write_partitioned(tmp_path / "hourly", _hourly("old", 9))
    writer = outputs.PartitionedWriter(tmp_path / "hourly", "scenario")
    writer.add(_hourly("new", 1))
    writer.abort()
    assert set(pd.read_parquet(tmp_path / "hourly")["scenario"].astype(str)) == {"old"}
    assert [p.name for p in tmp_path.iterdir()] == ["hourly"]


def test_parquet_stream_joins_frames_whose_categories_differ(tmp_path: Path) -> None:
    # the second frame has 300 categories (16-bit codes in pandas), the first 2 (8-bit)
    first = pd.DataFrame({"scenario": pd.Categorical(["a", "a"]), "hub": pd.Categorical(["H1", "H2"]),
                          "km": [1.0, np.nan]})
    many = [f"H{i}" for i in range(300)]
    second = pd.DataFrame({"scenario": pd.Categorical(["b"] * 300), "hub": pd.Categorical(many), "km": np.arange(300.0)})
    stream = outputs.ParquetStream(tmp_path / "hub_assignment.parquet")
    stream.add(first)
    stream.add(second)
    assert not (tmp_path / "hub_assignment.parquet").exists()
    stream.commit()
    got = pd.read_parquet(tmp_path / "hub_assignment.parquet")
    assert pq.ParquetFile(tmp_path / "hub_assignment.parquet").metadata.num_row_groups == 2
    assert got["hub"].astype(str).tolist() == ["H1", "H2", *many]
    assert got["scenario"].astype(str).tolist() == ["a", "a"] + ["b"] * 300
    assert np.isnan(got["km"][1]) and got["km"].iloc[2:].tolist() == list(range(300))


def test_parquet_stream_abort_and_empty_commit(tmp_path: Path) -> None:
    stream = outputs.ParquetStream(tmp_path / "x.parquet")
    with pytest.raises(Exception, match="nothing was written"):
        stream.commit()
    stream.add(pd.DataFrame({"v": [1.0]}))
    stream.abort()
    assert list(tmp_path.iterdir()) == []


def test_lead_is_reference_when_run_else_the_first() -> None:
    assert lead_scenario(["hub_push", "reference"]) == "reference"
    assert lead_scenario(["hub_push", "green_hubs"]) == "hub_push"
    assert lead_scenario([]) is None


def test_stage_totals_sum_each_stage_and_year() -> None:
    rows = _pipeline("hub_push", 4)
    got = stage_totals(rows)
    assert list(got.columns) == list(rows.columns)
    assert set(got["project_id"]) == {""} and set(got["region_id"]) == {""}
    for _, row in got.iterrows():
        mine = rows[(rows["stage"].astype(str) == row["stage"]) & (rows["year"] == row["year"])]
        assert row["scenario"] == "hub_push"
        for col in ("requested_it_mw", "expected_it_mw", "expected_it_energy_twh"):
            assert row[col] == pytest.approx(math.fsum(mine[col]), rel=1e-13)
    assert len(got) == rows.groupby(["stage", "year"], observed=True).ngroups


def test_sink_streams_and_commits_and_keeps_what_the_report_reads(tmp_path: Path) -> None:
    sink = RunSink(tmp_path, ["hub_push", "reference"])
    ref, push = _pipeline("reference", 1), _pipeline("hub_push", 2)
    hubs = [pd.DataFrame({"scenario": pd.Categorical([s] * 3), "center_id": pd.Categorical(["c1", "c2", "c3"]),
                          "hub_distance_km": [1.0, 2.0, 3.0]}) for s in ("hub_push", "reference")]
    sink.take("hub_push", {"hourly": _hourly("hub_push", 5), "pipeline": push, "hub_assignment": hubs[0]})
    sink.take("reference", {"hourly": _hourly("reference", 6), "pipeline": ref, "hub_assignment": hubs[1]})
    assert sink.names() == {"hourly", "pipeline", "hub_assignment.parquet"}
    assert not any(not p.name.startswith(".") for p in tmp_path.iterdir())  # hidden until commit
    report = sink.report_pipeline()
    sink.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hourly", "hub_assignment.parquet", "pipeline"]
    stored = pd.read_parquet(tmp_path / "pipeline")
    assert len(stored) == len(ref) + len(push)
    lead = _as_text(report[report["scenario"].astype(str) == "reference"])
    pd.testing.assert_frame_equal(lead, _as_text(ref))  # the lead's rows exactly
    others = report[report["scenario"].astype(str) == "hub_push"]
    assert len(others) == push.groupby(["stage", "year"], observed=True).ngroups
    assert others["expected_it_mw"].sum() == pytest.approx(push["expected_it_mw"].sum(), rel=1e-12)
    assert len(pd.read_parquet(tmp_path / "hub_assignment.parquet")) == 6


def test_sink_abort_leaves_nothing(tmp_path: Path) -> None:
    sink = RunSink(tmp_path, ["reference"])
    sink.take("reference", {"hourly": _hourly("reference", 1), "pipeline": _pipeline("reference", 1),
                            "hub_assignment": pd.DataFrame({"scenario": ["reference"], "v": [1.0]})})
    sink.abort()
    assert list(tmp_path.iterdir()) == []


def test_sink_refuses_a_table_it_does_not_stream(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="national"):
        RunSink(tmp_path, ["reference"]).take("reference", {"national": pd.DataFrame({"v": [1.0]})})
