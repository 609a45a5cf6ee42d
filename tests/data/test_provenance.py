"""Nothing in the repository cites a file that a user who clones it does not have.

The design notes the project was started from (the model contract, the style guide, the
stack notes, the task text and the shared folder they lived in) are not part of the
repository. Every tracked text file is searched for their names; a hit fails with the
file and line, so a citation of them cannot come back. Binary files (a NUL byte in the
first 8 KiB, git's own rule) are the only files skipped.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Spelled in pieces so that this file does not match itself.
FORBIDDEN = [
    ("the model contract", re.compile(re.escape("MODEL" + ".md"))),
    ("the stack notes", re.compile(re.escape("STACK" + "-NOTES") + "|" + re.escape("STACK" + "_NOTES"))),
    ("the style guide", re.compile(re.escape("STYLE" + ".md"))),
    ("the task text", re.compile(r"\bproject\s+" + "brief" + r"\b|\bthe\s+" + "brief" + r"\b", re.I)),
    ("the shared folder", re.compile(re.escape("/work/" + "shared") + "|" + re.escape("../" + "shared"))),
]


def _tracked_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode("utf-8")
    return [ROOT / name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def _is_binary(data: bytes) -> bool:
    return b"\0" in data[:8192]


def test_the_patterns_catch_what_they_must() -> None:
    """The patterns are live: each one finds a citation it exists to catch."""
    samples = {
        "the model contract": "see " + "MODEL" + ".md section 3",
        "the stack notes": "(see " + "STACK" + "-NOTES: 12-18 s)",
        "the style guide": "not asserted: see " + "STYLE" + ".md",
        "the task text": "quoted in the project " + "brief",
        "the shared folder": "copied from ../" + "shared/reference-data",
    }
    for name, pattern in FORBIDDEN:
        assert pattern.search(samples[name]), name
    # published names that merely contain the word stay allowed
    assert not any(p.search("as summarised by Carbon Brief; China Daily Brief") for _, p in FORBIDDEN)


def test_no_tracked_file_cites_a_file_outside_the_repository() -> None:
    files = _tracked_files()
    assert len(files) > 50  # the listing really is the repository
    hits: list[str] = []
    for path in files:
        data = path.read_bytes()
        if _is_binary(data):
            continue
        text = data.decode("utf-8", errors="replace")
        for name, pattern in FORBIDDEN:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                hits.append(f"{path.relative_to(ROOT)}:{line}: cites {name} ({match.group(0)!r})")
    assert not hits, "\n".join(hits)
