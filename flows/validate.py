"""Read the input CSV files of a data directory and check them against ``flows.schema``.

Every check is vectorised over whole columns; the first offending row is reported as an
:class:`~flows.errors.InputError` naming file, row (spreadsheet numbering: header = row 1),
column and rule. A file that breaks a rule is refused whole: nothing is returned.

Reading: bytes must be UTF-8 (a UTF-8 byte-order mark is stripped), lines may end in LF or
CRLF, fields are comma-separated with ``"`` quoting. Leading and trailing whitespace of
header names and cells is ignored. Fully empty lines are skipped (row numbers still count
them, as a spreadsheet does).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from flows.errors import InputError
from flows.schema import (
    LOAD_SHAPE_MEAN_TOLERANCE,
    SOURCE_ROW,
    TABLES,
    WORKLOADS,
    Column,
    InputTables,
    Table,
    empty_typed_frame,
)

__all__ = ["InputTables", "check_commissioning", "load_inputs", "read_csv_text", "read_header_only",
           "validate_table_bytes"]

# One grammar for numbers, whatever the parser: optional sign, digits with an optional
# decimal point, optional exponent. No thousands separators, no hex, no nan/inf.
_NUMBER_RE = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_NON_FINITE = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


def load_inputs(data_dir: Path) -> InputTables:
    """Read and validate the six input files (and the optional hourly system load).

    Args:
        data_dir: directory holding ``regions.csv``, ``hub_nodes.csv``,
            ``compute_centers.csv``, ``pue_assumptions.csv``, ``demand_history.csv``,
            ``load_shapes.csv`` and optionally ``system_hourly_load_2018_mw.csv``.

    Returns:
        The typed tables (index ``source_row``), the raw text and the files' sha256.

    Raises:
        InputError: the first broken rule of MODEL.md section 2.
    """
    data_dir = Path(data_dir)
    typed: dict[str, pd.DataFrame] = {}
    raw: dict[str, pd.DataFrame] = {}
    hashes: dict[str, str] = {}
    for table in TABLES.values():
        path = data_dir / table.file
        if not path.is_file():
            if table.optional:
                continue
            raise InputError(table.file, f"required file not found in {data_dir}")
        data = path.read_bytes()
        hashes[table.file] = hashlib.sha256(data).hexdigest()
        if table.optional and _header_only(data, table.file):
            raw[table.name] = read_header_only(data, table)
            typed[table.name] = empty_typed_frame(table)
            continue
        raw_frame, clean = _read(data, table.file)
        raw[table.name] = raw_frame
        typed[table.name] = _typed_table(clean, table, typed)
    _check_references(typed)
    _check_pue_coverage(typed)
    return InputTables(**{name: typed.get(name) for name in TABLES}, raw=raw, hashes=hashes)


def validate_table_bytes(data: bytes, table: Table, context: InputTables) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate one file's bytes as ``table`` (header only allowed for optional tables).

    References resolve against ``context`` (the data folder's validated tables). Messages
    name ``table.file``.

    Returns:
        (raw frame, typed frame), index ``source_row``.
    """
    if table.optional and _header_only(data, table.file):
        return read_header_only(data, table), empty_typed_frame(table)
    raw_frame, clean = _read(data, table.file)
    known = {name: frame for name, frame in context.typed().items() if name != table.name}
    frame = _typed_table(clean, table, known)
    refs = dict(known)
    refs[table.name] = frame
    try:
        _check_references({k: v for k, v in refs.items() if k in (table.name, "regions", "hub_nodes")})
    except InputError as err:
        raise InputError(table.file, err.rule, row=err.row, column=err.column) from None
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
        InputError: on the first centre with ``commissioning_year > base_year``.
    """
    if "commissioning_year" not in centers.columns:
        return
    years = pd.to_numeric(centers["commissioning_year"]).astype("Float64")
    late = (years > base_year).fillna(False).to_numpy(dtype=bool)
    if late.any():
        pos = int(np.argmax(late))
        row = int(centers.index[pos]) if centers.index.name == SOURCE_ROW else pos + 2
        raise InputError(
            file,
            "the file lists the fleet operating in the base year: commissioning after "
            f"base year {base_year} is not supported yet (got {int(years.iloc[pos])}); "
            "list a centre that is not operating yet in planned_centers.csv (or a --planned file)",
            row=row,
            column="commissioning_year",
        )


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
    """Return ``data`` without a UTF-8 byte-order mark, or refuse bytes that are not UTF-8."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        bad = data[err.start : err.start + 1].hex()
        raise InputError(
            file,
            f"not valid UTF-8 (byte 0x{bad} at byte offset {err.start}); save the file as UTF-8",
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
    """Validate header names; return the indices of the columns to keep."""
    keep = []
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name == "":
            if pc.any(pc.not_equal(trimmed[i].slice(1), "")).as_py():
                raise InputError(
                    file, f"column number {i + 1} has values but no header name", row=1
                )
            continue
        if name == SOURCE_ROW:
            raise InputError(file, f"column name {SOURCE_ROW!r} is reserved", row=1, column=name)
        if name in seen:
            raise InputError(
                file,
                f"duplicated column name (columns {seen[name] + 1} and {i + 1})",
                row=1,
                column=name,
            )
        seen[name] = i
        keep.append(i)
    return keep


# --------------------------------------------------------------------------- typing


def _fail(
    file: str,
    rows: np.ndarray,
    mask: np.ndarray,
    column: str,
    rule: str,
    cells: pa.ChunkedArray | None = None,
) -> None:
    """Raise an InputError on the first True of ``mask``; ``{v}`` in rule is the cell."""
    if not mask.any():
        return
    pos = int(np.argmax(mask))
    value = cells[pos].as_py() if cells is not None else None
    raise InputError(file, rule.format(v=value, r=repr(value)), row=int(rows[pos]), column=column)


def _typed_table(clean: pa.Table, table: Table, typed: dict[str, pd.DataFrame]) -> pd.DataFrame:
    present = [n for n in clean.column_names if n != SOURCE_ROW]
    for col in table.columns:
        if col.required and col.name not in present:
            raise InputError(
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
        else:
            out[col.name] = _missing_column(col, len(rows))
    frame = pd.DataFrame(out, index=pd.Index(rows, name=SOURCE_ROW))
    _check_key(frame, table)
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
            raise InputError(
                table.file, "column is not a region_id of regions.csv", row=1, column=name
            )
    return [replace(template, name=n, required=True) for n in extra]


def _missing_column(col: Column, n: int) -> pd.api.extensions.ExtensionArray | np.ndarray:
    if col.dtype == "string":
        return pd.array(
            [col.default] * n if col.default is not None else [pd.NA] * n, dtype=pd.StringDtype()
        )
    fill = np.nan if col.default is None else float(col.default)
    values = np.full(n, fill)
    return _to_dtype(values, np.isnan(values), col)


def _convert(cells: pa.ChunkedArray, rows: np.ndarray, col: Column, file: str):
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
        bad = ~ok_np & ~empty
        if bad.any():
            pos = int(np.argmax(bad))
            value = cells[pos].as_py()
            rule = "must be a finite number" if value.lower() in _NON_FINITE else "must be a number"
            raise InputError(file, f"{rule}, got {value!r}", row=int(rows[pos]), column=col.name)
        nulled = pc.if_else(ok, cells, pa.scalar(None, pa.string()))
        values = pc.cast(nulled, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    _fail(
        file,
        rows,
        ok_np & ~np.isfinite(values),
        col.name,
        "must be a finite number, got {v}",
        cells,
    )
    if col.integer:
        _fail(
            file,
            rows,
            ok_np & (values != np.floor(values)),
            col.name,
            "must be a whole number, got {v}",
            cells,
        )
    _fail(
        file,
        rows,
        ok_np & ~_in_range(values, col),
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
    pos = int(np.argmax(dup))
    values = tuple(_scalar(frame[k].iloc[pos]) for k in keys)
    same = np.ones(len(frame), dtype=bool)
    for k, v in zip(keys, values, strict=True):
        same &= (frame[k] == v).to_numpy(dtype=bool, na_value=False)
    first = int(frame.index[int(np.argmax(same))])
    shown = (
        repr(values[0])
        if len(keys) == 1
        else "(" + ", ".join(f"{k}={v!r}" for k, v in zip(keys, values, strict=True)) + ")"
    )
    what = keys[0] if len(keys) == 1 else "(" + ", ".join(keys) + ")"
    raise InputError(
        table.file,
        f"{what} must be unique: {shown} is already on row {first}",
        row=int(frame.index[pos]),
        column=keys[-1],
    )


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
        bad = lo > hi
        if bad.any():
            pos = int(np.argmax(bad))
            _fail(table.file, _rows(frame), bad, upper,
                  f"{order}, got {lower} {lo[pos]:g} > {upper} {hi[pos]:g}")


def _check_load_shapes(frame: pd.DataFrame, table: Table) -> None:
    present = set(frame["workload"].unique())
    for w in WORKLOADS:
        if w not in present:
            raise InputError(
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
            raise InputError(
                table.file,
                f"workload {w!r} needs 24 rows (hours 0-23), got {n}; hour {gap} is missing",
                row=int(first_row[w]),
                column="hour",
            )
    means = groups["factor"].mean()
    for w, m in means.items():
        if abs(m - 1.0) > LOAD_SHAPE_MEAN_TOLERANCE:
            raise InputError(
                table.file,
                f"the 24 factors of workload {w!r} must have mean 1 "
                f"(to {LOAD_SHAPE_MEAN_TOLERANCE:g}), got {m:.9g}",
                row=int(first_row[w]),
                column="factor",
            )


def _check_system_hourly(frame: pd.DataFrame, table: Table) -> None:
    n = len(frame)
    if n != 8760:
        missing = sorted(set(range(8760)) - set(frame["hour_of_year"]))
        hint = f"; hour_of_year {missing[0]} is missing" if missing else ""
        raise InputError(
            table.file,
            f"must have exactly 8760 rows (hour_of_year 0-8759), got {n}{hint}",
            column="hour_of_year",
        )


_TABLE_CHECKS = {
    "compute_centers": _check_centers,
    "pue_assumptions": _check_pue,
    "load_shapes": _check_load_shapes,
    "system_hourly": _check_system_hourly,
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
            if bad.any():
                pos = int(np.argmax(bad))
                raise InputError(
                    table.file,
                    f"{values.iloc[pos]!r} is not a {ref_col} of {TABLES[ref_table].file}",
                    row=int(frame.index[pos]),
                    column=col.name,
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
    if not covered.all():
        pos = int(np.argmax(~covered))
        raise InputError(
            TABLES["compute_centers"].file,
            f"{TABLES['pue_assumptions'].file} has no row for size_class {sizes.iloc[pos]!r}, "
            f"zone {zones.iloc[pos]!r} (the zone of region {centers['region_id'].iloc[pos]!r})",
            row=int(centers.index[pos]),
            column="size_class",
        )
