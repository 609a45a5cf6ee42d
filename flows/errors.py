"""Typed errors a user can meet. Each names where the problem is and which rule it broke.

The CLI prints ``str(error)`` and exits non-zero; no traceback is shown for these.

An :class:`InputError` or :class:`ScenarioError` may carry several problems (every broken
rule of a file, found at once): ``file``, ``row``, ``column`` / ``key`` and ``rule`` are
those of the first, ``problems`` holds them all (at most :data:`MAX_LISTED`) and
``count`` says how many were found. ``str()`` gives one line per problem, at most
:data:`MAX_LISTED` lines, then ``... and N more problems``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "MAX_LISTED",
    "GridcastError",
    "InputError",
    "InputProblem",
    "ScenarioError",
    "ScenarioProblem",
    "StorageError",
    "WarehouseBusyError",
]

MAX_LISTED = 20
"""At most this many problems are listed in one error message; the rest are counted."""


class GridcastError(Exception):
    """Base class for errors caused by the user's input or environment, not by a bug."""


def _listing(lines: Sequence[str], count: int) -> str:
    shown = list(lines[:MAX_LISTED])
    rest = count - len(shown)
    if rest > 0:
        shown.append(f"... and {rest} more problem{'s' if rest != 1 else ''}")
    return "\n".join(shown)


@dataclass(frozen=True)
class InputProblem:
    """One broken rule of the input contract: file, row (header = row 1), column, rule."""

    file: str
    rule: str
    row: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = [f"file {self.file}"]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"invalid input: {', '.join(where)}: {self.rule}"


class InputError(GridcastError):
    """A data file breaks a rule of the input contract (``flows.schema``; docs/methodology.md section 2).

    Args:
        file: path or name of the offending file.
        rule: the rule that was broken, in words.
        row: the line number a spreadsheet shows (header = row 1, first data row = row 2),
            or None when the rule is about the whole file.
        column: the offending column, or None.
        more: further problems found in the same check, after this one.
        count: how many problems were found in all (default: the ones given); may be more
            than are listed.
    """

    def __init__(self, file: str, rule: str, row: int | None = None, column: str | None = None,
                 *, more: Sequence[InputProblem] = (), count: int | None = None):
        first = InputProblem(str(file), rule, row, column)
        self.problems: tuple[InputProblem, ...] = (first, *more)[:MAX_LISTED]
        self.count = max(count or 0, 1 + len(more))
        self.file, self.rule, self.row, self.column = first.file, first.rule, first.row, first.column
        super().__init__(_listing([str(p) for p in self.problems], self.count))

    @classmethod
    def of(cls, problems: Sequence[InputProblem], count: int | None = None) -> InputError:
        """One error listing ``problems`` (at least one), of ``count`` found in all."""
        first, *more = problems
        return cls(first.file, first.rule, first.row, first.column, more=more,
                   count=max(count or 0, len(problems)))


@dataclass(frozen=True)
class ScenarioProblem:
    """One problem of a scenario file: file, dotted key, rule."""

    file: str
    rule: str
    key: str | None = None

    def __str__(self) -> str:
        where = f"file {self.file}" + (f", key {self.key!r}" if self.key else "")
        return f"invalid scenario: {where}: {self.rule}"


class ScenarioError(GridcastError):
    """A scenario file is malformed or breaks a rule (unknown key, bad range, cycle...).

    ``more`` and ``count`` work as for :class:`InputError`.
    """

    def __init__(self, file: str, rule: str, key: str | None = None,
                 *, more: Sequence[ScenarioProblem] = (), count: int | None = None):
        first = ScenarioProblem(str(file), rule, key)
        self.problems: tuple[ScenarioProblem, ...] = (first, *more)[:MAX_LISTED]
        self.count = max(count or 0, 1 + len(more))
        self.file, self.rule, self.key = first.file, first.rule, first.key
        super().__init__(_listing([str(p) for p in self.problems], self.count))

    @classmethod
    def of(cls, problems: Sequence[ScenarioProblem], count: int | None = None) -> ScenarioError:
        """One error listing ``problems`` (at least one), of ``count`` found in all."""
        first, *more = problems
        return cls(first.file, first.rule, first.key, more=more, count=max(count or 0, len(problems)))


class WarehouseBusyError(GridcastError):
    """Another process holds the DuckDB warehouse's write lock longer than we may wait."""


class StorageError(GridcastError):
    """A file or the warehouse cannot be written or read: full disk, read-only, no permission.

    The message names the path and the cause (``no space left on the device (ENOSPC)``);
    whatever was being written is left out whole (writes are atomic, stores transactional).
    """
