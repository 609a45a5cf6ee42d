"""comparison.html from hand-made compare tables: differences shown as given, hostile labels inert."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from reports.compare_page import render_difference_page
from tests.reports.report_synthetic import HOSTILE_BREAKOUT, HOSTILE_SCRIPT
from tests.reports.test_report_html import _table_rows

EVIL = HOSTILE_SCRIPT


def _tables() -> dict[str, pd.DataFrame]:
    years = [2024, 2030, 2035]
    nat = pd.DataFrame({"scenario": ["base"] * 3 + [EVIL] * 3, "base_scenario": "base", "year": years * 2,
                        "stat": "central", "facility_energy_twh": [100.0, 200, 300, 100, 220, 360]})
    nat["facility_energy_diff_twh"] = nat["facility_energy_twh"] - [100.0, 200, 300] * 2
    nat["facility_energy_diff_rel"] = nat["facility_energy_diff_twh"] / pd.Series([100.0, 200, 300] * 2)
    reg = pd.DataFrame({"scenario": ["base"] * 3 + [EVIL] * 3, "base_scenario": "base", "region_id": "CN-NX",
                        "year": years * 2, "stat": "central", "facility_energy_twh": [1.0, 2, 3, 1, 2.5, 4],
                        "peak_load_mw": [100.0, 200, 300, 100, 260, 420]})
    reg["facility_energy_diff_twh"] = reg["facility_energy_twh"] - [1.0, 2, 3] * 2
    reg["facility_energy_diff_rel"] = reg["facility_energy_diff_twh"] / pd.Series([1.0, 2, 3] * 2)
    reg["peak_load_diff_mw"] = reg["peak_load_mw"] - [100.0, 200, 300] * 2
    tp = pd.DataFrame({"scenario": ["base", EVIL], "base_scenario": "base", "region_id": "CN-NX",
                       "shape": ["rising", "flat"], "rise_start": pd.array([2025, pd.NA], dtype="Int64"),
                       "flat_until": pd.array([2024, pd.NA], dtype="Int64"), "base_shape": "rising",
                       "base_rise_start": pd.array([2025, 2025], dtype="Int64")})
    tp["rise_start_shift_years"] = tp["rise_start"] - tp["base_rise_start"]
    tp["same_shape"] = tp["shape"] == tp["base_shape"]
    params = pd.DataFrame({"parameter": ["growth.x"] * 2, "scenario": ["base", EVIL],
                           "value": ["1", HOSTILE_BREAKOUT]})
    sources = pd.DataFrame({"scenario": ["base", EVIL], "base_scenario": "base", "source": ["run r", "file f"],
                            "draws": [10, 0]})
    return {"compare_national": nat, "compare_regional": reg, "compare_turning_points": tp,
            "compare_parameters": params, "compare_sources": sources}


def test_page_shows_the_differences_it_is_given(tmp_path: Path) -> None:
    names = pd.DataFrame({"region_id": ["CN-NX"], "region_name": ["Ningxia"], "region_name_zh": ["宁夏"]})
    page = render_difference_page(_tables(), names, tmp_path / "c.html", EVIL).read_text(encoding="utf-8")
    assert EVIL not in page and HOSTILE_BREAKOUT not in page
    rows = _table_rows(page, "province-diff-0")
    header = [c[0] for c in rows[0]]
    nx = rows[1]
    assert nx[header.index("province 省份")][0] == "Ningxia 宁夏"
    assert nx[header.index("2035 Δ TWh")][0] == "+1.000" and nx[header.index("2035 Δ%")][0] == "+33.3%"
    assert nx[header.index("2030 Δ peak MW")][0] == "+60"
    nat = _table_rows(page, "national-diff")
    assert [c[0] for c in nat[-1]][-2:] == ["+60.00", "+20.0%"]
    assert 'id="turning-diff"' in page and 'id="param-side"' in page
