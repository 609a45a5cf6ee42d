"""``gridcast compare`` across runs and scenario files, checked against the runs' own Parquet files.

Expected differences are computed here by hand (pandas on the Parquet the runs wrote, or on
a run scaled by a known factor), never with flows.compare.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from flows import outputs
from flows.compare import compare_items, find_run, write_comparison
from flows.compare_sources import resolve_items
from flows.errors import GridcastError

RUN_ID = "20250101T000000Z-test00"


@pytest.fixture(scope="module")
def scaled_run(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture run with every facility energy and peak times 1.1, under another run id."""
    run = tmp_path_factory.mktemp("scaled") / "run"
    shutil.copytree(run_dir, run)
    regional = pd.read_parquet(run / "regional").astype({"scenario": str})
    national = pd.read_parquet(run / "national.parquet")
    for frame in (regional, national):
        frame["facility_energy_twh"] *= 1.1
        frame["peak_load_mw"] *= 1.1
    outputs.write_partitioned(run / "regional", regional)
    outputs.write_parquet(run / "national.parquet", national)
    meta = json.loads((run / "run.json").read_text(encoding="utf-8"))
    meta["run_id"] = "20250202T000000Z-scaled"
    (run / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    return run


def test_a_scenario_file_reproduces_the_run(run_dir: Path) -> None:
    """reference.toml forecast now, on the run's inputs, baseline, seed and draws = the run's reference."""
    sources = resolve_items([f"reference@{run_dir}", "data/scenarios/reference.toml"], None, draws=50)
    comp = compare_items(sources)
    assert comp.scenarios == [f"reference@{RUN_ID}", "reference@reference.toml"]
    raw = pd.read_parquet(run_dir / "national.parquet").astype({"scenario": str, "stat": str})
    raw = raw[(raw["scenario"] == "reference") & raw["stat"].isin(["central", "p10", "p90"])]
    mine = comp.national[comp.national["scenario"] == "reference@reference.toml"]
    got = mine.merge(raw, on=["year", "stat"], suffixes=("", "_run"))
    assert len(got) == len(raw) == 12 * 3
    np.testing.assert_allclose(got["facility_energy_twh"], got["facility_energy_twh_run"], rtol=1e-9, atol=0)
    np.testing.assert_allclose(got["total_twh"], got["total_twh_run"], rtol=1e-9, atol=0)
    assert np.abs(comp.regional["facility_energy_diff_twh"].to_numpy(float)).max() < 1e-9
    assert comp.parameters.empty
    assert list(comp.sources["source"]) == [f"run {RUN_ID}", "file data/scenarios/reference.toml"]


def test_my_scenario_against_the_shipped_reference(run_dir: Path, tmp_path: Path) -> None:
    mine = tmp_path / "my.toml"
    mine.write_text('name = "mine"\nextends = "reference"\ndescription = "more hub shift"\n'
                    "[hubs]\ntraining_shift_to_hubs = [0.9, 0.9, 0.9]\n", encoding="utf-8")
    comp = compare_items(resolve_items(["reference", str(mine)], [str(run_dir)], draws=0))
    raw = pd.read_parquet(run_dir / "regional").astype({"scenario": str, "region_id": str, "stat": str})
    ref = raw[(raw["scenario"] == "reference") & (raw["stat"] == "central")]
    got = comp.regional[(comp.regional["scenario"] == "mine") & (comp.regional["stat"] == "central")]
    both = got.merge(ref, on=["region_id", "year"], suffixes=("", "_ref"))
    assert len(both) == 31 * 12
    by_hand = both["facility_energy_twh"] - both["facility_energy_twh_ref"]
    np.testing.assert_allclose(both["facility_energy_diff_twh"], by_hand, rtol=0, atol=1e-12)
    np.testing.assert_allclose(both["facility_energy_diff_rel"], by_hand / both["facility_energy_twh_ref"],
                               rtol=1e-12)
    assert by_hand.abs().max() > 0.01, "moving training to the hubs moves load between provinces"
    assert set(comp.parameters["parameter"]) == {"hubs.training_shift_to_hubs"}
    assert set(comp.national.loc[comp.national["scenario"] == "mine", "stat"]) == {"central"}  # 0 draws


def test_two_runs_scenario_by_scenario(run_dir: Path, scaled_run: Path) -> None:
    comp = compare_items(resolve_items([], [str(run_dir), str(scaled_run)]))
    assert comp.scenarios[:3] == [f"{n}@{RUN_ID}" for n in ("reference", "efficiency_led", "hub_push")]
    nat = comp.national
    for name in ("reference", "hub_push"):
        later = nat[nat["scenario"] == f"{name}@20250202T000000Z-scaled"]
        assert (later["base_scenario"] == f"{name}@{RUN_ID}").all()
        np.testing.assert_allclose(later["facility_energy_diff_rel"], 0.1, rtol=1e-9)
        raw = pd.read_parquet(run_dir / "national.parquet").astype({"scenario": str, "stat": str})
        raw = raw[raw["scenario"] == name].set_index(["year", "stat"])["facility_energy_twh"]
        want = 0.1 * raw.reindex(pd.MultiIndex.from_frame(later[["year", "stat"]])).to_numpy()
        np.testing.assert_allclose(later["facility_energy_diff_twh"], want, rtol=1e-9)
    first = nat[nat["scenario"] == f"efficiency_led@{RUN_ID}"]
    assert (first["facility_energy_diff_twh"] == 0).all()  # its own base


def test_run_by_id_prefix_and_latest(run_dir: Path, scaled_run: Path, tmp_path: Path) -> None:
    root = tmp_path / "outputs"
    (root / "runs").mkdir(parents=True)
    shutil.copytree(run_dir, root / "runs" / RUN_ID)
    shutil.copytree(scaled_run, root / "runs" / "20250202T000000Z-scaled")
    (root / "latest").symlink_to(Path("runs") / RUN_ID)
    assert find_run(RUN_ID, root).run_id == RUN_ID
    assert find_run("20250202", root).run_id == "20250202T000000Z-scaled"
    assert find_run(None, root).run_id == RUN_ID and find_run("latest", root).run_id == RUN_ID
    with pytest.raises(GridcastError, match="matches 2 runs"):
        find_run("2025", root)
    with pytest.raises(GridcastError, match="no run id"):
        find_run("1999", root)
    comp = compare_items(resolve_items(["reference", "reference@20250202"], None, root=root))
    assert comp.scenarios == [f"reference@{RUN_ID}", "reference@20250202T000000Z-scaled"]


@pytest.mark.parametrize("specs,match", [(["reference"], "at least two"), ([], "at least two"),
                                         (["reference", "nope"], "not in run"),
                                         (["reference", "reference"], "named twice")])
def test_bad_requests(run_dir: Path, specs: list[str], match: str) -> None:
    with pytest.raises(GridcastError, match=match):
        resolve_items(specs, [str(run_dir)])


def test_comparison_csvs_are_inert_and_run_folders_refused(run_dir: Path, tmp_path: Path) -> None:
    comp = compare_items(resolve_items(["reference", "hub_push"], [str(run_dir)]))
    comp.regional = comp.regional.astype({"region_id": object})
    comp.regional.loc[0, "region_id"] = "=HYPERLINK(\"x\")"
    folder, _ = write_comparison(comp, tmp_path / "c", html=False)
    text = (folder / "compare_regional.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text
    with pytest.raises(GridcastError, match="run folder"):
        write_comparison(comp, run_dir / "cmp", html=False)


def test_page_shows_differences_parameters_and_sensitivity(run_dir: Path, tmp_path: Path) -> None:
    sources = resolve_items(["reference", "hub_push"], [str(run_dir)])
    comp = compare_items(sources)
    from flows.compare_sensitivity import difference_sensitivity

    comp.sensitivity, notes = difference_sensitivity(sources)
    assert not notes and set(comp.sensitivity["scenario"]) == {"hub_push"}
    assert "hubs.training_shift_to_hubs" in set(comp.sensitivity["parameter"])
    nat = comp.national[(comp.national["scenario"] == "hub_push") & (comp.national["stat"] == "central")]
    for year, part in comp.sensitivity.groupby("year"):
        want = nat.loc[nat["year"] == year, "facility_energy_diff_twh"].iloc[0]
        np.testing.assert_allclose(part["diff_central_twh"], want, atol=1e-6)
    folder, notes = write_comparison(comp, tmp_path / "p")
    assert not notes, notes
    page = (folder / "comparison.html").read_text(encoding="utf-8")
    for table_id in ("national-diff", "province-diff-0", "param-side", "diff-sensitivity", "sources"):
        assert f'id="{table_id}"' in page, table_id
    assert "宁夏" in page and "Δ vs reference" in page


def test_cli_planner_compare(run_dir: Path, tmp_path: Path) -> None:
    from flows.cli import app

    res = CliRunner().invoke(app, ["compare", "reference", "hub_push", "--run", str(run_dir), "--region", "宁夏",
                                   "--out", str(tmp_path / "c"), "--no-html", "--no-sensitivity"])
    assert res.exit_code == 0, res.output
    assert f"reading run {RUN_ID}" in res.output and "Ningxia 宁夏 (CN-NX)" in res.stdout
    raw = pd.read_parquet(run_dir / "regional").astype({"scenario": str, "region_id": str, "stat": str})
    at = raw[(raw["region_id"] == "CN-NX") & (raw["year"] == 2030) & (raw["stat"] == "central")]
    at = at.set_index("scenario")["facility_energy_twh"]
    lines = res.stdout.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Ningxia 宁夏 (CN-NX)"))
    row = next(ln for ln in lines[start:] if ln.startswith("| hub_push"))
    cells = [c.strip() for c in row.split("|")]
    assert cells[2] == f"{at['hub_push']:,.2f}" and cells[3] == f"{at['hub_push'] - at['reference']:+,.2f}"
    bad = CliRunner().invoke(app, ["compare", "reference", "hub_push", "--run", str(run_dir), "--region", "Atlantis"])
    assert bad.exit_code == 2 and "Atlantis" in bad.output


def test_registered_extra_tables_are_compared(run_dir: Path, tmp_path: Path) -> None:
    """Two scenario files (both forecast now) carry coincident_peak: compared like energy."""
    mine = tmp_path / "my.toml"
    mine.write_text('name = "mine"\nextends = "reference"\ndescription = "x"\n'
                    "[hubs]\ntraining_shift_to_hubs = [0.9, 0.9, 0.9]\n", encoding="utf-8")
    comp = compare_items(resolve_items(["data/scenarios/reference.toml", str(mine)], [str(run_dir)], draws=0))
    table = comp.tables()["compare_coincident_peak"]
    wide = table.pivot_table(index=["region_id", "year"], columns="scenario", values="peak_increment_mw")
    got = table[table["scenario"] == "mine"].set_index(["region_id", "year"])["peak_increment_diff_mw"]
    by_hand = (wide["mine"] - wide["reference"]).reindex(got.index)
    np.testing.assert_allclose(got.to_numpy(), by_hand.to_numpy(), atol=1e-9)
    assert by_hand.abs().max() > 0
    only_run = compare_items(resolve_items(["reference", "hub_push"], [str(run_dir)]))
    assert "compare_coincident_peak" not in only_run.tables()  # the fixture run has no such table


def test_compare_tables_name_provinces_in_chinese(run_dir: Path) -> None:
    comp = compare_items(resolve_items(["reference", "hub_push"], [str(run_dir)]))
    zh = dict(pd.read_csv("data/default/regions.csv", dtype=str)[["region_id", "name_zh"]].to_numpy())
    for table in (comp.regional, comp.turning_points):
        cols = list(table.columns)
        assert cols[cols.index("region_id") + 1: cols.index("region_id") + 3] == ["region_name", "region_name_zh"]
        rows = table[table["region_id"] != "ALL"]
        assert rows["region_name_zh"].tolist() == [zh[r] for r in rows["region_id"]]
