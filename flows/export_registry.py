"""The tables ``gridcast export`` can write, and how each column is unitised and rounded.

Adding an output table to the exports is one line in :data:`EXPORT_TABLES`, e.g.
``"headroom": ExportTable(keys=("scenario", "region_id", "year", "curtailment_limit")),``.
Units, precision and unit conversion come from the column's name (its unit suffix,
see :func:`column_unit`); ``columns`` documents a column's meaning and can override its
unit, ``precision`` its decimals. A table a run did not write is skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flows.hours import HOURS_COLUMNS

__all__ = [
    "ENERGY_UNITS",
    "EXPORT_TABLES",
    "POWER_UNITS",
    "ColumnUnit",
    "ExportTable",
    "column_unit",
    "convert_name",
    "energy_unit",
    "power_unit",
]


@dataclass(frozen=True)
class ExportTable:
    """One exportable run table.

    Attributes:
        keys: the columns that identify a row, in sort order (missing ones are skipped).
        partitioned: Parquet output is a folder partitioned by scenario (big tables).
        default: exported when ``--table`` is not given (False for very large tables).
        national_rows: rows with ``region_id = ALL`` are national and kept by ``--region``.
        columns: column -> (unit, meaning) for the ``columns`` sheet; a unit given here
            overrides the suffix rule.
        precision: column -> decimals, overriding the suffix rule.
    """

    keys: tuple[str, ...] = ("scenario", "region_id", "year", "stat")
    partitioned: bool = False
    default: bool = True
    national_rows: bool = False
    columns: dict[str, tuple[str, str]] = field(default_factory=dict)
    precision: dict[str, int] = field(default_factory=dict)


_REGIONAL = {
    "scenario": ("", "scenario name (data/scenarios/<name>.toml)"),
    "region_id": ("", "province, ISO 3166-2 (CN-GD)"),
    "region_name": ("", "province, English name"),
    "region_name_zh": ("", "province, Chinese name"),
    "year": ("year", "calendar year, base year to end year inclusive"),
    "stat": ("", "central (all parameters central), p10, p50 or p90 of the Monte Carlo draws"),
    "facility_energy_twh": ("TWh/yr", "compute-centre electricity incl. cooling and losses (IT x PUE)"),
    "peak_load_mw": ("MW", "compute-centre peak hour of the region (sum of workloads x hourly shape)"),
    "baseline_twh": ("TWh/yr", "regional electricity demand without the change in compute load"),
    "total_twh": ("TWh/yr", "baseline + facility energy - base-year facility energy"),
    "compute_share": ("fraction", "facility_energy_twh / total_twh"),
    "pipeline_it_energy_twh": ("TWh/yr", "IT energy of the region's planned projects (central: expected "
                               "value; p10/p50/p90: of the projects built in each draw)"),
    "pipeline_added_it_twh": ("TWh/yr", "what the planned projects added to the trend (floor mode: the part "
                              "beyond the trend's growth; additional mode: all of it)"),
}
_PIPELINE = {
    "scenario": ("", "scenario name"),
    "project_id": ("", "planned project (phase) id of planned_centers.csv or a --planned file"),
    "region_id": ("", "province of the project"),
    "year": ("year", "calendar year, base year to end year inclusive"),
    "stage": ("", "announced, requested, approved or under_construction"),
    "requested_it_mw": ("MW", "IT MW online as requested: capacity x online share, no delay, no derating"),
    "expected_it_mw": ("MW", "realisation x capacity x online share with the stage's central delay"),
    "expected_it_energy_twh": ("TWh/yr", "realisation x IT energy if built (central run)"),
}
_NATIONAL = {
    "scenario": ("", "scenario name"),
    "year": ("year", "calendar year"),
    "stat": ("", "central, p10, p50 or p90"),
    "facility_energy_twh": ("TWh/yr", "national compute-centre electricity (sum of regions)"),
    "it_energy_twh": ("TWh/yr", "national IT electricity (before PUE)"),
    "peak_load_mw": ("MW", "national compute-centre peak hour"),
    "baseline_twh": ("TWh/yr", "national demand without the change in compute load"),
    "total_twh": ("TWh/yr", "baseline + change in compute load"),
    "compute_share": ("fraction", "facility_energy_twh / total_twh"),
}
_TURNING = {
    "scenario": ("", "scenario name"),
    "region_id": ("", "province, or ALL for the national total"),
    "region_name": ("", "province, English name (China for ALL)"),
    "region_name_zh": ("", "province, Chinese name (全国 for ALL)"),
    "shape": ("", "rising, flat-then-rising, peaking, flat or declining (central run)"),
    "rise_start": ("year", "first year of >= 5%/yr growth for three years (empty: none)"),
    "flat_until": ("year", "rise_start - 1 (empty: none)"),
    "peak_year": ("year", "year of the largest central facility energy (earliest within 1e-9)"),
    "peak_twh": ("TWh/yr", "central facility energy in the peak year"),
}
_COSTS = {
    "electricity_cost_bn_cny": ("bn CNY/yr", "facility energy x electricity price (empty: no price input)"),
    "emissions_mt_co2": ("Mt CO2/yr", "(facility energy - green-supplied) x grid factor (empty: no factor input)"),
    "green_supplied_twh": ("TWh/yr", "new-build facility energy x the scenario's green-power share"),
}
_FORECAST = {
    "workload": ("", "training, inference or general compute"),
    "it_energy_twh": ("TWh/yr", "IT electricity of the workload"),
    "facility_energy_twh": ("TWh/yr", "facility electricity of the workload (IT x PUE)"),
    "avg_load_mw": ("MW", "average load of the workload over the year"),
    "pue_effective": ("ratio", "facility / IT energy of the region's fleet that year"),
}
_BASELINE = {
    "baseline_twh": ("TWh/yr", "demand without the change in compute load, central"),
    "baseline_lo80_twh": ("TWh/yr", "lower end of the 80% band"),
    "baseline_hi80_twh": ("TWh/yr", "upper end of the 80% band"),
}

# One line per exportable table. Others add theirs here (see the module docstring).
EXPORT_TABLES: dict[str, ExportTable] = {
    "regional": ExportTable(partitioned=True, columns=_REGIONAL),
    "national": ExportTable(keys=("scenario", "year", "stat"), columns=_NATIONAL),
    "turning_points": ExportTable(keys=("scenario", "region_id"), national_rows=True, columns=_TURNING),
    "forecast": ExportTable(keys=("scenario", "region_id", "year", "workload", "stat"), partitioned=True,
                            columns=_FORECAST),
    "baseline": ExportTable(keys=("region_id", "year"), columns=_BASELINE),
    "coincident_peak": ExportTable(keys=("scenario", "region_id", "year"), columns=HOURS_COLUMNS["coincident_peak"]),
    "hub_assignment": ExportTable(keys=("scenario", "region_id", "center_id")),
    "rise_odds": ExportTable(keys=("scenario", "region_id", "year"), national_rows=True),
    "rise_start": ExportTable(keys=("scenario", "region_id"), national_rows=True),
    "sensitivity": ExportTable(keys=("scenario", "year", "parameter")),
    "hourly": ExportTable(keys=("scenario", "region_id", "year", "hour"), partitioned=True, default=False,
                          columns=HOURS_COLUMNS["hourly"]),
    "headroom": ExportTable(keys=("scenario", "region_id", "year", "curtailment_limit"),
                            columns=HOURS_COLUMNS["headroom"]),
    "costs": ExportTable(national_rows=True, columns=_COSTS),
    "peaks": ExportTable(national_rows=True, columns=HOURS_COLUMNS["peaks"]),
    "pipeline": ExportTable(keys=("scenario", "region_id", "project_id", "year"), partitioned=True, columns=_PIPELINE),
}


@dataclass(frozen=True)
class ColumnUnit:
    """A column's physical quantity, unit label and decimals in the default units."""

    kind: str  # "energy", "power" or "other"
    unit: str
    decimals: int | None  # None: not rounded (integers, text)


