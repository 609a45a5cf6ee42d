"""reports.section_hours: the hours section from synthetic peaks and headroom tables."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
from report_synthetic import make_inputs

from reports import render_report
from reports.section_hours import section


def _hours(inputs) -> dict:
    regions = inputs.regions["region_id"].astype(str).tolist()
    rows = []
    for s in ("reference", "flexible_training"):
        for i, r in enumerate(regions):
            for year in (2024, 2030, 2035):
                for stat, q in (("central", 1.0), ("p10", 0.9), ("p50", 1.0), ("p90", 1.1)):
                    system = (1000.0 + 100 * i + 10 * (year - 2024)) * q
                    rows.append({"scenario": s, "region_id": r, "year": year, "stat": stat,
                                 "compute_peak_mw": 50.0 * q, "system_peak_without_compute_mw": system - 40,
                                 "system_peak_mw": system, "peak_increment_mw": 10.0 * (year - 2024) * q,
                                 "compute_peak_increment_mw": 2.0 * (year - 2024), "compute_peak_contribution_mw": 40.0,
                                 "system_peak_flex_mw": (system - (7.0 if s == "flexible_training" else 0.0))
                                 if stat == "central" else np.nan})
    peaks = pd.DataFrame(rows)
    room = pd.DataFrame([{"scenario": s, "region_id": r, "year": y, "curtailment_limit": x,
                          "headroom_mw": 300.0 * (1 + i) * x / 0.005}
                         for s in ("reference", "flexible_training") for i, r in enumerate(regions)
                         for y in (2024, 2030, 2035) for x in (0.0025, 0.005, 0.01)])
    return {"peaks": peaks, "headroom": room, "notes": ["hourly shape: system_hourly_load_mw.csv, 8784 hours"]}


def test_no_peaks_no_section() -> None:
    assert section(make_inputs()) is None


def test_hours_section_renders_peaks_flex_and_headroom(tmp_path: Path) -> None:
    base = make_inputs()
    inputs = dataclasses.replace(base, hours=_hours(base))
    sec = section(inputs)
    assert sec is not None and sec.section_id == "hours"
    kinds = [getattr(b, "kind", "table") for b in sec.blocks]
    assert kinds[:2] == ["text", "group"] and "chart" in kinds
    flex = next(b for b in sec.blocks if getattr(b, "table_id", "") == "hours-flex")
    lower = [c for c, _ in flex.columns].index("lower by MW")
    assert {row[lower][0] for row in flex.rows} == {"7"}  # 7 MW lower, every province
    html = render_report(inputs, tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'id="hours"' in html and "8784 hours" in html
    assert "without raising its peak, if it accepts curtailment" in html
    assert "fig-headroom-0" in html and "fig-headroom-1" in html
    peaks_table = next(b for b in sec.blocks if getattr(b, "kind", "") == "group").tables[0]
    cols = [c for c, _ in peaks_table.columns]
    band = cols.index("peak increment since 2024 MW p50 (p10–p90)")
    assert peaks_table.rows[0][band][0] == "60 (54–66)"
