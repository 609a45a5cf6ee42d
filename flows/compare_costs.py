"""Cost and emissions columns of ``gridcast compare``, from the run's ``costs`` table.

One function builds the national comparison frame; ``flows.compare`` calls it for the
summary and writes it as ``compare_costs``. A run without a ``costs`` table (no price or
factor inputs) gives None and the comparison is as before.
"""

from __future__ import annotations

import pandas as pd

from flows.errors import GridcastError

__all__ = ["COST_METRICS", "cost_comparison"]

COST_METRICS = ("electricity_cost_bn_cny", "emissions_mt_co2", "green_supplied_twh")
_DIFF = {"electricity_cost_bn_cny": "electricity_cost_diff_bn_cny", "emissions_mt_co2": "emissions_diff_mt_co2",
         "green_supplied_twh": "green_supplied_diff_twh"}


def cost_comparison(run, names: list[str], stats: tuple[str, ...] = ("central", "p10", "p90")) -> pd.DataFrame | None:  # noqa: ANN001 - a flows.compare.RunFolder (no import cycle)
    """National cost, emissions and green supply per scenario, year and stat, with the differences
    to the first scenario (``*_diff_*``, same stat and year); None when the run has no ``costs`` table.
    """
    try:
        costs = run.table("costs", names)
    except GridcastError:
        return None
    nat = costs.loc[(costs["region_id"].astype(str) == "ALL") & costs["stat"].astype(str).isin(stats)]
    nat = nat[["scenario", "year", "stat", *COST_METRICS]].astype({"scenario": "string", "stat": "string"})
    base = nat.loc[nat["scenario"] == names[0]].drop(columns="scenario")
    merged = nat.merge(base, on=["year", "stat"], how="left", suffixes=("", "_base"), validate="many_to_one")
    out = merged[["scenario", "year", "stat", *COST_METRICS]].assign(base_scenario=names[0])
    for metric, diff in _DIFF.items():
        out[diff] = merged[metric] - merged[f"{metric}_base"]
    rank = {n: i for i, n in enumerate(names)}
    stat_rank = {s: i for i, s in enumerate(stats)}
    out = out.assign(_s=out["scenario"].map(rank), _t=out["stat"].map(stat_rank))
    return out.sort_values(["_s", "year", "_t"], kind="stable").drop(columns=["_s", "_t"]).reset_index(drop=True)
