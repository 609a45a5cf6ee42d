"""Whether a run's inputs changed: one short hash over the input files' sha256.

A scheduled deployment points at a data folder; each run validates it, and stores it in
the warehouse only when its content differs from what the warehouse holds (same files,
same bytes: :func:`flows.warehouse.inputs_current`). ``gridcast runs`` shows the hash and
whether it changed since the previous run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

__all__ = ["SHORT", "inputs_hash"]

SHORT = 12
"""Characters of the hash ``gridcast runs`` shows."""


def inputs_hash(hashes: Mapping[str, str]) -> str:
    """sha256 over ``{file: sha256}`` (sorted by file): changes when any file's bytes change.

    >>> inputs_hash({"b.csv": "2", "a.csv": "1"}) == inputs_hash({"a.csv": "1", "b.csv": "2"})
    True
    """
    text = json.dumps(dict(sorted(hashes.items())), separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
