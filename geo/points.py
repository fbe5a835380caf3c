"""Point geometries to coordinate arrays, holding on empty and missing points."""

from __future__ import annotations

import numpy as np

import shapely

__all__ = ["xy"]


def xy(geoms: object) -> tuple[np.ndarray, np.ndarray]:
    """x and y of each point as float arrays; NaN where the point is empty or missing.

    GEOS 3.13 and newer refuse the coordinates of an empty point (``getX called on empty
    Point``); incidents placed by address are stored with empty points, so every reader of
    point coordinates goes through here. Non-point geometries give NaN, as in
    :func:`shapely.get_x`. The input is copied, never written to: arrays handed out by pandas 3
    and Arrow may be read-only.

    Examples
    --------
    >>> x, y = xy([shapely.Point(1, 2), shapely.Point(), None])
    >>> x.tolist(), y.tolist()
    ([1.0, nan, nan], [2.0, nan, nan])
    >>> [a.tolist() for a in xy(np.array([], dtype=object))]
    [[], []]
    """
    arr = np.array(geoms, dtype=object).reshape(-1)
    if len(arr) == 0:
        return np.empty(0, dtype="float64"), np.empty(0, dtype="float64")
    arr[shapely.is_empty(arr)] = None
    return (shapely.get_x(arr).astype("float64", copy=False),
            shapely.get_y(arr).astype("float64", copy=False))
