"""The baseline section's planner sentences and the observed-growth flags, from hand-made tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from models.observed_growth import OBSERVED, observed_growth_flags
from reports.section_baseline import province_sentences


def _bt() -> pd.DataFrame:
    rows = []
    for rid, own3, drift3, cover in (("CN-GD", 0.042, 0.051, 0.8), ("ALL", 0.06, 0.065, 0.82)):
        for model, mape in (("online", own3), ("drift", drift3)):
            for h in (0, 1, 2, 3, 4, 5):
                rows.append((rid, model, h, 6, 6, mape if h == 3 else mape / 2, 0.9, cover,
                             float("nan"), model == "online"))
    return pd.DataFrame(rows, columns=["region_id", "model", "h", "n_origins", "n_points", "mape",
                                       "mase_vs_drift", "coverage80", "weight", "selected"])


def test_province_sentence_in_planner_words() -> None:
    [(rid, sentence)] = province_sentences(_bt(), {"CN-GD": "Guangdong"})
    assert rid == "CN-GD"
    assert sentence.startswith(
        "For Guangdong, the baseline's 3-year-ahead error has been about 4.2% on past data "
        "(6 forecasts); drift's 5.1%"
    )
    assert "held the outcome 80% of the time" in sentence


def test_observed_growth_flags_by_hand() -> None:
    nat = pd.DataFrame({
        "scenario": ["slow"] * 2 + ["fast"] * 2,
        "year": [2024, 2025] * 2,
        "stat": "central",
        "facility_energy_twh": [100.0, 112.0, 100.0, 140.0],
    })
    flags = observed_growth_flags(nat).set_index("scenario")
    assert flags.loc["slow", "growth"] == pytest.approx(0.12)
    assert bool(flags.loc["slow", "far_below"])  # 12% < half of 43.3%
    assert not bool(flags.loc["fast", "far_below"])  # 40%
    assert "far below the +43.3% growth" in flags.loc["slow", "sentence"]
    assert "grows 40.0% in 2025, below the +43.3%" in flags.loc["fast", "sentence"]


def test_observed_figures_are_the_published_ones() -> None:
    pub = pd.read_csv(Path(__file__).parents[2] / "data" / "default" / "published_estimates.csv")
    for obs in OBSERVED:
        rows = pub[(pub["year"] == obs.year) & (pub["source_id"] == obs.source_id)
                   & pub["metric"].str.contains("y/y growth")]
        assert (rows["value_low"] == round(100 * obs.growth, 1)).any(), obs
