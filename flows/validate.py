"""Read the input CSV files of a data directory and check them against ``flows.schema``.

Every check is vectorised over whole columns. Every broken rule of a file is reported at
once, as one :class:`~flows.errors.InputError` listing each problem (file, row in
spreadsheet numbering: header = row 1, column and rule; at most ``MAX_LISTED`` lines, then
a count). A file that breaks a rule is refused whole: nothing is returned. Rules that need
the scenario (the base year) are checked by :func:`check_with_scenarios`, which ``ingest``
and ``run`` both call before anything is stored.

Reading: bytes must be UTF-8 (a UTF-8 byte-order mark is stripped; a NUL byte in the first 64 KiB, as
UTF-16 text has, is refused as a wrong encoding), lines may end in LF or
CRLF, fields are comma-separated with ``"`` quoting. Leading and trailing whitespace of
header names and cells is ignored. Fully empty lines are skipped (row numbers still count
them, as a spreadsheet does). Column names must differ other than by case, and no cell or
header name may be longer than ``MAX_TEXT_CHARS`` characters.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from flows.errors import MAX_LISTED, InputError, InputProblem
from flows.schema import (
    HOURS_PER_LEAP_YEAR,
    HOURS_PER_YEAR,
    LOAD_SHAPE_MEAN_TOLERANCE,
    MAX_TEXT_CHARS,
    SOURCE_ROW,
    SYSTEM_HOURLY_LEGACY_FILE,
    TABLES,
    WORKLOADS,
    Column,
    InputTables,
    Table,
    empty_typed_frame,
)

__all__ = [
    "InputTables",
    "check_commissioning",
    "check_history_base_year",
    "check_with_scenarios",
    "load_inputs",
    "read_csv_text",
    "read_header_only",
    "validate_table_bytes",
]

# One grammar for numbers, whatever the parser: optional sign, digits with an optional
# decimal point, optional exponent. No thousands separators, no hex, no nan/inf.
_NUMBER_RE = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_ZONES = TABLES["regions"].column("zone").allowed or ()
_SIZE_CLASSES = TABLES["pue_assumptions"].column("size_class").allowed or ()
_ENCODING_PROBE_BYTES = 1 << 16  # a NUL byte in the first 64 KiB: not UTF-8 text
# Files where a header with no rows is a valid "nothing" (no planned projects) rather than a
# broken file.
_HEADER_ONLY_OK = frozenset({"planned_centers"})
_NON_FINITE = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


# --------------------------------------------------------------------------- collecting
# Checks report problems with ``_fail`` (a whole mask at once) or ``_problem``. Inside
# ``_collecting()`` they are gathered and raised together when the block ends (or at a
# ``_stop()``, where later checks need earlier ones to have passed); outside, the first
# check that fails raises at once. A check that raises InputError itself is merged too.

_KEPT = 50 * MAX_LISTED  # problems kept for sorting; the rest are only counted


class _Collector:
    def __init__(self) -> None:
        self.problems: list[InputProblem] = []
        self.count = 0

    def add(self, problems: Iterable[InputProblem], count: int) -> None:
        room = _KEPT - len(self.problems)
        self.problems.extend(list(problems)[: max(room, 0)])
        self.count += count

    def error(self) -> InputError:
        order = {f: i for i, f in reversed(list(enumerate(p.file for p in self.problems)))}
        ranked = sorted(self.problems,
                        key=lambda p: (order[p.file], -1 if p.row is None else p.row))
        err = InputError.of(ranked[:MAX_LISTED], self.count)
        err._collector = self  # type: ignore[attr-defined]
        return err


_ACTIVE: ContextVar[_Collector | None] = ContextVar("gridcast_input_problems", default=None)


@contextmanager
def _collecting() -> Iterator[_Collector]:
    found = _Collector()
    token = _ACTIVE.set(found)
    try:
        yield found
    except InputError as err:
        if getattr(err, "_collector", None) is not found:
            found.add(err.problems, err.count)
        raise found.error() from None
    finally:
        _ACTIVE.reset(token)
    if found.count:
        raise found.error()


def _report(problems: list[InputProblem], count: int) -> None:
    found = _ACTIVE.get()
    if found is None:
        if problems:
            raise InputError.of(problems, count)
        return
    found.add(problems, count)


def _problem(file: str, rule: str, row: int | None = None, column: str | None = None) -> None:
    """Report one problem (raise it at once outside ``_collecting``)."""
    _report([InputProblem(str(file), rule, row, column)], 1)


def _stop() -> None:
    """Raise what was collected so far (later checks need these to have passed)."""
    found = _ACTIVE.get()
    if found is not None and found.count:
        raise found.error()


def _problem_count() -> int:
    found = _ACTIVE.get()
    return 0 if found is None else found.count


def load_inputs(data_dir: Path) -> InputTables:
    """Read and validate the input files (the optional ones when present).

    Args:
        data_dir: directory holding ``regions.csv``, ``hub_nodes.csv``,
            ``compute_centers.csv``, ``pue_assumptions.csv``, ``demand_history.csv``,
            ``load_shapes.csv`` and optionally ``published_estimates.csv`` and
            ``system_hourly_load_mw.csv`` (or version 1's ``system_hourly_load_2018_mw.csv``).

    Returns:
        The typed tables (index ``source_row``), the raw text and the files' sha256.

    Raises:
        InputError: every broken rule of the first file that breaks one (rules in
            ``flows.schema``), or every broken rule between files (references, coverage).
    """
    data_dir = Path(data_dir)
    typed: dict[str, pd.DataFrame] = {}
    raw: dict[str, pd.DataFrame] = {}
    hashes: dict[str, str] = {}
    for table in TABLES.values():
        path = data_dir / table.file
        if table.name == "system_hourly" and not path.is_file():
            table = replace(table, file=SYSTEM_HOURLY_LEGACY_FILE)  # version 1's name
            path = data_dir / table.file
        if not path.is_file():
            if table.optional:
                continue
            raise InputError(table.file, f"required file not found in {data_dir}")
        data = path.read_bytes()
        hashes[table.file] = hashlib.sha256(data).hexdigest()
        if table.name in _HEADER_ONLY_OK and _header_only(data, table.file):
            raw[table.name] = read_header_only(data, table)
            typed[table.name] = empty_typed_frame(table)
            continue
        with _collecting():
            raw_frame, clean = _read(data, table.file)
            raw[table.name] = raw_frame
            typed[table.name] = _typed_table(clean, table, typed)
    with _collecting():
        _check_references(typed)
        _stop()  # the checks below look regions up: they need the references to resolve
        _check_pue_coverage(typed)
        _check_pue_new_build(typed)
        _check_history(typed["demand_history"], TABLES["demand_history"])
        _check_history_coverage(typed)
        _check_region_coverage(typed, ("grid_emission_factors", "electricity_prices"))
    return InputTables(**{name: typed.get(name) for name in TABLES}, raw=raw, hashes=hashes)


def validate_table_bytes(data: bytes, table: Table, context: InputTables) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate one file's bytes as ``table`` (header only allowed for planned_centers).

    References resolve against ``context`` (the data folder's validated tables). Messages
    name ``table.file``.

    Returns:
        (raw frame, typed frame), index ``source_row``.
    """
    if table.name in _HEADER_ONLY_OK and _header_only(data, table.file):
        return read_header_only(data, table), empty_typed_frame(table)
    known = {name: frame for name, frame in context.typed().items() if name != table.name}
    with _collecting():
        raw_frame, clean = _read(data, table.file)
        frame = _typed_table(clean, table, known)
    refs = {k: v for k, v in known.items() if k in ("regions", "hub_nodes")}
    refs[table.name] = frame
    try:
        with _collecting():
            _check_references(refs)
    except InputError as err:  # the references rule names the schema's file: name this one
        raise InputError.of([replace(q, file=table.file) for q in err.problems], err.count) from None
    return raw_frame, frame


def _header_only(data: bytes, file: str) -> bool:
    """True when the file holds a header line and nothing else (blank lines aside)."""
    text = _check_utf8(data, file).decode("utf-8")
    return len([line for line in text.splitlines() if line.strip(" \t,")]) == 1


def read_header_only(data: bytes, table: Table) -> pd.DataFrame:
    """The zero-row raw frame of a header-only file (its columns as written)."""
    names = [h.strip() for h in _header(_check_utf8(data, table.file), table.file)]
    index = pd.Index([], dtype="int64", name=SOURCE_ROW)
    return pd.DataFrame({n: pd.Series([], dtype="string", index=index) for n in names if n}, index=index)


def check_with_scenarios(tables: InputTables, scenarios: Iterable[Any]) -> None:
    """Every input rule that needs the scenarios (their base year), all problems at once.

    ``gridcast ingest`` (with the scenario it is given, default the shipped reference) and
    ``gridcast run`` (with every scenario of the run) call this before anything is stored,
    so both refuse the same folders.

    Args:
        tables: validated inputs from :func:`load_inputs`.
        scenarios: :class:`~flows.scenarios.LoadedScenario` or
            :class:`~models.scenario.Scenario` objects; the earliest base year applies
            (the baseline is forecast once, from it).

    Raises:
        InputError: listing every broken rule.
    """
    found = [getattr(s, "scenario", s) for s in scenarios]
    if not found:
        return
    earliest = min(found, key=lambda s: s.horizon.base_year)
    base_year = earliest.horizon.base_year
    with _collecting():
        check_commissioning(tables.compute_centers, base_year)
        check_history_base_year(tables.demand_history, base_year, scenario=earliest.name)


def check_commissioning(
    centers: pd.DataFrame, base_year: int, file: str = "compute_centers.csv"
) -> None:
    """Refuse centres commissioned after the base year (the file is the base-year fleet).

    Args:
        centers: typed compute centres; rows are reported by the ``source_row`` index
            when present, else by position (first row = row 2).
        base_year: the scenario's base year.
        file: file name for the message.

    Raises:
        InputError: listing every centre with ``commissioning_year > base_year``.
    """
    if "commissioning_year" not in centers.columns:
        return
    years = pd.to_numeric(centers["commissioning_year"]).astype("Float64")
    late = (years > base_year).fillna(False).to_numpy(dtype=bool)
    rows = _source_rows(centers)
    _fail(
        file,
        rows,
        late,
        "commissioning_year",
        lambda pos: "the file lists the fleet operating in the base year: commissioning after "
        f"base year {base_year} is not supported yet (got {int(years.iloc[pos])}); "
        "list a centre that is not operating yet in planned_centers.csv (or a --planned file)",
    )


def check_history_base_year(
    history: pd.DataFrame, base_year: int, scenario: str | None = None,
    file: str = "demand_history.csv",
) -> None:
    """Refuse a region whose consumption history starts after the base year.

    The baseline is fitted on the history up to and including the base year, so every
    region's first year must be at or before it.

    Args:
        history: typed demand history (rows reported by the ``source_row`` index).
        base_year: the scenario's base year.
        scenario: the scenario's name, for the message.
        file: file name for the message.

    Raises:
        InputError: naming the first row of every such region.
    """
    if history.empty:
        return
    rows = _source_rows(history)
    order = np.lexsort((history["year"].to_numpy(), history["region_id"].to_numpy(dtype=object)))
    region = history["region_id"].to_numpy(dtype=object)[order]
    year = history["year"].to_numpy()[order]
    first = np.r_[True, region[1:] != region[:-1]]
    late = first & (year > base_year)
    which = f" (scenario {scenario!r})" if scenario else ""
    _fail(
        file,
        rows[order],
        late,
        "year",
        lambda pos: f"the history of region {region[pos]!r} starts in {int(year[pos])}, after "
        f"the base year {base_year}{which}: it must start at or before the base year",
    )


def _source_rows(frame: pd.DataFrame) -> np.ndarray:
    """Spreadsheet rows of ``frame``: its ``source_row`` index, else positions from row 2."""
    if frame.index.name == SOURCE_ROW:
        return frame.index.to_numpy()
    return np.arange(2, len(frame) + 2)


def read_csv_text(data: bytes, file: str) -> pd.DataFrame:
    """Parse CSV bytes into a frame of strings as written (index ``source_row``).

    Args:
        data: the file's bytes.
        file: file name for messages.

    Returns:
        One string column per header name (names stripped of whitespace), cells untouched;
        fully empty lines dropped.

    Raises:
        InputError: not UTF-8, empty, wrong separator, malformed, bad header, no data rows.
    """
    with _collecting():
        return _read(data, file)[0]


# --------------------------------------------------------------------------- reading


def _read(data: bytes, file: str) -> tuple[pd.DataFrame, pa.Table]:
    """Return (raw frame, trimmed Arrow table with a ``source_row`` column)."""
    data = _check_utf8(data, file)
    if not data or data.isspace():
        raise InputError(file, "file is empty")
    header = _header(data, file)
    table = _parse(data, len(header), file)
    names = [h.strip() for h in header]
    trimmed = [pc.utf8_trim_whitespace(table.column(i)) for i in range(table.num_columns)]
    keep = _check_header(names, trimmed, file)
    _check_text_length(table, names, keep, file)
    _stop()
    rows = np.arange(1, table.num_rows + 1, dtype=np.int64)[1:]
    filled = np.zeros(table.num_rows - 1, dtype=bool)
    for i in keep:
        filled |= pc.not_equal(trimmed[i].slice(1), "").to_numpy(zero_copy_only=False)
    if not filled.any():
        raise InputError(file, "the file has a header but no data rows")
    index = pd.Index(rows[filled], name=SOURCE_ROW)
    # Most files have no blank line: then slicing off the header is all that is needed, and
    # the copy a filter makes of every column (~2x the file's size at 1M rows) is skipped.
    if filled.all():
        rows_of = lambda col: col.slice(1)  # noqa: E731
    else:
        mask = pa.array(filled)
        rows_of = lambda col: col.slice(1).filter(mask)  # noqa: E731
    raw = pd.DataFrame(
        {names[i]: rows_of(table.column(i)).to_pandas().set_axis(index) for i in keep},
        index=index,
    )
    clean = pa.table(
        {names[i]: rows_of(trimmed[i]) for i in keep} | {SOURCE_ROW: pa.array(index.to_numpy())}
    )
    return raw, clean


def _check_utf8(data: bytes, file: str) -> bytes:
    """Return ``data`` without a UTF-8 byte-order mark, or refuse bytes that are not UTF-8.

    UTF-16 text is refused by name: with a byte-order mark it is not UTF-8 at all, and
    without one its ASCII letters come out as valid UTF-8 with a NUL byte between each.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(
            file,
            "wrong encoding: the file is UTF-16 (it starts with a UTF-16 byte-order mark), "
            "not UTF-8; save the file as UTF-8 ('CSV UTF-8')",
            row=1,
        )
    # UTF-16 has a NUL in every other byte of ASCII text, so the head shows it; searching
    # the whole of a large file would cost a pass over it for nothing.
    nul = data.find(b"\x00", 0, _ENCODING_PROBE_BYTES)
    if nul >= 0:
        head = data[:4096]
        odd, even = head[1::2].count(0), head[0::2].count(0)
        utf16 = max(odd, even) > len(head) // 8
        guess = " and looks like UTF-16 (a NUL byte between letters)" if utf16 else ""
        raise InputError(
            file,
            f"wrong encoding: the file is not UTF-8 text{guess} (NUL byte at byte offset "
            f"{nul}); save the file as UTF-8 ('CSV UTF-8')",
            row=data.count(b"\n", 0, nul) + 1,
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        bad = data[err.start : err.start + 1].hex()
        raise InputError(
            file,
            f"not valid UTF-8 (byte 0x{bad} at byte offset {err.start}); wrong encoding: "
            "save the file as UTF-8",
            row=line,
        ) from None
    return data[len(codecs.BOM_UTF8) :] if data.startswith(codecs.BOM_UTF8) else data


def _header(data: bytes, file: str) -> list[str]:
    # The header is the first CSV record; 1 MiB is plenty and avoids copying a large file.
    head = data[: 1 << 20].decode("utf-8", errors="ignore")
    try:
        header = next(csv.reader(io.StringIO(head, newline="")))
    except (csv.Error, StopIteration) as err:
        raise InputError(file, f"header is not valid CSV: {err}", row=1) from None
    if len(header) == 1:
        for sep, name in ((";", "semicolon"), ("\t", "tab")):
            if sep in header[0]:
                raise InputError(
                    file,
                    f"header looks {name}-separated; gridcast reads "
                    "comma-separated CSV (save as 'CSV UTF-8, comma')",
                    row=1,
                )
    return header


def _parse(data: bytes, n_fields: int, file: str) -> pa.Table:
    # Arrow cannot infer columns from a last line without a newline.
    body = data if data.endswith(b"\n") else data + b"\n"
    try:
        table = pacsv.read_csv(
            io.BytesIO(body),
            read_options=pacsv.ReadOptions(autogenerate_column_names=True, block_size=16 << 20),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={f"f{i}": pa.string() for i in range(n_fields)},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowException as err:
        row, found = _locate_bad_record(data.decode("utf-8"), n_fields)
        if row is None:
            raise InputError(file, f"malformed CSV: {err}") from None
        raise InputError(
            file,
            f"malformed CSV: expected {n_fields} fields like the header, found {found}",
            row=row,
        ) from None
    if table.num_columns != n_fields or any(t != pa.string() for t in table.schema.types):
        raise InputError(
            file,
            f"malformed CSV: header has {n_fields} fields, rows have {table.num_columns}",
            row=1,
        )
    return table


def _locate_bad_record(text: str, n_fields: int) -> tuple[int | None, int]:
    """Slow path, only after a parse error: the first record whose field count differs."""
    try:
        for i, record in enumerate(csv.reader(io.StringIO(text, newline=""))):
            if record and len(record) != n_fields:
                return i + 1, len(record)
    except csv.Error:
        return None, 0
    return None, 0


def _check_header(names: list[str], trimmed: list[pa.ChunkedArray], file: str) -> list[int]:
    """Validate header names; return the indices of the columns to keep.

    Names are compared case-insensitively: the warehouse (DuckDB) does, and would rename
    ``source`` beside ``Source`` silently.
    """
    keep = []
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name == "":
            if pc.any(pc.not_equal(trimmed[i].slice(1), "")).as_py():
                _problem(file, f"column number {i + 1} has values but no header name", row=1)
            continue
        if name == SOURCE_ROW:
            _problem(file, f"column name {SOURCE_ROW!r} is reserved", row=1, column=name)
            continue
        folded = name.casefold()
        if folded in seen:
            j = seen[folded]
            if names[j] == name:
                rule = f"duplicated column name (columns {j + 1} and {i + 1})"
            else:
                rule = (f"column names {names[j]!r} (column {j + 1}) and {name!r} (column "
                        f"{i + 1}) differ only by case; names are compared ignoring case")
            _problem(file, rule, row=1, column=name)
            continue
        seen[folded] = i
        keep.append(i)
    return keep


def _check_text_length(table: pa.Table, names: list[str], keep: list[int], file: str) -> None:
    """Refuse any cell (header included) longer than MAX_TEXT_CHARS characters."""
    rows = None
    for i in keep:
        cells = table.column(i)
        # Bytes are at least characters: most files stop at this cheap test (offsets only).
        longest = pc.max(pc.binary_length(cells)).as_py()
        if longest is None or longest <= MAX_TEXT_CHARS:
            continue
        chars = pc.utf8_length(cells).to_numpy(zero_copy_only=False)
        rows = np.arange(1, len(chars) + 1) if rows is None else rows
        _fail(file, rows, chars > MAX_TEXT_CHARS, names[i] or None,
              lambda pos, c=chars: f"text is {int(c[pos])} characters long; at most "
              f"{MAX_TEXT_CHARS} are allowed in a cell")


# --------------------------------------------------------------------------- typing


def _fail(
    file: str,
    rows: np.ndarray,
    mask: np.ndarray,
    column: str | None,
    rule: str | Callable[[int], str],
    cells: pa.ChunkedArray | None = None,
) -> None:
    """Report every True of ``mask`` (the first MAX_LISTED by name, the rest counted).

    ``rule`` is text where ``{v}`` / ``{r}`` stand for the cell (its value / repr), or a
    function of the row's position giving the text.
    """
    if not mask.any():
        return
    positions = np.flatnonzero(mask)
    problems = []
    for pos in positions[:MAX_LISTED].tolist():
        if callable(rule):
            text = rule(pos)
        else:
            value = cells[pos].as_py() if cells is not None else None
            text = rule.format(v=value, r=repr(value))
        problems.append(InputProblem(str(file), text, int(rows[pos]), column))
    _report(problems, len(positions))


def _typed_table(clean: pa.Table, table: Table, typed: dict[str, pd.DataFrame]) -> pd.DataFrame:
    present = [n for n in clean.column_names if n != SOURCE_ROW]
    for col in table.columns:
        if col.required and col.name not in present:
            _problem(
                table.file,
                f"required column is missing (header has: {', '.join(present)})",
                row=1,
                column=col.name,
            )
    specs = list(table.columns)
    if table.wide is not None:
        specs += _wide_specs(table, present, typed)
    rows = clean.column(SOURCE_ROW).to_numpy()
    out = {}
    for col in specs:
        if col.name in present:
            out[col.name] = _convert(clean.column(col.name), rows, col, table.file)
        elif col.required:  # reported above; the table is refused at the _stop() below
            out[col.name] = np.full(len(rows), np.nan)
        else:
            out[col.name] = _missing_column(col, len(rows))
    _stop()  # the table rules below need every cell typed
    frame = pd.DataFrame(out, index=pd.Index(rows, name=SOURCE_ROW))
    _check_key(frame, table)
    _stop()  # the table rules assume unique keys
    _TABLE_CHECKS.get(table.name, lambda f, t: None)(frame, table)
    return frame


def _wide_specs(table: Table, present: list[str], typed: dict[str, pd.DataFrame]) -> list[Column]:
    """One column spec per region column of a wide table (every one must be a region_id)."""
    template = table.wide
    if template is None:
        return []
    known = {c.name for c in table.columns}
    regions = set(typed["regions"]["region_id"])
    extra = [n for n in present if n not in known]
    for name in extra:
        if name not in regions:
            _problem(table.file, "column is not a region_id of regions.csv", row=1, column=name)
    return [replace(template, name=n, required=True) for n in extra if n in regions]


def _missing_column(col: Column, n: int) -> pd.api.extensions.ExtensionArray | np.ndarray:
    if col.dtype == "string":
        return pd.array(
            [col.default] * n if col.default is not None else [pd.NA] * n, dtype=pd.StringDtype()
        )
    fill = np.nan if col.default is None else float(col.default)
    values = np.full(n, fill)
    return _to_dtype(values, np.isnan(values), col)


def _convert(cells: pa.ChunkedArray, rows: np.ndarray, col: Column, file: str):
    before = _problem_count()
    empty = pc.equal(cells, "").to_numpy(zero_copy_only=False)
    if col.required:
        _fail(file, rows, empty, col.name, "a value is required, got an empty cell")
    if not col.numeric:
        if col.allowed is not None:
            ok = pc.is_in(cells, value_set=pa.array(col.allowed)).to_numpy(zero_copy_only=False)
            _fail(
                file,
                rows,
                ~ok & ~empty,
                col.name,
                f"must be one of {', '.join(col.allowed)}, got {{r}}",
                cells,
            )
        nulled = pc.if_else(pa.array(empty), pa.scalar(None, pa.string()), cells)
        filled = nulled if col.default is None else pc.fill_null(nulled, col.default)
        return filled.to_pandas().astype(pd.StringDtype()).array
    values = _parse_numbers(cells, empty, rows, col, file)
    if _problem_count() > before:  # refused: the values are never used, only collected
        return values
    if col.default is not None:
        values[empty] = float(col.default)
    return _to_dtype(values, np.isnan(values), col)


def _plain_finite_numbers(cells: pa.ChunkedArray, empty: np.ndarray) -> np.ndarray | None:
    """Fast path: every non-empty cell parses as a finite float (Arrow's cast), or None.

    Arrow's parser accepts a subset of ``_NUMBER_RE`` for finite values (it refuses
    thousands separators, hex, non-ASCII digits and stray spaces; ``inf``/``nan`` come out
    non-finite and fall back), so a file that passes here passes the regex too. The regex
    pass costs ~0.1 s per column of 1M rows, and is kept for naming the first bad cell.
    """
    nulled = pc.if_else(pa.array(empty), pa.scalar(None, pa.string()), cells)
    try:
        values = pc.cast(nulled, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if not np.isfinite(values[~empty]).all():
        return None
    return values


def _parse_numbers(
    cells: pa.ChunkedArray, empty: np.ndarray, rows: np.ndarray, col: Column, file: str
) -> np.ndarray:
    values = _plain_finite_numbers(cells, empty)
    if values is not None:
        ok_np = ~empty
    else:  # something is not a plain finite number: the exact grammar finds and names it
        ok = pc.match_substring_regex(cells, _NUMBER_RE)
        ok_np = ok.to_numpy(zero_copy_only=False)

        def not_a_number(pos: int) -> str:
            value = cells[pos].as_py()
            rule = "must be a finite number" if value.lower() in _NON_FINITE else "must be a number"
            return f"{rule}, got {value!r}"

        _fail(file, rows, ~ok_np & ~empty, col.name, not_a_number)
        nulled = pc.if_else(ok, cells, pa.scalar(None, pa.string()))
        values = pc.cast(nulled, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    finite = np.isfinite(values)
    _fail(file, rows, ok_np & ~finite, col.name, "must be a finite number, got {v}", cells)
    good = ok_np & finite
    if col.integer:
        _fail(
            file,
            rows,
            good & (values != np.floor(values)),
            col.name,
            "must be a whole number, got {v}",
            cells,
        )
    _fail(
        file,
        rows,
        good & ~_in_range(values, col),
        col.name,
        f"must be {col.rule_text()}, got {{v}}",
        cells,
    )
    return values


def _in_range(values: np.ndarray, col: Column) -> np.ndarray:
    inside = np.ones(values.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        if col.low is not None:
            inside &= (values > col.low) if col.low_open else (values >= col.low)
        if col.high is not None:
            inside &= (values < col.high) if col.high_open else (values <= col.high)
    return inside


def _to_dtype(values: np.ndarray, missing: np.ndarray, col: Column):
    if col.dtype == "float64":
        return values
    if col.dtype == "int64":
        return values.astype(np.int64)
    return pd.arrays.IntegerArray(np.where(missing, 0, values).astype(np.int64), missing)


# --------------------------------------------------------------------------- table rules


def _check_key(frame: pd.DataFrame, table: Table) -> None:
    if not table.key:
        return
    keys = list(table.key)
    dup = frame.duplicated(subset=keys, keep="first").to_numpy()
    if not dup.any():
        return
    # Slow path, only when a key repeats: the first row holding each repeated key.
    group = frame.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    first_row = pd.Series(frame.index.to_numpy()).groupby(group).transform("first").to_numpy()
    what = keys[0] if len(keys) == 1 else "(" + ", ".join(keys) + ")"

    def rule(pos: int) -> str:
        values = tuple(_scalar(frame[k].iloc[pos]) for k in keys)
        shown = (
            repr(values[0])
            if len(keys) == 1
            else "(" + ", ".join(f"{k}={v!r}" for k, v in zip(keys, values, strict=True)) + ")"
        )
        return f"{what} must be unique: {shown} is already on row {int(first_row[pos])}"

    _fail(table.file, _rows(frame), dup, keys[-1], rule)


def _scalar(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


def _rows(frame: pd.DataFrame) -> np.ndarray:
    return frame.index.to_numpy()


def _check_centers(frame: pd.DataFrame, table: Table) -> None:
    lat, lon = frame["lat"].isna().to_numpy(), frame["lon"].isna().to_numpy()
    rule = "lat and lon must both be given or both be empty"
    _fail(table.file, _rows(frame), lat & ~lon, "lat", rule)
    _fail(table.file, _rows(frame), lon & ~lat, "lon", rule)


def _check_pue(frame: pd.DataFrame, table: Table) -> None:
    order = "must satisfy pue_low <= pue_central <= pue_high"
    for lower, upper in (("pue_low", "pue_central"), ("pue_central", "pue_high")):
        lo, hi = frame[lower].to_numpy(), frame[upper].to_numpy()
        _fail(table.file, _rows(frame), lo > hi, upper,
              lambda pos, lo=lo, hi=hi, lower=lower, upper=upper:
              f"{order}, got {lower} {lo[pos]:g} > {upper} {hi[pos]:g}")


def _check_load_shapes(frame: pd.DataFrame, table: Table) -> None:
    present = set(frame["workload"].unique())
    for w in WORKLOADS:
        if w not in present:
            _problem(
                table.file,
                f"workload {w!r} is missing: each of "
                f"{', '.join(WORKLOADS)} needs 24 rows (hours 0-23)",
                column="workload",
            )
    groups = frame.reset_index().groupby("workload", sort=False)
    first_row = groups[SOURCE_ROW].min()
    counts = groups["hour"].count()
    for w, n in counts.items():
        if n != 24:
            hours = set(frame.loc[frame["workload"] == w, "hour"])
            gap = min(set(range(24)) - hours)
            _problem(
                table.file,
                f"workload {w!r} needs 24 rows (hours 0-23), got {n}; hour {gap} is missing",
                row=int(first_row[w]),
                column="hour",
            )
    means = groups["factor"].mean()
    for w, m in means.items():
        if abs(m - 1.0) > LOAD_SHAPE_MEAN_TOLERANCE and counts[w] == 24:
            _problem(
                table.file,
                f"the 24 factors of workload {w!r} must have mean 1 "
                f"(to {LOAD_SHAPE_MEAN_TOLERANCE:g}), got {m:.9g}",
                row=int(first_row[w]),
                column="factor",
            )


def _check_system_hourly(frame: pd.DataFrame, table: Table) -> None:
    regions = [c for c in frame.columns if c != "hour_of_year"]
    for name in regions:  # the coincident peak shapes a region's load by its profile
        if not frame[name].sum() > 0:
            _problem(table.file, "the region's hourly load is zero all year; its profile needs "
                     "a positive total", column=name)
    n = len(frame)
    rule = (f"must have {HOURS_PER_YEAR} rows (hour_of_year 0-{HOURS_PER_YEAR - 1}), or "
            f"{HOURS_PER_LEAP_YEAR} for a leap year (0-{HOURS_PER_LEAP_YEAR - 1})")
    expected = n if n in (HOURS_PER_YEAR, HOURS_PER_LEAP_YEAR) else HOURS_PER_YEAR
    missing = np.setdiff1d(np.arange(expected), frame["hour_of_year"].to_numpy())
    if n != expected:
        hint = f"; hour_of_year {missing[0]} is missing" if len(missing) else ""
        raise InputError(table.file, f"{rule}, got {n}{hint}", column="hour_of_year")
    if len(missing):  # n distinct hours (the key is unique) but not 0..n-1
        beyond = frame["hour_of_year"].to_numpy() >= n
        raise InputError(
            table.file,
            f"with {n} rows hour_of_year runs 0-{n - 1}; got {int(frame['hour_of_year'].iloc[int(np.argmax(beyond))])} "
            f"and hour_of_year {missing[0]} is missing",
            row=int(frame.index[int(np.argmax(beyond))]),
            column="hour_of_year",
        )


def _check_prices(frame: pd.DataFrame, table: Table) -> None:
    order = "must satisfy price_low <= price_central <= price_high"
    for lower, upper in (("price_low", "price_central"), ("price_central", "price_high")):
        lo, hi = frame[lower].to_numpy(), frame[upper].to_numpy()
        bad = lo > hi
        if bad.any():
            pos = int(np.argmax(bad))
            _fail(table.file, _rows(frame), bad, upper,
                  f"{order}, got {lower} {lo[pos]:g} > {upper} {hi[pos]:g}")


def _check_published(frame: pd.DataFrame, table: Table) -> None:
    lo, hi = frame["value_low"].to_numpy(), frame["value_high"].to_numpy()
    _fail(table.file, _rows(frame), lo > hi, "value_high",
          lambda pos: f"must satisfy value_low <= value_high, got {lo[pos]:g} > {hi[pos]:g}")


def _years_text(first: int, last: int) -> str:
    """``2015``, ``2015, 2016, 2017`` or ``2015-2020`` for the years first..last."""
    if last - first < 3:
        return ", ".join(str(y) for y in range(first, last + 1))
    return f"{first}-{last}"


def _check_history(frame: pd.DataFrame, table: Table) -> None:
    """Each region's years are consecutive, at least two (the baseline needs a trend)."""
    region = frame["region_id"].to_numpy(dtype=object)
    year = frame["year"].to_numpy()
    order = np.lexsort((year, region))
    region, year, rows = region[order], year[order], _rows(frame)[order]
    starts = np.r_[True, region[1:] != region[:-1]]
    gap = ~starts & (np.diff(year, prepend=year[:1]) > 1)
    _fail(
        table.file,
        rows,
        gap,
        "year",
        lambda pos: f"region {region[pos]!r} has no row for year "
        f"{_years_text(int(year[pos - 1]) + 1, int(year[pos]) - 1)} (between "
        f"{int(year[pos - 1])} and {int(year[pos])}): a region's years must be consecutive",
    )
    ends = np.r_[starts[1:], True]
    single = starts & ends
    _fail(
        table.file,
        rows,
        single,
        "year",
        lambda pos: f"region {region[pos]!r} has one year of history ({int(year[pos])}); "
        "the baseline needs at least 2 consecutive years",
    )


_TABLE_CHECKS = {
    "compute_centers": _check_centers,
    "pue_assumptions": _check_pue,
    "electricity_prices": _check_prices,
    "load_shapes": _check_load_shapes,
    "system_hourly": _check_system_hourly,
    "published_estimates": _check_published,
    "planned_centers": _check_centers,
}


def _check_references(typed: dict[str, pd.DataFrame]) -> None:
    for table in TABLES.values():
        frame = typed.get(table.name)
        if frame is None:
            continue
        for col in table.columns:
            if col.references is None:
                continue
            ref_table, ref_col = col.references.split(".")
            values = frame[col.name]
            known = values.isin(typed[ref_table][ref_col]).to_numpy(dtype=bool)
            bad = values.notna().to_numpy() & ~known
            _fail(
                table.file,
                _rows(frame),
                bad,
                col.name,
                lambda pos, v=values, c=ref_col, t=ref_table:
                f"{v.iloc[pos]!r} is not a {c} of {TABLES[t].file}",
            )


def _check_pue_coverage(typed: dict[str, pd.DataFrame]) -> None:
    centers, pue = typed["compute_centers"], typed["pue_assumptions"]
    zone_of = typed["regions"].set_index("region_id")["zone"]
    zones = centers["region_id"].map(zone_of)
    sizes = centers["size_class"]
    covered = np.zeros(len(centers), dtype=bool)
    # One pass per PUE row (at most four), each vectorised over all centres.
    for size, zone in zip(pue["size_class"], pue["zone"], strict=True):
        covered |= ((sizes == size) & (zones == zone)).to_numpy(dtype=bool, na_value=False)
    _fail(
        TABLES["compute_centers"].file,
        _rows(centers),
        ~covered,
        "size_class",
        lambda pos: f"{TABLES['pue_assumptions'].file} has no row for size_class "
        f"{sizes.iloc[pos]!r}, zone {zones.iloc[pos]!r} (the zone of region "
        f"{centers['region_id'].iloc[pos]!r})",
    )


def _check_pue_new_build(typed: dict[str, pd.DataFrame]) -> None:
    """A zone with centres needs a PUE row for each size class: new builds mix both."""
    centers, pue = typed["compute_centers"], typed["pue_assumptions"]
    zone_of = typed["regions"].set_index("region_id")["zone"]
    used = centers["region_id"].map(zone_of).dropna().astype(str).unique()
    have = set(zip(pue["size_class"], pue["zone"], strict=True))
    for zone in (z for z in _ZONES if z in set(used)):
        for size in _SIZE_CLASSES:
            if (size, zone) not in have:
                _problem(
                    TABLES["pue_assumptions"].file,
                    f"no row for size_class {size!r} and zone {zone!r}: regions of zone {zone!r} "
                    "have centres, and new builds there mix both size classes",
                    column="size_class",
                )


def _check_history_coverage(typed: dict[str, pd.DataFrame]) -> None:
    """Every region of regions.csv has consumption history (its baseline needs it)."""
    regions, history = typed["regions"], typed["demand_history"]
    ids = regions["region_id"]
    missing = ~ids.isin(history["region_id"]).to_numpy(dtype=bool)
    for rid in ids[missing].iloc[:MAX_LISTED]:
        _problem(
            TABLES["demand_history"].file,
            f"region {rid!r} of {TABLES['regions'].file} has no consumption history "
            "(every region needs at least 2 consecutive years)",
            column="region_id",
        )
    if missing.sum() > MAX_LISTED:
        _report([], int(missing.sum()) - MAX_LISTED)


def _check_region_coverage(typed: dict[str, pd.DataFrame], names: tuple[str, ...]) -> None:
    """Refuse an optional per-region table (when given) that leaves out a region, by name."""
    regions = typed["regions"]["region_id"]
    for name in names:
        frame = typed.get(name)
        if frame is None:
            continue
        missing = regions[~regions.isin(frame["region_id"])].tolist()
        if missing:
            raise InputError(
                TABLES[name].file,
                f"no row for region(s) {', '.join(missing)}: every region of "
                f"{TABLES['regions'].file} needs one (costs and emissions are computed per region)",
                column="region_id",
            )
