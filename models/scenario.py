"""The scenario: every parameter of the equations (docs/methodology.md section 3), typed and checked.

A numeric parameter is either one number or ``[low, central, high]``; the Monte
Carlo treats the triple as a triangular distribution. The model here is pure
(no file I/O): ``flows.scenarios`` reads TOML files, resolves ``extends`` and
hands the merged mapping to :func:`Scenario.model_validate`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from models.pipeline_params import Pipeline, pipeline_ranges

__all__ = ["MAX_NAME_CHARS", "MAX_TEXT_CHARS", "WORKLOADS", "Emissions", "Param", "Scenario", "Lever",
           "parameter_ranges"]

WORKLOADS: tuple[str, ...] = ("general", "training", "inference")

MAX_NAME_CHARS = 64
"""Longest scenario name, parent name, lever name or ``sources`` key."""
MAX_TEXT_CHARS = 2000
"""Longest free text: a description, a lever's description or source, a ``sources`` value."""

Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]
Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]


def _to_triple(value: object) -> tuple[float, float, float]:
    """Normalise a number or a ``[low, central, high]`` list to a triple."""
    if isinstance(value, bool):
        raise ValueError("must be a number or [low, central, high], got a boolean")
    if isinstance(value, int | float):
        try:
            v = float(value)
        except OverflowError:
            raise ValueError("number too large") from None
        return (v, v, v)
    if isinstance(value, list | tuple):
        if len(value) != 3 or not all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in value
        ):
            raise ValueError("a range must be three numbers [low, central, high]")
        try:
            low, central, high = (float(x) for x in value)
        except OverflowError:
            raise ValueError("number too large") from None
        if not low <= central <= high:
            raise ValueError(f"needs low <= central <= high, got [{low}, {central}, {high}]")
        return (low, central, high)
    raise ValueError(f"must be a number or [low, central, high], got {type(value).__name__}")


def _finite(triple: tuple[float, float, float]) -> tuple[float, float, float]:
    if not all(abs(x) < float("inf") for x in triple):
        raise ValueError("must be finite")
    return triple


Param = Annotated[tuple[float, float, float], BeforeValidator(_to_triple)]


def _check_between(value: tuple[float, float, float], lo: float, hi: float, what: str) -> None:
    _finite(value)
    if value[0] < lo or value[2] > hi:
        raise ValueError(f"{what} must lie in [{lo}, {hi}], got {list(value)}")


def _between(lo: float, hi: float):  # noqa: ANN202 - a pydantic field-validator body
    """A field validator body checking ``lo <= low`` and ``high <= hi``.

    Range checks run per field (not per model) so that an error's location is the
    full dotted key (``levers.fp8.saving``), which the scenario loader reports.
    """

    def check(cls, value: tuple[float, float, float], info: ValidationInfo) -> tuple[float, float, float]:  # noqa: ANN001
        _check_between(value, lo, hi, str(info.field_name))
        return value

    return classmethod(check)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Horizon(_Strict):
    # strict: a quoted year ("2035") is a typo to report, not a string to coerce
    base_year: int = Field(ge=1990, le=2100, strict=True)
    end_year: int = Field(ge=1990, le=2100, strict=True)

    @field_validator("end_year")
    @classmethod
    def _after_base(cls, value: int, info: ValidationInfo) -> int:
        base = info.data.get("base_year")
        if base is not None and value <= base:
            raise ValueError(f"end_year ({value}) must be after base_year ({base})")
        return value


class Growth(_Strict):
    taper: Param
    general: Param
    training: Param
    inference: Param

    _taper = field_validator("taper")(_between(0.0, 1.0))
    _rates = field_validator(*WORKLOADS)(_between(-1.0, 10.0))


class HardwareGain(_Strict):
    general: Param
    training: Param
    inference: Param

    _gains = field_validator(*WORKLOADS)(_between(0.0, 0.99))


class Lever(_Strict):
    workloads: list[Literal["general", "training", "inference"]] = Field(min_length=1)
    saving: Param
    adoption_ceiling: Param
    adoption_midpoint: Param
    adoption_scale: Param
    description: Text = ""
    source: Text = ""

    _fractions = field_validator("saving", "adoption_ceiling")(_between(0.0, 1.0))
    _midpoint = field_validator("adoption_midpoint")(_between(1990.0, 2100.0))
    _scale = field_validator("adoption_scale")(_between(1e-3, 100.0))


class Rebound(_Strict):
    elasticity_training: Param
    elasticity_inference: Param
    diffusion_midpoint: Param
    diffusion_scale: Param

    _elasticities = field_validator("elasticity_training", "elasticity_inference")(_between(0.0, 5.0))
    _midpoint = field_validator("diffusion_midpoint")(_between(1990.0, 2100.0))
    _scale = field_validator("diffusion_scale")(_between(1e-3, 100.0))


class Hubs(_Strict):
    assignment_radius_km: Param
    training_shift_to_hubs: Param

    _radius = field_validator("assignment_radius_km")(_between(0.0, 20040.0))
    _shift = field_validator("training_shift_to_hubs")(_between(0.0, 1.0))


class Cap(_Strict):
    value: Param
    from_year: int = Field(ge=1990, le=2100, strict=True)

    _value = field_validator("value")(_between(1.0, 5.0))


