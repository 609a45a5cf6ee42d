"""The report file itself: one self-contained, escaped, bounded HTML file (no browser)."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from plotly.offline import get_plotlyjs
from report_synthetic import HOSTILE_BREAKOUT, HOSTILE_IMG, HOSTILE_SCRIPT, make_inputs

from reports import render_comparison, render_report
from reports.inputs import published_estimates
from reports.tables import regional_table

MAX_BYTES = 10 * 1024 * 1024


class _Scan(HTMLParser):
    """Collects attributes that load things, style text, script tags (with their content length)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.loads: list[tuple[str, str, str]] = []
        self.styles: list[str] = []
        self.scripts: list[dict] = []
        self.meta: list[dict] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name in ("src", "href", "srcset", "data", "action", "poster", "xlink:href"):
            if attributes.get(name):
                self.loads.append((tag, name, attributes[name] or ""))
        if tag == "link":
            self.loads.append((tag, "link", attributes.get("href") or ""))
        if attributes.get("style"):
            self.styles.append(attributes["style"] or "")
        if tag == "script":
            self.scripts.append(attributes)
        if tag == "meta":
            self.meta.append(attributes)
        self._in = tag

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self.styles.append(data)


class _Table(HTMLParser):
    """Rows of one table (by id) as (text, data-sort) cells; the header row first."""

    def __init__(self, table_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.table_id, self.depth, self.rows = table_id, 0, []
        self._cell: list[str] | None = None
        self._sort = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "table" and attributes.get("id") == self.table_id:
            self.depth = 1
        elif self.depth and tag == "tr":
            self.rows.append([])
        elif self.depth and tag in ("td", "th"):
            self._cell, self._sort = [], attributes.get("data-sort") or ""

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(("".join(self._cell).strip(), self._sort))
            self._cell = None
        elif tag == "table":
            self.depth = 0

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _table_rows(page: str, table_id: str) -> list[list[tuple[str, str]]]:
    parser = _Table(table_id)
    parser.feed(page)
    return [r for r in parser.rows if r]


def _render(inputs, folder: Path, name: str = "report.html") -> tuple[Path, str]:
    path = render_report(inputs, folder / name)
    return path, path.read_text(encoding="utf-8")


def test_report_is_one_complete_file(small_inputs, tmp_path):
    path, page = _render(small_inputs, tmp_path / "out")
    assert path == tmp_path / "out" / "report.html"
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]  # no temp file left behind
    assert page.startswith("<!DOCTYPE html>")
    assert page.rstrip().endswith("</html>")
    assert '<meta charset="utf-8">' in page


def test_plotly_js_inlined_once_and_every_chart_uses_it(small_inputs, tmp_path):
    _, page = _render(small_inputs, tmp_path)
    assert page.count(get_plotlyjs()[:300]) == 1
    divs = len(re.findall(r'class="plotly-graph-div"', page))
    assert divs == 6  # headline, map, provinces, scenario comparison, rise odds, tornado
    # plus one lazily drawn chart per province pane, drawn by the page's one lazy drawer
    lazy = len(re.findall(r'class="lazy-chart"', page))
    assert lazy == len(small_inputs.regions)
    assert page.count('type="application/json"') == lazy
    assert page.count("Plotly.newPlot(") == divs + 1


def test_nothing_is_loaded_from_outside(small_inputs, tmp_path):
    _, page = _render(small_inputs, tmp_path)
    scan = _Scan()
    scan.feed(page)
    # No element loads anything but in-page anchors (the nav) and data: URIs.
    assert all(v.startswith("#") or v.startswith("data:") for _, _, v in scan.loads), scan.loads
    assert all("src" not in attrs for attrs in scan.scripts)
    css = "\n".join(scan.styles)
    assert "@import" not in css
    assert all(
        u.strip("'\" ").startswith(("data:", "#")) for u in re.findall(r"url\(([^)]*)\)", css)
    )
    # Belt and braces: the page's own policy forbids every network load.
    csp = [m["content"] for m in scan.meta if m.get("http-equiv") == "Content-Security-Policy"]
    assert len(csp) == 1
    assert "default-src 'none'" in csp[0]
    assert "'unsafe-inline'" not in csp[0].split("script-src")[1].split(";")[0]


def test_hostile_names_render_as_text(small_inputs, hostile_inputs, tmp_path):
    _, page = _render(hostile_inputs, tmp_path, "hostile.html")
    _, benign = _render(small_inputs, tmp_path, "benign.html")
    for raw in (HOSTILE_SCRIPT, HOSTILE_IMG, HOSTILE_BREAKOUT):
        assert raw not in page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page  # shown as text in tables
    assert "&lt;img src=x onerror=&#34;window.__pwned=2&#34;&gt;" in page
    # The same number of script elements as the benign report: nothing was injected.
    assert page.count("<script") == benign.count("<script")
    assert len(re.findall(r"<img\b", page)) == 0


def test_chinese_names_are_utf8(small_inputs, tmp_path):
    path, _ = _render(small_inputs, tmp_path)
    raw = path.read_bytes()
    assert "北京".encode() in raw
    assert "Noto Sans CJK SC" in raw.decode("utf-8")


def test_full_size_case_stays_under_10_mb(full_inputs, tmp_path):
    assert len(full_inputs.national) == 6 * 12 * 4
    assert len(full_inputs.regional) == 6 * 31 * 12 * 4
    path, _ = _render(full_inputs, tmp_path)
    assert path.stat().st_size < MAX_BYTES


