"""The scenario's ``[pipeline]`` table: how planned compute centres are derated.

Every numeric key is a number or ``[low, central, high]`` (triangular in the
Monte Carlo), checked against its range like every other scenario key.
``mode`` fixes the structure of the combination with the trend and is not drawn.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo, field_validator

__all__ = ["STAGES", "Pipeline", "StageValues", "pipeline_ranges"]

STAGES: tuple[str, ...] = ("announced", "requested", "approved", "under_construction")
"""Project stages of ``planned_centers.csv``, least to most advanced."""


def _triple(value: object) -> tuple[float, float, float]:
    # models.scenario imports this module; its number rules are looked up at validation time
    from models.scenario import _to_triple

    return _to_triple(value)


Param = Annotated[tuple[float, float, float], BeforeValidator(_triple)]


def between(lo: float, hi: float, low_open: bool = False):  # noqa: ANN201 - a pydantic validator body
    """A field validator: ``lo <= low`` (``lo < low`` if ``low_open``) and ``high <= hi``."""

    def check(cls, value: tuple[float, float, float], info: ValidationInfo) -> tuple[float, float, float]:  # noqa: ANN001
        from models.scenario import _check_between

        _check_between(value, lo, hi, str(info.field_name))
        if low_open and value[0] <= lo:
            raise ValueError(f"{info.field_name} must be > {lo:g}, got {list(value)}")
        return value

    return classmethod(check)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StageRealisation(_Strict):
    """Probability that a project of each stage is built, in [0, 1]."""

    announced: Param
    requested: Param
    approved: Param
    under_construction: Param

    _range = field_validator(*STAGES)(between(0.0, 1.0))


class StageDelay(_Strict):
    """Years added to a project's ``online_year``, by stage (>= 0)."""

    announced: Param
    requested: Param
    approved: Param
    under_construction: Param

    _range = field_validator(*STAGES)(between(0.0, 50.0))


StageValues = StageRealisation | StageDelay


class Pipeline(_Strict):
    """``[pipeline]``: combination mode, ramp to mature use, default utilisation, derating by stage."""

    mode: Literal["floor", "additional"] = "floor"
    ramp_years: Param
    utilization: Param
    realisation: StageRealisation
    delay_years: StageDelay
    description: str = ""

    _ramp = field_validator("ramp_years")(between(0.0, 50.0, low_open=True))
    _util = field_validator("utilization")(between(0.0, 1.0, low_open=True))


def pipeline_ranges(pipeline: Pipeline | None) -> dict[str, tuple[float, float, float]]:
    """``pipeline.<key> -> (low, central, high)`` for the drawn keys (empty without a table).

    >>> p = Pipeline.model_validate({"ramp_years": 2, "utilization": 0.6,
    ...     "realisation": dict.fromkeys(STAGES, 0.5), "delay_years": dict.fromkeys(STAGES, 0)})
    >>> sorted(pipeline_ranges(p))[:3]
    ['pipeline.delay_years.announced', 'pipeline.delay_years.approved', 'pipeline.delay_years.requested']
    """
    if pipeline is None:
        return {}
    out = {"pipeline.ramp_years": pipeline.ramp_years, "pipeline.utilization": pipeline.utilization}
    for stage in STAGES:
        out[f"pipeline.realisation.{stage}"] = getattr(pipeline.realisation, stage)
        out[f"pipeline.delay_years.{stage}"] = getattr(pipeline.delay_years, stage)
    return out