class Pue(_Strict):
    new_build_small_medium_share: Param
    new_build_cap: dict[Literal["east", "west"], Cap] = Field(default_factory=dict)

    _share = field_validator("new_build_small_medium_share")(_between(0.0, 1.0))


class Emissions(_Strict):
    """``[emissions]``: how grid factors change after their last given year, and green power.

    ``green_power_share`` keys are ``east`` / ``west`` (a zone), ``hubs`` (every national
    hub node) or a hub id; values are the share of new-build facility energy supplied
    by contracted green power. How a region's share is chosen: ``models.costs.green_share``.
    """

    factor_change_per_year: Param = (0.0, 0.0, 0.0)
    green_power_share: dict[str, Param] = Field(default_factory=dict)

    _change = field_validator("factor_change_per_year")(_between(-0.5, 0.5))

    @field_validator("green_power_share")
    @classmethod
    def _shares(cls, value: dict[str, tuple[float, float, float]]) -> dict[str, tuple[float, float, float]]:
        for key, share in value.items():
            _check_between(share, 0.0, 1.0, f"green_power_share.{key}")
        return value


def _emission_ranges(block: Emissions) -> dict[str, tuple[float, float, float]]:
    out = {"emissions.factor_change_per_year": block.factor_change_per_year}
    out.update({f"emissions.green_power_share.{k}": v for k, v in block.green_power_share.items()})
    return out


from models.flexibility import Flexibility, Seasonal, hourly_ranges  # noqa: E402 - needs Param above


class Scenario(_Strict):
    """One fully resolved scenario (after ``extends`` is applied)."""

    name: Name
    description: Text = ""
    extends: Name | None = None
    horizon: Horizon
    growth: Growth
    hardware_efficiency_gain: HardwareGain
    levers: dict[Name, Lever] = Field(default_factory=dict)
    rebound: Rebound
    hubs: Hubs
    pue: Pue
    # keys are dotted parameter names (``levers.<name>.<key>``): longer than one name
    sources: dict[Annotated[str, Field(max_length=4 * MAX_NAME_CHARS)], Text] = Field(default_factory=dict)
    emissions: Emissions = Field(default_factory=Emissions)
    flexibility: Flexibility = Field(default_factory=Flexibility)
    seasonal: Seasonal = Field(default_factory=Seasonal)
    pipeline: Pipeline | None = None

    @model_validator(mode="after")
    def _years(self) -> Scenario:
        if self.horizon.end_year <= self.horizon.base_year:
            raise ValueError(
                f"horizon.end_year ({self.horizon.end_year}) must be after "
                f"horizon.base_year ({self.horizon.base_year})"
            )
        return self

    @property
    def years(self) -> list[int]:
        """Calendar years from the base year to the end year inclusive."""
        return list(range(self.horizon.base_year, self.horizon.end_year + 1))


def parameter_ranges(scenario: Scenario) -> dict[str, tuple[float, float, float]]:
    """Flatten every sampled numeric parameter to ``name -> (low, central, high)``.

    Names are dotted TOML paths (``growth.inference``, ``levers.fp8.saving``,
    ``pue.new_build_cap.west.value``). Integers that fix the structure (years,
    ``from_year``) are not parameters. The PUE table's ranges are added by the
    caller (they come from the data, not the scenario).

    >>> s = Scenario.model_validate(_EXAMPLE)
    >>> parameter_ranges(s)["growth.taper"]
    (0.9, 0.95, 1.0)
    """
    out: dict[str, tuple[float, float, float]] = {}
    for section in ("growth", "hardware_efficiency_gain", "rebound", "hubs"):
        block = getattr(scenario, section)
        for key in type(block).model_fields:
            out[f"{section}.{key}"] = getattr(block, key)
    for lever_name, lever in scenario.levers.items():
        for key in ("saving", "adoption_ceiling", "adoption_midpoint", "adoption_scale"):
            out[f"levers.{lever_name}.{key}"] = getattr(lever, key)
    out["pue.new_build_small_medium_share"] = scenario.pue.new_build_small_medium_share
    for zone, cap in scenario.pue.new_build_cap.items():
        out[f"pue.new_build_cap.{zone}.value"] = cap.value
    out.update(_emission_ranges(scenario.emissions))
    # drawn only when set: an unused parameter must not shift every other parameter's draws
    if scenario.flexibility.training_shiftable_share != (0.0, 0.0, 0.0):
        out.update(hourly_ranges(scenario.flexibility))
    out.update(pipeline_ranges(scenario.pipeline))
    return out


_EXAMPLE = {
    "name": "example",
    "horizon": {"base_year": 2024, "end_year": 2030},
    "growth": {"taper": [0.9, 0.95, 1.0], "general": 0.05, "training": 0.3, "inference": 0.4},
    "hardware_efficiency_gain": {"general": 0.05, "training": 0.1, "inference": 0.1},
    "rebound": {
        "elasticity_training": 0.5,
        "elasticity_inference": 1.0,
        "diffusion_midpoint": 2028,
        "diffusion_scale": 2,
    },
    "hubs": {"assignment_radius_km": 300, "training_shift_to_hubs": 0.5},
    "pue": {"new_build_small_medium_share": 0.2},
}
