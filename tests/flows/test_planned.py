"""planned_centers.csv and --planned: one test per rule, on small inline folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from flows import outputs
from flows.cli import app
from flows.compare import open_run
from flows.compute import all_ranges, fleet_from_inputs, run_scenario
from flows.errors import InputError, ScenarioError
from flows.export import ExportFilters, export_run
from flows.planned import add_planned_files, check_planned
from flows.scenarios import SHIPPED_SCENARIOS, load_scenarios, resolve_scenario
from flows.validate import load_inputs
from flows.warehouse import read_inputs, store_inputs
from models.engine import simulate
from models.sampling import central_params
from tests.flows.conftest import _flat_baseline
from tests.flows.test_validate import BASE, write

HEADER = "project_id,name,region_id,lat,lon,hub_id,it_capacity_mw,utilization,ai_share,training_share,stage,online_year,source\n"
GOOD = HEADER + (
    "P1,Campus one,XJ,43.8,87.6,,300,,0.8,0.6,approved,2027,planner note\n"
    "P2,Campus two,BJ,,,H1,50,0.7,0.5,0.2,under_construction,2026,\n"
)


def folder(tmp_path: Path, planned: str | None = GOOD, **over: str) -> Path:
    files = {**BASE, **over}
    tmp_path.mkdir(parents=True, exist_ok=True)
    if planned is not None:
        files["planned_centers.csv"] = planned
    return write(tmp_path, files)


@pytest.fixture(scope="module")
def reference():  # noqa: ANN201
    return resolve_scenario(SHIPPED_SCENARIOS / "reference.toml")


def refused(tmp_path: Path, text: str) -> InputError:
    with pytest.raises(InputError) as err:
        load_inputs(folder(tmp_path, text))
    assert err.value.file == "planned_centers.csv"
    return err.value


def test_good_file_loads_typed(tmp_path: Path, reference) -> None:  # noqa: ANN001
    t = load_inputs(folder(tmp_path))
    p = t.planned_centers
    assert list(p["project_id"]) == ["P1", "P2"] and p["online_year"].tolist() == [2027, 2026]
    assert p["utilization"].isna().tolist() == [True, False]
    assert "planned_centers.csv" in t.hashes
    check_planned(p, reference)


@pytest.mark.parametrize("text", [None, HEADER, HEADER + "\n\n"])
def test_absent_or_header_only_is_no_pipeline(tmp_path: Path, text: str | None, reference) -> None:  # noqa: ANN001
    t = load_inputs(folder(tmp_path, text))
    assert t.planned_centers is None or t.planned_centers.empty
    check_planned(t.planned_centers, reference)


@pytest.mark.parametrize(
    ("row", "column", "words"),
    [
        ("P1,Dup,XJ,,,,10,,0,0,approved,2027,", "project_id", "unique"),
        ("P3,X,ZZ,,,,10,,0,0,approved,2027,", "region_id", "is not a region_id"),
        ("P3,X,XJ,,,H9,10,,0,0,approved,2027,", "hub_id", "is not a hub_id"),
        ("P3,X,XJ,,,,0,,0,0,approved,2027,", "it_capacity_mw", "(0, 1000000]"),
        ("P3,X,XJ,,,,10,0,0,0,approved,2027,", "utilization", "(0, 1]"),
        ("P3,X,XJ,,,,10,,1.5,0,approved,2027,", "ai_share", "[0, 1]"),
        ("P3,X,XJ,,,,10,,0,-0.1,approved,2027,", "training_share", "[0, 1]"),
        ("P3,X,XJ,,,,10,,0,0,planned,2027,", "stage", "announced, requested, approved, under_construction"),
        ("P3,X,XJ,,,,10,,0,0,approved,2027.5,", "online_year", "whole number"),
        ("P3,X,XJ,,,,10,,0,0,approved,,", "online_year", "a value is required"),
        ("P3,X,XJ,40,,,10,,0,0,approved,2027,", "lon", "both"),
    ],
)
def test_each_file_rule(tmp_path: Path, row: str, column: str, words: str) -> None:
    err = refused(tmp_path, GOOD + row + "\n")
    assert (err.row, err.column) == (4, column) and words in err.rule, str(err)


def test_online_year_not_after_base_year_lists_every_row(tmp_path: Path, reference) -> None:  # noqa: ANN001
    rows = "".join(f"Q{i},Old {i},XJ,,,,10,,0,0,approved,{2020 + i % 5},\n" for i in range(25))
    t = load_inputs(folder(tmp_path, GOOD + rows))
    with pytest.raises(InputError) as err:
        check_planned(t.planned_centers, reference)
    msg = str(err.value)
    # base year 2024: rows with 2020..2024 are refused (all 25), 20 listed, 5 counted
    assert "25 planned row(s)" in msg and "base year 2024" in msg and "compute_centers.csv" in msg
    assert "project 'Q0' online_year 2020" in msg and "project 'Q19'" in msg and "'Q20'" not in msg
    assert "and 5 more" in msg and err.value.row == 4 and err.value.column == "online_year"


def bare_scenario(tmp_path: Path) -> Path:
    """The reference without its [pipeline] tables."""
    toml = tmp_path / "bare.toml"
    text = (SHIPPED_SCENARIOS / "reference.toml").read_text(encoding="utf-8")
    cut = text.index("[pipeline]")
    rest = text[cut:]
    toml.write_text(text[:cut].replace('name = "reference"', 'name = "bare"') + rest[rest.index("[sources]"):],
                    encoding="utf-8")
    return toml


def test_planned_rows_need_a_pipeline_table(tmp_path: Path) -> None:
    bare = resolve_scenario(bare_scenario(tmp_path))
    assert bare.scenario.pipeline is None
    t = load_inputs(folder(tmp_path / "d"))
    with pytest.raises(ScenarioError) as err:
        check_planned(t.planned_centers, bare)
    assert err.value.key == "pipeline" and "2 planned rows" in str(err.value)


def test_pue_rows_needed_for_zones_with_planned_rows_only(tmp_path: Path, reference) -> None:  # noqa: ANN001
    # centres only in the west; a planned row in the east needs the east PUE rows
    centers = ("center_id,name,region_id,size_class,it_capacity_mw,utilization,ai_share,training_share\n"
               "C2,Beta,XJ,small_medium,10,0.4,0.1,0\n")
    pue = "size_class,zone,pue_low,pue_central,pue_high\nsmall_medium,west,1.3,1.5,1.8\nlarge,west,1.1,1.2,1.3\n"
    east = HEADER + "P1,East campus,BJ,,,,10,,0,0,approved,2027,\n"
    t = load_inputs(folder(tmp_path, east, **{"compute_centers.csv": centers, "pue_assumptions.csv": pue}))
    with pytest.raises(InputError) as err:
        all_ranges(reference.scenario, t)
    assert err.value.file == "pue_assumptions.csv" and "'east'" in str(err.value)


def test_planned_files_add_rows_and_hashes(tmp_path: Path) -> None:
    t = load_inputs(folder(tmp_path / "d"))
    extra = tmp_path / "mine.csv"
    extra.write_text(HEADER + "M1,My campus,XJ,,,,120,,1,1,requested,2028,\n", encoding="utf-8")
    merged = add_planned_files(t, [extra])
    assert list(merged.planned_centers["project_id"]) == ["P1", "P2", "M1"]
    assert f"--planned {extra}" in merged.hashes and len(merged.hashes) == len(t.hashes) + 1


def test_planned_file_collision_is_refused_by_name(tmp_path: Path) -> None:
    t = load_inputs(folder(tmp_path / "d"))
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(HEADER + "M1,Mine,XJ,,,,10,,0,0,approved,2027,\nP2,Clash,XJ,,,,10,,0,0,approved,2027,\n",
                 encoding="utf-8")
    b.write_text(HEADER + "M1,Mine again,XJ,,,,10,,0,0,approved,2027,\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        add_planned_files(t, [a, b])
    msg = str(err.value)
    assert "'M1'" in msg and "'P2'" in msg and f"{a} row 2" in msg and f"{b} row 2" in msg
    assert "planned_centers.csv row 3" in msg


def test_planned_file_error_names_that_file(tmp_path: Path) -> None:
    t = load_inputs(folder(tmp_path / "d"))
    bad = tmp_path / "mine.csv"
    bad.write_text(HEADER + "M1,Mine,NOWHERE,,,,10,,0,0,approved,2027,\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        add_planned_files(t, [bad])
    assert err.value.file == str(bad) and err.value.column == "region_id" and err.value.row == 2


def test_ingest_refuses_what_run_refuses(tmp_path: Path) -> None:
    data = folder(tmp_path / "d", GOOD + "Q1,Operating,XJ,,,,10,,0,0,approved,2024,\n")
    res = CliRunner().invoke(app, ["ingest", "--data", str(data), "--warehouse", str(tmp_path / "w.duckdb")])
    assert res.exit_code == 2
    assert "project 'Q1' online_year 2024" in res.output and "compute_centers.csv" in res.output
    assert not (tmp_path / "w.duckdb").exists()
    # the rules use the --scenario given: one without [pipeline] is refused naming it
    bare = bare_scenario(tmp_path)
    res = CliRunner().invoke(app, ["ingest", "--data", str(folder(tmp_path / "ok")), "--scenario", str(bare),
                                   "--warehouse", str(tmp_path / "w.duckdb")])
    assert res.exit_code == 2 and "key 'pipeline'" in res.output and str(bare) in res.output


def test_export_includes_the_pipeline_table(run_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    rows = pd.DataFrame({
        "scenario": ["reference"] * 4 + ["hub_push"] * 2,
        "project_id": ["a", "a", "b", "b", "a", "a"],
        "region_id": ["CN-NX", "CN-NX", "CN-GD", "CN-GD", "CN-NX", "CN-NX"],
        "year": [2026, 2031, 2026, 2031, 2026, 2031],
        "stage": ["approved"] * 6,
        "requested_it_mw": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        "expected_it_mw": [0.5, 1.0, 1.5, 2.0, 2.5, 3.0],
        "expected_it_energy_twh": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
    })
    outputs.write_partitioned(run / "pipeline", rows, "scenario")
    out = tmp_path / "csv"
    export_run(open_run(run), out, "csv", ExportFilters(scenarios=("reference",), regions=("CN-NX",), years=(2025, 2030)))
    got = pd.read_csv(out / "pipeline.csv")
    assert got[["scenario", "project_id", "year", "requested_it_mw"]].values.tolist() == [["reference", "a", 2026, 1.0]]
    assert "pipeline_it_energy_twh" in set(pd.read_csv(out / "columns.csv").astype(str).stack())


def test_hub_push_pushes_west_with_a_western_pipeline(tmp_path: Path) -> None:
    """hub_push moves training to the hub capacity being built: with 1 GW of planned training
    campuses at each western hub, the western hub provinces' 2030 share under hub_push rises
    above the reference's by more than without the pipeline."""
    west = {"horinger": "CN-NM", "guian": "CN-GZ", "qingyang": "CN-GS", "zhongwei": "CN-NX"}
    path = tmp_path / "west.csv"
    path.write_text(HEADER + "".join(f"test-west-{h},Test campus,{r},,,{h},1000,,0.8,0.6,approved,2027,test\n"
                                     for h, r in west.items()), encoding="utf-8")
    shipped = load_inputs(Path("data/default"))
    scenarios = {s.name: s.scenario for s in load_scenarios(None)}

    def west_share(inputs, name: str) -> float:  # noqa: ANN001
        fleet = fleet_from_inputs(inputs)
        s = scenarios[name]
        res = simulate(fleet, s, central_params(all_ranges(s, inputs)))
        fac = res.region_facility_twh[0, :, s.years.index(2030)]
        idx = [list(fleet.region_ids).index(r) for r in west.values()]
        return float(fac[idx].sum() / fac.sum())

    with_west = add_planned_files(shipped, [path])
    push_with = west_share(with_west, "hub_push") - west_share(with_west, "reference")
    push_without = west_share(shipped, "hub_push") - west_share(shipped, "reference")
    assert push_with > 0 and push_with > push_without


