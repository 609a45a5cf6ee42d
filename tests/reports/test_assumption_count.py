"""The assumption count matches every source marked ASSUMPTION, however it is worded."""

from __future__ import annotations

import pandas as pd

from reports.report import _assumed_by_block, assumption_mask


def test_assumption_marks_are_counted_whatever_follows_the_word() -> None:
    sources = pd.Series(["ASSUMPTION", "ASSUMPTION (see the scenario file's comment)",
                         "S3; ASSUMPTION for the range", "S12 (CAICT 2024)", "pue_assumptions.csv"])
    # "pue_assumptions.csv" holds "assumption" inside a file name: a source, not the mark
    assert assumption_mask(sources).tolist() == [True, True, True, False, False]


def test_assumed_share_by_block() -> None:
    frame = pd.DataFrame({
        "item": ["reference: growth.taper", "reference: growth.general", "reference: hubs.shift",
                 "PUE large east"],
        "value": ["1", "2", "3", "1.3"],
        "source": ["ASSUMPTION", "S1", "ASSUMPTION (x)", "pue_assumptions.csv (see data/SOURCES.md)"],
    })
    table = _assumed_by_block(frame, assumption_mask(frame["source"]))
    cells = {row[0][0]: (row[1][0], row[2][0]) for row in table.rows}
    # growth: 1 of 2 assumed; hubs: 1 of 1; PUE table: 0 of 1 (hand count of the rows above)
    assert cells["growth"] == ("1", "2")
    assert cells["hubs"] == ("1", "1")
    assert cells["PUE table"] == ("0", "1")
