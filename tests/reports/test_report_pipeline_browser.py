"""The "Known projects" section in headless Chromium: charts draw, the province filter works."""

from __future__ import annotations

import pytest
from pipeline_synthetic import with_pipeline
from report_browser import Browser
from report_synthetic import make_inputs
from test_report_browser import CHARTS_DRAWN, _assert_clean

from reports import render_report

pytestmark = pytest.mark.integration

PANES = (
    "[...document.querySelectorAll('.group[data-group=pipeline-projects] [data-pane]')]"
    ".map(p => !p.hidden)"
)
PROVINCES_SHOWN = (
    "[...document.querySelectorAll('.group[data-group=pipeline-projects] [data-pane]')]"
    ".filter(p => !p.hidden).flatMap(p => [...p.querySelectorAll('tbody tr')]"
    ".map(r => r.cells[2].textContent.trim()))"
)


def test_pipeline_section_draws_and_filters_by_province(chromium, tmp_path):
    path = render_report(with_pipeline(make_inputs()), tmp_path / "report.html")
    with Browser(chromium) as browser:
        browser.open(path.as_uri())
        charts = browser.wait_for(CHARTS_DRAWN, timeout_s=60)
        # static charts plus the lazily drawn charts of the province pane shown on load
        lazy = browser.evaluate("document.querySelectorAll('.pane:not([hidden]) div.lazy-chart').length")
        assert charts == path.read_text(encoding="utf-8").count('class="plotly-graph-div"') + lazy
        assert browser.evaluate("!!document.getElementById('fig-pipeline-stages')")
        assert browser.evaluate(PANES) == [True, False, False]  # "All provinces" first
        assert sorted(browser.evaluate(PROVINCES_SHOWN)) == ["天津", "河北", "河北"]
        browser.evaluate(
            """(() => { const s = document.querySelector('select[data-group=pipeline-projects]');
               s.value = '1'; s.dispatchEvent(new Event('change')); })()"""
        )
        assert browser.evaluate(PANES) == [False, True, False]
        assert len(set(browser.evaluate(PROVINCES_SHOWN))) == 1
        browser.pump(0.5)
        _assert_clean(browser)
