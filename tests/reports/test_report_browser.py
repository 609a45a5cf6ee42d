"""The report in a real headless Chromium: renders, stays offline, runs no injected script."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from report_browser import Browser
from report_synthetic import HOSTILE_SCRIPT, make_inputs

from reports import render_comparison, render_report

pytestmark = pytest.mark.integration

# Every plotly div has drawn its SVG with a non-zero size.
CHARTS_DRAWN = """(() => {
  const divs = [...document.querySelectorAll('.plotly-graph-div')];
  const drawn = divs.filter(d => {
    const svg = d.querySelector('svg.main-svg');
    if (!svg) return false;
    const box = svg.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && d.querySelectorAll('.main-svg g.trace, .main-svg image').length > 0;
  });
  return divs.length > 0 && drawn.length === divs.length ? divs.length : 0;
})()"""
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


def _open_report(browser: Browser, path) -> tuple[float, int]:
    load_s = browser.open(path.as_uri())
    charts = browser.wait_for(CHARTS_DRAWN, timeout_s=60)
    browser.pump(0.5)  # let late console messages arrive
    return load_s, charts


def _assert_clean(browser: Browser) -> None:
    assert browser.log.exceptions == []
    assert browser.log.console_errors == []
    outside = [u for u in browser.log.requests if not u.startswith(LOCAL_SCHEMES)]
    assert outside == [], f"the page tried to load from outside: {outside}"


@pytest.mark.slow
def test_full_report_renders_offline(chromium, full_inputs, tmp_path, artifacts):
    path = render_report(full_inputs, tmp_path / "report.html")
    with Browser(chromium) as browser:
        load_s, charts = _open_report(browser, path)
        page = path.read_text(encoding="utf-8")
        # static charts, plus the lazily drawn charts of the province pane shown on load
        lazy = browser.evaluate("document.querySelectorAll('.pane:not([hidden]) div.lazy-chart').length")
        expected = page.count('class="plotly-graph-div"') + lazy
        assert lazy == 1
        assert charts == expected == 7
        _assert_clean(browser)
        assert browser.evaluate("document.characterSet") == "UTF-8"
        assert "北京" in browser.evaluate("document.body.innerText")
        browser.screenshot(artifacts / "report-full.png")
        browser.pdf(artifacts / "report-full.pdf")
    (artifacts / "report-full.json").write_text(
        json.dumps(
            {"bytes": path.stat().st_size, "load_event_s": round(load_s, 3), "charts": charts},
            indent=2,
        )
    )


def test_hostile_names_execute_nothing(chromium, hostile_inputs, tmp_path, artifacts):
    path = render_report(hostile_inputs, tmp_path / "hostile.html")
    with Browser(chromium) as browser:
        _open_report(browser, path)
        assert browser.evaluate("typeof window.__pwned") == "undefined"
        assert HOSTILE_SCRIPT in browser.evaluate("document.body.innerText")  # shown as text
        assert browser.evaluate("document.querySelectorAll('main img').length") == 0
        _assert_clean(browser)
        browser.screenshot(artifacts / "report-hostile.png")


def test_tables_sort_and_scenario_select(chromium, small_inputs, tmp_path):
    path = render_report(small_inputs, tmp_path / "report.html")
    column = "[...document.querySelectorAll('#regional-0 tbody tr')].map(r => parseFloat(r.cells[5].dataset.sort))"
    with Browser(chromium) as browser:
        _open_report(browser, path)
        browser.evaluate("document.querySelectorAll('#regional-0 th button')[5].click()")
        ascending = browser.evaluate(column)
        assert ascending == sorted(ascending)
        browser.evaluate("document.querySelectorAll('#regional-0 th button')[5].click()")
        assert browser.evaluate(column) == sorted(ascending, reverse=True)
        shown = "[...document.querySelectorAll('.group[data-group=regional] [data-pane]')].map(p => !p.hidden)"
        assert browser.evaluate(shown) == [True, False]
        browser.evaluate("""(() => { const s = document.querySelector('select[data-group=regional]');
                            s.value = '1'; s.dispatchEvent(new Event('change')); })()""")
        assert browser.evaluate(shown) == [False, True]
        _assert_clean(browser)


def test_comparison_page_renders(chromium, tmp_path, artifacts):
    a, b = make_inputs(n_scenarios=3, n_regions=8), make_inputs(n_scenarios=3, n_regions=8)
    national = pd.concat(
        [
            a.national.assign(run="A"),
            b.national.assign(run="B", facility_energy_twh=b.national["facility_energy_twh"] * 1.1),
        ]
    )
    regional = pd.concat([a.regional.assign(run="A"), b.regional.assign(run="B")])
    tps = pd.concat([a.turning_points.assign(run="A"), b.turning_points.assign(run="B")])
    diff = pd.DataFrame({"parameter": ["pue.2035"], "A": ["1.2"], "B": ["1.1"]})
    path = render_comparison(national, regional, tps, diff, tmp_path / "compare.html", "A vs B")
    with Browser(chromium) as browser:
        _, charts = _open_report(browser, path)
        assert charts == 2
        _assert_clean(browser)
        browser.screenshot(artifacts / "comparison.png")


@pytest.mark.slow
def test_province_selector_draws_the_chosen_province(chromium, full_inputs, tmp_path):
    path = render_report(full_inputs, tmp_path / "report.html")
    with Browser(chromium) as browser:
        _open_report(browser, path)
        options = browser.evaluate(
            "[...document.querySelector('select[data-group=province]').options].map(o => o.text)")
        # every province is offered, with its Chinese name beside the English one
        assert len(options) == len(full_inputs.regions)
        assert any("北京" in o for o in options)
        last = str(len(options) - 1)
        browser.evaluate(f"""(() => {{ const s = document.querySelector('select[data-group=province]');
            s.value = '{last}'; s.dispatchEvent(new Event('change')); }})()""")
        browser.pump(1.0)
        shown = browser.evaluate(
            "[...document.querySelectorAll('.group[data-group=province] > .pane')].map(p => !p.hidden)")
        assert shown == [False] * (len(options) - 1) + [True]
        drawn = browser.evaluate(f"document.querySelectorAll('.pane[data-pane=\"{last}\"] svg.main-svg').length")
        assert drawn > 0
        _assert_clean(browser)
