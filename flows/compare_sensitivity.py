"""What the difference between two compared scenarios is sensitive to (``compare_sensitivity``).

One-at-a-time, on national facility energy in 2030 and the end year: every parameter with
a range is set to its low, then its high value, in the item and in its base alike (each
at its own low and high; all other parameters central), and the difference item − base
is taken at each end. It costs one vectorised simulation of 2P parameter sets per
scenario (``flows.compute.sensitivity_table``), on the default run's inputs.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from flows.errors import GridcastError

__all__ = ["difference_sensitivity"]

_COLUMNS = ["scenario", "base_scenario", "year", "parameter", "diff_central_twh", "diff_at_low_twh",
            "diff_at_high_twh", "diff_swing_twh"]


def _one(item: Any, ctx: dict[str, Any]) -> pd.DataFrame:
    from flows.compute import all_ranges, sensitivity_table
    from models.scenario import Scenario

    model = item.model if item.model is not None else Scenario.model_validate(item.resolved)
    sens = sensitivity_table(ctx["fleet"], model, all_ranges(model, ctx["inputs"]), None, None)
    return sens.astype({"parameter": str})[["year", "parameter", "central_twh", "at_low_twh", "at_high_twh"]]


def difference_sensitivity(sources: Any) -> tuple[pd.DataFrame, list[str]]:
    """``compare_sensitivity`` rows for every item compared with another, and notes.

    Returns an empty table (and a note saying why) when the inputs are not at hand.
    """
    from flows.compare_sources import _context

    pairs = [(i, b) for i in sources.items for b in sources.items if b.label == i.base and b is not i]
    if not pairs:
        return pd.DataFrame(columns=_COLUMNS), []
    try:
        ctx = _context(sources.default_run, sources)
        cache = {i.label: _one(i, ctx) for i in {x.label: x for p in pairs for x in p}.values()}
    except (GridcastError, ValueError) as exc:
        return pd.DataFrame(columns=_COLUMNS), [f"sensitivity of the difference skipped: {exc}"]
    rows = []
    for item, base in pairs:
        a, b = cache[item.label], cache[base.label]
        m = a.merge(b, on=["year", "parameter"], how="outer", suffixes=("_a", "_b"))
        for side in ("a", "b"):  # a parameter without a range on one side stays central there
            central = m.groupby("year")[f"central_twh_{side}"].transform("max")
            m[f"central_twh_{side}"] = central
            for end in ("at_low_twh", "at_high_twh"):
                m[f"{end}_{side}"] = m[f"{end}_{side}"].fillna(central)
        frame = pd.DataFrame({
            "scenario": item.label, "base_scenario": base.label, "year": m["year"], "parameter": m["parameter"],
            "diff_central_twh": m["central_twh_a"] - m["central_twh_b"],
            "diff_at_low_twh": m["at_low_twh_a"] - m["at_low_twh_b"],
            "diff_at_high_twh": m["at_high_twh_a"] - m["at_high_twh_b"]})
        frame["diff_swing_twh"] = (frame["diff_at_high_twh"] - frame["diff_at_low_twh"]).abs()
        rows.append(frame.sort_values(["year", "diff_swing_twh"], ascending=[True, False], kind="stable"))
    out = pd.concat(rows, ignore_index=True)
    return out.astype({"scenario": "string", "base_scenario": "string", "parameter": "string"}), []
