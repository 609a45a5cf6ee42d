"""Where a run's big tables go while the other scenarios are still being computed.

A run of 1M centres and 100k planned rows makes, per scenario, 1M ``hub_assignment`` rows,
1.2M ``pipeline`` rows and ~0.8M ``hourly`` rows. Holding all ten scenarios' tables until
the end took the run past 4 GB. :class:`RunSink` writes each scenario's big tables as soon
as the scenario is done (into hidden temporary names, so nothing half-written ever shows)
and keeps only what the report reads: the lead scenario's pipeline rows, and the other
scenarios' pipeline totals by stage and year. :meth:`RunSink.commit` swaps every table in
once the run has succeeded; :meth:`RunSink.abort` leaves the folder as it was.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from flows import outputs

__all__ = ["PARTITIONED", "SINGLE_FILE", "STREAMED_NAMES", "RunSink", "lead_scenario", "stage_totals"]

#: Tables written as ``<name>/scenario=<s>/part-N.parquet`` folders, one partition per scenario.
PARTITIONED = ("hourly", "pipeline")
#: Tables written as one ``<name>.parquet`` file, one row group per scenario.
SINGLE_FILE = ("hub_assignment",)
#: Every name a sink may write in the run folder (a run plans them before the first write).
STREAMED_NAMES = frozenset({*PARTITIONED, *(f"{n}.parquet" for n in SINGLE_FILE)})

_PIPELINE_SUMS = ["requested_it_mw", "expected_it_mw", "expected_it_energy_twh"]


def lead_scenario(names: list[str]) -> str | None:
    """The scenario whose projects the report lists one by one: ``reference`` if run, else the first."""
    if not names:
        return None
    return "reference" if "reference" in names else names[0]


def stage_totals(pipeline: pd.DataFrame) -> pd.DataFrame:
    """One scenario's ``pipeline`` rows summed by (stage, year), in the table's columns.

    What the report's national "requested versus expected by stage" chart needs of a
    scenario whose projects it does not list; ``project_id`` and ``region_id`` are empty.
    The sums are the ones a (scenario, stage, year) grouping of the full rows gives: the
    same rows, in the same order, summed by the same grouping code.
    """
    keys = ["scenario", "stage", "year"]
    grouped = pipeline.groupby([pipeline[k].astype(str) if k != "year" else pipeline[k] for k in keys],
                               sort=False, observed=True)[_PIPELINE_SUMS].sum()
    out = grouped.reset_index()
    out.insert(1, "project_id", "")
    out.insert(2, "region_id", "")
    return out[[c for c in pipeline.columns if c in out.columns]]


class RunSink:
    """Writes each scenario's big tables under ``run_dir`` as it arrives; see the module text."""

    def __init__(self, run_dir: Path, scenario_names: list[str]) -> None:
        self.run_dir = Path(run_dir)
        self.lead = lead_scenario(scenario_names)
        self._folders: dict[str, outputs.PartitionedWriter] = {}
        self._files: dict[str, outputs.ParquetStream] = {}
        self._report_pipeline: list[pd.DataFrame] = []

    def take(self, scenario: str, tables: dict[str, pd.DataFrame | None]) -> None:
        """Write one scenario's ``hourly``, ``pipeline`` and ``hub_assignment`` rows now."""
        for name, frame in tables.items():
            if frame is None or frame.empty:
                continue
            if name in PARTITIONED:
                if name not in self._folders:
                    self._folders[name] = outputs.PartitionedWriter(self.run_dir / name, "scenario")
                self._folders[name].add(frame)
            elif name in SINGLE_FILE:
                if name not in self._files:
                    self._files[name] = outputs.ParquetStream(self.run_dir / f"{name}.parquet")
                self._files[name].add(frame)
            else:
                raise ValueError(f"{name!r} is not a table the run streams")
            if name == "pipeline":
                self._report_pipeline.append(frame if scenario == self.lead else stage_totals(frame))

    def report_pipeline(self) -> pd.DataFrame | None:
        """What the report reads of the pipeline: the lead's rows, the others' stage totals.

        Text columns stay categorical (the lead's 1.2M rows at 100k projects are not turned
        into 1.2M strings per column here).
        """
        parts = [p for p in self._report_pipeline if not p.empty]
        if not parts:
            return None
        text = {c: union_categoricals([p[c].astype("category") for p in parts], ignore_order=True)
                for c in ("scenario", "project_id", "region_id", "stage") if c in parts[0].columns}
        numbers = {c: np.concatenate([p[c].to_numpy() for p in parts])
                   for c in parts[0].columns if c not in text}
        return pd.DataFrame({c: text[c] if c in text else numbers[c] for c in parts[0].columns})

    def names(self) -> set[str]:
        """The top-level names this sink writes (folders and files)."""
        return set(self._folders) | {f"{n}.parquet" for n in self._files}  # within STREAMED_NAMES

    def commit(self) -> list[str]:
        """Swap every streamed table into place; returns the table names."""
        for writer in self._folders.values():
            writer.commit()
        for stream in self._files.values():
            stream.commit()
        return [*self._folders, *self._files]

    def abort(self) -> None:
        """Drop everything written so far (nothing under the final names changes)."""
        for writer in self._folders.values():
            writer.abort()
        for stream in self._files.values():
            stream.abort()
