"""Scenario blocks of the hourly model: ``[flexibility]`` and ``[seasonal]``.

``[flexibility] training_shiftable_share``: the share of each day's training energy that
can move to other hours of the same day (a number or ``[low, central, high]`` in [0, 1];
default 0, nothing moves). ``[seasonal] pue_amplitude``: amplitude ``a`` of the mean-1
summer-peaking modulation of the compute load (cooling), ``1 + a cos(2 pi (d - 196) / 365)``
(a number in [0, 0.5]; default 0, no modulation). The amplitude shapes the year and is
not sampled: one number.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from models.scenario import Param, _check_between

__all__ = ["Flexibility", "Seasonal", "hourly_ranges"]


class Flexibility(BaseModel):
    """``[flexibility]``: how much training load can move within a day."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    training_shiftable_share: Param = (0.0, 0.0, 0.0)

    @field_validator("training_shiftable_share")
    @classmethod
    def _share(cls, value: tuple[float, float, float], info: ValidationInfo) -> tuple[float, float, float]:
        _check_between(value, 0.0, 1.0, str(info.field_name))
        return value


class Seasonal(BaseModel):
    """``[seasonal]``: summer-peaking modulation of the compute load (cooling)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pue_amplitude: float = Field(default=0.0, ge=0.0, le=0.5, allow_inf_nan=False)


def hourly_ranges(flexibility: Flexibility) -> dict[str, tuple[float, float, float]]:
    """The sampled parameters of these blocks by dotted name."""
    return {"flexibility.training_shiftable_share": flexibility.training_shiftable_share}
