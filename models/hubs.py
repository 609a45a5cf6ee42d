"""Hub assignment by great-circle distance (docs/methodology.md section 3.2)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.neighbors import BallTree

__all__ = ["ASSIGNMENTS", "EARTH_RADIUS_KM", "nearest_hub", "assign_hubs"]

#: How a centre got its hub, in the order of the ``assignment`` column's categories.
ASSIGNMENTS = ("declared", "nearest", "none")

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG); docs/methodology.md section 4.3


def nearest_hub(centers: pd.DataFrame, hubs: pd.DataFrame) -> pd.DataFrame:
    """Nearest hub node of every centre with coordinates.

    Args:
        centers: ``center_id``, ``lat``, ``lon`` (degrees; NaN = no coordinates).
        hubs: ``hub_id``, ``lat``, ``lon`` (degrees).

    Returns:
        A new frame indexed like ``centers`` with ``nearest_hub_id`` (NA when the
        centre has no coordinates or there are no hubs) and ``nearest_hub_km``
        (great-circle distance in km, +inf when there is no nearest hub).
    """
    n = len(centers)
    hub_ids = np.full(n, None, dtype=object)
    dist_km = np.full(n, np.inf)
    lat = centers["lat"].to_numpy(dtype=float, na_value=np.nan)
    lon = centers["lon"].to_numpy(dtype=float, na_value=np.nan)
    has_xy = np.isfinite(lat) & np.isfinite(lon)
    if len(hubs) and has_xy.any():
        hub_xy = np.radians(hubs[["lat", "lon"]].to_numpy(dtype=float))
        tree = BallTree(hub_xy, metric="haversine")
        dist_rad, idx = tree.query(np.radians(np.column_stack([lat, lon])[has_xy]), k=1)
        dist_km[has_xy] = dist_rad[:, 0] * EARTH_RADIUS_KM
        hub_ids[has_xy] = hubs["hub_id"].to_numpy(dtype=object)[idx[:, 0]]
    return pd.DataFrame(
        {"nearest_hub_id": pd.array(hub_ids, dtype="string"), "nearest_hub_km": dist_km},
        index=centers.index,
    )


def assign_hubs(
    centers: pd.DataFrame, hubs: pd.DataFrame, radius_km: float, near: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Hub of every centre: its own ``hub_id``, else the nearest hub within the radius.

    Args:
        centers: ``center_id``, ``hub_id`` (NA allowed), ``lat``, ``lon``.
        hubs: ``hub_id``, ``lat``, ``lon``.
        radius_km: a centre joins its nearest hub if ``distance <= radius_km``.
        near: :func:`nearest_hub` of ``centers`` if already computed.

    Returns:
        New frame: ``center_id``, ``assigned_hub_id`` (NA = no hub), ``hub_distance_km``
        (NaN for centres keeping their own ``hub_id``), ``assignment``
        (``declared``, ``nearest`` or ``none``).
    """
    near = nearest_hub(centers, hubs) if near is None else near
    declared = centers["hub_id"].notna().to_numpy()
    within = near["nearest_hub_km"].to_numpy() <= radius_km
    # Categoricals throughout: at 1M centres a column of strings per call costs ~60 MB each.
    own = pd.Categorical(centers["hub_id"])
    nearest = pd.Categorical(near["nearest_hub_id"])
    names = own.categories.union(nearest.categories)
    own_codes, nearest_codes = own.set_categories(names).codes, nearest.set_categories(names).codes
    codes = np.where(declared, own_codes, np.where(within, nearest_codes, -1))
    how = np.where(declared, 0, np.where(within, 1, 2)).astype(np.int8)
    return pd.DataFrame(
        {
            "center_id": centers["center_id"].array,  # the centres' own column, not a copy
            "assigned_hub_id": pd.Categorical.from_codes(codes, categories=names),
            "hub_distance_km": np.where(declared, np.nan, near["nearest_hub_km"].to_numpy()),
            "assignment": pd.Categorical.from_codes(how, categories=ASSIGNMENTS),
        }
    )
