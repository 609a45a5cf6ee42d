"""The report's own text in Chinese (``gridcast run --lang zh``).

What is translated: the page title, section titles and navigation, select prompts, table
captions and column headers, chart captions, and fixed notes. Data (province names,
scenario names, sources) is shown as given; province names carry their Chinese name in
every language. Sentences built from numbers are translated where their section writes a
Chinese version (the province stories); chart titles inside the figures and the longer
method notes stay in English, and the page says so.
"""

from __future__ import annotations

import dataclasses
import re

from reports.page import Chart, PaneGroup, Section, TableGroup, Text
from reports.tables import Table

__all__ = ["DATA_BEHIND", "LANGUAGES", "NOTE", "SHAPES_ZH", "translate", "translate_sections"]

LANGUAGES = ("en", "zh")
DATA_BEHIND = {"en": "Data behind this chart (table)", "zh": "图表数据（表格）"}
NOTE = {"en": "", "zh": "本报告的标题、说明、表头和各省概览为中文；图表内标题与较长的方法说明保留英文。"}

# Whole strings (titles, prompts, fixed captions and notes).
_EXACT = {
    "Compute-centre electricity demand, China by province": "算力中心用电需求：中国分省预测",
    "How much, and when it rises": "多少，何时上升",
    "Your province": "本省概览",
    "Province:": "省份：",
    "Scenario:": "情景：",
    "Where: provinces and hub clusters": "分布：各省与枢纽集群",
    "Provinces": "各省",
    "When: turning points": "何时：拐点",
    "Scenario comparison": "情景比较",
    "How sure: odds that the rise has started": "把握：上升已开始的概率",
    "Why: sensitivity": "原因：敏感性",
    "Coincident peak": "同时峰值",
    "Baseline backtest": "基线回测",
    "Assumptions and sources": "假设与来源",
    "Run metadata": "运行元数据",
    "Hub clusters": "枢纽集群",
    "National series, all statistics": "全国序列（全部统计量）",
    "National summary by scenario (central estimate)": "全国汇总（按情景，中心估计）",
    "Assumptions and their sources": "假设及其来源",
    "How much of each block is assumed": "各参数组中假设所占比例",
    "Published estimates (for comparison)": "已发布估计（供比较）",
    "Backtest by region and model": "按省份和模型的回测",
    "Key figures by scenario (central unless a range is shown)": "各情景关键数字（除区间外为中心估计）",
    "Scenarios at milestone years": "关键年份的各情景",
    "Published estimates drawn on the chart": "图中标出的已发布估计",
    "No assumptions or published estimates were supplied.": "未提供假设或已发布估计。",
    "No run metadata was supplied.": "未提供运行元数据。",
    "Run": "运行",
    "Pick a province to see its whole story: energy by scenario and workload, range, peak, baseline and "
    "total demand, turning point, peak year and the odds that the rise has started.":
        "选择省份，查看其完整情况：各情景与负载类型的用电量、区间、峰值负荷、基线与总需求、拐点、峰值年份及上升已开始的概率。",
    "Click a column header to sort. Compute share is of total regional electricity demand.":
        "点击列标题排序。算力占比为占全省用电总需求的比例。",
}

# Phrases inside headers and captions, longest first.
_PHRASES = [
    ("facility electricity by scenario with its p10–p90 range; the first scenario by workload, "
     "with its compute peak load.", "各情景设施用电量及 p10–p90 区间；第一个情景按负载类型分解，并给出算力峰值负荷。"),
    ("P(rise started by", "上升已开始的概率（截至"),
    ("pipeline adds (IT TWh)", "在建项目新增（IT 太瓦时）"),
    ("compute share", "算力占比"),
    ("peak year", "峰值年份"),
    ("rise starts", "开始上升"),
    ("flat until", "平稳至"),
    ("baseline TWh", "基线 TWh"),
    ("total TWh", "总需求 TWh"),
    ("peak MW", "峰值 MW"),
    ("largest provinces", "最大省份"),
    ("description", "说明"),
    ("scenario", "情景"),
    ("Scenario", "情景"),
    ("region", "省份"),
    ("name", "名称"),
    ("zone", "区域"),
    ("shape", "形态"),
    ("Turning points", "拐点"),
    ("TWh/yr by province and year", "各省逐年 TWh"),
    ("coincident system peak by province", "各省系统同时峰值"),
    ("Provinces,", "各省，"),
    ("central facility electricity (TWh/yr)", "设施用电中心估计（TWh/年）"),
]
# whole words only: "region" must not change "regional"
_PHRASE_RE = re.compile("|".join(rf"(?<!\w){re.escape(a)}(?!\w)" for a, _ in _PHRASES))
_PHRASE_MAP = dict(_PHRASES)
SHAPES_ZH = {"rising": "上升", "flat-then-rising": "先稳后升", "peaking": "先升后降", "declining": "下降",
           "flat": "平稳"}


def translate(text: str, lang: str) -> str:
    """``text`` in ``lang``: a whole-string translation, else known phrases replaced."""
    if lang == "en" or not isinstance(text, str):
        return text
    if text in _EXACT:
        return _EXACT[text]
    return _PHRASE_RE.sub(lambda m: _PHRASE_MAP[m.group(0)], text)


def _table(t: Table, lang: str) -> Table:
    columns = [(translate(label, lang), numeric) for label, numeric in t.columns]
    rows = [[(SHAPES_ZH.get(shown, shown), key) if isinstance(shown, str) else (shown, key) for shown, key in row]
            for row in t.rows]
    return dataclasses.replace(t, caption=translate(t.caption, lang), columns=columns, rows=rows)


def _block(b: object, lang: str) -> object:
    if isinstance(b, Table):
        return _table(b, lang)
    if isinstance(b, Chart):
        return dataclasses.replace(b, caption=translate(b.caption, lang),
                                   alternatives=[_table(t, lang) for t in b.alternatives])
    if isinstance(b, TableGroup):
        return dataclasses.replace(b, prompt=translate(b.prompt, lang), tables=[_table(t, lang) for t in b.tables])
    if isinstance(b, PaneGroup):
        return dataclasses.replace(b, prompt=translate(b.prompt, lang),
                                   panes=[[_block(x, lang) for x in pane] for pane in b.panes])
    if isinstance(b, Text):
        return dataclasses.replace(b, lines=[translate(line, lang) for line in b.lines])
    return b


def translate_sections(sections: list[Section], lang: str) -> list[Section]:
    """New sections with titles, prompts, captions, headers and fixed notes in ``lang``."""
    if lang == "en":
        return sections
    return [dataclasses.replace(s, title=translate(s.title, lang), blocks=[_block(b, lang) for b in s.blocks])
            for s in sections]
