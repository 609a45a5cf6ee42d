"""Text that spreadsheets will not run: the OWASP rule against CSV / formula injection.

A cell whose text starts with ``=``, ``+``, ``-`` or ``@`` (after any leading spaces), or
with a tab, carriage return or line feed, is read as a formula by Excel or LibreOffice
(``=cmd|' /C calc'!A0``). Such text is written with a single quote in front, which both
programs show as text and never evaluate. Numbers are not text and are left alone.
Every text cell of every CSV and workbook gridcast writes passes through here.
"""

from __future__ import annotations

import re

import pandas as pd

__all__ = ["inert", "inert_frame", "is_risky"]

_RISKY = re.compile(r"^(?:[\t\r\n]|\s*[=+\-@])")
# Control characters a workbook cannot hold (openpyxl refuses them; Excel reports corruption).
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def is_risky(text: str) -> bool:
    """True if a spreadsheet could read ``text`` as a formula.

    >>> is_risky("=1+1"), is_risky(" @SUM(A1)"), is_risky("CN-GD"), is_risky("\\tx")
    (True, True, False, True)
    """
    return bool(_RISKY.match(text))


def inert(value: object, *, workbook: bool = False) -> object:
    """``value`` made safe for a cell: risky text quoted, control characters dropped for workbooks.

    >>> inert("=cmd|' /C calc'!A0")
    "'=cmd|' /C calc'!A0"
    >>> inert(-3.5)
    -3.5
    """
    if not isinstance(value, str):
        return value
    if workbook:
        value = _ILLEGAL.sub("", value)
    return "'" + value if _RISKY.match(value) else value


def _is_text(series: pd.Series) -> bool:
    return (pd.api.types.is_string_dtype(series) or pd.api.types.is_object_dtype(series)
            or isinstance(series.dtype, pd.CategoricalDtype))


def inert_frame(frame: pd.DataFrame, *, workbook: bool = False) -> pd.DataFrame:
    """A copy of ``frame`` whose text columns and column names are inert (numbers untouched)."""
    out = frame.copy()
    for col in out.columns:
        if _is_text(out[col]):
            # decide once per distinct value: a 5-million-row table has a few hundred ids
            values = out[col].astype(object)
            changed = {v: inert(v, workbook=workbook) for v in pd.unique(values.dropna())}
            changed = {k: v for k, v in changed.items() if v != k}
            if changed:
                out[col] = values.map(lambda v, c=changed: c.get(v, v) if isinstance(v, str) else v)
    out.columns = [inert(str(c), workbook=workbook) for c in out.columns]
    return out