# Suffix -> (kind, unit, decimals); the longest matching suffix wins. Default precision:
# 1 GWh for energies, 0.1 MW for loads, 1e-4 for fractions, 0.001 for PUE.
_SUFFIXES: dict[str, tuple[str, str, int]] = {
    "_twh": ("energy", "TWh/yr", 3),
    "_gwh": ("other", "GWh/yr", 0),
    "_mw": ("power", "MW", 1),
    "_km": ("other", "km", 1),
    "_cny_per_kwh": ("other", "CNY/kWh", 4),
    "_cny": ("other", "CNY", 0),
    "_bn_cny": ("other", "billion CNY", 3),
    "_million_cny": ("other", "million CNY", 3),
    "_kg_co2_per_kwh": ("other", "kg CO2/kWh", 4),
    "_mt_co2": ("other", "Mt CO2", 3),
    "_t_co2": ("other", "t CO2", 0),
    "_share": ("other", "fraction", 4),
    "_rel": ("other", "fraction", 4),
    "_years": ("other", "years", 0),
}
_YEARS = re.compile(r"^(year|.*_year|rise_start.*|flat_until.*|peak_year.*)$")
_FRACTIONS = re.compile(r"^(p_.*|.*share|curtailment_limit|rank_corr)$")


def column_unit(table: str, column: str, is_float: bool) -> ColumnUnit:
    """The unit and default decimals of ``table.column`` (suffix rule unless the registry says)."""
    spec = EXPORT_TABLES.get(table)
    given = spec.columns.get(column, ("", ""))[0] if spec else ""
    decimals = spec.precision.get(column) if spec else None
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if column.endswith(suffix):
            kind, unit, dec = _SUFFIXES[suffix]
            return ColumnUnit(kind, given or unit, decimals if decimals is not None else dec)
    if not is_float:
        return ColumnUnit("other", given or ("year" if _YEARS.match(column) else ""), None)
    if column.startswith("pue") or given == "ratio":
        return ColumnUnit("other", given or "ratio", decimals if decimals is not None else 3)
    if _FRACTIONS.match(column) or given == "fraction":
        return ColumnUnit("other", "fraction", decimals if decimals is not None else 4)
    return ColumnUnit("other", given, decimals if decimals is not None else 6)


