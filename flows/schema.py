"""The input contract in one place: every input file, its columns, units, defaults and rules.

Validation (``flows.validate``), the warehouse (``flows.warehouse``) and the report's
glossary all read these definitions; no other module names an input column's type or
range. The files are described for users in docs/methodology.md section 2.

Conventions:
    * ``dtype`` is the pandas dtype of the typed (``core_*``) column: ``"string"`` for
      ids and text, ``"float64"`` for quantities, ``"int64"`` for required whole numbers,
      ``"Int64"`` for optional whole numbers.
    * A *required* column must be present and every cell filled. An *optional* column may
      be absent or have empty cells; those take ``default`` (``None`` means missing:
      NaN for floats, ``<NA>`` otherwise).
    * Unknown extra columns (``source``, ``name_zh``...) are allowed; they are kept in the
      ``raw_*`` tables only. Column names must differ other than by case.
    * No cell (and no header name) may be longer than :data:`MAX_TEXT_CHARS` characters:
      names, ids and sources are labels, and a megabyte in one of them would only bloat
      the warehouse, the exports and the report.

>>> TABLES["compute_centers"].column("utilization").rule_text()
'in (0, 1]'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from models.pipeline_params import STAGES

__all__ = [
    "HOURS_PER_LEAP_YEAR",
    "HOURS_PER_YEAR",
    "SYSTEM_HOURLY_FILE",
    "SYSTEM_HOURLY_LEGACY_FILE",
    "LOAD_SHAPE_MEAN_TOLERANCE",
    "MAX_TEXT_CHARS",
    "OBSERVED_QUANTITIES",
    "PLANNED_STAGES",
    "SOURCE_ROW",
    "TABLES",
    "WORKLOADS",
    "Column",
    "InputTables",
    "Table",
    "cast_typed",
    "empty_typed_frame",
    "glossary",
]

Dtype = Literal["string", "float64", "int64", "Int64"]

SOURCE_ROW = "source_row"
"""Name of the index (and warehouse column) holding the spreadsheet row a record came from
(header = row 1, first data row = row 2)."""

WORKLOADS = ("general", "training", "inference")
"""The workload classes of the model; load_shapes.csv must give a profile for each."""

LOAD_SHAPE_MEAN_TOLERANCE = 1e-6
"""Allowed |mean - 1| of the 24 hourly factors of one workload."""

HOURS_PER_YEAR = 8760
HOURS_PER_LEAP_YEAR = 8784

SYSTEM_HOURLY_FILE = "system_hourly_load_mw.csv"
"""The optional hourly system-load input."""
SYSTEM_HOURLY_LEGACY_FILE = "system_hourly_load_2018_mw.csv"
"""Version 1's name of the same input, still accepted (read when the new name is absent)."""

MAX_TEXT_CHARS = 500
"""Longest cell (or header name) of an input file, in characters."""
PLANNED_STAGES = STAGES
"""Stages of planned_centers.csv, least to most advanced."""


@dataclass(frozen=True)
class Column:
    """One column of an input file.

    Attributes:
        name: header name in the CSV file.
        dtype: pandas dtype of the typed column (see module docstring).
        unit: physical unit, ``"1"`` for a dimensionless share, ``""`` for text.
        description: what the column means, in a planner's words.
        required: the column must be present with no empty cell.
        default: value for an empty cell of an optional column (None: missing).
        low, high: inclusive bounds unless ``low_open``/``high_open``.
        allowed: the only values a text column may take.
        references: ``"<table>.<column>"`` that every (non-empty) value must be found in.
    """

    name: str
    dtype: Dtype
    unit: str
    description: str
    required: bool = True
    default: float | int | str | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    allowed: tuple[str, ...] | None = None
    references: str | None = None

    @property
    def numeric(self) -> bool:
        """True for float and integer columns."""
        return self.dtype != "string"

    @property
    def integer(self) -> bool:
        """True for whole-number columns."""
        return self.dtype in ("int64", "Int64")

    def rule_text(self) -> str:
        """The range or allowed-value rule in words ('' when there is none)."""
        if self.allowed is not None:
            return "one of " + ", ".join(self.allowed)
        if self.low is not None and self.high is not None:
            left = "(" if self.low_open else "["
            right = ")" if self.high_open else "]"
            return f"in {left}{_num(self.low)}, {_num(self.high)}{right}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {_num(self.low)}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {_num(self.high)}"
        return ""


