"""Typed errors a user can meet. Each names where the problem is and which rule it broke.

The CLI prints ``str(error)`` and exits non-zero; no traceback is shown for these.
"""

from __future__ import annotations

__all__ = ["GridcastError", "InputError", "ScenarioError", "StorageError", "WarehouseBusyError"]


class GridcastError(Exception):
    """Base class for errors caused by the user's input or environment, not by a bug."""


class InputError(GridcastError):
    """A data file breaks a rule of the input contract (MODEL.md section 2).

    Args:
        file: path or name of the offending file.
        rule: the rule that was broken, in words.
        row: the line number a spreadsheet shows (header = row 1, first data row = row 2),
            or None when the rule is about the whole file.
        column: the offending column, or None.
    """

    def __init__(self, file: str, rule: str, row: int | None = None, column: str | None = None):
        self.file = str(file)
        self.rule = rule
        self.row = row
        self.column = column
        where = [f"file {self.file}"]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"invalid input: {', '.join(where)}: {rule}")


class ScenarioError(GridcastError):
    """A scenario file is malformed or breaks a rule (unknown key, bad range, cycle...)."""

    def __init__(self, file: str, rule: str, key: str | None = None):
        self.file = str(file)
        self.rule = rule
        self.key = key
        where = f"file {self.file}" + (f", key {key!r}" if key else "")
        super().__init__(f"invalid scenario: {where}: {rule}")


class WarehouseBusyError(GridcastError):
    """Another process holds the DuckDB warehouse's write lock longer than we may wait."""


class StorageError(GridcastError):
    """A file or the warehouse cannot be written or read: full disk, read-only, no permission.

    The message names the path and the cause (``no space left on the device (ENOSPC)``);
    whatever was being written is left out whole (writes are atomic, stores transactional).
    """
