"""``gridcast export`` as a provincial planner uses it: wide layout, units, names, precision.

Expected values are computed here from the run's own Parquet files and regions.csv, with
the conversions written out (1 亿kWh = 0.1 TWh, 1 万kW = 10 MW).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.compare import open_run
from flows.errors import GridcastError
from flows.export import XLSX_NAME, ExportFilters, Units, export_run
from flows.export_registry import EXPORT_TABLES
from flows.region_lookup import region_index

REGIONS = pd.read_csv("data/default/regions.csv", dtype=str)


@pytest.fixture(scope="module")
def regional(run_dir: Path) -> pd.DataFrame:
    frame = pd.read_parquet(run_dir / "regional")
    return frame.astype({"scenario": str, "region_id": str, "stat": str})


@pytest.mark.parametrize("typed", [["CN-NX"], ["cn-nx"], ["NX"], ["nx"], ["Ningxia"], ["NINGXIA"], ["宁夏"],
                                   ["宁夏回族自治区"]])
def test_one_province_by_any_spelling(typed: list[str]) -> None:
    assert region_index(None).resolve(typed) == ["CN-NX"]


def test_several_provinces_repeated_and_comma_separated() -> None:
    got = region_index(None).resolve(["cn-nx", "Guangdong,宁夏", "广西壮族自治区，gz", "Xinjiang"])
    assert got == ["CN-NX", "CN-GD", "CN-GX", "CN-GZ", "CN-XJ"]


def test_unknown_province_names_the_closest() -> None:
    with pytest.raises(GridcastError, match=r"'Ningxai'.*CN-NX"):
        region_index(None).resolve(["Ningxai"])


def test_chinese_names_in_every_table_naming_a_province(run_dir: Path, tmp_path: Path) -> None:
    export_run(open_run(run_dir), tmp_path / "n", "csv", ExportFilters(tables=("all",)))
    zh = dict(zip(REGIONS["region_id"], REGIONS["name_zh"], strict=True))
    en = dict(zip(REGIONS["region_id"], REGIONS["name"], strict=True))
    zh["ALL"], en["ALL"] = "全国", "China (national)"
    checked = 0
    for path in sorted((tmp_path / "n").glob("*.csv")):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        if "region_id" not in frame.columns:
            continue
        cols = list(frame.columns)
        at = cols.index("region_id")
        assert cols[at + 1: at + 3] == ["region_name", "region_name_zh"], path.name
        assert frame["region_name_zh"].tolist() == [zh[r] for r in frame["region_id"]], path.name
        assert frame["region_name"].tolist() == [en[r] for r in frame["region_id"]], path.name
        checked += 1
    assert checked >= 4  # regional, turning_points, forecast, baseline


def test_precision_and_no_float32_noise(run_dir: Path, regional: pd.DataFrame, tmp_path: Path) -> None:
    export_run(open_run(run_dir), tmp_path / "p", "csv", ExportFilters(tables=("regional",)))
    text = (tmp_path / "p" / "regional.csv").read_text(encoding="utf-8")
    back = pd.read_csv(tmp_path / "p" / "regional.csv", dtype={"facility_energy_twh": str, "peak_load_mw": str})
    # at most 3 decimals for TWh and 1 for MW, as written in the file
    assert back["facility_energy_twh"].str.split(".").str[1].fillna("").str.len().max() <= 3
    assert back["peak_load_mw"].str.split(".").str[1].fillna("").str.len().max() <= 1
    merged = back.merge(regional, on=["scenario", "region_id", "year", "stat"], suffixes=("", "_raw"))
    assert len(merged) == len(regional)
    by_hand = [f"{round(v, 3)}" for v in merged["facility_energy_twh_raw"]]
    assert merged["facility_energy_twh"].tolist() == by_hand
    assert "0000000" not in text and "9999999" not in text


def test_wide_layout_in_100m_kwh_and_10k_kw(run_dir: Path, regional: pd.DataFrame, tmp_path: Path) -> None:
    units = Units.parse("亿kWh", "万kW", "wide")
    export_run(open_run(run_dir), tmp_path / "w", "csv",
               ExportFilters(regions=("NX",), tables=("regional",)), units=units)
    wide = pd.read_csv(tmp_path / "w" / "regional.csv")
    years = sorted(regional["year"].unique())
    assert list(wide.columns) == ["scenario", "region_id", "region_name", "region_name_zh", "stat", "variable",
                                  "unit", *map(str, years)]
    raw = regional[regional["region_id"] == "CN-NX"]
    for scen, stat in [("reference", "central"), ("hub_push", "p90")]:
        part = raw[(raw["scenario"] == scen) & (raw["stat"] == stat)].set_index("year")
        row = wide[(wide["scenario"] == scen) & (wide["stat"] == stat)].set_index("variable")
        assert row.loc["facility_energy_100m_kwh", "unit"] == "亿kWh/yr"
        assert row.loc["peak_load_10k_kw", "unit"] == "万kW"
        for y in years:
            assert row.loc["facility_energy_100m_kwh", str(y)] == round(part.loc[y, "facility_energy_twh"] * 10, 2)
            assert row.loc["peak_load_10k_kw", str(y)] == round(part.loc[y, "peak_load_mw"] / 10, 2)
            assert row.loc["compute_share", str(y)] == round(part.loc[y, "compute_share"], 4)
    n_vars = 7  # facility, peak, baseline, total, share, pipeline IT energy, pipeline added
    assert len(wide) == raw.groupby(["scenario", "stat"]).ngroups * n_vars


def test_gwh_long(run_dir: Path, regional: pd.DataFrame, tmp_path: Path) -> None:
    export_run(open_run(run_dir), tmp_path / "g", "parquet", ExportFilters(regions=("guangdong",),
               tables=("regional",)), units=Units.parse("gwh", "mw"))
    got = pd.read_parquet(tmp_path / "g" / "regional").astype({"scenario": str, "stat": str})
    assert "facility_energy_gwh" in got.columns and "facility_energy_twh" not in got.columns
    want = regional[regional["region_id"] == "CN-GD"].merge(got, on=["scenario", "year", "stat"])
    np.testing.assert_array_equal(want["facility_energy_gwh"], np.round(want["facility_energy_twh"] * 1000, 0))
    assert got["facility_energy_gwh"].dtype == np.float64


def test_xlsx_formats_frozen_header_filter_and_units(run_dir: Path, tmp_path: Path) -> None:
    export_run(open_run(run_dir), tmp_path / "x", "xlsx", ExportFilters(regions=("NX",)),
               units=Units.parse("亿kWh", "万kW", "wide"))
    book = openpyxl.load_workbook(tmp_path / "x" / XLSX_NAME)
    sheet = book["regional"]
    header = [c.value for c in sheet[1]]
    assert header[:7] == ["scenario", "region_id", "region_name", "region_name_zh", "stat", "variable", "unit"]
    assert sheet.freeze_panes == "H2" and sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(header)).column_letter}" \
        f"{sheet.max_row}"
    row = {c.column: c for c in sheet[2]}
    assert row[6].value == "facility_energy_100m_kwh" and row[8].number_format == "#,##0.00"
    assert isinstance(row[8].value, float)
    long = openpyxl.load_workbook(tmp_path / "x" / XLSX_NAME, read_only=True)  # header units, long sheet
    tp = list(long["turning_points"].iter_rows(values_only=True))
    assert tp[0][:4] == ("scenario", "region_id", "region_name", "region_name_zh")
    nat = book["national"]
    assert nat.freeze_panes == "E2"


def test_xlsx_long_header_carries_units(run_dir: Path, tmp_path: Path) -> None:
    export_run(open_run(run_dir), tmp_path / "l", "xlsx", ExportFilters(tables=("regional", "forecast")))
    book = openpyxl.load_workbook(tmp_path / "l" / XLSX_NAME)
    header = [c.value for c in book["regional"][1]]
    assert "facility_energy_twh [TWh/yr]" in header and "peak_load_mw [MW]" in header
    assert book["regional"].freeze_panes == "A2"
    fmt = {h: c.number_format for h, c in zip(header, book["regional"][2], strict=True)}
    assert fmt["facility_energy_twh [TWh/yr]"] == "#,##0.000" and fmt["peak_load_mw [MW]"] == "#,##0.0"
    assert fmt["compute_share [fraction]"] == "0.00%" and fmt["year"] == "0"
    fc = [c.value for c in book["forecast"][1]]
    assert "pue_effective [ratio]" in fc and "workload" in fc


def test_registry_default_tables_and_unknown_table(run_dir: Path, tmp_path: Path) -> None:
    res = export_run(open_run(run_dir), tmp_path / "d", "csv", ExportFilters())
    present = {n for n, t in EXPORT_TABLES.items() if t.default and ((run_dir / n).is_dir() or
                                                                    (run_dir / f"{n}.parquet").is_file())}
    assert set(res.rows) == present
    with pytest.raises(GridcastError, match="--table 'nope'"):
        export_run(open_run(run_dir), tmp_path / "e", "csv", ExportFilters(tables=("nope",)))
    with pytest.raises(GridcastError, match="no 'hourly' table"):
        export_run(open_run(run_dir), tmp_path / "e", "csv", ExportFilters(tables=("hourly",)))


@pytest.mark.parametrize("bad,match", [(("kWh", "MW", "long"), "--energy-unit"),
                                       (("TWh", "GW", "long"), "--power-unit"),
                                       (("TWh", "MW", "tall"), "--layout")])
def test_bad_units_are_refused(bad: tuple[str, str, str], match: str) -> None:
    with pytest.raises(GridcastError, match=match):
        Units.parse(*bad)


def test_cli_planner_export_says_which_run(run_dir: Path, tmp_path: Path) -> None:
    from flows.cli import app

    res = CliRunner().invoke(app, ["export", "--run", str(run_dir), "--region", "NX", "--layout", "wide",
                                   "--energy-unit", "亿kWh", "--format", "xlsx", "--out", str(tmp_path / "nx")])
    assert res.exit_code == 0, res.output
    assert "reading run 20250101T000000Z-test00" in res.output and "50 draws" in res.output
    assert (tmp_path / "nx" / XLSX_NAME).is_file()
