"""The "Known projects" report section, on the hand-made pipeline of pipeline_synthetic.py.

The three projects, their online shares and the expected values the assertions use are
worked out in that module's docstring.
"""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pipeline_synthetic import U, pipeline_frame, planned_frame, with_pipeline
from report_synthetic import make_inputs

from flows.report_inputs import observed_vs_model, pipeline_for_report, regional_it_energy
from reports import render_report
from reports.section_pipeline import national_by_stage, section


class _Rows(HTMLParser):
    """Cell texts of the table with the given id."""

    def __init__(self, table_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.table_id, self.inside, self.rows = table_id, False, []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.inside = dict(attrs).get("id") == self.table_id
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if self.inside and tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self.inside = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _table(page: str, table_id: str) -> list[dict[str, str]]:
    parser = _Rows(table_id)
    parser.feed(page)
    header, *rows = [r for r in parser.rows if r]
    return [dict(zip(header, r, strict=True)) for r in rows]


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    observed = pd.DataFrame(
        {
            "region_id": ["HE"],
            "year": [2024],
            "quantity": ["it_capacity_mw"],
            "value": [200.0],
            "unit": ["MW"],
            "scope": ["whole province"],
            "source": ["obs src"],
            "model_value": [150.0],
        }
    )
    inputs = with_pipeline(make_inputs(n_scenarios=2, n_regions=4), observed)
    path = render_report(inputs, tmp_path_factory.mktemp("pipe") / "report.html")
    return path.read_text(encoding="utf-8")


def test_no_pipeline_no_section(tmp_path: Path) -> None:
    inputs = make_inputs()
    assert section(inputs) is None
    assert (
        section(
            dataclasses.replace(
                inputs, pipeline=pipeline_frame(["reference"], np.arange(2024, 2026)).iloc[0:0]
            )
        )
        is None
    )
    page = render_report(inputs, tmp_path / "r.html").read_text(encoding="utf-8")
    assert '<section id="pipeline">' not in page


def test_section_is_present_with_charts_and_tables(page: str) -> None:
    assert '<section id="pipeline">' in page
    for div in ("fig-pipeline-stages", "fig-pipeline-provinces"):
        assert f'id="{div}"' in page
    for table in ("pipeline-stage-table", "pipeline-province-series", "pipeline-provinces-table"):
        assert f'id="{table}"' in page


def test_national_requested_versus_expected_by_stage() -> None:
    pipe = pipeline_frame(["reference"], np.arange(2024, 2036))
    out = national_by_stage(pipe).set_index(["stage", "year"])
    # announced 2030: requested P1 100 + P3 100*0.5 = 125 MW; expected P1 0.2*100 + P3 0 = 20.
    assert out.loc[("announced", 2030), "requested_it_mw"] == pytest.approx(125.0)
    assert out.loc[("announced", 2030), "expected_it_mw"] == pytest.approx(20.0)
    # announced 2027: requested 100; expected P1 0.2*100*0.5 = 10.
    assert out.loc[("announced", 2027), "expected_it_mw"] == pytest.approx(10.0)
    # under construction 2025: half of 300 requested; 0.9 of that expected.
    assert out.loc[("under_construction", 2025), "requested_it_mw"] == pytest.approx(150.0)
    assert out.loc[("under_construction", 2025), "expected_it_mw"] == pytest.approx(135.0)
    assert list(dict.fromkeys(out.index.get_level_values("stage"))) == [
        "announced",
        "under_construction",
    ]


def test_project_table_rows_and_province_filter(page: str) -> None:
    rows = _table(page, "pipeline-projects-0")  # "All provinces"
    by_id = {r["project"]: r for r in rows}
    assert set(by_id) == {"P1", "P2", "P3"}
    assert by_id["P2"]["2030 expected MW"] == "270"  # 0.9 * 300
    assert by_id["P1"]["2027 expected MW"] == "10"  # 0.2 * 100 * 0.5
    assert by_id["P3"]["2035 expected MW"] == "10"  # 0.2 * 50
    assert by_id["P1"]["full build-out MW"] == "100"
    assert by_id["P2"]["source"] == "src two" and by_id["P2"]["name"] == "Hebei build"
    # One table per province with projects, after "All provinces"; each holds only its own.
    select = re.search(
        r'<select class="pane-select" data-group="pipeline-projects">(.*?)</select>', page, re.S
    )
    options = re.findall(r"<option[^>]*>(.*?)</option>", select.group(1))
    assert options[0] == "All provinces" and len(options) == 3
    for i in (1, 2):
        provinces = {r["province"] for r in _table(page, f"pipeline-projects-{i}")}
        assert provinces == {options[i]}


def test_province_summary_cells(page: str) -> None:
    rows = {r["region"]: r for r in _table(page, "pipeline-provinces-table")}
    assert set(rows) == {"TJ", "HE"}
    he = rows["HE"]
    assert he["full build-out MW"] == "350"
    assert he["2030 expected MW"] == "270"
    twh_2030 = 270 * U * 8.76e-3  # P3 expects nothing yet in 2030
    assert he["2030 pipeline TWh"] == f"{twh_2030:,.2f}"
    assert he["2030 added TWh"] == f"{twh_2030 * 0.5:,.2f}"
    twh_2035 = (270 + 10) * U * 8.76e-3
    assert he["2035 p10 TWh"] == f"{0.8 * twh_2035:,.2f}"
    assert he["2035 p90 TWh"] == f"{1.25 * twh_2035:,.2f}"


def test_observed_table_shows_model_over_observed(page: str) -> None:
    (row,) = _table(page, "observed-table")
    assert row["value"] == "200.00" and row["model_value"] == "150.00"
    assert row["model / observed"] == "0.75" and row["source"] == "obs src"


def test_observed_vs_model_joins_fleet_and_regional_energy() -> None:
    observed = pd.DataFrame(
        {
            "region_id": ["A", "A", "B"],
            "year": [2024, 2025, 2024],
            "quantity": ["it_capacity_mw", "facility_energy_twh_quarter", "facility_energy_twh"],
            "value": [1.0, 1.0, 1.0],
        }
    )
    centers = pd.DataFrame({"region_id": ["A", "A", "B"], "it_capacity_mw": [10.0, 5.0, 7.0]})
    regional = pd.DataFrame(
        {
            "scenario": ["reference"] * 4 + ["other"],
            "region_id": ["A", "A", "B", "B", "B"],
            "year": [2024, 2025, 2024, 2024, 2024],
            "stat": ["central", "central", "central", "p10", "central"],
            "facility_energy_twh": [3.0, 8.0, 2.5, 1.0, 99.0],
        }
    )
    out = observed_vs_model(observed, centers, regional, "reference")
    assert out["model_value"].tolist() == [15.0, 2.0, 2.5]  # 10 + 5 MW; 8 / 4; B central


def test_pipeline_for_report_joins_name_capacity_and_source() -> None:
    pipe = pipeline_frame(["reference"], np.arange(2024, 2027))
    out = pipeline_for_report(pipe, planned_frame())
    assert len(out) == len(pipe)
    p1 = out.loc[out["project_id"] == "P1"].iloc[0]
    assert (p1["name"], p1["it_capacity_mw"], p1["source"]) == ("Tianjin campus", 100.0, "src one")
    assert pipeline_for_report(None, planned_frame()) is None


def test_province_trend_is_it_energy_less_what_the_pipeline_added(page: str) -> None:
    rows = _table(page, "pipeline-province-series")
    he = next(r for r in rows if r["region_id"] == "HE" and r["year"] == "2030")
    # HE is synthetic region 2: base 0.5 + 0.37 * 2 = 1.24 TWh; reference: g 0.08 from 2025.
    it_2030 = 1.24 * (1 + 0.08 * 5) / 1.3
    added = 0.5 * 270 * U * 8.76e-3
    assert he["trend_twh"] == f"{it_2030 - added:,.3f}"
    assert he["added_twh"] == f"{added:,.3f}"


def test_regional_it_energy_sums_central_workloads() -> None:
    regional = pd.DataFrame(
        {
            "scenario": ["s", "s", "s"],
            "region_id": ["A", "A", "B"],
            "year": [2024, 2024, 2024],
            "stat": ["central", "p10", "central"],
            "facility_energy_twh": [1.0, 0.8, 2.0],
        }
    )
    forecast = pd.DataFrame(
        {
            "scenario": ["s"] * 5,
            "region_id": ["A", "A", "A", "B", "B"],
            "year": [2024] * 5,
            "workload": ["general", "training", "general", "general", "inference"],
            "stat": ["central", "central", "p10", "central", "central"],
            "it_energy_twh": [0.25, 0.5, 9.0, 1.0, 0.5],
        }
    )
    out = regional_it_energy(regional, forecast)
    assert out["it_energy_twh"].tolist()[0] == pytest.approx(0.75)
    assert np.isnan(out["it_energy_twh"].tolist()[1])
    assert out["it_energy_twh"].tolist()[2] == pytest.approx(1.5)
    assert regional_it_energy(regional, None) is regional


def test_long_project_lists_show_the_largest(monkeypatch, tmp_path: Path) -> None:
    from reports import section_pipeline

    monkeypatch.setattr(section_pipeline, "MAX_PROJECT_ROWS", 2)
    page = render_report(with_pipeline(make_inputs()), tmp_path / "r.html").read_text("utf-8")
    rows = _table(page, "pipeline-projects-0")
    assert [r["project"] for r in rows] == ["P2", "P1"]  # 300 MW and 100 MW; P3 (50 MW) left out
    assert "the 2 largest of 3" in page
    # Per province (天津 sorts before 河北): 1 and 2 projects, within the cap, all shown.
    assert [len(_table(page, f"pipeline-projects-{i}")) for i in (1, 2)] == [1, 2]
