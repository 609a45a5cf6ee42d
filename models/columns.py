"""Text columns of the long output tables, built in Arrow without a Python string per row.

A long table repeats a few labels (scenario names, region ids, stats) over many rows.
Building those columns from Python objects and casting them (``.astype("string")``)
costs a Python object per row; here the labels are encoded once and repeated by code
in Arrow. The result is the same pandas ``string`` column (pyarrow storage, ``<NA>``
missing value) that ``.astype("string")`` gives.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = ["constant_strings", "string_column"]


def string_column(labels: Sequence[object], codes: np.ndarray) -> pd.arrays.ArrowStringArray:
    """``labels[codes]`` as a pandas ``string`` array (each label as ``str``).

    >>> string_column(["a", "b"], np.array([1, 1, 0])).tolist()
    ['b', 'b', 'a']
    """
    values = pa.array([str(x) for x in labels], type=pa.string())
    return pd.arrays.ArrowStringArray(values.take(pa.array(np.asarray(codes, dtype=np.int64))))


def constant_strings(label: object, n: int) -> pd.arrays.ArrowStringArray:
    """``n`` copies of one label as a pandas ``string`` array.

    >>> constant_strings("x", 2).tolist()
    ['x', 'x']
    """
    raw = str(label).encode()
    if len(raw) * n >= 2**31:  # beyond 32-bit offsets: let Arrow lay it out
        return string_column([label], np.zeros(n, dtype=np.int64))
    offsets = np.arange(n + 1, dtype=np.int32) * np.int32(len(raw))
    return pd.arrays.ArrowStringArray(
        pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(raw * n)))
