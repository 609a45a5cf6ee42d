"""The parameters of one forecast run, checked before Prefect starts.

:class:`RunParams` lives here, apart from :mod:`flows.pipeline`, so that the CLI can check
a run's parameters without importing Prefect; :func:`run_params` turns pydantic's
validation error into one :class:`~flows.errors.GridcastError` line per bad option,
with the allowed range read from the field's own bounds.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import annotated_types as at
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flows.errors import GridcastError
from flows.settings import DEFAULT_DATA, DEFAULT_OUT, DEFAULT_WAREHOUSE, MAX_DRAWS

__all__ = ["RunParams", "check_runner", "run_params"]


class RunParams(BaseModel):
    """Every parameter of one forecast run (frozen; unknown keys are refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path = DEFAULT_DATA
    scenario: Path | None = None
    out: Path | None = None
    out_root: Path = DEFAULT_OUT
    draws: int = Field(default=1000, ge=0, le=MAX_DRAWS)  # bounds memory: flows/settings.py
    seed: int = Field(default=20241, ge=0, le=2**63 - 1)
    warehouse: Path = DEFAULT_WAREHOUSE
    rise_threshold: float = Field(default=0.05, gt=0, lt=10, allow_inf_nan=False)
    overwrite: bool = False
    progress: bool = False
    # Where the scenario tasks run: "local" (threads in this process) or "dask" (prefect-dask's
    # DaskTaskRunner: a LocalCluster on 127.0.0.1, or the scheduler at dask_address). Outputs
    # are identical either way: draws depend only on the seed (docs/operations.md).
    runner: Literal["local", "dask"] = "local"
    dask_address: str | None = Field(default=None, pattern=r"^(tcp|tls|inproc|ucx)://\S+$",
                                     description="a scheduler address like tcp://HOST:PORT")
    # The report's own text: English or Chinese (reports/i18n.py).
    lang: Literal["en", "zh"] = Field(default="en", description="en or zh")
    # Years of the hourly/ and headroom tables (None: base year, 2030 inside the horizon, end year).
    hourly_years: tuple[int, ...] | None = None
    # A planner's own planned_centers files, added to the data folder's pipeline.
    planned: tuple[Path, ...] = ()


def _num(x: object) -> str:
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)


def _allowed(field: str) -> str:
    """The rule of ``field`` in words, from its pydantic bounds."""
    info = RunParams.model_fields[field]
    low = high = None
    for m in info.metadata:
        if isinstance(m, at.Ge):
            low = f">= {_num(m.ge)}"
        elif isinstance(m, at.Gt):
            low = f"> {_num(m.gt)}"
        elif isinstance(m, at.Le):
            high = f"<= {_num(m.le)}"
        elif isinstance(m, at.Lt):
            high = f"< {_num(m.lt)}"
    inclusive = {">=", "<="}
    if low and high and low.split()[0] in inclusive and high.split()[0] in inclusive:
        return f"between {low.split()[1]} and {high.split()[1]}"
    if low and high:
        return f"{low} and {high}"
    if low or high:
        return low or high or ""
    if info.description:
        return info.description
    args = getattr(info.annotation, "__args__", ())
    if args and all(isinstance(a, str) for a in args):
        return "one of " + ", ".join(args)
    return f"a valid {field.replace('_', ' ')}"


def _option(field: str) -> str:
    return "--" + {"data_dir": "data", "out_root": "out-root"}.get(field, field.replace("_", "-"))


def check_runner(runner: str, dask_address: str | None) -> None:
    """Refuse a task runner other than local or dask, and a Dask address without ``--runner dask``.

    Raises:
        GridcastError: one line naming the option.
    """
    if runner not in ("local", "dask"):
        raise GridcastError(f"--runner must be local or dask, got {runner!r}")
    if dask_address and (runner != "dask" or "://" not in dask_address):
        raise GridcastError("--dask-address needs --runner dask and a scheduler address like tcp://127.0.0.1:8786")


def run_params(**values: Any) -> RunParams:
    """Build :class:`RunParams`, or refuse bad values in one line per option.

    Raises:
        GridcastError: e.g. ``--draws must be between 0 and 5000 (got 2000000)``.
    """
    try:
        return RunParams(**values)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            if field not in RunParams.model_fields:
                lines.append(f"{field or 'parameters'}: {err['msg']}")
                continue
            got = err.get("input")
            shown = "nan" if isinstance(got, float) and math.isnan(got) else repr(got)
            lines.append(f"{_option(field)} must be {_allowed(field)} (got {shown})")
        raise GridcastError("\n".join(lines)) from None
