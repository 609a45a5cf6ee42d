"""Reading and validating the input files (``flows.schema``; docs/methodology.md section 2), one test per rule.

Each case starts from a small valid dataset written as inline CSV, breaks one rule, and
checks the InputError names the file, the spreadsheet row (header = row 1), the column
and the rule.
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.errors import InputError
from flows.schema import TABLES, glossary
from flows.validate import check_commissioning, load_inputs

REGIONS = """region_id,name,zone,grid,diffusion_lag_years,lat,lon
BJ,Beijing,east,North,,39.9,116.4
XJ,Xinjiang,west,Northwest,2,,
"""
HUBS = """hub_id,name,lat,lon,zone
H1,Jing-Jin-Ji,39.9,116.4,east
"""
CENTERS = """center_id,name,region_id,lat,lon,hub_id,size_class,it_capacity_mw,utilization,ai_share,training_share,pue,commissioning_year
C1,Alpha,BJ,39.9,116.4,H1,large,100,0.6,0.5,0.3,1.3,2020
C2,Beta,XJ,,,,small_medium,10,0.4,0.1,0,,
"""
PUE = """size_class,zone,pue_low,pue_central,pue_high
large,east,1.2,1.3,1.4
small_medium,west,1.3,1.5,1.8
large,west,1.15,1.25,1.35
small_medium,east,1.4,1.6,1.9
"""
DEMAND = """region_id,year,consumption_twh
BJ,2023,130.5
XJ,2023,380
BJ,2022,125
XJ,2022,370
"""
# general rows are spreadsheet rows 2-25, training 26-49, inference 50-73.
SHAPES = "workload,hour,factor\n" + "".join(
    f"{w},{h},1\n" for w in ("general", "training", "inference") for h in range(24)
)

BASE = {
    "regions.csv": REGIONS,
    "hub_nodes.csv": HUBS,
    "compute_centers.csv": CENTERS,
    "pue_assumptions.csv": PUE,
    "demand_history.csv": DEMAND,
    "load_shapes.csv": SHAPES,
}


def write(folder: Path, overrides: dict[str, str | bytes | None] | None = None) -> Path:
    """Write the base dataset with some files replaced (None deletes a file)."""
    files: dict[str, str | bytes | None] = {**BASE, **(overrides or {})}
    for name, content in files.items():
        if content is None:
            continue
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        (folder / name).write_bytes(data)
    return folder


def set_cell(text: str, row: int, column: str, value: str) -> str:
    """``text`` with the cell at spreadsheet ``row`` (header = 1) and ``column`` replaced."""
    records = list(csv.reader(io.StringIO(text)))
    records[row - 1][records[0].index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(records)
    return out.getvalue()


def expect_error(
    folder: Path, file: str, row: int | None, column: str | None, rule: str
) -> InputError:
    with pytest.raises(InputError) as info:
        load_inputs(folder)
    err = info.value
    assert (err.file, err.row, err.column) == (file, row, column), str(err)
    assert rule in err.rule, str(err)
    msg = str(err)
    assert msg.startswith(f"invalid input: file {file}")
    if row is not None:
        assert f"row {row}" in msg
    if column is not None:
        assert f"column {column!r}" in msg
    return err


# (file, row, column, new value, rule fragment); the error is expected at that cell.
CELL_CASES = [
    ("compute_centers.csv", 3, "utilization", "1.4", "must be in (0, 1], got 1.4"),
    ("compute_centers.csv", 2, "utilization", "0", "must be in (0, 1], got 0"),
    ("compute_centers.csv", 3, "it_capacity_mw", "0", "must be in (0, 1000000], got 0"),
    ("compute_centers.csv", 3, "it_capacity_mw", "1e300", "must be in (0, 1000000], got 1e300"),
    ("compute_centers.csv", 2, "ai_share", "-0.1", "must be in [0, 1], got -0.1"),
    ("compute_centers.csv", 3, "training_share", "1.5", "must be in [0, 1], got 1.5"),
    ("compute_centers.csv", 2, "pue", "0.95", "must be >= 1, got 0.95"),
    ("compute_centers.csv", 2, "lat", "91", "must be in [-90, 90], got 91"),
    ("compute_centers.csv", 2, "lon", "-181", "must be in [-180, 180], got -181"),
    (
        "compute_centers.csv",
        3,
        "size_class",
        "huge",
        "must be one of large, small_medium, got 'huge'",
    ),
    ("compute_centers.csv", 2, "it_capacity_mw", "abc", "must be a number, got 'abc'"),
    ("compute_centers.csv", 2, "it_capacity_mw", "1,000", "must be a number, got '1,000'"),
    ("compute_centers.csv", 3, "it_capacity_mw", "inf", "must be a finite number, got 'inf'"),
    ("compute_centers.csv", 3, "utilization", "NaN", "must be a finite number, got 'NaN'"),
    ("compute_centers.csv", 2, "it_capacity_mw", "1e999", "must be a finite number, got 1e999"),
    (
        "compute_centers.csv",
        2,
        "commissioning_year",
        "2020.5",
        "must be a whole number, got 2020.5",
    ),
    ("compute_centers.csv", 2, "commissioning_year", "1850", "must be in [1900, 2100], got 1850"),
    ("compute_centers.csv", 3, "name", "", "a value is required, got an empty cell"),
    ("compute_centers.csv", 2, "it_capacity_mw", "  ", "a value is required, got an empty cell"),
    ("compute_centers.csv", 3, "region_id", "ZZ", "'ZZ' is not a region_id of regions.csv"),
    ("compute_centers.csv", 3, "hub_id", "H9", "'H9' is not a hub_id of hub_nodes.csv"),
    (
        "compute_centers.csv",
        3,
        "center_id",
        "C1",
        "center_id must be unique: 'C1' is already on row 2",
    ),
    ("regions.csv", 3, "zone", "north", "must be one of east, west, got 'north'"),
    ("regions.csv", 2, "diffusion_lag_years", "-1", "must be >= 0, got -1"),
    ("regions.csv", 3, "region_id", "BJ", "region_id must be unique: 'BJ' is already on row 2"),
    ("regions.csv", 2, "lon", "200", "must be in [-180, 180], got 200"),
    ("hub_nodes.csv", 2, "lat", "", "a value is required, got an empty cell"),
    ("hub_nodes.csv", 2, "zone", "south", "must be one of east, west, got 'south'"),
    ("pue_assumptions.csv", 2, "pue_low", "0.9", "must be >= 1, got 0.9"),
    (
        "pue_assumptions.csv",
        2,
        "pue_central",
        "1.1",
        "must satisfy pue_low <= pue_central <= pue_high, got pue_low 1.2 > pue_central 1.1",
    ),
    (
        "pue_assumptions.csv",
        3,
        "pue_high",
        "1.45",
        "must satisfy pue_low <= pue_central <= pue_high, got pue_central 1.5 > pue_high 1.45",
    ),
    ("demand_history.csv", 3, "consumption_twh", "-1", "must be > 0, got -1"),
    ("demand_history.csv", 3, "consumption_twh", "0", "must be > 0, got 0"),
    ("demand_history.csv", 2, "year", "2023.5", "must be a whole number, got 2023.5"),
    ("demand_history.csv", 2, "year", "twenty", "must be a number, got 'twenty'"),
    ("demand_history.csv", 3, "region_id", "ZZ", "'ZZ' is not a region_id of regions.csv"),
    ("load_shapes.csv", 5, "hour", "24", "must be in [0, 23], got 24"),
    ("load_shapes.csv", 30, "factor", "-1", "must be >= 0, got -1"),
    (
        "load_shapes.csv",
        50,
        "workload",
        "batch",
        "must be one of general, training, inference, got 'batch'",
    ),
    ("load_shapes.csv", 3, "hour", "0", "(workload, hour) must be unique"),
    (
        "load_shapes.csv",
        2,
        "factor",
        "1.0001",
        "the 24 factors of workload 'general' must have mean 1",
    ),
]


@pytest.mark.parametrize(
    ("file", "row", "column", "value", "rule"),
    CELL_CASES,
    ids=[f"{c[0]}:{c[2]}={c[3]!r}" for c in CELL_CASES],
)
def test_cell_rule(tmp_path: Path, file: str, row: int, column: str, value: str, rule: str) -> None:
    write(tmp_path, {file: set_cell(BASE[file], row, column, value)})
    expect_error(tmp_path, file, row, column, rule)


def test_half_a_coordinate_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"compute_centers.csv": set_cell(CENTERS, 3, "lat", "40")})
    expect_error(
        tmp_path, "compute_centers.csv", 3, "lon", "lat and lon must both be given or both be empty"
    )


def test_factor_mean_within_tolerance_is_accepted(tmp_path: Path) -> None:
    # 1 + 1e-5 in one hour of 24 moves the mean by 4.2e-7 < 1e-6.
    write(tmp_path, {"load_shapes.csv": set_cell(SHAPES, 2, "factor", "1.00001")})
    assert load_inputs(tmp_path).load_shapes["factor"].iloc[0] == pytest.approx(1.00001)


def test_demand_one_row_per_region_and_year(tmp_path: Path) -> None:
    write(tmp_path, {"demand_history.csv": DEMAND + "BJ,2023,131\n"})
    expect_error(
        tmp_path,
        "demand_history.csv",
        6,
        "year",
        "(region_id, year) must be unique: (region_id='BJ', year=2023) is already on row 2",
    )


def test_pue_one_row_per_size_class_and_zone(tmp_path: Path) -> None:
    write(tmp_path, {"pue_assumptions.csv": PUE + "large,east,1.1,1.2,1.3\n"})
    expect_error(
        tmp_path,
        "pue_assumptions.csv",
        6,
        "zone",
        "(size_class, zone) must be unique: (size_class='large', zone='east') is already on row 2",
    )


def test_pue_row_required_for_every_size_class_and_zone_in_use(tmp_path: Path) -> None:
    without = "".join(line for line in PUE.splitlines(keepends=True) if not line.startswith("small_medium,west"))
    write(tmp_path, {"pue_assumptions.csv": without})
    err = expect_error(
        tmp_path,
        "compute_centers.csv",
        3,
        "size_class",
        "pue_assumptions.csv has no row for size_class 'small_medium', zone 'west'",
    )
    assert [(p.file, p.row) for p in err.problems] == [("compute_centers.csv", 3), ("pue_assumptions.csv", None)]


def test_zone_with_centres_needs_both_size_classes(tmp_path: Path) -> None:
    # No centre is small/medium in the east, but new builds there mix both size classes.
    without = "".join(line for line in PUE.splitlines(keepends=True) if not line.startswith("small_medium,east"))
    write(tmp_path, {"pue_assumptions.csv": without})
    expect_error(tmp_path, "pue_assumptions.csv", None, "size_class",
                 "no row for size_class 'small_medium' and zone 'east': regions of zone 'east' have centres")


def test_every_workload_required(tmp_path: Path) -> None:
    without_inference = "".join(SHAPES.splitlines(keepends=True)[:49])
    write(tmp_path, {"load_shapes.csv": without_inference})
    expect_error(tmp_path, "load_shapes.csv", None, "workload", "workload 'inference' is missing")


def test_every_hour_required(tmp_path: Path) -> None:
    lines = SHAPES.splitlines(keepends=True)
    del lines[30]  # training, hour 5 (spreadsheet row 31)
    write(tmp_path, {"load_shapes.csv": "".join(lines)})
    expect_error(
        tmp_path,
        "load_shapes.csv",
        26,
        "hour",
        "workload 'training' needs 24 rows (hours 0-23), got 23; hour 5 is missing",
    )


# ------------------------------------------------------------------ whole-file rules

HEADERLESS = "BJ,Beijing,east\nXJ,Xinjiang,west\n"
FILE_CASES = [
    ("missing file", "hub_nodes.csv", None, None, None, "required file not found"),
    ("empty file", "regions.csv", b"", None, None, "file is empty"),
    ("blank file", "regions.csv", "\n \r\n", None, None, "file is empty"),
    (
        "header only",
        "demand_history.csv",
        "region_id,year,consumption_twh\n",
        None,
        None,
        "header but no data rows",
    ),
    (
        "header only, no newline",
        "demand_history.csv",
        "region_id,year,consumption_twh",
        None,
        None,
        "header but no data rows",
    ),
    (
        "missing column",
        "compute_centers.csv",
        CENTERS.replace(",it_capacity_mw", ",capacity"),
        1,
        "it_capacity_mw",
        "required column is missing",
    ),
    ("no header", "regions.csv", HEADERLESS, 1, "region_id", "required column is missing"),
    (
        "duplicated column",
        "hub_nodes.csv",
        "hub_id,name,lat,lon,zone,name\nH1,A,39.9,116.4,east,B\n",
        1,
        "name",
        "duplicated column name (columns 2 and 6)",
    ),
    (
        "semicolons",
        "regions.csv",
        REGIONS.replace(",", ";"),
        1,
        None,
        "header looks semicolon-separated",
    ),
    ("tabs", "regions.csv", REGIONS.replace(",", "\t"), 1, None, "header looks tab-separated"),
    (
        "latin-1",
        "regions.csv",
        "region_id,name,zone\nBJ,Pékin,east\n".encode("latin-1"),
        2,
        None,
        "not valid UTF-8 (byte 0xe9",
    ),
    (
        "gbk",
        "regions.csv",
        "region_id,name,zone\nBJ,Beijing,east\nXJ,新疆,west\n".encode("gbk"),
        3,
        None,
        "not valid UTF-8",
    ),
    (
        "extra field",
        "compute_centers.csv",
        CENTERS + "C3,G,BJ,,,,large,1,1,1,1,,,oops\n",
        4,
        None,
        "malformed CSV: expected 13 fields like the header, found 14",
    ),
    (
        "short row",
        "hub_nodes.csv",
        HUBS + "H2,B,30\n",
        3,
        None,
        "malformed CSV: expected 5 fields like the header, found 3",
    ),
    (
        "unnamed column with values",
        "hub_nodes.csv",
        "hub_id,name,lat,lon,zone,\nH1,A,39.9,116.4,east,x\n",
        1,
        None,
        "column number 6 has values but no header name",
    ),
    (
        "reserved column",
        "hub_nodes.csv",
        "hub_id,name,lat,lon,zone,source_row\nH1,A,39.9,116.4,east,1\n",
        1,
        "source_row",
        "column name 'source_row' is reserved",
    ),
]


@pytest.mark.parametrize(
    ("case", "file", "content", "row", "column", "rule"), FILE_CASES, ids=[c[0] for c in FILE_CASES]
)
def test_file_rule(
    tmp_path: Path,
    case: str,
    file: str,
    content: str | bytes | None,
    row: int | None,
    column: str | None,
    rule: str,
) -> None:
    write(tmp_path, {file: content})
    expect_error(tmp_path, file, row, column, rule)


# ------------------------------------------------------------------ accepted input


def test_valid_dataset_types_and_defaults(tmp_path: Path) -> None:
    t = load_inputs(write(tmp_path))
    c = t.compute_centers
    assert dict(c.dtypes.astype(str)) == {
        "center_id": "string",
        "name": "string",
        "region_id": "string",
        "lat": "float64",
        "lon": "float64",
        "hub_id": "string",
        "size_class": "string",
        "it_capacity_mw": "float64",
        "utilization": "float64",
        "ai_share": "float64",
        "training_share": "float64",
        "pue": "float64",
        "commissioning_year": "Int64",
    }
    assert c.index.name == "source_row" and list(c.index) == [2, 3]
    assert c.loc[2, "it_capacity_mw"] == 100.0 and c.loc[3, "utilization"] == 0.4
    assert c.loc[3, "hub_id"] is pd.NA and np.isnan(c.loc[3, "pue"])
    assert c.loc[2, "commissioning_year"] == 2020 and c.loc[3, "commissioning_year"] is pd.NA
    r = t.regions
    assert list(r["diffusion_lag_years"]) == [0.0, 2.0]
    assert r["lat"].isna().tolist() == [False, True]
    assert t.demand_history["year"].dtype == np.int64
    assert t.load_shapes["hour"].tolist() == list(range(24)) * 3
    assert t.system_hourly is None
    assert set(t.hashes) == set(BASE)
    assert t.hashes["regions.csv"] == hashlib.sha256(REGIONS.encode()).hexdigest()
    assert t.raw["compute_centers"].loc[3, "pue"] == ""


def test_optional_columns_may_be_absent(tmp_path: Path) -> None:
    write(tmp_path, {"regions.csv": "region_id,name,zone\nBJ,Beijing,east\nXJ,Xinjiang,west\n"})
    r = load_inputs(tmp_path).regions
    assert list(r.columns) == [
        "region_id",
        "name",
        "name_zh",
        "zone",
        "grid",
        "diffusion_lag_years",
        "lat",
        "lon",
    ]
    assert r["diffusion_lag_years"].tolist() == [0.0, 0.0]
    assert r["grid"].isna().all() and str(r["grid"].dtype) == "string"
    assert r["lat"].isna().all() and r["lat"].dtype == np.float64


def test_extra_columns_are_kept_in_raw_only(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "regions.csv": "region_id,name,zone,source,name_zh\n"
            "BJ,Beijing,east,NBS,北京\nXJ,Xinjiang,west,NBS,新疆\n"
        },
    )
    t = load_inputs(tmp_path)
    # source is not in the contract: raw only; name_zh is (an optional column the report shows)
    assert "source" not in t.regions.columns
    assert t.raw["regions"]["source"].tolist() == ["NBS", "NBS"]
    assert t.regions["name_zh"].tolist() == ["北京", "新疆"]


def test_bom_crlf_quotes_whitespace_and_blank_lines(tmp_path: Path) -> None:
    regions = (
        '\ufeffregion_id , name,zone\r\n BJ ,"Beijing, city",east\r\n\r\nXJ,Xinjiang,west\r\n,,\r\n'
    )
    write(tmp_path, {"regions.csv": regions})
    t = load_inputs(tmp_path)
    assert t.regions["region_id"].tolist() == ["BJ", "XJ"]
    assert t.regions["name"].tolist() == ["Beijing, city", "Xinjiang"]
    assert list(t.regions.index) == [2, 4]  # the blank line is row 3
    assert t.raw["regions"].loc[2, "region_id"] == " BJ "


def test_row_numbers_count_blank_lines(tmp_path: Path) -> None:
    lines = CENTERS.splitlines(keepends=True)
    centers = (
        lines[0]
        + lines[1]
        + "\n"
        + set_cell(CENTERS, 3, "utilization", "2").splitlines(keepends=True)[2]
    )
    write(tmp_path, {"compute_centers.csv": centers})
    expect_error(tmp_path, "compute_centers.csv", 4, "utilization", "got 2")


def test_excel_trailing_empty_column_is_ignored(tmp_path: Path) -> None:
    write(tmp_path, {"hub_nodes.csv": "hub_id,name,lat,lon,zone,\nH1,A,39.9,116.4,east,\n"})
    assert list(load_inputs(tmp_path).raw["hub_nodes"].columns) == [
        "hub_id",
        "name",
        "lat",
        "lon",
        "zone",
    ]


def test_inputs_are_not_mutated_by_check_commissioning(tmp_path: Path) -> None:
    centers = load_inputs(write(tmp_path)).compute_centers
    before = centers.copy()
    check_commissioning(centers, 2024)
    pd.testing.assert_frame_equal(centers, before)


# ------------------------------------------------------------------ commissioning


def test_commissioning_after_base_year_refused(tmp_path: Path) -> None:
    write(tmp_path, {"compute_centers.csv": set_cell(CENTERS, 3, "commissioning_year", "2026")})
    centers = load_inputs(tmp_path).compute_centers
    check_commissioning(centers, 2026)
    with pytest.raises(InputError) as info:
        check_commissioning(centers, 2025)
    err = info.value
    assert (err.file, err.row, err.column) == ("compute_centers.csv", 3, "commissioning_year")
    assert (
        "the file lists the fleet operating in the base year: commissioning after base "
        "year 2025 is not supported yet"
    ) in str(err)
    assert "planned_centers.csv" in str(err)


def test_commissioning_rows_by_position_without_source_row() -> None:
    centers = pd.DataFrame({"commissioning_year": pd.array([2020, None, 2030], dtype="Int64")})
    with pytest.raises(InputError) as info:
        check_commissioning(centers, 2024, file="x.csv")
    assert (info.value.file, info.value.row) == ("x.csv", 4)


# ------------------------------------------------------------------ system hourly load


def hourly(columns: tuple[str, ...] = ("BJ", "XJ"), hours: range = range(8760)) -> str:
    header = "hour_of_year," + ",".join(columns) + "\n"
    return header + "".join(
        f"{h}," + ",".join(f"{100 + h % 24}.5" for _ in columns) + "\n" for h in hours
    )


SYSTEM = "system_hourly_load_2018_mw.csv"


def test_system_hourly_loads(tmp_path: Path) -> None:
    write(tmp_path, {SYSTEM: hourly()})
    s = load_inputs(tmp_path).system_hourly
    assert s is not None and s.shape == (8760, 3)
    assert s["hour_of_year"].dtype == np.int64 and s["BJ"].dtype == np.float64
    assert s["XJ"].iloc[25] == 101.5


def test_system_hourly_new_name_and_leap_year(tmp_path: Path) -> None:
    """A metered leap year (8784 rows) under the new file name loads whole; the model drops 29 Feb."""
    write(tmp_path, {"system_hourly_load_mw.csv": hourly(hours=range(8784))})
    t = load_inputs(tmp_path)
    assert t.system_hourly is not None and t.system_hourly.shape == (8784, 3)
    assert "system_hourly_load_mw.csv" in t.hashes and SYSTEM not in t.hashes


def test_system_hourly_error_names_the_file_read(tmp_path: Path) -> None:
    write(tmp_path, {"system_hourly_load_mw.csv": set_cell(hourly(), 10, "XJ", "-5")})
    expect_error(tmp_path, "system_hourly_load_mw.csv", 10, "XJ", "must be >= 0, got -5")


@pytest.mark.parametrize(
    ("content", "row", "column", "rule"),
    [
        (hourly(("BJ", "ZZ")), 1, "ZZ", "column is not a region_id of regions.csv"),
        (
            hourly(hours=range(8759)),
            None,
            "hour_of_year",
            "must have 8760 rows (hour_of_year 0-8759), or 8784 for a leap year (0-8783), got 8759; "
            "hour_of_year 8759 is missing",
        ),
        (hourly(hours=range(1, 8761)), 8761, "hour_of_year",
         "with 8760 rows hour_of_year runs 0-8759; got 8760 and hour_of_year 0 is missing"),
        (hourly(hours=range(8785)), 8786, "hour_of_year", "must be in [0, 8783], got 8784"),
        (set_cell(hourly(), 10, "XJ", "-5"), 10, "XJ", "must be >= 0, got -5"),
        (set_cell(hourly(), 10, "BJ", ""), 10, "BJ", "a value is required"),
    ],
    ids=["unknown region", "short", "one-based hours", "too long", "negative", "empty"],
)
def test_system_hourly_rules(
    tmp_path: Path, content: str, row: int | None, column: str, rule: str
) -> None:
    write(tmp_path, {SYSTEM: content})
    expect_error(tmp_path, SYSTEM, row, column, rule)


def test_system_hourly_region_with_zero_load_all_year_is_refused(tmp_path: Path) -> None:
    header = "hour_of_year,BJ,XJ\n"
    write(tmp_path, {SYSTEM: header + "".join(f"{h},{100 + h % 24},0\n" for h in range(8760))})
    expect_error(tmp_path, SYSTEM, None, "XJ", "the region's hourly load is zero all year")


# ------------------------------------------------------------------ schema and robustness


def test_glossary_covers_every_column_with_units() -> None:
    g = glossary()
    cols = g[g["column"] != ""]
    assert len(cols) == sum(len(t.columns) + (t.wide is not None) for t in TABLES.values())
    row = cols[(cols["file"] == "compute_centers.csv") & (cols["column"] == "it_capacity_mw")]
    assert row[["unit", "rule"]].values.tolist() == [["MW", "in (0, 1000000]"]]
    assert (cols["description"] != "").all()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    file=st.sampled_from(sorted(BASE)),
    junk=st.one_of(
        st.binary(max_size=200),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=200).map(
            lambda s: s.encode("utf-8")
        ),
        st.tuples(st.integers(0, 400), st.binary(min_size=1, max_size=8)),
    ),
)
def test_garbage_loads_or_raises_input_error(tmp_path: Path, file: str, junk) -> None:
    if isinstance(junk, tuple):  # splice random bytes into the valid file
        pos, extra = junk
        base = BASE[file].encode("utf-8")
        pos = min(pos, len(base))
        junk = base[:pos] + extra + base[pos:]
    write(tmp_path, {file: junk})
    try:
        load_inputs(tmp_path)
    except InputError:
        pass


@settings(max_examples=300, deadline=None)
@given(
    cells=st.lists(
        st.text(alphabet="0123456789+-.eEinfaINFAx_, ١２", min_size=1, max_size=8), min_size=1, max_size=5
    )
)
def test_number_fast_path_accepts_only_what_the_grammar_accepts(cells: list[str]) -> None:
    """The Arrow-cast fast path never accepts a cell the number grammar refuses, nor changes a value."""
    import re

    import pyarrow as pa

    from flows.validate import _NUMBER_RE, _plain_finite_numbers

    empty = np.zeros(len(cells), dtype=bool)
    fast = _plain_finite_numbers(pa.chunked_array([pa.array(cells)]), empty)
    if fast is None:
        return
    grammar = re.compile(_NUMBER_RE, re.ASCII)
    for cell, value in zip(cells, fast, strict=True):
        assert grammar.match(cell), cell
        assert value == float(cell)


def test_hub_region_id_is_kept_and_must_reference_a_region(tmp_path: Path) -> None:
    # the report's hub table shows each hub's province: the typed table must keep region_id
    hubs = "hub_id,name,region_id,lat,lon,zone\nH1,Jing-Jin-Ji,BJ,39.9,116.4,east\n"
    tables = load_inputs(write(tmp_path, {"hub_nodes.csv": hubs}))
    assert tables.hub_nodes["region_id"].tolist() == ["BJ"]
    bad = tmp_path / "bad"
    bad.mkdir()
    write(bad, {"hub_nodes.csv": hubs.replace(",BJ,", ",ZZ,")})
    expect_error(bad, "hub_nodes.csv", 2, "region_id", "ZZ")
# ------------------------------------------------------------------ every problem at once


def test_every_broken_rule_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    centers = set_cell(set_cell(CENTERS, 2, "utilization", "1.4"), 3, "utilization", "0")
    centers = set_cell(centers, 3, "ai_share", "2")
    write(tmp_path, {"compute_centers.csv": centers})
    err = expect_error(tmp_path, "compute_centers.csv", 2, "utilization", "must be in (0, 1], got 1.4")
    assert err.count == 3
    # by row, then in the order the columns are checked
    assert [(p.row, p.column) for p in err.problems] == [(2, "utilization"), (3, "utilization"),
                                                         (3, "ai_share")]
    assert str(err).split("\n") == [
        "invalid input: file compute_centers.csv, row 2, column 'utilization': must be in (0, 1], got 1.4",
        "invalid input: file compute_centers.csv, row 3, column 'utilization': must be in (0, 1], got 0",
        "invalid input: file compute_centers.csv, row 3, column 'ai_share': must be in [0, 1], got 2",
    ]


def test_the_listing_stops_at_20_lines_then_counts(tmp_path: Path) -> None:
    # 30 centres, each with a utilization of 2: 30 problems, 20 listed, "10 more".
    rows = "".join(f"C{i},N,BJ,,,,large,1,2,0,0,,\n" for i in range(30))
    write(tmp_path, {"compute_centers.csv": CENTERS.splitlines(keepends=True)[0] + rows})
    with pytest.raises(InputError) as info:
        load_inputs(tmp_path)
    err = info.value
    lines = str(err).split("\n")
    assert err.count == 30 and len(err.problems) == 20 and len(lines) == 21
    assert [p.row for p in err.problems] == list(range(2, 22))
    assert lines[-1] == "... and 10 more problems"


def test_a_repeated_key_names_every_repeat(tmp_path: Path) -> None:
    write(tmp_path, {"hub_nodes.csv": HUBS + "H1,again,40,116,east\nH1,third,41,116,east\n"})
    err = expect_error(tmp_path, "hub_nodes.csv", 3, "hub_id", "hub_id must be unique: 'H1' is already on row 2")
    assert [p.row for p in err.problems] == [3, 4]
    assert all("already on row 2" in p.rule for p in err.problems)


# ------------------------------------------------------------------ demand history rules


def test_history_gap_names_region_and_missing_years(tmp_path: Path) -> None:
    demand = DEMAND + "BJ,2019,110\nBJ,2018,105\n"  # BJ: 2018, 2019, 2022, 2023
    write(tmp_path, {"demand_history.csv": demand})
    expect_error(tmp_path, "demand_history.csv", 4, "year",
                 "region 'BJ' has no row for year 2020, 2021 (between 2019 and 2022)")


def test_history_long_gap_is_shown_as_a_range(tmp_path: Path) -> None:
    write(tmp_path, {"demand_history.csv": DEMAND + "XJ,2010,200\n"})  # XJ: 2010, 2022, 2023
    expect_error(tmp_path, "demand_history.csv", 5, "year",
                 "region 'XJ' has no row for year 2011-2021 (between 2010 and 2022)")


def test_history_of_one_year_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"demand_history.csv": "".join(DEMAND.splitlines(keepends=True)[:4])})  # XJ: 2023 only
    expect_error(tmp_path, "demand_history.csv", 3, "year",
                 "region 'XJ' has one year of history (2023); the baseline needs at least 2")


def test_region_without_history_is_refused(tmp_path: Path) -> None:
    only_bj = "region_id,year,consumption_twh\nBJ,2023,130.5\nBJ,2022,125\n"
    write(tmp_path, {"demand_history.csv": only_bj})
    expect_error(tmp_path, "demand_history.csv", None, "region_id",
                 "region 'XJ' of regions.csv has no consumption history")


def _scenario(base_year: int):  # noqa: ANN202 - a models.scenario.Scenario
    from models.scenario import _EXAMPLE, Scenario

    return Scenario.model_validate({**_EXAMPLE, "horizon": {"base_year": base_year, "end_year": 2035}})


def test_history_starting_after_the_base_year_is_refused(tmp_path: Path) -> None:
    from flows.validate import check_with_scenarios

    tables = load_inputs(write(tmp_path))  # history 2022-2023
    check_with_scenarios(tables, [_scenario(2022)])  # starts at the base year: fine
    with pytest.raises(InputError) as info:
        check_with_scenarios(tables, [_scenario(2030), _scenario(2021)])  # the earliest applies
    err = info.value
    assert (err.file, err.column, err.count) == ("demand_history.csv", "year", 2)
    assert [p.row for p in err.problems] == [4, 5]  # first row of BJ (2022), of XJ (2022)
    assert err.rule == ("the history of region 'BJ' starts in 2022, after the base year 2021 "
                        "(scenario 'example'): it must start at or before the base year")


def test_scenario_rules_are_reported_together(tmp_path: Path) -> None:
    from flows.validate import check_with_scenarios

    tables = load_inputs(write(tmp_path))  # C1 commissioned 2020, history from 2022
    with pytest.raises(InputError) as info:
        check_with_scenarios(tables, [_scenario(2019)])
    assert [(p.file, p.row, p.column) for p in info.value.problems] == [
        ("compute_centers.csv", 2, "commissioning_year"),
        ("demand_history.csv", 4, "year"),
        ("demand_history.csv", 5, "year"),
    ]


# ------------------------------------------------------------------ published estimates

PUBLISHED = """year,metric,value_low,value_high,unit,original_publisher,source_id
2030,China data-centre electricity consumption,400,400,TWh,Someone,S1
"""


def test_published_estimates_are_validated(tmp_path: Path) -> None:
    write(tmp_path, {"published_estimates.csv": PUBLISHED})
    loaded = load_inputs(tmp_path).published_estimates
    assert loaded["value_high"].tolist() == [400.0] and loaded["source_id"].tolist() == ["S1"]


@pytest.mark.parametrize(
    "content,row,column,rule",
    [
        (b"", None, None, "file is empty"),
        (PUBLISHED.encode("utf-16"), 1, None, "wrong encoding: the file is UTF-16"),
        (PUBLISHED.replace(",source_id", "").replace(",S1", ""), 1, "source_id",
         "required column is missing"),
        (PUBLISHED.replace("400,400", "500,400"), 2, "value_high", "value_low <= value_high"),
        (PUBLISHED.replace("2030,", "soon,"), 2, "year", "must be a number, got 'soon'"),
    ],
    ids=["empty", "utf-16", "no source_id", "low above high", "year not a number"],
)
def test_bad_published_estimates_are_refused(tmp_path: Path, content, row, column, rule) -> None:  # noqa: ANN001
    write(tmp_path, {"published_estimates.csv": content})
    expect_error(tmp_path, "published_estimates.csv", row, column, rule)


# ------------------------------------------------------------------ encodings, names, lengths


def test_utf16_without_bom_is_an_encoding_error(tmp_path: Path) -> None:
    write(tmp_path, {"regions.csv": REGIONS.encode("utf-16-le")})
    err = expect_error(tmp_path, "regions.csv", 1, None, "wrong encoding")
    assert "not UTF-8" in err.rule and "looks like UTF-16" in err.rule


def test_nul_byte_is_an_encoding_error(tmp_path: Path) -> None:
    write(tmp_path, {"hub_nodes.csv": HUBS.replace("Jing", "Ji\x00ng")})
    err = expect_error(tmp_path, "hub_nodes.csv", 2, None, "wrong encoding: the file is not UTF-8 text")
    assert "UTF-16" not in err.rule  # one NUL does not make a file UTF-16


def test_column_names_differing_only_by_case_are_refused(tmp_path: Path) -> None:
    hubs = "hub_id,name,lat,lon,zone,Source,source\nH1,A,39.9,116.4,east,x,y\n"
    write(tmp_path, {"hub_nodes.csv": hubs})
    expect_error(tmp_path, "hub_nodes.csv", 1, "source",
                 "column names 'Source' (column 6) and 'source' (column 7) differ only by case")


def test_known_column_repeated_in_another_case_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"hub_nodes.csv": "hub_id,name,lat,lon,zone,NAME\nH1,A,39.9,116.4,east,B\n"})
    expect_error(tmp_path, "hub_nodes.csv", 1, "NAME", "'name' (column 2) and 'NAME' (column 6)")


def test_text_cells_are_capped(tmp_path: Path) -> None:
    from flows.schema import MAX_TEXT_CHARS

    assert MAX_TEXT_CHARS == 500
    at_cap = "名" * 500  # 500 characters, 1,500 bytes: allowed
    write(tmp_path, {"hub_nodes.csv": HUBS.replace("Jing-Jin-Ji", at_cap)})
    assert load_inputs(tmp_path).hub_nodes["name"].iloc[0] == at_cap
    write(tmp_path, {"hub_nodes.csv": HUBS.replace("Jing-Jin-Ji", at_cap + "x")})
    expect_error(tmp_path, "hub_nodes.csv", 2, "name", "text is 501 characters long; at most 500")
    long_header = "hub_id,name,lat,lon,zone," + "s" * 501 + "\nH1,A,39.9,116.4,east,x\n"
    write(tmp_path, {"hub_nodes.csv": long_header})
    expect_error(tmp_path, "hub_nodes.csv", 1, "s" * 501, "text is 501 characters long")
# ------------------------------------------------------------------ statistical breaks

BREAKS = "statistical_breaks.csv"
BREAKS_OK = """region_id,year,reason,source
XJ,2019,scope change,S1
"""


def test_statistical_breaks_are_optional_and_typed(tmp_path: Path) -> None:
    assert load_inputs(write(tmp_path)).statistical_breaks is None
    b = load_inputs(write(tmp_path, {BREAKS: BREAKS_OK})).statistical_breaks
    assert b is not None and b["region_id"].tolist() == ["XJ"]
    assert b["year"].dtype == np.int64 and b["year"].tolist() == [2019]


@pytest.mark.parametrize(
    ("content", "row", "column", "rule"),
    [
        (set_cell(BREAKS_OK, 2, "region_id", "ZZ"), 2, "region_id", "is not a region_id of regions.csv"),
        (set_cell(BREAKS_OK, 2, "year", "2019.5"), 2, "year", "whole number"),
        (set_cell(BREAKS_OK, 2, "year", ""), 2, "year", "a value is required"),
        (BREAKS_OK + "XJ,2015,again,S1\n", 3, "region_id", "must be unique"),
    ],
    ids=["unknown region", "fractional year", "empty year", "two breaks in one region"],
)
def test_statistical_breaks_rules(
    tmp_path: Path, content: str, row: int | None, column: str, rule: str
) -> None:
    write(tmp_path, {BREAKS: content})
    expect_error(tmp_path, BREAKS, row, column, rule)
