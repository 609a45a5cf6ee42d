"""Reading and validating the input files (MODEL.md section 2), one test per rule.

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
"""
DEMAND = """region_id,year,consumption_twh
BJ,2023,130.5
XJ,2023,380
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
    ("demand_history.csv", 3, "consumption_twh", "-1", "must be >= 0, got -1"),
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
        4,
        "year",
        "(region_id, year) must be unique: (region_id='BJ', year=2023) is already on row 2",
    )


def test_pue_one_row_per_size_class_and_zone(tmp_path: Path) -> None:
    write(tmp_path, {"pue_assumptions.csv": PUE + "large,east,1.1,1.2,1.3\n"})
    expect_error(
        tmp_path,
        "pue_assumptions.csv",
        4,
        "zone",
        "(size_class, zone) must be unique: (size_class='large', zone='east') is already on row 2",
    )


def test_pue_row_required_for_every_size_class_and_zone_in_use(tmp_path: Path) -> None:
    write(tmp_path, {"pue_assumptions.csv": set_cell(PUE, 3, "zone", "east")})
    expect_error(
        tmp_path,
        "compute_centers.csv",
        3,
        "size_class",
        "pue_assumptions.csv has no row for size_class 'small_medium', zone 'west'",
    )


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
    assert "name_zh" not in t.regions.columns
    assert t.raw["regions"]["name_zh"].tolist() == ["北京", "新疆"]


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


@pytest.mark.parametrize(
    ("content", "row", "column", "rule"),
    [
        (hourly(("BJ", "ZZ")), 1, "ZZ", "column is not a region_id of regions.csv"),
        (
            hourly(hours=range(8759)),
            None,
            "hour_of_year",
            "must have exactly 8760 rows (hour_of_year 0-8759), got 8759; hour_of_year 8759 is missing",
        ),
        (hourly(hours=range(1, 8761)), 8761, "hour_of_year", "must be in [0, 8759], got 8760"),
        (set_cell(hourly(), 10, "XJ", "-5"), 10, "XJ", "must be >= 0, got -5"),
        (set_cell(hourly(), 10, "BJ", ""), 10, "BJ", "a value is required"),
    ],
    ids=["unknown region", "short", "one-based hours", "negative", "empty"],
)
def test_system_hourly_rules(
    tmp_path: Path, content: str, row: int | None, column: str, rule: str
) -> None:
    write(tmp_path, {SYSTEM: content})
    expect_error(tmp_path, SYSTEM, row, column, rule)


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