@pytest.mark.parametrize("text", [GOOD, HEADER])
def test_planned_rows_round_trip_through_the_warehouse(tmp_path: Path, text: str) -> None:
    t = load_inputs(folder(tmp_path / "d", text))
    store_inputs(tmp_path / "w.duckdb", t)
    back = read_inputs(tmp_path / "w.duckdb").planned_centers
    assert back["project_id"].tolist() == t.planned_centers["project_id"].tolist()
    assert back["online_year"].tolist() == t.planned_centers["online_year"].tolist()


def test_pipeline_tables_stream_through_the_run_sink(tmp_path: Path) -> None:
    # real scenario outputs, streamed one scenario at a time as the run does, read back whole
    from flows.run_sink import RunSink

    t = add_planned_files(load_inputs(Path("data/default")), [Path("data/examples/planned_ningxia.csv")])
    fleet = fleet_from_inputs(t)
    scenarios = load_scenarios(None)[:2]
    sink = RunSink(tmp_path, [s.name for s in scenarios])
    frames = []
    for s in scenarios:
        base = _flat_baseline(t.demand_history, fleet.region_ids, s.scenario.years)
        table = run_scenario(t, s.scenario, base, n_draws=0, seed=1, fleet=fleet).pipeline
        frames.append(table.astype(str))
        sink.take(s.name, {"pipeline": table})
    sink.commit()
    want = pd.concat(frames, ignore_index=True)
    got = pd.read_parquet(tmp_path / "pipeline")[list(want.columns)].astype(str)
    order = ["scenario", "project_id", "year"]
    pd.testing.assert_frame_equal(got.sort_values(order, ignore_index=True), want.sort_values(order, ignore_index=True))
