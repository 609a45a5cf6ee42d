"""Provinces by any name a planner types, and their English and Chinese names for tables.

``--region`` accepts, case-insensitively, the ISO id (``CN-NX``, ``cn-nx``), the short
code (``NX``), the English name (``Ningxia``) or the Chinese name with or without its
administrative suffix (``宁夏``, ``宁夏回族自治区``); several values may be given, each
possibly a comma-separated list (``--region cn-nx --region Guangdong,宁夏``).
"""

from __future__ import annotations

import difflib
import io
from pathlib import Path

import pandas as pd

from flows.datastate import read_if_unchanged
from flows.errors import GridcastError
from flows.settings import DEFAULT_DATA

__all__ = ["NATIONAL_NAMES", "RegionIndex", "region_index", "split_values"]

NATIONAL_NAMES = ("China (national)", "全国")
# Longest first: 宁夏回族自治区 loses 回族自治区, not only 自治区.
_ZH_SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市")


def split_values(values: tuple[str, ...] | list[str] | None) -> list[str]:
    """Repeated and comma-separated option values as one list (blank parts dropped).

    >>> split_values(["cn-nx", "Guangdong,宁夏", " "])
    ['cn-nx', 'Guangdong', '宁夏']
    """
    out: list[str] = []
    for v in values or ():
        out += [p.strip() for p in str(v).replace("，", ",").split(",") if p.strip()]
    return out


def _zh_stem(name: str) -> str:
    for suffix in _ZH_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


class RegionIndex:
    """Region ids with their names, and every spelling that resolves to each id."""

    def __init__(self, regions: pd.DataFrame, source: str) -> None:
        """Index ``regions`` (``region_id``, ``name``, optional ``name_zh``) read from ``source``."""
        ids = regions["region_id"].astype(str)
        self.source = source
        self.names = pd.DataFrame({
            "region_id": ids,
            "region_name": regions.get("name", pd.Series(pd.NA, index=regions.index)).astype("string"),
            "region_name_zh": regions.get("name_zh", pd.Series(pd.NA, index=regions.index)).astype("string"),
        }).reset_index(drop=True)
        self._key: dict[str, str] = {}
        for row in self.names.itertuples(index=False):
            rid = row.region_id
            spellings = [rid, rid.split("-", 1)[-1]]
            spellings += [str(x) for x in (row.region_name, row.region_name_zh) if pd.notna(x)]
            if pd.notna(row.region_name_zh):
                spellings.append(_zh_stem(str(row.region_name_zh)))
            for s in spellings:
                self._key.setdefault(s.casefold(), rid)

    def resolve(self, values: tuple[str, ...] | list[str] | None, known: list[str] | None = None) -> list[str]:
        """Region ids for the values typed (order kept, duplicates dropped).

        Raises:
            GridcastError: a value that names no region (with the closest spellings), or a
                region ``known`` (the run's regions) does not hold.
        """
        out: list[str] = []
        for token in split_values(values):
            key = token.casefold()
            rid = self._key.get(key) or self._key.get(_zh_stem(token).casefold())
            if rid is None and known is not None and token.upper() in known:
                rid = token.upper()
            if rid is None:
                near = difflib.get_close_matches(key, list(self._key), n=3, cutoff=0.6)
                hint = f"; did you mean {', '.join(self._key[n] + ' (' + n + ')' for n in near)}?" if near else ""
                raise GridcastError(
                    f"--region {token!r} names no province (use an id like CN-NX, a code like NX, "
                    f"or the English or Chinese name){hint}"
                )
            if known is not None and rid not in known:
                raise GridcastError(f"region {rid!r} ({token}) is not in this run")
            if rid not in out:
                out.append(rid)
        return out

    def label(self, region_id: str) -> str:
        """``Ningxia 宁夏 (CN-NX)``, or the id alone when the names are unknown."""
        row = self.names.loc[self.names["region_id"] == region_id]
        if region_id == "ALL":
            return f"{NATIONAL_NAMES[0]} {NATIONAL_NAMES[1]}"
        if row.empty:
            return region_id
        en, zh = row["region_name"].iloc[0], row["region_name_zh"].iloc[0]
        parts = [str(x) for x in (en, zh) if pd.notna(x)]
        return f"{' '.join(parts)} ({region_id})" if parts else region_id

    def with_names(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with ``region_name`` and ``region_name_zh`` right after ``region_id`` (ALL = national)."""
        if "region_id" not in frame.columns or "region_name" in frame.columns:
            return frame
        names = pd.concat([self.names, pd.DataFrame({"region_id": ["ALL"], "region_name": [NATIONAL_NAMES[0]],
                                                     "region_name_zh": [NATIONAL_NAMES[1]]})],
                          ignore_index=True).astype({"region_name": "string", "region_name_zh": "string"})
        lookup = names.drop_duplicates("region_id").set_index("region_id")
        ids = frame["region_id"].astype(str)
        out = frame.copy()
        at = list(out.columns).index("region_id") + 1
        out.insert(at, "region_name", lookup["region_name"].reindex(ids).to_numpy())
        out.insert(at + 1, "region_name_zh", lookup["region_name_zh"].reindex(ids).to_numpy())
        return out.astype({"region_name": "string", "region_name_zh": "string"})


def region_index(data_dir: str | Path | None, recorded_sha256: str | None = None) -> RegionIndex:
    """The regions of a run's data folder (if it is there and unchanged), else the shipped ones."""
    for folder in ([Path(data_dir)] if data_dir else []) + [DEFAULT_DATA]:
        path = folder / "regions.csv"
        # a run's own folder only while unchanged since the run (its names may not match the
        # run's ids otherwise); the shipped regions as they are
        blob = read_if_unchanged(path, recorded_sha256 if folder != DEFAULT_DATA else None)
        if blob is None:
            continue
        try:
            frame = pd.read_csv(io.BytesIO(blob), dtype=str, encoding="utf-8-sig")
        except (ValueError, UnicodeDecodeError):
            continue
        if "region_id" in frame.columns:
            return RegionIndex(frame, str(path))
    return RegionIndex(pd.DataFrame({"region_id": pd.Series([], dtype=str)}), "none")
