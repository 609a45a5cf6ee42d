"""Flat-then-rising turning points (docs/methodology.md section 3.15), worked by hand.

rise_start = first year t > t0 with year-on-year growth >= threshold in t, t+1, t+2
(as many of those as the horizon has); flat_until = rise_start - 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.engine import SimResult
from models.summarize import turning_points_table
from models.turning import classify_shape, rise_start_index, yoy_growth

T0 = 2024


def _shape(series, threshold=0.05):
    """(shape, rise_start year or None) from the code under test."""
    shape, idx = classify_shape(np.asarray(series, dtype=float), threshold)
    i = int(idx)
    return str(shape), (T0 + i if i > 0 else None)


def test_rising_from_first_year():
    # +10% every year
    assert _shape([10.0, 11.0, 12.1, 13.31]) == ("rising", 2025)


def test_flat_then_rising():
    # growth: 1%, 0.99%, 7.84%, 9.09%, 8.33%, 7.69% -> first year with three >= 5% is 2027
    series = [10.0, 10.1, 10.2, 11.0, 12.0, 13.0, 14.0]
    assert _shape(series) == ("flat-then-rising", 2027)


def test_one_good_year_is_not_a_rise():
    # 2026 +10%, 2027 flat -> 2026 does not start a rise; 2028-2029 both +10% at the end
    series = [10.0, 10.0, 11.0, 11.0, 12.1, 13.31]
    assert _shape(series) == ("flat-then-rising", 2028)


def test_declining():
    assert _shape([10.0, 9.0, 8.5, 8.0]) == ("declining", None)


def test_flat_no_rise_and_end_not_below_start():
    # growth 2%, -0.98%, 1.98%; F(end) = 10.3 >= F(t0) = 10
    assert _shape([10.0, 10.2, 10.1, 10.3]) == ("flat", None)
    # ends exactly where it started (growth 2%, -3.92%, 2.04%): not declining
    assert _shape([10.0, 10.2, 9.8, 10.0]) == ("flat", None)


def test_threshold_exactly_five_percent_counts():
    # integers whose ratios are exactly 1.05: 8000 * 1.05^k
    assert _shape([8000.0, 8400.0, 8820.0, 9261.0]) == ("rising", 2025)
    assert _shape([8000.0, 8000.0, 8400.0, 8820.0, 9261.0]) == ("flat-then-rising", 2026)
    # one unit short of 5% in the first step (4.9875%), then 5.0006% and 5.0006%:
    # the rise starts a year later
    assert _shape([8000.0, 8399.0, 8819.0, 9260.0]) == ("flat-then-rising", 2026)


def test_threshold_exactly_five_percent_decimal_series():
    assert _shape([1.0, 1.05, 1.1025, 1.157625]) == ("rising", 2025)


def test_end_of_horizon_rule_fewer_than_three_following_years():
    # only the last two years grow (+10%, +10%): 2028 qualifies on the two years the horizon has
    assert _shape([10.0, 10.0, 10.0, 10.0, 11.0, 12.1]) == ("flat-then-rising", 2028)
    # only the last year grows: 2029 qualifies on its own growth
    assert _shape([10.0, 10.0, 10.0, 10.0, 10.0, 11.0]) == ("flat-then-rising", 2029)
    # two-year horizon: one growth figure decides
    assert _shape([10.0, 10.5]) == ("rising", 2025)
    assert _shape([10.0, 10.4]) == ("flat", None)


def test_zero_to_zero_growth_is_zero_percent():
    g = yoy_growth(np.array([0.0, 0.0, 0.0]))
    assert g.tolist() == [0.0, 0.0]
    assert _shape([0.0, 0.0, 0.0, 0.0]) == ("flat", None)
    # with threshold 0, a 0% year counts as >= threshold: 0 -> 0 must not be NaN
    assert rise_start_index(np.array([0.0, 0.0, 0.0]), threshold=0.0).tolist() == 1


def _sim_from_facility(fac: np.ndarray) -> SimResult:
    d, r, t = fac.shape
    z4 = np.zeros((d, r, t, 3))
    return SimResult(
        it_twh=z4, facility_twh=z4, pue_effective=np.zeros((d, r, t)), region_it_twh=fac,
        region_facility_twh=fac, region_peak_mw=np.zeros((d, r, t)), national_peak_mw=np.zeros((d, t)),
    )


def test_turning_points_table_years_and_national_total():
    years = [2024, 2025, 2026, 2027, 2028]
    fac = np.array(
        [
            [
                [10.0, 10.0, 10.0, 10.0, 10.0],  # flat
                [5.0, 4.0, 3.0, 2.0, 1.0],  # declining
                [1.0, 1.0, 2.0, 4.0, 8.0],  # flat-then-rising from 2026
            ]
        ]
    )
    # national: 16, 15, 15, 16, 19 -> growth -6.25%, 0%, 6.67%, 18.75% -> rise starts 2027
    tp = turning_points_table("s", np.array(["F", "D", "R"]), years, _sim_from_facility(fac), 0.05)
    tp = tp.set_index("region_id")
    assert tp.loc["F", "shape"] == "flat" and pd.isna(tp.loc["F", "rise_start"])
    assert tp.loc["D", "shape"] == "declining" and pd.isna(tp.loc["D", "flat_until"])
    assert tp.loc["R", "shape"] == "flat-then-rising"
    assert (tp.loc["R", "rise_start"], tp.loc["R", "flat_until"]) == (2026, 2025)
    assert tp.loc["ALL", "shape"] == "flat-then-rising"
    assert (tp.loc["ALL", "rise_start"], tp.loc["ALL", "flat_until"]) == (2027, 2026)


# --- the peak (turning points gain peak_year, peak_twh and the shape "peaking") ---


def _peak(series):
    from models.turning import peak_index

    return int(peak_index(np.asarray(series, dtype=float)))


def test_rises_by_a_third_and_falls_back_is_peaking_not_flat():
    # growth +33%, then -10% and -16.4%: one good year is not a rise (t+1 and t+2 fail);
    # peak 13.3 >= 1.05 * 10 and end 10.0 <= 13.3 / 1.05 = 12.67 -> peaking
    assert _shape([10.0, 13.3, 12.0, 10.0]) == ("peaking", None)


def test_peaking_needs_the_fall_from_the_peak():
    # peak 13.3, end 12.7 > 13.3 / 1.05 = 12.667 (last growth +4.2%, no rise): not peaking;
    # end 12.7 >= 10: flat
    assert _shape([10.0, 13.3, 12.2, 12.7]) == ("flat", None)
    # just inside: end 11.4 <= 12 / 1.05 = 11.43 (and the -5% fall stops any rise)
    assert _shape([10.0, 12.0, 11.4]) == ("peaking", None)
    # just outside: end 11.5 > 11.43
    assert _shape([10.0, 12.0, 11.5]) == ("flat", None)


def test_peaking_needs_the_rise_above_the_base_year():
    # peak 10.4 < 10.5 = 1.05 * F(t0); ends below the base year -> declining
    assert _shape([10.0, 10.4, 9.0, 8.0]) == ("declining", None)


def test_rise_start_takes_precedence_over_peaking():
    # rises three years running from 2025 (+10% each), then falls far back
    assert _shape([10.0, 11.0, 12.1, 13.31, 9.0]) == ("rising", 2025)


def test_peaking_precedes_declining():
    # rises 20%, then ends below the base year: both rules hold; peaking wins
    assert _shape([10.0, 12.0, 9.0, 8.0]) == ("peaking", None)


def test_peak_year_is_the_earliest_within_relative_1e9():
    assert _peak([1.0, 3.0, 2.0]) == 1
    # a later value larger by less than 1e-9 relative ties, and the earlier year wins
    assert _peak([1.0, 3.0, 3.0 * (1 + 5e-10), 2.0]) == 1
    # larger by more than 1e-9 relative: the later year is the peak
    assert _peak([1.0, 3.0, 3.0 * (1 + 5e-9), 2.0]) == 2
    # a flat path peaks in its base year
    assert _peak([5.0, 5.0, 5.0]) == 0


def test_turning_points_table_has_peak_year_and_peak_twh():
    # two regions over 2024-2027; national = their sum
    fac = np.array([[10.0, 13.3, 12.0, 10.0], [1.0, 2.0, 3.0, 4.0]])
    sim = SimResult(
        it_twh=np.zeros((1, 2, 4, 3)), facility_twh=np.zeros((1, 2, 4, 3)),
        pue_effective=np.ones((1, 2, 4)), region_it_twh=fac[None], region_facility_twh=fac[None],
        region_peak_mw=np.zeros((1, 2, 4)), national_peak_mw=np.zeros((1, 4)),
    )
    tp = turning_points_table("s", np.array(["A", "B"]), [2024, 2025, 2026, 2027], sim, 0.05)
    by = tp.set_index("region_id")
    assert by.loc["A", "shape"] == "peaking"
    assert int(by.loc["A", "peak_year"]) == 2025 and by.loc["A", "peak_twh"] == 13.3
    assert int(by.loc["B", "peak_year"]) == 2027 and by.loc["B", "peak_twh"] == 4.0
    # national: 11, 15.3, 15, 14 -> peak 2025 at 15.3
    assert int(by.loc["ALL", "peak_year"]) == 2025
    assert abs(by.loc["ALL", "peak_twh"] - 15.3) < 1e-12
    assert pd.isna(by.loc["A", "rise_start"])
