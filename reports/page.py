"""Page assembly: blocks (charts, tables) into one self-contained HTML file.

Safety, in layers:
* every input string reaches the page through jinja2 autoescape (tables, captions) or
  plotly's JSON encoder, which writes ``<``, ``>`` and ``/`` as ``\\u003c`` etc., so no
  string can close a ``<script>``; labels inside charts are HTML-entity escaped too;
* a Content-Security-Policy allows only scripts carrying this page's nonce and no network
  loads at all (``default-src 'none'``), so even a missed escape could neither run nor fetch.
The nonce is the SHA-256 of the page rendered without it: deterministic for the same
inputs, and no input can contain it (it would have to contain its own hash).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from plotly.io.json import to_json_plotly
from plotly.offline import get_plotlyjs

from reports.figures import FONT_STACK, plotly_template
from reports.tables import Table

__all__ = ["Chart", "PaneGroup", "Section", "TableGroup", "Text", "chart", "chart_from_spec", "write_page"]

_PLOTLY_CONFIG = {
    "responsive": True,
    "displaylogo": False,
    "showSendToCloud": False,
    "toImageButtonOptions": {"format": "png", "scale": 2},
}


@dataclass(frozen=True)
class Chart:
    """A plotly figure as JSON, with its caption and a table/text alternative."""

    div_id: str
    figure_json: Markup
    height: int
    caption: str
    alternatives: list[Table] = field(default_factory=list)
    kind: str = "chart"


@dataclass(frozen=True)
class TableGroup:
    """Tables of which one shows at a time, chosen by a select box (e.g. one per scenario)."""

    group_id: str
    prompt: str
    options: list[str]
    tables: list[Table]
    kind: str = "group"


@dataclass(frozen=True)
class PaneGroup:
    """Panes of blocks (charts, tables, text) of which one shows at a time (e.g. one per province).

    Charts inside a pane are drawn when their pane is first shown, so a page with a pane per
    province does not draw every province's charts on load.
    """

    group_id: str
    prompt: str
    options: list[str]
    panes: list[list]
    kind: str = "panes"


@dataclass(frozen=True)
class Text:
    """Paragraphs or a bullet list of plain text."""

    lines: list[str]
    bullets: bool = False
    kind: str = "text"


@dataclass(frozen=True)
class Section:
    """A titled part of the page made of blocks (Chart, Table, TableGroup, Text)."""

    section_id: str
    title: str
    blocks: list


def chart(
    div_id: str, fig: go.Figure, caption: str, alternatives: list[Table] | None = None
) -> Chart:
    """Wrap a figure; its JSON is plotly's own, which escapes ``<``, ``>`` and ``/``.

    The figure is drawn with the plotly_white template, put into the JSON as plotly would
    (``fig.update_layout(template=...)`` copies the template through plotly's validators).
    """
    spec = fig.to_dict()
    spec["layout"]["template"] = plotly_template("plotly_white")
    for trace in spec.get("data", []):
        trace.pop("uid", None)  # as fig.to_json does
    payload = to_json_plotly(spec)
    if "</" in payload or "<!--" in payload:  # plotly's encoder promises this cannot happen
        raise ValueError(f"figure {div_id}: JSON contains raw markup")
    height = int(fig.layout.height or 450)
    return Chart(div_id, Markup(payload), height, caption, alternatives or [])


_JSON_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("/", "\\/"))


def chart_from_spec(div_id: str, spec: dict, caption: str, alternatives: list[Table] | None = None) -> Chart:
    """A chart from plain Plotly figure JSON (``{"data": [...], "layout": {...}}``).

    For many small figures of one design, where building plotly objects would dominate the
    report's time. The JSON is escaped as plotly's own encoder does: ``<``, ``>``, ``&`` and
    ``/`` never appear raw, so no string can close the ``<script>`` it is embedded in.
    """
    payload = json.dumps(spec, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for raw, escaped in _JSON_ESCAPES:  # str.replace: many times faster than str.translate
        if raw in payload:
            payload = payload.replace(raw, escaped)
    height = int(spec.get("layout", {}).get("height") or 450)
    return Chart(div_id, Markup(payload), height, caption, alternatives or [])


def _escaped_cells(rows: list[list]) -> list[list[str]]:
    """Each row's cells as [shown, key, shown, key, ...], escaped as ``markupsafe.escape`` does.

    Plain text is escaped in one call over all of it joined by NUL (escaping neither adds nor
    removes a NUL), which is many times faster than a call per cell; anything else (or text
    holding a NUL) is escaped one by one.
    """
    flat = [v for row in rows for cell in row for v in cell]
    pieces: list[str] | None = None
    if all(type(v) is str for v in flat):
        pieces = str(escape("\0".join(flat))).split("\0")
        if len(pieces) != len(flat):
            pieces = None
    if pieces is None:
        pieces = [str(escape(v)) for v in flat]
    out, at = [], 0
    for row in rows:
        n = 2 * len(row)
        out.append(pieces[at:at + n])
        at += n
    return out


def table_html(t: Table, hidden: bool = False, scenario_index: int | None = None) -> Markup:
    """A ``Table`` as HTML: header buttons for sorting, each cell with its sort key.

    Every caption, label, key and cell text is escaped (``markupsafe.escape``, as jinja2's
    autoescape does); built in one pass here, since the report has tens of thousands of cells.
    """
    attrs = (" hidden" if hidden else "") + (
        f' data-pane="{escape(scenario_index)}"' if scenario_index is not None else ""
    )
    parts = [
        f'<div class="table-wrap"{attrs}>\n<table class="sortable" id="{escape(t.table_id)}">\n'
        f"<caption>{escape(t.caption)}</caption>\n<thead><tr>\n"
    ]
    parts += [
        f'<th scope="col" data-numeric="{1 if numeric else 0}"><button type="button" class="sort">'
        f"{escape(label)}</button></th>\n"
        for label, numeric in t.columns
    ]
    parts.append("</tr></thead>\n<tbody>\n")
    numeric = [' class="num"' if flag else "" for _, flag in t.columns]
    for shown_keys in _escaped_cells(t.rows):
        cells = "".join(
            f'<td data-sort="{key}"{numeric[i] if i < len(numeric) else ""}>{shown}</td>'
            for i, (shown, key) in enumerate(zip(shown_keys[::2], shown_keys[1::2], strict=True))
        )
        parts.append(f"<tr>{cells}</tr>\n")
    parts.append("</tbody>\n</table>\n</div>\n")
    return Markup("".join(parts))


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals["table_html"] = table_html
    return env


@cache
def _plotly_js() -> Markup:
    js = get_plotlyjs()
    if re.search("</script", js, flags=re.IGNORECASE):
        raise ValueError("bundled plotly.js contains '</script' and cannot be inlined")
    return Markup(js)


def render_page(template: str, **context: object) -> str:
    """The page's HTML, with the CSP nonce derived from the page itself.

    Rendered once, with a random placeholder where the nonce goes (128 random bits: no input
    can contain it): the page with the placeholder removed is the page rendered without a
    nonce, whose hash is the nonce.
    """
    tmpl = _environment().get_template(template)
    common = {"plotly_js": _plotly_js(), "plotly_config": _PLOTLY_CONFIG, "font_stack": FONT_STACK}
    placeholder = secrets.token_hex(16)
    page = tmpl.render(nonce=placeholder, **common, **context)
    nonce = hashlib.sha256(page.replace(placeholder, "").encode("utf-8")).hexdigest()[:32]
    return page.replace(placeholder, nonce)


def write_page(path: Path, page: str) -> Path:
    """Write ``page`` to ``path`` atomically (temp file in the same folder, then os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the temp name follows flows.outputs (".<name>.gridcast-<random>.tmp"), so a killed
    # run's leftover is recognised and removed by the next run in that folder
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.gridcast-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(page)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).chmod(0o644)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
