"""The scenario: every parameter of MODEL.md section 3, typed and checked.

A numeric parameter is either one number or ``[low, central, high]``; the Monte
Carlo treats the triple as a triangular distribution. The model here is pure
(no file I/O): ``flows.scenarios`` reads TOML files, resolves ``extends`` and
hands the merged mapping to :func:`Scenario.model_validate`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

__all__ = ["WORKLOADS", "Param", "Scenario", "Lever", "parameter_ranges"]

WORKLOADS: tuple[str, ...] = ("general", "training", "inference")


def _to_triple(value: object) -> tuple[float, float, float]:
    """Normalise a number or a ``[low, central, high]`` list to a triple."""
    if isinstance(value, bool):
        raise ValueError("must be a number or [low, central, high], got a boolean")
    if isinstance(value, int | float):
        v = float(value)
        return (v, v, v)
    if isinstance(value, list | tuple):
        if len(value) != 3 or not all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in value
        ):
            raise ValueError("a range must be three numbers [low, central, high]")
        low, central, high = (float(x) for x in value)
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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Horizon(_Strict):
    base_year: int = Field(ge=1990, le=2100)
    end_year: int = Field(ge=1990, le=2100)


class Growth(_Strict):
    taper: Param
    general: Param
    training: Param
    inference: Param

    @model_validator(mode="after")
    def _ranges(self) -> Growth:
        _check_between(self.taper, 0.0, 1.0, "taper")
        for w in WORKLOADS:
            _check_between(getattr(self, w), -1.0, 10.0, f"growth.{w}")
        return self


class HardwareGain(_Strict):
    general: Param
    training: Param
    inference: Param

    @model_validator(mode="after")
    def _ranges(self) -> HardwareGain:
        for w in WORKLOADS:
            _check_between(getattr(self, w), 0.0, 0.99, f"hardware_efficiency_gain.{w}")
        return self


class Lever(_Strict):
    workloads: list[Literal["general", "training", "inference"]] = Field(min_length=1)
    saving: Param
    adoption_ceiling: Param
    adoption_midpoint: Param
    adoption_scale: Param
    description: str = ""
    source: str = ""

    @model_validator(mode="after")
    def _ranges(self) -> Lever:
        _check_between(self.saving, 0.0, 1.0, "saving")
        _check_between(self.adoption_ceiling, 0.0, 1.0, "adoption_ceiling")
        _check_between(self.adoption_midpoint, 1990.0, 2100.0, "adoption_midpoint")
        _check_between(self.adoption_scale, 1e-3, 100.0, "adoption_scale")
        return self


class Rebound(_Strict):
    elasticity_training: Param
    elasticity_inference: Param
    diffusion_midpoint: Param
    diffusion_scale: Param

    @model_validator(mode="after")
    def _ranges(self) -> Rebound:
        _check_between(self.elasticity_training, 0.0, 5.0, "elasticity_training")
        _check_between(self.elasticity_inference, 0.0, 5.0, "elasticity_inference")
        _check_between(self.diffusion_midpoint, 1990.0, 2100.0, "diffusion_midpoint")
        _check_between(self.diffusion_scale, 1e-3, 100.0, "diffusion_scale")
        return self


class Hubs(_Strict):
    assignment_radius_km: Param
    training_shift_to_hubs: Param

    @model_validator(mode="after")
    def _ranges(self) -> Hubs:
        _check_between(self.assignment_radius_km, 0.0, 20040.0, "assignment_radius_km")
        _check_between(self.training_shift_to_hubs, 0.0, 1.0, "training_shift_to_hubs")
        return self


class Cap(_Strict):
    value: Param
    from_year: int = Field(ge=1990, le=2100)

    @model_validator(mode="after")
    def _ranges(self) -> Cap:
        _check_between(self.value, 1.0, 5.0, "new_build_cap value")
        return self


class Pue(_Strict):
    new_build_small_medium_share: Param
    new_build_cap: dict[Literal["east", "west"], Cap] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ranges(self) -> Pue:
        _check_between(self.new_build_small_medium_share, 0.0, 1.0, "new_build_small_medium_share")
        return self


class Scenario(_Strict):
    """One fully resolved scenario (after ``extends`` is applied)."""

    name: str = Field(min_length=1, max_length=64)
    description: str = ""
    extends: str | None = None
    horizon: Horizon
    growth: Growth
    hardware_efficiency_gain: HardwareGain
    levers: dict[str, Lever] = Field(default_factory=dict)
    rebound: Rebound
    hubs: Hubs
    pue: Pue
    sources: dict[str, str] = Field(default_factory=dict)

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
