"""The report's fast paths give what the slow, plain ways give.

Each fast path (plain figure JSON instead of plotly objects, one-pass pivots and tables, the
page rendered once) is checked against the library way it replaces: pandas' pivot_table,
plotly's make_subplots and template, jinja2's autoescaped macro, the nonce of the page
rendered without one.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from jinja2 import Environment
from plotly.subplots import make_subplots

from reports.figures import FONT_STACK, grid_layout, plotly_template
from reports.inputs import pivot_first
from reports.page import (
    _PLOTLY_CONFIG,
    Section,
    Text,
    _environment,
    _plotly_js,
    render_page,
    table_html,
)
from reports.tables import Table

# The table macro as the page template had it before tables were rendered in Python.
_MACRO = """{% macro table(t, hidden=false, scenario_index=none) %}
<div class="table-wrap"{% if hidden %} hidden{% endif %}{% if scenario_index is not none %} \
data-pane="{{ scenario_index }}"{% endif %}>
<table class="sortable" id="{{ t.table_id }}">
<caption>{{ t.caption }}</caption>
<thead><tr>
{% for label, numeric in t.columns %}
<th scope="col" data-numeric="{{ 1 if numeric else 0 }}"><button type="button" class="sort">{{ label }}</button></th>
{% endfor %}
</tr></thead>
<tbody>
{% for row in t.rows %}
<tr>{% for shown, key in row %}<td data-sort="{{ key }}"{% if t.columns[loop.index0][1] %} class="num"{% endif %}>\
{{ shown }}</td>{% endfor %}</tr>
{% endfor %}
</tbody>
</table>
</div>
{% endmacro %}{{ table(t, hidden, scenario_index) }}"""


def _macro_html(t: Table, hidden: bool, scenario_index: int | None) -> str:
    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    return env.from_string(_MACRO).render(t=t, hidden=hidden, scenario_index=scenario_index)


@pytest.mark.parametrize("hidden, pane", [(False, None), (True, 3)])
@pytest.mark.parametrize("nul", [False, True])
def test_table_html_is_the_autoescaped_macro(hidden: bool, pane: int | None, nul: bool) -> None:
    hostile = '<script>alert("x")</script> & \'quoted\''
    rows = [[("1,234.5", "1234.5"), (hostile, hostile)], [("–", ""), ("plain" + ("\0" if nul else ""), "k")]]
    t = Table("id-<x>", f"caption {hostile}", [("a <b>", True), ("c & d", False)], rows)
    assert str(table_html(t, hidden, pane)) == _macro_html(t, hidden, pane)
    assert "<script>" not in str(table_html(t, hidden, pane))


def test_pivot_first_is_pivot_table_first() -> None:
    frame = pd.DataFrame({
        "k": pd.Series(["b", "a", "a", "b", "c", None, "a"], dtype="string"),
        "c": [2030, 2024, 2024, 2035, 2035, 2024, 2030],
        "v": [np.nan, 2.0, 3.0, 4.0, np.nan, 9.0, 5.0],
    })
    expected = frame.pivot_table(index="k", columns="c", values="v", aggfunc="first")
    pd.testing.assert_frame_equal(pivot_first(frame, "k", "c", "v"), expected)
    keys = frame["k"].astype(str)
    pd.testing.assert_frame_equal(pivot_first(frame, keys, "c", "v"),
                                  frame.pivot_table(index=keys, columns="c", values="v", aggfunc="first"))


@pytest.mark.parametrize("kwargs, ours", [
    ({"rows": 6, "cols": 6, "horizontal_spacing": 0.035, "vertical_spacing": 0.05}, {}),
    ({"rows": 2, "cols": 4, "vertical_spacing": 0.12}, {}),
    ({"rows": 1, "cols": 2, "column_widths": [0.4, 0.6]}, {"column_widths": [0.4, 0.6]}),
    ({"rows": 1, "cols": 3, "shared_yaxes": True}, {"shared_yaxes": True}),
])
def test_grid_layout_is_make_subplots(kwargs: dict, ours: dict) -> None:
    rows, cols = kwargs["rows"], kwargs["cols"]
    titles = [f"panel {i}" for i in range(rows * cols - 1)]  # the last cell untitled
    fig = make_subplots(subplot_titles=titles, **kwargs)
    expected = json.loads(fig.to_json())["layout"]
    expected.pop("template")
    hs = kwargs.get("horizontal_spacing", 0.2 / cols)
    vs = kwargs.get("vertical_spacing", 0.3 / rows)
    layout, refs = grid_layout(rows, cols, titles, hs, vs, **ours)
    assert layout == expected
    assert refs[0] == ("x", "y") and refs[-1] == (f"x{rows * cols}", f"y{rows * cols}")


def test_plotly_template_is_what_a_figure_carries() -> None:
    fig = go.Figure()
    fig.update_layout(template="plotly_white")
    assert plotly_template("plotly_white") == json.loads(fig.to_json())["layout"]["template"]


def test_nonce_is_the_hash_of_the_page_without_it() -> None:
    context = {"title": "t", "subtitle": ["s"], "sections": [Section("a", "A", [Text(["x"])])],
               "footer": ["f"], "lang": "en", "data_behind": "d"}
    common = {"plotly_js": _plotly_js(), "plotly_config": _PLOTLY_CONFIG}
    tmpl = _environment().get_template("page.html")
    draft = tmpl.render(nonce="", font_stack=FONT_STACK, **common, **context)
    nonce = hashlib.sha256(draft.encode("utf-8")).hexdigest()[:32]
    page = render_page("page.html", **context)
    assert page == tmpl.render(nonce=nonce, font_stack=FONT_STACK, **common, **context)
    assert page.count(nonce) >= 3
