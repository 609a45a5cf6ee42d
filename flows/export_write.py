"""Where an export may go, what it replaces, and the CSV and workbook bytes it writes.

An export folder holds ``export_manifest.json``: the files that export wrote. Only
those are ever replaced or removed by a later ``--overwrite``; a run folder (one with
``run.json``) is never an export target, and a non-empty folder that is not an export
needs ``--overwrite`` and keeps every file it held.
"""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

from flows import outputs
from flows.errors import GridcastError
from flows.safe_text import inert, inert_frame

__all__ = ["MANIFEST", "XLSX_MAX_ROWS", "Sheet", "Target", "csv_bytes", "prepare_target", "xlsx_bytes"]

MANIFEST = "export_manifest.json"
XLSX_MAX_ROWS = 1_048_575  # Excel's row limit, less the header


@dataclass
class Target:
    """A checked export folder and the files its previous export wrote (relative paths)."""

    root: Path
    previous: list[str]

    def begin(self, files: list[str], meta: dict[str, Any]) -> None:
        """Record old and new files before writing, so a killed export stays removable."""
        self.root.mkdir(parents=True, exist_ok=True)
        listed = sorted(set(self.previous) | set(files))
        outputs.write_json(self.root / MANIFEST, {**meta, "state": "writing", "files": listed})

    def finish(self, files: list[str], meta: dict[str, Any]) -> None:
        """Remove what the previous export wrote and this one did not, then record the new files."""
        for rel in sorted(set(self.previous) - set(files)):
            path = outputs.safe_child(self.root, rel)
            if path.name in (MANIFEST, "run.json"):
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        outputs.write_json(self.root / MANIFEST, {**meta, "state": "complete", "files": sorted(files)})


def _previous_files(folder: Path) -> list[str] | None:
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = meta.get("files") if isinstance(meta, dict) else None
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return files


def prepare_target(out: Path, run_dir: Path, files: list[str], overwrite: bool) -> Target:
    """Check ``out`` as an export folder for ``files`` (nothing is written here).

    Raises:
        GridcastError: ``out`` is a file, a run folder or inside one, or the run being read;
            not empty without ``overwrite``; or holds a file of the same name that no
            gridcast export wrote.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GridcastError(f"--out {out} is a file, not a folder")
    resolved = out.resolve()
    run_root = Path(run_dir).resolve()
    for folder in (resolved, *resolved.parents):
        if (folder / "run.json").is_file() or folder == run_root:
            raise GridcastError(
                f"--out {out} is {'a' if folder == resolved else 'inside a'} gridcast run folder ({folder}); "
                "exports never write into a run: choose another folder"
            )
    if not out.is_dir() or not any(out.iterdir()):
        return Target(resolved, [])
    previous = _previous_files(out)
    if not overwrite:
        what = "holds an earlier gridcast export" if previous is not None else "is not empty"
        raise GridcastError(f"--out {out} {what}; pass --overwrite to replace the export there "
                            "(only files an export wrote are replaced)")
    for rel in previous or []:
        outputs.safe_child(resolved, rel)  # a manifest never points outside its folder
    mine = set(previous or []) | ({MANIFEST} if previous is not None else set())
    for rel in files:
        if (out / rel).exists() and rel not in mine:
            raise GridcastError(f"--out {out}: {rel} is there and was not written by a gridcast export; "
                                "move it or choose another folder")
    return Target(resolved, previous or [])


def csv_bytes(frame: pd.DataFrame, bom: bool = False) -> bytes:
    """UTF-8 CSV (RFC 4180 ``\\r\\n`` line ends) with every text cell inert; a byte-order mark if ``bom``.

    With ``\\n`` line ends Python's writer leaves a field holding a bare ``\\r`` unquoted,
    and readers split the row there; ``\\r\\n`` makes it quote both.
    """
    text = inert_frame(frame).to_csv(index=False, lineterminator="\r\n")
    return text.encode("utf-8-sig" if bom else "utf-8")


@dataclass
class Sheet:
    """One worksheet: the frame, a header label and number format per column, where to freeze.

    ``row_format`` names a column whose value picks the number format of the row's
    value cells (the wide layout, where each row is one variable); ``row_formats`` maps
    that value to the format.
    """

    frame: pd.DataFrame
    headers: list[str]
    formats: dict[str, str]
    freeze: str = "A2"
    row_format: str | None = None
    row_formats: dict[str, str] | None = None


def _number_cells(sheet: Any, spec: Sheet) -> list[list[Any]]:
    frame = spec.frame
    cols = list(frame.columns)
    out = []
    values = frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
    row_keys = frame[spec.row_format].astype(str).tolist() if spec.row_format else None
    for i, record in enumerate(values):
        row = []
        row_fmt = spec.row_formats.get(row_keys[i]) if row_keys is not None and spec.row_formats else None
        for col, v in zip(cols, record, strict=True):
            if isinstance(v, str):
                row.append(inert(v, workbook=True))
                continue
            fmt = spec.formats.get(col) or (row_fmt if isinstance(v, float) else None)
            if fmt is None or v is None or isinstance(v, bool):
                row.append(v)
                continue
            cell = WriteOnlyCell(sheet, value=v)
            cell.number_format = fmt
            row.append(cell)
        out.append(row)
    return out


def xlsx_bytes(sheets: dict[str, Sheet]) -> bytes:
    """A workbook: a frozen header with units, autofilter, number formats; no formula cells.

    Raises:
        GridcastError: a sheet longer than Excel's row limit.
    """
    for name, spec in sheets.items():
        if len(spec.frame) > XLSX_MAX_ROWS:
            raise GridcastError(f"table {name} has {len(spec.frame):,} rows, more than a workbook sheet holds "
                                f"({XLSX_MAX_ROWS:,}); use --format csv or parquet, or filter it")
    book = openpyxl.Workbook(write_only=True)
    for name, spec in sheets.items():
        sheet = book.create_sheet(name)
        n_cols = len(spec.headers)
        sheet.freeze_panes = spec.freeze
        last = get_column_letter(max(1, n_cols))
        sheet.auto_filter.ref = f"A1:{last}{len(spec.frame) + 1}"
        sample = spec.frame.head(50)
        for j, header in enumerate(spec.headers):
            width = max([len(header), *(len(str(v)) for v in sample.iloc[:, j].tolist())])
            sheet.column_dimensions[get_column_letter(j + 1)].width = min(60, width + 2)
        sheet.append([inert(h, workbook=True) for h in spec.headers])
        for row in _number_cells(sheet, spec):
            sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
