"""The report in Chinese (--lang zh) and the province pane's story."""

from __future__ import annotations

import dataclasses

import pandas as pd

from reports import render_report
from reports.i18n import translate
from reports.section_province import province_story


def _with_lang(inputs, lang):
    meta = {**inputs.metadata, "parameters": {**inputs.metadata.get("parameters", {}), "lang": lang}}
    return dataclasses.replace(inputs, metadata=meta)


def test_chinese_report_translates_headings_and_keeps_data(small_inputs, tmp_path):
    page = render_report(_with_lang(small_inputs, "zh"), tmp_path / "zh.html").read_text(encoding="utf-8")
    assert '<html lang="zh">' in page
    for heading in ("算力中心用电需求：中国分省预测", "本省概览", "多少，何时上升", "假设与来源", "省份："):
        assert heading in page
    # nav and section titles no longer show the English ones
    assert ">Your province<" not in page and ">Assumptions and sources<" not in page
    # data stay as given: scenario names and region ids
    for s in small_inputs.regional["scenario"].astype(str).unique():
        assert s in page
    english = render_report(small_inputs, tmp_path / "en.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in english and ">Your province<" in english


def test_phrases_are_whole_words():
    assert translate("region", "zh") == "省份"
    assert translate("regional total", "zh") == "regional total"  # "region" inside a word stays
    assert translate("2035 peak MW", "zh") == "2035 峰值 MW"
    assert translate("anything", "en") == "anything"


def test_province_story_by_hand(small_inputs):
    regional = small_inputs.regional
    rid = str(regional["region_id"].iloc[0])
    mine = regional.loc[regional["region_id"].astype(str) == rid]
    lines = province_story(rid, "X", small_inputs, mine)
    scenarios = list(pd.unique(mine["scenario"].astype(str)))
    assert len(lines) == len(scenarios)
    s0 = scenarios[0]
    central = mine.loc[(mine["scenario"].astype(str) == s0) & (mine["stat"].astype(str) == "central")]
    years = sorted(central["year"].astype(int))
    base, end = years[0], years[-1]
    v_base = float(central.loc[central["year"] == base, "facility_energy_twh"].iloc[0])
    v_end = float(central.loc[central["year"] == end, "facility_energy_twh"].iloc[0])
    assert lines[0].startswith(f"{s0}: {v_base:,.2f} TWh in {base}")
    assert f"{v_end:,.2f} TWh in {end}" in lines[0]
    zh = province_story(rid, "X", small_inputs, mine, "zh")[0]
    assert zh.startswith(f"{s0}：{base} 年 {v_base:,.2f} TWh") and zh.endswith("。")
    assert "形态：" in zh and "年开始上升" in zh or "无持续上升" in zh


def test_chart_from_spec_never_lets_markup_out():
    import json as _json

    from reports.page import chart_from_spec

    hostile = "</script><script>alert(1)</script>&"
    c = chart_from_spec("x", {"data": [{"type": "scatter", "name": hostile, "y": [1.0, None]}],
                              "layout": {"height": 300}}, "cap")
    text = str(c.figure_json)
    assert "<" not in text and ">" not in text and "&" not in text and "</" not in text
    # still valid JSON that decodes back to the same spec
    assert _json.loads(text)["data"][0]["name"] == hostile
    assert c.height == 300
