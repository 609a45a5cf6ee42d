"""Report section "Hours, peaks and flexibility": peak ranges, flexible training, headroom.

Reads ``ReportInputs.hours`` (a dict with the run's ``peaks`` and ``headroom`` tables and
the run's notes on the hourly input) and ``ReportInputs.regional`` (the compute growth the
headroom is set against). Returns None when the run has no peaks table.
"""

from __future__ import annotations

import pandas as pd

from reports.figures import label, styled_layout
from reports.inputs import ReportInputs, pivot_first, present, region_names, scenarios_of
from reports.page import Section, TableGroup, Text, chart_from_spec
from reports.tables import frame_table

__all__ = ["section"]

_LIMITS = (0.0025, 0.005, 0.01)


def _year(peaks: pd.DataFrame) -> tuple[int, int]:
    years = sorted(int(y) for y in peaks["year"].unique())
    return years[0], (2030 if 2030 in years[1:] else years[-1])


def _band(frame: pd.DataFrame, col: str) -> pd.Series:
    """'p50 (p10–p90)' text per region for one column."""
    wide = pivot_first(frame, "region_id", "stat", col)
    p10, p50, p90, mid = (wide[k].tolist() if k in wide.columns else [float("nan")] * len(wide)
                          for k in ("p10", "p50", "p90", "central"))

    def show(lo: float, med: float, hi: float, cen: float) -> str:
        if any(pd.isna(v) for v in (lo, med, hi)):  # no draws (or the national row)
            return "–" if pd.isna(cen) else f"{cen:,.0f} (central only)"
        return f"{med:,.0f} ({lo:,.0f}–{hi:,.0f})"

    return pd.Series([show(*v) for v in zip(p10, p50, p90, mid, strict=True)], index=wide.index, dtype=object)


def _peaks_table(peaks: pd.DataFrame, scenario: str, year: int, base: int, names: dict[str, str], i: int):
    part = peaks.loc[(peaks["scenario"].astype(str) == scenario) & (peaks["year"] == year)]
    part = part.assign(region_id=part["region_id"].astype(str))
    cen = part.loc[part["stat"] == "central"].set_index("region_id")
    columns: dict[str, object] = {"name": [names.get(r, r) for r in cen.index]}
    for col, title in (("compute_peak_mw", "compute peak MW"),
                       ("system_peak_mw", "system peak MW"),
                       ("peak_increment_mw", f"peak increment since {base} MW"),
                       ("compute_peak_increment_mw", f"compute peak growth since {base} MW")):
        columns[f"{title} p50 (p10–p90)"] = _band(part, col).reindex(cen.index).to_numpy()
        columns[f"{title} central"] = cen[col].to_numpy()
    out = pd.DataFrame(columns, index=cen.index)  # one frame, not a column at a time
    out = out.sort_values(f"peak increment since {base} MW central", ascending=False)
    formats = {c: "{:,.0f}" for c in out.columns if c.endswith("central")}
    return frame_table(f"hours-peaks-{i}", f"Scenario {scenario}: peaks in {year} by province (MW)",
                       out.reset_index(), formats)


def _flex_table(peaks: pd.DataFrame, year: int, names: dict[str, str]):
    cen = peaks.loc[(peaks["stat"] == "central") & (peaks["year"] == year)]
    gain = cen["system_peak_mw"] - cen["system_peak_flex_mw"]
    moved = cen.loc[gain > 1e-6 * cen["system_peak_mw"].abs()]
    if moved.empty:
        return None
    ref = cen.loc[cen["scenario"].astype(str) == "reference"]
    ref = ref.set_index(ref["region_id"].astype(str))
    frame = pd.DataFrame({
        "scenario": moved["scenario"].astype(str).to_numpy(),
        "region_id": moved["region_id"].astype(str).to_numpy(),
        "peak, training fixed MW": moved["system_peak_mw"].to_numpy(),
        "peak, training flexible MW": moved["system_peak_flex_mw"].to_numpy(),
    })
    frame.insert(2, "name", frame["region_id"].map(lambda r: names.get(r, r)))
    frame["lower by MW"] = frame["peak, training fixed MW"] - frame["peak, training flexible MW"]
    frame["lower by share"] = frame["lower by MW"] / frame["peak, training fixed MW"]
    if not ref.empty:
        frame["reference peak MW"] = frame["region_id"].map(ref["system_peak_mw"])
    frame = frame.sort_values(["scenario", "lower by MW"], ascending=[True, False])
    return frame_table("hours-flex", f"What flexible training does to each province's {year} peak (central run)",
                       frame, {"lower by share": "{:.2%}"})


