"""Input and parameter hardening: bad values are refused in one sentence each, before any
work starts, and ``ingest`` refuses what ``run`` refuses, before anything is stored.

The unit cases call the functions the CLI calls; a few cases go through the real CLI in a
subprocess. Those that are refused before Prefect starts are fast (no server start); the
two that start Prefect are marked slow.
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
from pathlib import Path

import pytest
from hardening_support import REFERENCE_TOML, run_cli, shipped_files, snapshot, write_folder

from flows.errors import GridcastError
from flows.params import RunParams, run_params
from flows.validate import load_inputs
from flows.warehouse import WAIT_ENV, connect, store_inputs

SHIPPED = shipped_files()


# --------------------------------------------------------------------------- run parameters


@pytest.mark.parametrize(
    "values,message",
    [
        ({"draws": 2_000_000}, "--draws must be between 0 and {draws_max} (got 2000000)"),
        ({"draws": -1}, "--draws must be between 0 and {draws_max} (got -1)"),
        ({"rise_threshold": 0.0}, "--rise-threshold must be > 0 and < 10 (got 0.0)"),
        ({"rise_threshold": 10.0}, "--rise-threshold must be > 0 and < 10 (got 10.0)"),
        ({"rise_threshold": math.nan}, "--rise-threshold must be > 0 and < 10 (got nan)"),
        ({"rise_threshold": math.inf}, "--rise-threshold must be > 0 and < 10 (got inf)"),
        ({"runner": "dask", "dask_address": "http://x:1"},
         "--dask-address must be a scheduler address like tcp://HOST:PORT (got 'http://x:1')"),
        ({"seed": -5}, "--seed must be between 0 and 9223372036854775807 (got -5)"),
    ],
    ids=["draws too many", "draws negative", "threshold 0", "threshold 10", "threshold nan",
         "threshold inf", "dask address", "seed negative"],
)
def test_bad_run_parameter_is_one_line_with_the_allowed_range(values: dict, message: str) -> None:
    # The maximum is read from the field, so the message follows if the bound changes.
    draws_max = next(m.le for m in RunParams.model_fields["draws"].metadata if hasattr(m, "le"))
    with pytest.raises(GridcastError) as info:
        run_params(**values)
    assert str(info.value) == message.format(draws_max=draws_max)


def test_good_run_parameters_pass() -> None:
    assert run_params(draws=0, rise_threshold=9.99).draws == 0


def test_several_bad_parameters_one_line_each() -> None:
    with pytest.raises(GridcastError) as info:
        run_params(draws=-1, rise_threshold=math.nan)
    assert [line.split(" must ")[0] for line in str(info.value).splitlines()] == ["--draws", "--rise-threshold"]


@pytest.mark.parametrize(
    "args,option",
    [
        (["--draws", "2000000"], "--draws"),
        (["--rise-threshold", "nan"], "--rise-threshold"),
        (["--rise-threshold", "0"], "--rise-threshold"),
        (["--runner", "dask", "--dask-address", "udp://host:1"], "--dask-address"),
    ],
)
def test_cli_refuses_bad_values_before_prefect_starts(args: list[str], option: str, tmp_path: Path) -> None:
    res = run_cli(["run", "--warehouse", str(tmp_path / "wh.duckdb"), "--out", str(tmp_path / "o"), *args],
                  timeout=120)
    assert res.returncode == 2, res.stderr[-2000:]
    assert "Traceback" not in res.stderr + res.stdout
    assert "starting Prefect" not in res.stderr, "the values must be checked before Prefect starts"
    lines = [line for line in res.stderr.splitlines() if line.startswith("gridcast: ")]
    assert len(lines) == 1 and lines[0].startswith(f"gridcast: {option} must be "), res.stderr
    assert not (tmp_path / "o").exists() and not (tmp_path / "wh.duckdb").exists()


# --------------------------------------------------------------------------- warehouse wait


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_non_finite_or_negative_wait_is_refused(value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WAIT_ENV, value)
    with pytest.raises(GridcastError) as info, connect(tmp_path / "wh.duckdb"):
        pass
    assert str(info.value).startswith(f"{WAIT_ENV} must be a finite number of seconds >= 0, got ")
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- ingest == run


def _records(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def _dump(records: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(records)
    return out.getvalue().encode("utf-8")


def _history(keep) -> bytes:  # noqa: ANN001 - a predicate on (region_id, year)
    records = _records(SHIPPED["demand_history.csv"])
    return _dump([records[0]] + [r for r in records[1:] if keep(r[0], int(r[1]))])


def _history_rows(data: bytes, predicate) -> list[int]:  # noqa: ANN001
    """Spreadsheet rows (header = 1) of the history rows in ``data`` matching the predicate."""
    records = _records(data)
    return [i + 1 for i, r in enumerate(records) if i and predicate(r[0], int(r[1]))]


def _base_year() -> int:
    import tomllib

    return tomllib.loads(REFERENCE_TOML.read_text(encoding="utf-8"))["horizon"]["base_year"]


HISTORY_CASES = {
    # name: (new demand_history.csv, expected (row, column) of the first problem, rule fragment)
    "gap": (lambda: _history(lambda r, y: not (r == "CN-BJ" and y in (2015, 2016))),
            lambda data: (_history_rows(data, lambda r, y: r == "CN-BJ" and y == 2017)[0], "year"),
            "region 'CN-BJ' has no row for year 2015, 2016"),
    "one year": (lambda: _history(lambda r, y: r != "CN-XZ" or y == 2020),
                 lambda data: (None, "year"), "region 'CN-XZ' has one year of history (2020)"),
    "no history": (lambda: _history(lambda r, y: r != "CN-HI"),
                   lambda data: (None, "region_id"), "region 'CN-HI' of regions.csv has no consumption history"),
    "after base year": (lambda: _late_history("CN-GS"),
                        lambda data: (None, "year"), f"the history of region 'CN-GS' starts in {_base_year() + 1}"),
}


def _late_history(region: str) -> bytes:
    """The shipped history with ``region``'s rows moved to start the year after the base year."""
    records = _records(SHIPPED["demand_history.csv"])
    rows = [r for r in records[1:] if r[0] == region]
    shift = _base_year() + 1 - min(int(r[1]) for r in rows)
    moved = [[r[0], str(int(r[1]) + shift), *r[2:]] for r in rows]
    return _dump([records[0]] + [r for r in records[1:] if r[0] != region] + moved)


