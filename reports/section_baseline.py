"""Report section: how accurate the baseline (non-compute) demand has been out of sample.

Reads ``backtest.parquet`` (``models.baseline_online.backtest_table``): every figure is
online, i.e. at each past origin year the procedure used only what was known then.
"""

from __future__ import annotations

import pandas as pd

from reports.inputs import ReportInputs, region_names
from reports.page import Section, Text
from reports.tables import Table, frame_table, num, text

__all__ = ["PLANNER_HORIZON", "province_sentences", "section"]

PLANNER_HORIZON = 3
"""Years ahead quoted per province (the largest backtested horizon if fewer)."""

_MODEL_NAMES = {
    "drift": "drift (constant growth rate)",
    "drift_linear": "drift in TWh (constant increment)",
    "drift_shrunk": "drift shrunk toward national growth",
    "ets_damped": "damped-trend ETS",
    "theta": "Theta",
    "ar_growth": "AR(1) on growth",
}


class _Rows:
    """``rows(region, model, h)``: the first backtest row of that key (a dict), or None."""

    def __init__(self, bt: pd.DataFrame) -> None:
        self._first: dict[tuple[str, str, int], dict] = {}
        keys = zip(bt["region_id"].astype(str).tolist(), bt["model"].astype(str).tolist(),
                   pd.to_numeric(bt["h"]).tolist(), strict=True)
        for key, rec in zip(keys, bt.to_dict("records"), strict=True):
            self._first.setdefault(key, rec)

    def __call__(self, region: str, model: str, h: int) -> dict | None:
        return self._first.get((region, model, h))


def province_sentences(backtest: pd.DataFrame, names: dict[str, str]) -> list[tuple[str, str]]:
    """(region_id, sentence) per region with an online backtest, in the planner's words."""
    bt = backtest.astype({"region_id": str, "model": str})
    horizons = sorted(h for h in bt["h"].unique() if h > 0)
    if not horizons:
        return []
    h = PLANNER_HORIZON if PLANNER_HORIZON in horizons else max(horizons)
    out = []
    row = _Rows(bt)
    for rid in sorted(set(bt["region_id"]) - {"ALL"}):
        own, drift = row(rid, "online", h), row(rid, "drift", h)
        if own is None or drift is None:
            continue
        pooled = row(rid, "online", 0)
        cover = pooled["coverage80"] if pooled is not None else float("nan")
        cover_text = (
            f"; its 80% range held the outcome {cover:.0%} of the time (1-{max(horizons)} years ahead)"
            if pd.notna(cover)
            else ""
        )
        out.append(
            (
                rid,
                f"For {names.get(rid, rid)}, the baseline's {h}-year-ahead error has been about "
                f"{own['mape']:.1%} on past data ({int(own['n_points'])} forecasts); drift's "
                f"{drift['mape']:.1%}{cover_text}.",
            )
        )
    return out


def _headline(bt: pd.DataFrame) -> list[str]:
    row = _Rows(bt)
    own, drift = row("ALL", "online", 0), row("ALL", "drift", 0)
    if own is None or drift is None:
        return []
    horizons = sorted(h for h in bt["h"].unique() if h > 0)
    lines = [
        f"Out of sample, all provinces and 1-{max(horizons)} years ahead: the baseline's error has "
        f"been {own['mape']:.1%} on average (MAPE), against {drift['mape']:.1%} for drift, the "
        f"benchmark (MASE against drift {own['mase_vs_drift']:.2f}; below 1 is better). Its 80% "
        f"ranges held the outcome {own['coverage80']:.0%} of the time "
        f"({int(own['n_points'])} forecasts from {int(own['n_origins'])} province-years).",
        "Out of sample means each past forecast used only the data, model weights and interval "
        "widths known in its origin year: the figures are what the procedure would have "
        "delivered, not how well it fits the past.",
    ]
    weights = bt[(bt["region_id"] == "ALL") & (bt["h"] == 0) & bt["weight"].notna()]
    used = weights[weights["weight"] > 0].sort_values("weight", ascending=False)
    unused = weights[weights["weight"] <= 0]
    if len(used):
        text_used = ", ".join(
            f"{_MODEL_NAMES.get(m, m)} {w:.0%}" for m, w in zip(used["model"], used["weight"], strict=True)
        )
        line = f"Today's forecast combines {text_used}"
        if len(unused):
            line += (
                "; " + ", ".join(_MODEL_NAMES.get(m, m) for m in unused["model"])
                + " take no part (their past errors were larger than drift's)"
            )
        lines.append(line + ".")
    return lines


def _province_table(bt: pd.DataFrame, names: dict[str, str]) -> Table:
    horizons = sorted(h for h in bt["h"].unique() if h > 0)
    h = PLANNER_HORIZON if PLANNER_HORIZON in horizons else max(horizons)
    rows = []
    row = _Rows(bt)
    for rid in sorted(set(bt["region_id"]) - {"ALL"}) + ["ALL"]:
        cells = [text(names.get(rid, "All provinces" if rid == "ALL" else rid))]
        for model, hh in (("online", h), ("drift", h), ("online", 0), ("drift", 0)):
            r = row(rid, model, hh)
            cells.append(num(None if r is None else r["mape"], "{:.1%}"))
        r = row(rid, "online", 0)
        cells.append(num(None if r is None else r["coverage80"], "{:.0%}"))
        rows.append(cells)
    return Table(
        "backtest-provinces",
        "Out-of-sample error by province (MAPE) and 80% range coverage",
        [
            ("province", False),
            (f"baseline {h}-yr error", True),
            (f"drift {h}-yr error", True),
            (f"baseline 1-{max(horizons)} yr", True),
            (f"drift 1-{max(horizons)} yr", True),
            ("80% range held", True),
        ],
        rows,
    )


def section(inputs: ReportInputs) -> Section:
    """The baseline's online backtest: headline, one sentence per province, tables."""
    bt = inputs.backtest
    if "h" not in bt.columns:  # a backtest table without horizons: show it as it is
        return Section(
            "backtest",
            "Baseline backtest",
            [frame_table("backtest-table", "Backtest by region and model", bt)],
        )
    bt = bt.astype({"region_id": str, "model": str})
    names = region_names(inputs.regions)
    sentences = [s for _, s in province_sentences(bt, names)]
    pooled = bt[bt["region_id"] == "ALL"].drop(columns=["region_id", "selected"])
    return Section(
        "backtest",
        "Baseline demand: how accurate it has been",
        [
            Text(_headline(bt)),
            Text(sentences, bullets=True),
            _province_table(bt, names),
            frame_table(
                "backtest-table",
                "All provinces pooled, by model and horizon (h = 0: all horizons; 'online' is "
                "the procedure used, the others are its candidates on the same forecasts)",
                pooled,
            ),
        ],
    )