def _headroom_frame(headroom: pd.DataFrame, regional: pd.DataFrame, scenario: str, year: int,
                    base: int, names: dict[str, str]) -> pd.DataFrame:
    room = headroom.loc[(headroom["scenario"].astype(str) == scenario) & (headroom["year"] == year)]
    wide = pivot_first(room, room["region_id"].astype(str), "curtailment_limit", "headroom_mw")
    wide.columns = [f"headroom at {c:.2%} MW" for c in wide.columns]
    reg = regional.loc[(regional["scenario"].astype(str) == scenario) & (regional["stat"].astype(str) == "central")]
    reg = pivot_first(reg.assign(region_id=reg["region_id"].astype(str)), "region_id", "year", "facility_energy_twh")
    growth = (reg[year] - reg[base]) * 1e6 / 8760 if year in reg and base in reg else pd.Series(dtype=float)
    wide[f"forecast compute growth {base}-{year} avg MW"] = growth.reindex(wide.index)
    wide.insert(0, "name", wide.index.map(lambda r: names.get(r, r)))
    return wide.sort_values("headroom at 0.50% MW", ascending=False)


def _headroom_chart(frame: pd.DataFrame, scenario: str, year: int, base: int, i: int):
    x = [label(n) for n in frame["name"]]
    data: list[dict] = []
    for lim in _LIMITS:
        col = f"headroom at {lim:.2%} MW"
        if col in frame:
            data.append({"name": f"headroom, curtailment {lim:.2%}", "x": x, "y": _numbers(frame[col]),
                         "type": "bar"})
    data.append({"marker": {"color": "black", "size": 9, "symbol": "diamond"}, "mode": "markers",
                 "name": f"forecast compute growth {base}-{year} (avg MW)", "x": x,
                 "y": _numbers(frame[f"forecast compute growth {base}-{year} avg MW"]), "type": "scatter"})
    layout = styled_layout(f"{label(scenario)}: new flexible load each province could connect in {year} without "
                           "raising its peak, if it accepts curtailment", 520, ["xaxis", "yaxis"],
                           legend={"orientation": "h", "y": -0.3}, barmode="group")
    layout["yaxis"] = {"title": {"text": "MW"}, **layout["yaxis"]}
    table = frame_table(f"hours-headroom-table-{i}", f"Scenario {scenario}: curtailment-enabled headroom {year}",
                        frame.reset_index().rename(columns={"index": "region_id"}))
    return chart_from_spec(f"fig-headroom-{i}", {"data": data, "layout": layout},
                           "Bars: the largest constant new load whose curtailed energy stays within 0.25%, 0.5% or 1% "
                           "of its annual energy without raising the year's peak (Norris et al. 2025, per province); "
                           "diamonds: the forecast's own compute growth since the base year, as average MW.", [table])


def _numbers(values: pd.Series) -> list[float | None]:
    """Floats for figure JSON, NaN as None."""
    return [None if v != v else v for v in pd.to_numeric(values).to_numpy(dtype=float).tolist()]


def section(inputs: ReportInputs) -> Section | None:
    """The hours section, or None when the run has no peaks."""
    hours = getattr(inputs, "hours", None) or {}
    peaks = hours.get("peaks")
    if not present(peaks):
        return None
    names = region_names(inputs.regions)
    base, year = _year(peaks)
    scenarios = scenarios_of(peaks)
    notes = [str(n) for n in hours.get("notes", [])]
    blocks: list = [Text([
        f"Peaks on a representative year of 8,760 hours, {year} (p50 with p10–p90 of the Monte Carlo draws; "
        f"the central run alongside). 'Peak increment' is the growth of the province's system peak since {base} "
        "(compute and all other load); 'compute peak growth' is the growth of the compute load's own peak.",
        *notes,
    ])]
    at_year = peaks.loc[peaks["year"] == year]  # each scenario's table picks its rows from these
    blocks.append(TableGroup("hours-peaks", "Scenario:", scenarios,
                             [_peaks_table(at_year, s, year, base, names, i) for i, s in enumerate(scenarios)]))
    flex = _flex_table(peaks, year, names)
    blocks.append(flex if flex is not None else Text(
        ["No scenario of this run sets [flexibility] training_shiftable_share: training load is not shifted."]))
    headroom = hours.get("headroom")
    if present(headroom):
        _, h_year = _year(headroom)
        shown = scenarios_of(headroom)[:1] + [x for x in scenarios_of(headroom)[1:] if x == "flexible_training"]
        for i, s in enumerate(shown):
            frame = _headroom_frame(headroom, inputs.regional, s, h_year, base, names)
            blocks.append(_headroom_chart(frame, s, h_year, base, i))
    return Section("hours", "Hours, peaks and flexibility", blocks)