def test_same_inputs_give_the_same_bytes(small_inputs, tmp_path):
    first, _ = _render(small_inputs, tmp_path, "a.html")
    second, _ = _render(small_inputs, tmp_path, "b.html")
    assert first.read_bytes() == second.read_bytes()


def test_failed_render_leaves_previous_report_intact(small_inputs, tmp_path):
    path = tmp_path / "report.html"
    path.write_text("previous report", encoding="utf-8")
    broken = dataclasses.replace(
        small_inputs, national=small_inputs.national.drop(columns="facility_energy_twh")
    )
    with pytest.raises(KeyError):
        render_report(broken, path)
    assert path.read_text(encoding="utf-8") == "previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_optional_sections_follow_inputs(tmp_path):
    _, bare = _render(make_inputs(optional=False, with_p=False), tmp_path, "bare.html")
    for section in ("sensitivity", "rise-odds", "coincident", "backtest"):
        assert f'<section id="{section}">' not in bare
    assert '"fill":"tonexty"' not in bare  # no p10-p90 band without Monte Carlo rows
    _, full = _render(make_inputs(), tmp_path, "full.html")
    for section in (
        "summary",
        "where",
        "provinces",
        "turning-points",
        "scenarios",
        "sensitivity",
        "rise-odds",
        "coincident",
        "backtest",
        "sources",
        "metadata",
    ):
        assert f'<section id="{section}">' in full
    assert '"fill":"tonexty"' in full


def test_summary_states_closed_form_national_energy(tmp_path):
    # E = sum_r base_r * (1 + g * max(0, y - rise)); base_r = 0.5 + 0.37 i; scenario 0: g = 0.08, rise = 2025.
    inputs = make_inputs(n_scenarios=1, n_regions=4)
    base_sum = sum(0.5 + 0.37 * i for i in range(4))
    expected = {y: base_sum * (1 + 0.08 * max(0, y - 2025)) for y in (2024, 2030, 2035)}
    _, page = _render(inputs, tmp_path)
    line = (
        f"reference: {expected[2024]:,.0f} TWh in 2024 → {expected[2030]:,.0f} TWh in 2030 → "
        f"{expected[2035]:,.0f} TWh in 2035; shape flat-then-rise, rise starts 2025"
    )
    assert line in page


def test_published_estimates_are_filtered_by_unit_metric_and_horizon():
    published = pd.DataFrame(
        {
            "year": [2024, 2030, 2030, 2040, 2030],
            "metric": [
                "China data-centre electricity use",
                "china DATA-CENTRE electricity",
                "Global data-centre",
                "China data-centre electricity",
                "China data-centre electricity",
            ],
            "value_low": [1.0, 2.0, 3.0, 4.0, 5.0],
            "value_high": [1.0, 2.0, 3.0, 4.0, 5.0],
            "unit": ["TWh", "TWh", "TWh", "TWh", "GW"],
            "original_publisher": list("ABCDE"),
            "source_id": list("abcde"),
        }
    )
    kept = published_estimates(published, 2024, 2035)
    assert list(kept["original_publisher"]) == ["A", "B"]


def test_regional_table_cells_match_closed_form(small_inputs):
    table = regional_table(
        "reference", small_inputs.regional, small_inputs.turning_points, small_inputs.regions, "t"
    )
    assert len(table.rows) == 4
    labels = [c[0] for c in table.columns]
    row = next(r for r in table.rows if r[0][0] == "TJ")  # base 0.87 TWh, g 0.08, rise 2025
    assert float(row[labels.index("2035 TWh")][1]) == pytest.approx(0.87 * (1 + 0.08 * 10))
    assert (
        row[labels.index("2035 p10–p90 TWh")][0]
        == f"{0.87 * 1.8 * 0.8:,.1f}–{0.87 * 1.8 * 1.25:,.1f}"
    )
    assert row[labels.index("rise starts")][0] == "2025"


def test_comparison_page(small_inputs, tmp_path):
    a, b = small_inputs, make_inputs()
    scaled = b.national.assign(facility_energy_twh=b.national["facility_energy_twh"] * 1.1)
    national = pd.concat([a.national.assign(run="A"), scaled.assign(run="B")])
    regional = pd.concat([a.regional.assign(run="A"), b.regional.assign(run="B")])
    tps = pd.concat(
        [
            a.turning_points.assign(run="A"),
            b.turning_points.assign(run="B", rise_start=b.turning_points["rise_start"] + 1),
        ]
    )
    diff = pd.DataFrame({"parameter": ["pue.2035"], "A": ["1.2"], "B": ["1.1"]})
    path = render_comparison(national, regional, tps, diff, tmp_path / "cmp.html", HOSTILE_SCRIPT)
    page = path.read_text(encoding="utf-8")
    assert HOSTILE_SCRIPT not in page
    assert page.count('class="plotly-graph-div"') == 2
    reference_2035 = sum(0.5 + 0.37 * i for i in range(4)) * (1 + 0.08 * 10)
    rows = _table_rows(page, "national-delta")
    header = rows[0]
    reference = next(r for r in rows[1:] if r[0][0] == "reference")
    delta = reference[header.index(("2035 Δ TWh", ""))]
    assert float(delta[1]) == pytest.approx(reference_2035 * 0.1)  # B is A scaled by 1.1
    assert "10 of 10 scenario × region turning points differ" in page
