"""Which H3 cells a map draws for what it shows: the resolution the user chose, or a coarser
one where more cells than a map can draw would be in view.

A map of the whole country at resolution 8 is 24,000 hexagons of one or two pixels each: 7 MB
to send and 2.5-4 s for MapLibre to draw in a browser without a GPU, for cells no one can
tell apart. So a map draws at most :data:`MAX_CELLS` cells (``RISKMAP_APP__MAP__MAX_CELLS``):
zoomed out it shows the chosen cells' parents at the finest resolution that keeps within
that, and zooming in brings the chosen resolution back. Zoomed in, only the cells of the view
and half a view around it are drawn (a short pan needs no redraw). The commanders' map keeps
the same cap (:meth:`app.commanders_data.CommandersData.h3_resolution`).

Pure over an :class:`~riskmap.app.data.AppModel` (no request, no figure).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import geopandas as gpd
import shapely

from riskmap.app.data import AppModel, ViewQuery
from riskmap.layers.spec import SRID
from riskmap.settings import MapSettings

__all__ = ["MAX_CELLS", "MIN_RES", "CellView", "cells_for_view", "cells_in_box", "in_view",
           "needs_redraw", "padded", "view_range"]

#: most cells one map draws (the default of ``RISKMAP_APP__MAP__MAX_CELLS``). Measured on the
#: medium demo in headless Chromium (software WebGL, 2 cores), from the answer to the last
#: frame: 2,400 hexagons in 0.7-1.1 s, 7,300 in 2.3 s, 24,000 in 2.4-3.9 s
MAX_CELLS = int(MapSettings.model_fields["max_cells"].default)
#: the coarsest resolution a map falls back to (res 5: ~250 km² cells)
MIN_RES = 5
#: a view's box grown by this share of its size on each side is what is drawn
PAD = 0.5


@dataclass(frozen=True)
class CellView:
    """The cells a map draws.

    Attributes
    ----------
    units
        One row per drawn cell with >= 1 incident (:meth:`AppModel.cell_units`).
    res
        Their resolution.
    chosen
        The resolution the user chose (``res`` is coarser when the view held too many).
    box
        ``(x0, y0, x1, y1)`` the cells were cut to (the view grown by :data:`PAD`), or None:
        the whole selection.
    """

    units: gpd.GeoDataFrame
    res: int
    chosen: int
    box: tuple[float, float, float, float] | None

    @property
    def coarser(self) -> bool:
        """True when the map shows coarser cells than the user chose."""
        return self.res < self.chosen


def view_range(value: Any) -> list[float] | None:
    """``[x0, x1, y0, y1]`` of a view the browser reported (``{"range": [...]}`` or the list
    itself); None for anything that is not four finite numbers within lon/lat bounds with
    some width and height.

    >>> view_range({"range": [67.0, 67.5, 40.0, 40.3]})
    [67.0, 67.5, 40.0, 40.3]
    >>> view_range([67.0, 67.0, 40.0, 40.3]), view_range(["a", 1, 2, 3]), view_range(None)
    (None, None, None)
    """
    rng = value.get("range") if isinstance(value, dict) else value
    if not isinstance(rng, list | tuple) or len(rng) != 4 or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in rng):
        return None
    x0, x1, y0, y1 = (float(v) for v in rng)
    if not all(np.isfinite([x0, x1, y0, y1])):
        return None
    if not (min(x0, x1) >= -540 and max(x0, x1) <= 540 and min(y0, y1) >= -90
            and max(y0, y1) <= 90) or x0 == x1 or y0 == y1:
        return None
    return [min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1)]


def padded(rng: list[float], pad: float = PAD) -> tuple[float, float, float, float]:
    """``(x0, y0, x1, y1)``: the view ``[x0, x1, y0, y1]`` grown by ``pad`` of its size on each
    side.

    >>> padded([0.0, 2.0, 10.0, 11.0])
    (-1.0, 9.5, 3.0, 11.5)
    """
    x0, x1, y0, y1 = rng
    dx, dy = (x1 - x0) * pad, (y1 - y0) * pad
    return x0 - dx, y0 - dy, x1 + dx, y1 + dy


def cells_for_view(model: AppModel, query: ViewQuery, rng: list[float] | None, *,
                   max_cells: int = MAX_CELLS) -> CellView:
    """The cells to draw for ``query`` (an H3 level) in the view ``rng`` (``[x0, x1, y0, y1]``;
    None: the whole selection): at the query's resolution, or at the finest coarser one
    (down to :data:`MIN_RES`) with at most ``max_cells`` cells in the drawn box.

    Cells are counted from their centres (cheap: no polygons are built until the resolution
    is known); a cell whose centre is outside the box lies at least half a view away.
    """
    chosen = query.resolution
    if chosen is None:
        raise ValueError("cells_for_view needs an H3 level")
    box = padded(rng) if rng is not None else None
    for res in range(chosen, MIN_RES - 1, -1):
        frame, (geoms, x, y) = model.cell_counts(query, res)
        keep = slice(None) if box is None else _in_box(x, y, box)
        n = len(frame) if box is None else int(np.count_nonzero(keep))
        if n <= max_cells or res == MIN_RES:
            break
    frame = frame[keep].reset_index(drop=True) if box is not None else frame
    units = gpd.GeoDataFrame(frame, geometry=geoms[keep], crs=f"EPSG:{SRID}")
    units["x"], units["y"] = x[keep], y[keep]
    return CellView(units=units, res=res, chosen=chosen, box=box)


def cells_in_box(model: AppModel, query: ViewQuery, res: int,
                 box: tuple[float, float, float, float]) -> int:
    """How many cells at ``res`` with incidents of ``query`` have their centres in ``box``."""
    _, (_, x, y) = model.cell_counts(query, res)
    return int(np.count_nonzero(_in_box(x, y, box)))


def _in_box(x: np.ndarray, y: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    return (x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3])


def in_view(cells: CellView, rng: list[float] | None) -> np.ndarray:
    """Which drawn cells show in the view ``rng``, at least in part (all of them: None)."""
    geoms = cells.units.geometry.to_numpy()
    if rng is None:
        return np.ones(len(geoms), dtype=bool)
    return shapely.intersects(geoms, shapely.box(rng[0], rng[2], rng[1], rng[3]))


def needs_redraw(drawn: dict[str, Any] | None, rng: list[float], chosen: int,
                 max_cells: int = MAX_CELLS, *, count: Any = None) -> bool:
    """Whether a map that drew ``drawn`` (``{"range": ..., "res": ...}``, what the last answer
    kept) must be drawn again now that it shows ``rng``: it left the drawn box, or it drew
    coarser cells than ``chosen`` and the new view may hold few enough to show finer ones
    (``count(res, box)`` gives the cells in a box; None: assume it may).

    >>> needs_redraw({"range": [0.0, 2.0, 0.0, 2.0], "res": 8}, [0.5, 1.5, 0.5, 1.5], 8)
    False
    >>> needs_redraw({"range": [0.0, 2.0, 0.0, 2.0], "res": 8}, [2.5, 3.5, 0.5, 1.5], 8)
    True
    >>> needs_redraw({"range": None, "res": 6}, [0.5, 1.5, 0.5, 1.5], 8)
    True
    """
    if not isinstance(drawn, dict):
        return True
    res = drawn.get("res")
    if not isinstance(res, int) or isinstance(res, bool) or res > chosen:
        return True
    old = view_range(drawn.get("range"))
    if old is not None:
        bx0, by0, bx1, by1 = padded(old)
        if not (rng[0] >= bx0 and rng[1] <= bx1 and rng[2] >= by0 and rng[3] <= by1):
            return True
    if res < chosen:  # zoomed in far enough for finer cells?
        if count is None:
            return True
        return bool(count(res + 1, padded(rng)) <= max_cells)
    return False
