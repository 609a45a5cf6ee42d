"""Fuzzing the input folder: broken variants of the shipped CSV files.

Every variant starts from data/default and breaks it one way (or a few ways at once).
The input contract (``flows.schema``): the folder is either loaded or refused with exactly
one :class:`InputError` whose message has one line per broken rule (at most 20, then a
count), each naming the file; never another exception. Variants that certainly break a rule must be refused, in the file that was
broken; variants that only change the encoding of the same content (BOM, CRLF) must load
to the very same tables.

A few variants go through the real ``gridcast ingest`` (a subprocess; each call starts
Prefect): exit status 2, exactly one ``gridcast: invalid input`` line, no traceback, and
the warehouse's tables unchanged. The rule-by-rule unit tests live in
tests/flows/test_validate.py; this module does not repeat them.
"""

from __future__ import annotations

import codecs
import csv
import io
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from hardening_support import run_cli, shipped_files, snapshot, user_error_lines, write_folder
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from flows.errors import MAX_LISTED, InputError
from flows.schema import MAX_TEXT_CHARS, TABLES, Table
from flows.validate import load_inputs
from flows.warehouse import store_inputs

SHIPPED = shipped_files()
BY_FILE: dict[str, Table] = {t.file: t for t in TABLES.values() if t.file in SHIPPED}
# The wide hourly file is big (8760 x 32): cell-level mutations pick it less often.
SMALL_FILES = sorted(f for f in BY_FILE if not BY_FILE[f].wide)
ALL_FILES = sorted(BY_FILE)

REFUSE, EITHER, SAME = "refuse", "either", "same"
Records = list[list[str]]

NOT_NUMBERS = ["abc", "1,5", "0x1A", "12 MW", "true", "--1", "1e", ".", "1.2.3", "١٢", "1\n2", "½"]
NON_FINITE = ["NaN", "nan", "-nan", "inf", "-inf", "+Infinity", "1e999", "-1e400"]
HUGE = ["1e300", "1.7976931348623157e308", "9223372036854775808", "123456789012345678901234567890",
        "1e-320", "4.9e-324"]
ODD_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)