# --energy-unit / --power-unit: label -> (factor from TWh or MW, column suffix, decimals)
ENERGY_UNITS: dict[str, tuple[float, str, int]] = {"TWh": (1.0, "_twh", 3), "GWh": (1000.0, "_gwh", 0),
                                                   "亿kWh": (10.0, "_100m_kwh", 2)}
POWER_UNITS: dict[str, tuple[float, str, int]] = {"MW": (1.0, "_mw", 1), "万kW": (0.1, "_10k_kw", 2)}
_ALIASES = {"twh": "TWh", "gwh": "GWh", "亿kwh": "亿kWh", "100m_kwh": "亿kWh", "yi_kwh": "亿kWh",
            "mw": "MW", "万kw": "万kW", "10k_kw": "万kW", "wan_kw": "万kW"}


def _unit(text: str, allowed: dict[str, tuple[float, str, int]], option: str) -> str:
    key = _ALIASES.get(text.strip().casefold().replace(" ", ""))
    if key not in allowed:
        raise ValueError(f"{option} {text!r}: choose one of {', '.join(allowed)}")
    return key


def energy_unit(text: str) -> str:
    """The canonical energy unit for ``--energy-unit`` (TWh, GWh, 亿kWh; case-insensitive).

    >>> energy_unit("100m_kwh")
    '亿kWh'
    """
    return _unit(text, ENERGY_UNITS, "--energy-unit")


def power_unit(text: str) -> str:
    """The canonical power unit for ``--power-unit`` (MW, 万kW; case-insensitive)."""
    return _unit(text, POWER_UNITS, "--power-unit")


def convert_name(column: str, kind: str, energy: str, power: str) -> tuple[str, float, str, int | None]:
    """(new column name, factor, unit label, decimals) of an energy or power column in the chosen units.

    >>> convert_name("facility_energy_twh", "energy", "亿kWh", "MW")
    ('facility_energy_100m_kwh', 10.0, '亿kWh/yr', 2)
    """
    if kind == "energy":
        factor, suffix, dec = ENERGY_UNITS[energy]
        return column[: -len("_twh")] + suffix, factor, f"{energy}/yr", dec
    if kind == "power":
        factor, suffix, dec = POWER_UNITS[power]
        return column[: -len("_mw")] + suffix, factor, power, dec
    return column, 1.0, "", None
