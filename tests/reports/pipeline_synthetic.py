"""A hand-made pipeline for the report tests (values worked out below).

Three projects, online share o(t) = clip((t + 1 - S) / 2, 0, 1) (2-year ramp), utilisation 0.5:

    P1  TJ  announced           100 MW  online 2026  p 0.2  delay 1
    P2  HE  under_construction  300 MW  online 2025  p 0.9  delay 0
    P3  HE  announced            50 MW  online 2030  p 0.2  delay 1

requested_it_mw = MW * o(t) with S = online_year; expected_it_mw = p * MW * o(t) with
S = online_year + delay; expected_it_energy_twh = expected_it_mw * 0.5 * 8.76e-3.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from flows.report_inputs import pipeline_for_report

__all__ = ["PROJECTS", "U", "pipeline_frame", "planned_frame", "with_pipeline"]

PROJECTS = [
    ("P1", "TJ", "announced", 100.0, 2026, 0.2, 1.0, "Tianjin campus", "src one"),
    ("P2", "HE", "under_construction", 300.0, 2025, 0.9, 0.0, "Hebei build", "src two"),
    ("P3", "HE", "announced", 50.0, 2030, 0.2, 1.0, "Hebei plan", "src three"),
]
U = 0.5


def _share(years: np.ndarray, start: float) -> np.ndarray:
    return np.clip((years + 1 - start) / 2.0, 0.0, 1.0)


def pipeline_frame(scenarios: list[str], years: np.ndarray) -> pd.DataFrame:
    rows = []
    for s in scenarios:
        for pid, rid, stage, mw, online, p, delay, _, _ in PROJECTS:
            requested = mw * _share(years, online)
            expected = p * mw * _share(years, online + delay)
            rows.append(
                pd.DataFrame(
                    {
                        "scenario": s,
                        "project_id": pid,
                        "region_id": rid,
                        "year": years,
                        "stage": stage,
                        "requested_it_mw": requested,
                        "expected_it_mw": expected,
                        "expected_it_energy_twh": expected * U * 8.76e-3,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def planned_frame() -> pd.DataFrame:
    return pd.DataFrame(
        [(pid, name, mw, src) for pid, _, _, mw, _, _, _, name, src in PROJECTS],
        columns=["project_id", "name", "it_capacity_mw", "source"],
    )


def with_pipeline(inputs, observed: pd.DataFrame | None = None):
    scenarios = [str(s) for s in pd.unique(inputs.regional["scenario"])]
    years = np.sort(inputs.regional["year"].unique())
    pipe = pipeline_frame(scenarios, years)
    # Regional pipeline columns: central = sum of the projects' expected energy; p10/p50/p90
    # = 0.8 / 1 / 1.25 times it; added = half of it.
    own = pipe.groupby(["scenario", "region_id", "year"])["expected_it_energy_twh"].sum()
    regional = inputs.regional.copy()
    keys = pd.MultiIndex.from_frame(regional[["scenario", "region_id", "year"]])
    base = own.reindex(keys).fillna(0.0).to_numpy()
    factor = regional["stat"].map({"central": 1.0, "p10": 0.8, "p50": 1.0, "p90": 1.25}).to_numpy()
    regional["pipeline_it_energy_twh"] = base * factor
    regional["pipeline_added_it_twh"] = base * factor * 0.5
    # IT energy of the central rows: facility / 1.3 (the synthetic PUE).
    is_central = regional["stat"] == "central"
    regional["it_energy_twh"] = (regional["facility_energy_twh"] / 1.3).where(is_central)
    return dataclasses.replace(
        inputs,
        regional=regional,
        pipeline=pipeline_for_report(pipe, planned_frame()),
        observed=observed,
    )