SETTINGS = settings(max_examples=6, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# --------------------------------------------------------------------------- helpers


def parse(data: bytes) -> Records:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def dump(records: Records, delimiter: str = ",") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(records)
    return out.getvalue().encode("utf-8")


def numeric_columns(table: Table, header: list[str]) -> list[str]:
    known = {c.name: c for c in table.columns}
    return [h for h in header if (h in known and known[h].numeric) or (h not in known and table.wide)]


def set_cell(records: Records, row: int, column: str, value: str) -> Records:
    out = [list(r) for r in records]
    out[row][out[0].index(column)] = value
    return out


def pick_cell(draw: st.DataObject, records: Records, columns: list[str]) -> tuple[int, str]:
    column = draw.draw(st.sampled_from(columns), label="column")
    row = draw.draw(st.integers(1, len(records) - 1), label="row")
    return row, column


# --------------------------------------------------------------------------- mutations
# Each takes (file name, its bytes, hypothesis data) and returns (new bytes, expectation).


def m_missing_column(file: str, data: bytes, draw: st.DataObject) -> tuple[bytes, str]:
    records = parse(data)
    i = draw.draw(st.integers(0, len(records[0]) - 1), label="dropped column")
    table = BY_FILE[file]
    name = records[0][i]
    required = any(c.name == name and c.required for c in table.columns)
    return dump([r[:i] + r[i + 1:] for r in records]), REFUSE if required else EITHER


def m_extra_column(file: str, data: bytes, draw: st.DataObject) -> tuple[bytes, str]:
    records = parse(data)
    name = draw.draw(ODD_TEXT, label="extra header")
    value = draw.draw(ODD_TEXT, label="extra value")
    return dump([records[0] + [name]] + [r + [value] for r in records[1:]]), EITHER


def m_duplicated_column(file: str, data: bytes, draw: st.DataObject) -> tuple[bytes, str]:
    records = parse(data)
    i = draw.draw(st.integers(0, len(records[0]) - 1), label="duplicated column")
    j = draw.draw(st.integers(0, len(records[0])), label="position")
    return dump([r[:j] + [r[i]] + r[j:] for r in records]), REFUSE


def m_wrong_type(file: str, data: bytes, draw: st.DataObject) -> tuple[bytes, str]:
    records = parse(data)
    row, col = pick_cell(draw, records, numeric_columns(BY_FILE[file], records[0]))
    return dump(set_cell(records, row, col, draw.draw(st.sampled_from(NOT_NUMBERS)))), REFUSE


def m_non_finite(file: str, data: bytes, draw: st.DataObject) -> tuple[bytes, str]:
    records = parse(data)
    row, col = pick_cell(draw, records, numeric_columns(BY_FILE[file], records[0]))
    return dump(set_cell(records, row, col, draw.draw(st.sampled_from(NON_FINITE)))), REFUSE


def m_negative(file: str, data: bytes, draw: st.DataObject) -> tuple[bytes, str]:
    records = parse(data)
    row, col = pick_cell(draw, records, numeric_columns(BY_FILE[file], records[0]))
    value = records[row][records[0].index(col)]
    return dump(set_cell(records, row, col, "-" + (value.lstrip("+-") or "1"))), EITHER


def m_huge(file: str, data: bytes, draw: st.DataObject) -> tuple[bytes, str]:
    records = parse(data)
    row, col = pick_cell(draw, records, numeric_columns(BY_FILE[file], records[0]))
    return dump(set_cell(records, row, col, draw.draw(st.sampled_from(HUGE)))), EITHER


def m_empty_file(file: str, data: bytes, draw: st.DataObject) -> tuple[bytes, str]:
    return draw.draw(st.sampled_from([b"", b"\n", b"\r\n\r\n", b"   ", codecs.BOM_UTF8])), REFUSE


def m_header_only(file: str, data: bytes, draw: st.DataObject) -> tuple[bytes, str]:
    header = data.split(b"\n", 1)[0]
    # a planned_centers.csv with a header only is the contract's "no pipeline"
    expect = EITHER if file == "planned_centers.csv" else REFUSE
    return header + draw.draw(st.sampled_from([b"", b"\n", b"\n\n"])), expect


def m_bom(file: str, data: bytes, draw: st.DataObject) -> tuple[bytes, str]:
    return codecs.BOM_UTF8 + data, SAME


def m_crlf(file: str, data: bytes, draw: st.DataObject) -> tuple[bytes, str]:
    crlf = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if draw.draw(st.booleans(), label="strip last newline"):
        crlf = crlf.rstrip(b"\r\n")
    return crlf, SAME


def m_semicolon(file: str, data: bytes, draw: st.DataObject) -> tuple[bytes, str]:
    return dump(parse(data), delimiter=";"), REFUSE


def m_latin1(file: str, data: bytes, draw: st.DataObject) -> tuple[bytes, str]:
    records = parse(data)
    row = draw.draw(st.integers(1, len(records) - 1), label="row")
    col = draw.draw(st.integers(0, len(records[0]) - 1), label="column")
    text = dump(records).decode("utf-8").splitlines(keepends=True)
    # Re-encode one line with a Latin-1 character, as a spreadsheet in a Western locale would.
    fields = next(csv.reader([text[row]]))
    fields[col] = fields[col] + "é"
    line = io.StringIO()
    csv.writer(line, lineterminator="\n").writerow(fields)
    latin1 = line.getvalue().encode("latin-1", errors="replace")  # CJK names become '?'
    blob = b"".join(t.encode("utf-8") for t in text[:row]) + latin1
    return blob + b"".join(t.encode("utf-8") for t in text[row + 1:]), REFUSE


def m_duplicated_id(file: str, data: bytes, draw: st.DataObject) -> tuple[bytes, str]:
    records = parse(data)
    row = draw.draw(st.integers(1, len(records) - 1), label="row")
    at = draw.draw(st.integers(1, len(records)), label="insert at")
    return dump(records[:at] + [records[row]] + records[at:]), REFUSE


def m_dangling_reference(file: str, data: bytes, draw: st.DataObject) -> tuple[bytes, str]:
    records = parse(data)
    refs = [c.name for c in BY_FILE[file].columns if c.references and c.name in records[0]]
    if not refs:  # the wide hourly file: a column that is not a region_id
        i = draw.draw(st.integers(1, len(records[0]) - 1), label="wide column")
        records[0][i] = "ZZ-" + records[0][i]
        return dump(records), REFUSE
    row, col = pick_cell(draw, records, refs)
    value = "ZZ-" + draw.draw(ODD_TEXT, label="unknown id")
    return dump(set_cell(records, row, col, value)), REFUSE


def m_drop_row(file: str, data: bytes, draw: st.DataObject) -> tuple[bytes, str]:
    records = parse(data)
    row = draw.draw(st.integers(1, len(records) - 1), label="dropped row")
    return dump(records[:row] + records[row + 1:]), EITHER


def m_case_duplicate_column(file: str, data: bytes, draw: st.DataObject) -> tuple[bytes, str]:
    records = parse(data)
    i = draw.draw(st.integers(0, len(records[0]) - 1), label="column repeated in another case")
    name = records[0][i]
    other = name.upper() if name != name.upper() else name.lower() + "_" * (name == name.lower())
    if other.casefold() != name.casefold():  # a name without letters: repeat it as it is
        other = name
    return dump([r + [r[i] if k else other] for k, r in enumerate(records)]), REFUSE


def m_long_text(file: str, data: bytes, draw: st.DataObject) -> tuple[bytes, str]:
    records = parse(data)
    row = draw.draw(st.integers(0, len(records) - 1), label="row (0 = header)")
    col = draw.draw(st.integers(0, len(records[0]) - 1), label="column")
    extra = draw.draw(st.integers(1, 3000), label="characters over the cap")
    records[row][col] = records[row][col] + "名" * (MAX_TEXT_CHARS + extra)
    return dump(records), REFUSE


def m_utf16(file: str, data: bytes, draw: st.DataObject) -> tuple[bytes, str]:
    codec = draw.draw(st.sampled_from(["utf-16", "utf-16-le", "utf-16-be"]), label="codec")
    return data.decode("utf-8-sig").encode(codec), REFUSE


MUTATIONS: dict[str, Callable[[str, bytes, st.DataObject], tuple[bytes, str]]] = {
    "case_duplicate_column": m_case_duplicate_column,
    "long_text": m_long_text,
    "utf16": m_utf16,
    "missing_column": m_missing_column,
    "extra_column": m_extra_column,
    "duplicated_column": m_duplicated_column,
    "wrong_type": m_wrong_type,
    "non_finite": m_non_finite,
    "negative": m_negative,
    "huge": m_huge,
    "empty_file": m_empty_file,
    "header_only": m_header_only,
    "bom": m_bom,
    "crlf": m_crlf,
    "semicolon": m_semicolon,
    "latin1": m_latin1,
    "duplicated_id": m_duplicated_id,
    "dangling_reference": m_dangling_reference,
    "drop_row": m_drop_row,
}


# Which files a mutation applies to (default: the small ones).
REFERRING = sorted(f for f, t in BY_FILE.items() if t.wide or any(c.references for c in t.columns))
FILES_FOR = {k: ALL_FILES for k in ("bom", "crlf", "empty_file", "header_only", "utf16")}
FILES_FOR["dangling_reference"] = REFERRING
# a repeated row breaks a file's unique key; a file without one (published estimates) may repeat
FILES_FOR["duplicated_id"] = sorted(f for f in SMALL_FILES if BY_FILE[f].key or BY_FILE[f].wide)


# --------------------------------------------------------------------------- checks


_REFERENCE: dict[str, pd.DataFrame] = {}


def reference_tables() -> dict[str, pd.DataFrame]:
    if not _REFERENCE:
        with tempfile.TemporaryDirectory() as tmp:
            loaded = load_inputs(write_folder(Path(tmp), SHIPPED))
        _REFERENCE.update({name: getattr(loaded, name) for name in TABLES if getattr(loaded, name) is not None})
    return _REFERENCE


def load_or_input_error(files: dict[str, bytes]):  # noqa: ANN201
    """Load a folder of ``files``; return the tables or the InputError (anything else fails)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_folder(Path(tmp), files)
        try:
            return load_inputs(folder)
        except InputError as err:
            msg = str(err)
            assert msg.startswith(f"invalid input: file {err.file}"), msg
            check_listing(err)
            known = set(files) | {t.file for t in TABLES.values()}
            assert all(p.file in known for p in err.problems), msg
            return err


def check_listing(err: InputError) -> None:
    """One line per problem (at most MAX_LISTED), then '... and N more problems' if any."""
    lines = str(err).split("\n")
    assert "\r" not in str(err), repr(str(err))
    assert len(err.problems) == min(err.count, MAX_LISTED), (len(err.problems), err.count)
    assert lines[: len(err.problems)] == [str(p) for p in err.problems]
    assert all(line.startswith("invalid input: file ") for line in lines[: len(err.problems)])
    rest = err.count - len(err.problems)
    if rest:
        assert lines[len(err.problems):] == [f"... and {rest} more problem{'s' if rest > 1 else ''}"]
    else:
        assert len(lines) == err.count


def check(file: str, expect: str, outcome) -> None:  # noqa: ANN001
    if expect == REFUSE:
        assert isinstance(outcome, InputError), f"{file}: a broken file was loaded"
        assert outcome.file == file, f"error names {outcome.file}, not the broken {file}: {outcome}"
    elif expect == SAME:
        assert not isinstance(outcome, InputError), f"{file}: {outcome}"
        for name, frame in reference_tables().items():
            pd.testing.assert_frame_equal(getattr(outcome, name), frame, obj=name)


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
@SETTINGS
@given(draw=st.data())
def test_mutated_file_loads_or_is_refused_in_one_line(kind: str, draw: st.DataObject) -> None:
    file = draw.draw(st.sampled_from(FILES_FOR.get(kind, SMALL_FILES)), label="file")
    data, expect = MUTATIONS[kind](file, SHIPPED[file], draw)
    outcome = load_or_input_error({**SHIPPED, file: data})
    # Shown by `pytest --hypothesis-show-statistics`: what each variant led to.
    event(f"{file}: {'refused: ' + outcome.rule[:50] if isinstance(outcome, InputError) else 'loaded'}")
    check(file, expect, outcome)


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(draw=st.data())
def test_several_mutations_at_once_load_or_are_refused(draw: st.DataObject) -> None:
    files = dict(SHIPPED)
    targets = draw.draw(st.lists(st.sampled_from(SMALL_FILES), min_size=2, max_size=4, unique=True))
    for file in targets:
        kind = draw.draw(st.sampled_from(sorted(MUTATIONS)), label="kind")
        if kind == "dangling_reference" and file not in REFERRING:
            continue
        files[file] = MUTATIONS[kind](file, SHIPPED[file], draw)[0]
    outcome = load_or_input_error(files)
    if not isinstance(outcome, InputError):
        # Whatever loads must also store: a valid folder never breaks the warehouse.
        with tempfile.TemporaryDirectory() as tmp:
            store_inputs(Path(tmp) / "wh.duckdb", outcome)


def test_missing_required_file_is_refused(tmp_path: Path) -> None:
    for file in (f for f in SMALL_FILES if not BY_FILE[f].optional):  # optional inputs may be absent
        outcome = load_or_input_error({k: v for k, v in SHIPPED.items() if k != file})
        check(file, EITHER if BY_FILE[file].optional else REFUSE, outcome)


# --------------------------------------------------------------------------- the real CLI


def _case_semicolon() -> tuple[str, bytes]:
    return "compute_centers.csv", dump(parse(SHIPPED["compute_centers.csv"]), delimiter=";")


def _case_dangling_region() -> tuple[str, bytes]:
    records = parse(SHIPPED["compute_centers.csv"])
    return "compute_centers.csv", dump(set_cell(records, len(records) - 1, "region_id", "CN-ZZ"))


def _case_latin1() -> tuple[str, bytes]:
    # regions.csv saved as Latin-1 by a spreadsheet (its CJK names turn into '?').
    records = parse(SHIPPED["regions.csv"])
    text = dump(set_cell(records, 3, "name", "Chongqing (Ch\u00e9)")).decode("utf-8")
    return "regions.csv", text.encode("latin-1", errors="replace")


CLI_CASES = {"semicolon": _case_semicolon, "dangling_region": _case_dangling_region,
             "latin1": _case_latin1}


@pytest.fixture(scope="module")
def loaded_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse holding the shipped data (stored in-process: no Prefect start needed)."""
    wh = tmp_path_factory.mktemp("fuzz-cli") / "warehouse.duckdb"
    with tempfile.TemporaryDirectory() as tmp:
        store_inputs(wh, load_inputs(write_folder(Path(tmp), SHIPPED)))
    return wh


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_cli_refuses_in_one_line_and_keeps_the_warehouse(case: str, loaded_warehouse: Path,
                                                         tmp_path: Path) -> None:
    file, data = CLI_CASES[case]()
    folder = write_folder(tmp_path / "data", {**SHIPPED, file: data})
    before = snapshot(loaded_warehouse)
    res = run_cli(["ingest", "--data", str(folder), "--warehouse", str(loaded_warehouse)])
    assert res.returncode == 2, res.stderr[-3000:]
    assert "Traceback" not in res.stderr + res.stdout, res.stderr[-3000:]
    lines = user_error_lines(res.stderr)
    assert len(lines) == 1, res.stderr[-3000:]
    assert lines[0].startswith(f"gridcast: invalid input: file {file}"), lines[0]
    assert snapshot(loaded_warehouse) == before
