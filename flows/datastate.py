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
from pathlib import Path

__all__ = ["SHORT", "inputs_hash", "read_if_unchanged"]

SHORT = 12
"""Characters of the hash ``gridcast runs`` shows."""


def inputs_hash(hashes: Mapping[str, str]) -> str:
    """sha256 over ``{file: sha256}`` (sorted by file): changes when any file's bytes change.

    >>> inputs_hash({"b.csv": "2", "a.csv": "1"}) == inputs_hash({"a.csv": "1", "b.csv": "2"})
    True
    """
    text = json.dumps(dict(sorted(hashes.items())), separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_if_unchanged(path: Path, recorded_sha256: str | None) -> bytes | None:
    """The bytes of a run's input file, or None when it is missing or its sha256 is no longer
    the one the run recorded (with no record, the file is taken as it is).

    Export and compare read a few input files back (regions, centres) to label a finished
    run's tables; a file edited since the run would label them with someone else's data.
    """
    path = Path(path)
    if not path.is_file():
        return None
    blob = path.read_bytes()
    if recorded_sha256 and hashlib.sha256(blob).hexdigest() != recorded_sha256:
        return None
    return blob