def _zero_twh() -> bytes:
    records = _records(SHIPPED["demand_history.csv"])
    records[5][records[0].index("consumption_twh")] = "0"
    return _dump(records)


def _refusal(files: dict[str, bytes]) -> GridcastError:
    """What ingest's check (load_inputs + check_with_scenarios, reference base year) raises."""
    from flows.scenarios import load_scenarios
    from flows.validate import check_with_scenarios

    with tempfile.TemporaryDirectory() as tmp:
        folder = write_folder(Path(tmp), files)
        with pytest.raises(GridcastError) as info:
            check_with_scenarios(load_inputs(folder), load_scenarios(REFERENCE_TOML))
    return info.value


@pytest.mark.parametrize("case", sorted(HISTORY_CASES))
def test_history_run_would_refuse_is_refused_up_front(case: str) -> None:
    make, where, fragment = HISTORY_CASES[case]
    data = make()
    err = _refusal({**SHIPPED, "demand_history.csv": data})
    row, column = where(data)
    assert err.file == "demand_history.csv" and err.column == column, str(err)
    if row is not None:
        assert err.row == row, str(err)
    assert fragment in str(err), str(err)


def test_zero_twh_is_refused_up_front() -> None:
    err = _refusal({**SHIPPED, "demand_history.csv": _zero_twh()})
    assert (err.file, err.row, err.column) == ("demand_history.csv", 6, "consumption_twh")
    assert err.rule == "must be > 0, got 0"


def test_the_baseline_accepts_what_validation_accepts() -> None:
    """The shipped history passes validation and the baseline model (no late refusal)."""
    from flows.baseline_cache import cached_forecast

    tables = load_inputs(write_folder(Path(tempfile.mkdtemp()), SHIPPED))
    cached_forecast(tables.demand_history, tables.statistical_breaks, _base_year(), _base_year() + 2)


@pytest.fixture(scope="module")
def loaded_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wh = tmp_path_factory.mktemp("limits") / "warehouse.duckdb"
    store_inputs(wh, load_inputs(write_folder(tmp_path_factory.mktemp("data"), SHIPPED)))
    return wh


def test_cli_ingest_refuses_a_history_gap_without_storing(loaded_warehouse: Path, tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "data", {**SHIPPED, "demand_history.csv": HISTORY_CASES["gap"][0]()})
    before = snapshot(loaded_warehouse)
    res = run_cli(["ingest", "--data", str(folder), "--warehouse", str(loaded_warehouse)], timeout=300)
    assert res.returncode == 2, res.stderr[-3000:]
    assert "Traceback" not in res.stderr
    assert "starting Prefect" not in res.stderr  # refused by the check before Prefect
    assert "gridcast: invalid input: file demand_history.csv" in res.stderr
    assert "region 'CN-BJ' has no row for year 2015, 2016" in res.stderr
    assert snapshot(loaded_warehouse) == before


def test_cli_ingest_takes_the_base_year_from_scenario(loaded_warehouse: Path, tmp_path: Path) -> None:
    # Every shipped region's history starts in 2007; a scenario based in 2006 refuses them all.
    first = min(int(r[1]) for r in _records(SHIPPED["demand_history.csv"])[1:])
    text = REFERENCE_TOML.read_text(encoding="utf-8").replace(
        f"base_year = {_base_year()}", f"base_year = {first - 1}")
    assert f"base_year = {first - 1}" in text
    scenario = tmp_path / "early.toml"
    scenario.write_text(text.replace('name = "reference"', 'name = "early"'), encoding="utf-8")
    folder = write_folder(tmp_path / "data", SHIPPED)
    before = snapshot(loaded_warehouse)
    res = run_cli(["ingest", "--data", str(folder), "--warehouse", str(loaded_warehouse),
                   "--scenario", str(scenario)], timeout=300)
    assert res.returncode == 2, res.stderr[-3000:]
    lines = [line for line in res.stderr.splitlines() if line.startswith("gridcast: ")]
    assert len(lines) == 21 and lines[-1] == "gridcast: ... and 11 more problems", lines  # 31 regions
    assert f"after the base year {first - 1} (scenario 'early')" in lines[0]
    assert snapshot(loaded_warehouse) == before


@pytest.mark.slow
@pytest.mark.integration
def test_cli_run_refuses_bad_history_before_storing(loaded_warehouse: Path, tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "data", {**SHIPPED, "demand_history.csv": HISTORY_CASES["one year"][0]()})
    before = snapshot(loaded_warehouse)
    res = run_cli(["run", "--data", str(folder), "--warehouse", str(loaded_warehouse), "--draws", "0",
                   "--scenario", str(REFERENCE_TOML), "--out", str(tmp_path / "out")])
    assert res.returncode == 2, res.stderr[-3000:]
    assert "Traceback" not in res.stderr + res.stdout, res.stderr[-3000:]
    assert "region 'CN-XZ' has one year of history (2020)" in res.stderr
    assert snapshot(loaded_warehouse, prefixes=("core_", "raw_")) == {
        k: v for k, v in before.items() if not k.startswith("in_inputs")}