@dataclass(frozen=True)
class Table:
    """One input file.

    Attributes:
        name: short name; warehouse tables are ``raw_<name>`` and ``core_<name>``.
        file: file name inside the data directory.
        description: what one row is.
        columns: the known columns, in output order.
        key: columns whose combination must be unique within the file.
        optional: the whole file may be absent.
        wide: for wide files, the template of every column not listed in ``columns``
            (its ``name`` is a placeholder).
        rules: table-level rules in words (for the glossary); implemented in flows.validate.
    """

    name: str
    file: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    optional: bool = False
    wide: Column | None = None
    rules: tuple[str, ...] = field(default=())

    def column(self, name: str) -> Column:
        """The column called ``name`` (KeyError if unknown)."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.file} has no column {name!r}")

    @property
    def raw_table(self) -> str:
        """Warehouse table holding the file as read."""
        return f"raw_{self.name}"

    @property
    def core_table(self) -> str:
        """Warehouse table holding the validated, typed rows."""
        return f"core_{self.name}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _lat(required: bool, what: str) -> Column:
    return Column(
        "lat",
        "float64",
        "degree",
        f"Latitude of the {what} (WGS84, north positive).",
        required=required,
        low=-90,
        high=90,
    )


def _lon(required: bool, what: str) -> Column:
    return Column(
        "lon",
        "float64",
        "degree",
        f"Longitude of the {what} (WGS84, east positive).",
        required=required,
        low=-180,
        high=180,
    )


_ZONE = ("east", "west")
OBSERVED_QUANTITIES = ("facility_energy_twh", "facility_energy_twh_quarter", "it_capacity_mw")
"""Quantities of observed_provincial.csv: TWh in a year, TWh in one quarter, IT MW."""
_SIZE = ("large", "small_medium")

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "regions",
            "regions.csv",
            "One row per province-level region.",
            (
                Column("region_id", "string", "", "Region code (e.g. BJ), unique."),
                Column("name", "string", "", "Region name."),
                Column("name_zh", "string", "", "Chinese name (optional; shown beside the English one).",
                       required=False),
                Column(
                    "zone", "string", "", "East (demand) or west (resource) zone.", allowed=_ZONE
                ),
                Column(
                    "grid", "string", "", "Regional grid the region belongs to.", required=False
                ),
                Column(
                    "diffusion_lag_years",
                    "float64",
                    "year",
                    "Delay of efficiency-technique diffusion behind the national curve.",
                    required=False,
                    default=0.0,
                    low=0,
                ),
                _lat(False, "region's reference point"),
                _lon(False, "region's reference point"),
            ),
            key=("region_id",),
        ),
        Table(
            "hub_nodes",
            "hub_nodes.csv",
            "One row per national computing hub node.",
            (
                Column("hub_id", "string", "", "Hub id, unique."),
                Column("name", "string", "", "Hub name."),
                Column("region_id", "string", "", "Province the hub lies in (optional).",
                       required=False, references="regions.region_id"),
                _lat(True, "hub"),
                _lon(True, "hub"),
                Column("zone", "string", "", "East or west zone of the hub.", allowed=_ZONE),
            ),
            key=("hub_id",),
        ),
        Table(
            "compute_centers",
            "compute_centers.csv",
            "One row per compute centre operating in the base year.",
            (
                Column("center_id", "string", "", "Centre id, unique."),
                Column("name", "string", "", "Centre name."),
                Column(
                    "region_id",
                    "string",
                    "",
                    "Region the centre is in.",
                    references="regions.region_id",
                ),
                _lat(False, "centre"),
                _lon(False, "centre"),
                Column(
                    "hub_id",
                    "string",
                    "",
                    "Hub node the centre belongs to, if any.",
                    required=False,
                    references="hub_nodes.hub_id",
                ),
                Column("size_class", "string", "", "Large or small/medium centre.", allowed=_SIZE),
                Column(
                    "it_capacity_mw",
                    "float64",
                    "MW",
                    "Installed IT capacity (at most 1e6 MW: 1 TW is far beyond any site or aggregate, "
                    "and guards the arithmetic against overflow).",
                    low=0,
                    low_open=True,
                    high=1e6,
                ),
                Column(
                    "utilization",
                    "float64",
                    "1",
                    "Average IT load as a share of IT capacity.",
                    low=0,
                    high=1,
                    low_open=True,
                ),
                Column(
                    "ai_share",
                    "float64",
                    "1",
                    "Share of IT energy used by AI workloads.",
                    low=0,
                    high=1,
                ),
                Column(
                    "training_share",
                    "float64",
                    "1",
                    "Share of the AI part used for training (rest: inference).",
                    low=0,
                    high=1,
                ),
                Column(
                    "pue",
                    "float64",
                    "1",
                    "Measured power usage effectiveness; empty: use pue_assumptions.",
                    required=False,
                    low=1,
                ),
                Column(
                    "commissioning_year",
                    "Int64",
                    "year",
                    "Year the centre started operating (not after the base year).",
                    required=False,
                    low=1900,
                    high=2100,
                ),
            ),
            key=("center_id",),
            rules=(
                "lat and lon are both given or both empty",
                "commissioning_year is not after the scenario's base year",
            ),
        ),
        Table(
            "pue_assumptions",
            "pue_assumptions.csv",
            "PUE range per (size class, zone).",
            (
                Column("size_class", "string", "", "Large or small/medium centre.", allowed=_SIZE),
                Column("zone", "string", "", "East or west zone.", allowed=_ZONE),
                Column("pue_low", "float64", "1", "Low PUE.", low=1),
                Column("pue_central", "float64", "1", "Central PUE.", low=1),
                Column("pue_high", "float64", "1", "High PUE.", low=1),
            ),
            key=("size_class", "zone"),
            rules=(
                "pue_low <= pue_central <= pue_high",
                "a row for every (size_class, zone) used by compute_centers.csv "
                "(zone = the centre's region's zone)",
                "both size classes for every zone with centres (new builds mix them)",
            ),
        ),
        Table(
            "demand_history",
            "demand_history.csv",
            "Total regional electricity consumption per year.",
            (
                Column("region_id", "string", "", "Region.", references="regions.region_id"),
                Column("year", "int64", "year", "Calendar year.", low=1900, high=2100),
                Column(
                    "consumption_twh",
                    "float64",
                    "TWh",
                    "Total electricity consumption of the region in the year.",
                    low=0,
                    low_open=True,
                ),
            ),
            key=("region_id", "year"),
            rules=(
                "every region of regions.csv has history",
                "a region's years are consecutive, at least 2",
                "a region's history starts at or before the scenario's base year",
            ),
        ),
        Table(
            "load_shapes",
            "load_shapes.csv",
            "Normalised 24-hour load profile per workload.",
            (
                Column("workload", "string", "", "Workload class.", allowed=WORKLOADS),
                Column("hour", "int64", "hour", "Hour of day (local time).", low=0, high=23),
                Column(
                    "factor", "float64", "1", "Load in the hour relative to the daily mean.", low=0
                ),
            ),
            key=("workload", "hour"),
            rules=(
                "every workload of general, training, inference is present",
                "24 rows per workload, hours 0-23",
                f"the 24 factors of a workload have mean 1 (to {LOAD_SHAPE_MEAN_TOLERANCE:g})",
            ),
        ),
        Table(
            "system_hourly",
            SYSTEM_HOURLY_FILE,
            "Optional: hourly total system load per region over one year (any metered year, "
            f"or the shipped 2018 reconstruction; {SYSTEM_HOURLY_LEGACY_FILE} is read when "
            "this file is absent), one column per region. Only the shape is used.",
            (
                Column(
                    "hour_of_year",
                    "int64",
                    "hour",
                    "Hour of the year, 0 = Jan 1 00:00.",
                    low=0,
                    high=HOURS_PER_LEAP_YEAR - 1,
                ),
            ),
            key=("hour_of_year",),
            optional=True,
            wide=Column(
                "<region_id>",
                "float64",
                "MW",
                "Total system load of the region in the hour.",
                low=0,
            ),
            rules=(
                f"{HOURS_PER_YEAR} rows (hour_of_year 0-{HOURS_PER_YEAR - 1}), or "
                f"{HOURS_PER_LEAP_YEAR} for a leap year, whose 29 February (hours 1416-1439) "
                "is dropped to make the 8760-hour representative year",
                "every region column has a positive total",
                "every column other than hour_of_year is a region_id of regions.csv",
            ),
        ),
        Table(
            "grid_emission_factors",
            "grid_emission_factors.csv",
            "Optional: location-based grid CO2 emission factor per region and year.",
            (
                Column("region_id", "string", "", "Region.", references="regions.region_id"),
                Column("year", "int64", "year", "Year the factor describes.", low=1900, high=2100),
                Column(
                    "kg_co2_per_kwh",
                    "float64",
                    "kg CO2/kWh",
                    "Average CO2 emitted per kWh of electricity consumed in the region (coal "
                    "plants emit about 0.8-1.1; 2 is the upper bound).",
                    low=0,
                    high=2,
                ),
                Column("source", "string", "", "Where the factor comes from.", required=False),
            ),
            key=("region_id", "year"),
            optional=True,
            rules=("every region of regions.csv has at least one row (emissions are per region)",),
        ),
        Table(
            "electricity_prices",
            "electricity_prices.csv",
            "Optional: electricity price range paid by compute centres per region.",
            (
                Column("region_id", "string", "", "Region.", references="regions.region_id"),
                Column("price_low", "float64", "CNY/kWh", "Low price.", low=0, low_open=True, high=10),
                Column("price_central", "float64", "CNY/kWh", "Central price.", low=0, low_open=True, high=10),
                Column("price_high", "float64", "CNY/kWh", "High price.", low=0, low_open=True, high=10),
                Column("source", "string", "", "Where the price comes from.", required=False),
            ),
            key=("region_id",),
            optional=True,
            rules=(
                "price_low <= price_central <= price_high",
                "every region of regions.csv has a row (costs are per region)",
            ),
        ),
        Table(
            "published_estimates",
            "published_estimates.csv",
            "Optional: published estimates and projections the report compares with.",
            (
                Column("year", "int64", "year", "Year the figure is for.", low=1900, high=2100),
                Column("metric", "string", "", "What is measured (the report draws the "
                       "'China data-centre electricity' TWh rows on its headline chart)."),
                Column("value_low", "float64", "", "Low end of the figure (in unit)."),
                Column("value_high", "float64", "", "High end of the figure (in unit)."),
                Column("unit", "string", "", "Unit of the values (TWh, GW, %...)."),
                Column("kind", "string", "", "historical estimate, projection...",
                       required=False),
                Column("original_publisher", "string", "", "Who published the figure."),
                Column("source_id", "string", "", "Source id in data/SOURCES.md."),
                Column("quality", "string", "", "high, medium, low...", required=False),
                Column("note", "string", "", "Free note.", required=False),
            ),
            optional=True,
            rules=("value_low <= value_high",),
        ),
        Table(
            "observed_provincial",
            "observed_provincial.csv",
            "Optional: observed provincial data-centre figures the report compares the base fleet with.",
            (
                Column("region_id", "string", "", "Region.", references="regions.region_id"),
                Column("year", "int64", "year", "Year of the observation.", low=1900, high=2100),
                Column(
                    "quantity",
                    "string",
                    "",
                    "What was observed: a year's facility electricity, one quarter's, or IT capacity.",
                    allowed=OBSERVED_QUANTITIES,
                ),
                Column("value", "float64", "", "Observed value, in unit.", low=0),
                Column("unit", "string", "", "Unit of value (TWh or MW)."),
                Column(
                    "scope",
                    "string",
                    "",
                    "What the figure covers (e.g. one cluster only, a lower bound).",
                    required=False,
                ),
                Column("source", "string", "", "Where the figure comes from."),
            ),
            key=("region_id", "year", "quantity"),
            optional=True,
        ),
        Table(
            "statistical_breaks",
            "statistical_breaks.csv",
            "Optional: known changes of statistical scope in demand_history (one per region).",
            (
                Column("region_id", "string", "", "Region.", references="regions.region_id"),
                Column(
                    "year",
                    "int64",
                    "year",
                    "First year of the new scope; the baseline treats the jump into it as a "
                    "level shift, not growth (a year outside the region's history is ignored).",
                    low=1900,
                    high=2100,
                ),
                Column("reason", "string", "", "What changed, in a sentence."),
                Column("source", "string", "", "Where the break is documented."),
            ),
            key=("region_id",),
            optional=True,
        ),
        Table(
            "planned_centers",
            "planned_centers.csv",
            "Optional: one row per planned compute-centre project phase (absent or header only: "
            "no pipeline).",
            (
                Column("project_id", "string", "", "Project (phase) id, unique."),
                Column("name", "string", "", "Project name."),
                Column(
                    "region_id", "string", "", "Region the project is in.", references="regions.region_id"
                ),
                _lat(False, "project"),
                _lon(False, "project"),
                Column(
                    "hub_id",
                    "string",
                    "",
                    "Hub node the project belongs to, if any (else the nearest hub within the "
                    "scenario's assignment radius).",
                    required=False,
                    references="hub_nodes.hub_id",
                ),
                Column(
                    "it_capacity_mw",
                    "float64",
                    "MW",
                    "IT capacity of this row at full build-out (at most 1e6 MW).",
                    low=0,
                    low_open=True,
                    high=1e6,
                ),
                Column(
                    "utilization",
                    "float64",
                    "1",
                    "Mature average IT load as a share of IT capacity; empty: the scenario's "
                    "pipeline.utilization.",
                    required=False,
                    low=0,
                    high=1,
                    low_open=True,
                ),
                Column("ai_share", "float64", "1", "Share of IT energy used by AI workloads.", low=0, high=1),
                Column(
                    "training_share",
                    "float64",
                    "1",
                    "Share of the AI part used for training (rest: inference).",
                    low=0,
                    high=1,
                ),
                Column(
                    "stage",
                    "string",
                    "",
                    "Project stage; the scenario's pipeline.realisation and delay_years are per stage.",
                    allowed=PLANNED_STAGES,
                ),
                Column(
                    "online_year",
                    "int64",
                    "year",
                    "First year of operation as planned (after the scenario's base year).",
                    low=1900,
                    high=2100,
                ),
                Column("source", "string", "", "Where the planner has the project from.", required=False),
            ),
            key=("project_id",),
            optional=True,
            rules=(
                "lat and lon are both given or both empty",
                "online_year is after the scenario's base year (a centre already operating "
                "belongs in compute_centers.csv)",
                "the scenario has a [pipeline] table when the file has rows",
            ),
        ),
    )
}


def _dtype(col: Column) -> str | pd.StringDtype:
    return pd.StringDtype() if col.dtype == "string" else col.dtype


def empty_typed_frame(table: Table) -> pd.DataFrame:
    """A zero-row frame with the typed columns of ``table`` (index ``source_row``)."""
    index = pd.Index([], dtype="int64", name=SOURCE_ROW)
    return pd.DataFrame(
        {c.name: pd.Series([], dtype=_dtype(c), index=index) for c in table.columns}, index=index
    )


def cast_typed(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """Return ``frame`` with every known column cast to its schema dtype (a new frame)."""
    out = {}
    for name in frame.columns:
        spec = table.wide if name not in {c.name for c in table.columns} else table.column(name)
        out[name] = frame[name].astype(_dtype(spec)) if spec is not None else frame[name]
    return pd.DataFrame(out, index=frame.index)


def glossary() -> pd.DataFrame:
    """Every input column with its type, unit, default, rule and meaning, for reports.

    Returns:
        One row per (file, column): file, column, dtype, unit, required, default, rule,
        description; then one row per table-level rule with column ``""``.
    """
    rows = []
    for table in TABLES.values():
        cols = table.columns + ((table.wide,) if table.wide else ())
        for c in cols:
            rule = c.rule_text()
            if c.references:
                rule = (rule + "; " if rule else "") + f"must exist in {c.references}"
            default = "" if c.default is None else str(c.default)
            rows.append(
                (table.file, c.name, c.dtype, c.unit, c.required, default, rule, c.description)
            )
        if table.key:
            rows.append(
                (
                    table.file,
                    "",
                    "",
                    "",
                    True,
                    "",
                    "unique (" + ", ".join(table.key) + ")",
                    table.description,
                )
            )
        rows += [(table.file, "", "", "", True, "", r, "") for r in table.rules]
    return pd.DataFrame(
        rows,
        columns=["file", "column", "dtype", "unit", "required", "default", "rule", "description"],
    )


@dataclass(frozen=True, eq=False)
class InputTables:
    """The validated inputs: typed frames (index ``source_row``) plus the raw text and hashes.

    Attributes:
        regions, hub_nodes, compute_centers, pue_assumptions, demand_history, load_shapes:
            typed frames with exactly the schema's columns, optional ones filled.
        system_hourly: the optional wide hourly load (MW), or None when the file is absent.
        grid_emission_factors, electricity_prices: the optional cost and emission inputs
            (see docs/methodology.md, "What it costs and emits"), or None when absent.
        published_estimates: the optional published figures, or None when absent.
        observed_provincial: optional observed provincial figures (for the report), or None.
        planned_centers: the optional planned projects (no rows when the file has a header
            only), or None when the file is absent.
        raw: table name -> the file as read (all cells as text, index ``source_row``).
        hashes: file name -> sha256 hex digest of the file's bytes.
        statistical_breaks: the optional break years (region_id, year, reason, source),
            or None when the file is absent.
    """

    regions: pd.DataFrame
    hub_nodes: pd.DataFrame
    compute_centers: pd.DataFrame
    pue_assumptions: pd.DataFrame
    demand_history: pd.DataFrame
    load_shapes: pd.DataFrame
    system_hourly: pd.DataFrame | None
    raw: dict[str, pd.DataFrame]
    hashes: dict[str, str]
    grid_emission_factors: pd.DataFrame | None = None
    electricity_prices: pd.DataFrame | None = None
    published_estimates: pd.DataFrame | None = None
    observed_provincial: pd.DataFrame | None = None
    statistical_breaks: pd.DataFrame | None = None
    planned_centers: pd.DataFrame | None = None

    def typed(self) -> dict[str, pd.DataFrame]:
        """Table name -> typed frame, for the tables present (system_hourly may be absent)."""
        out = {name: getattr(self, name) for name in TABLES}
        return {k: v for k, v in out.items() if v is not None}
