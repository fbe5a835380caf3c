"""Find a mahalla by name on the commanders' map: Latin, Cyrillic or Russian, misspelt or not.

:class:`MahallaSearch` wraps the geocoder's gazetteer (:meth:`riskmap.etl.gazetteer.Gazetteer.
candidates`, which compares name keys from :mod:`riskmap.etl.translit`, so "Do'stlik",
"Дўстлик" and "Дустлик" coincide and a typo still scores high) over the mahallas it is given:
the caller gives only the user's scope, so nothing else can be found. While a name is typed
its start is matched too: the query's :func:`~riskmap.etl.translit.name_key` against the
start of each name's key (same keys, no second matcher).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely

from riskmap.etl.gazetteer import Gazetteer
from riskmap.etl.translit import name_key, name_keys

__all__ = ["MAX_QUERY", "MahallaSearch"]

#: longer queries are cut to this many characters
MAX_QUERY = 100
_COLUMNS = ["mahalla_id", "name", "name_cyrillic", "district", "region"]


class MahallaSearch:
    """Search over the given mahallas (the user's scope) by any spelling of their names.

    Parameters
    ----------
    mahallas
        Columns mahalla_id, name, district, region, geometry (EPSG:4326) and optionally
        name_cyrillic.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> s = MahallaSearch(gpd.GeoDataFrame({
    ...     "mahalla_id": ["m1", "m2"], "name": ["Do'stlik", "Navro'z"],
    ...     "district": ["Zomin tumani"] * 2, "region": ["Jizzax viloyati"] * 2,
    ...     "geometry": [box(0, 0, 1, 1), box(1, 0, 2, 1)]}, crs=4326))
    >>> s.find("Дустлик")["mahalla_id"].tolist(), s.find("нав")["mahalla_id"].tolist()
    (['m1'], ['m2'])
    >>> len(s.find("")), len(s.find("Xyzzy"))
    (0, 0)
    """

    def __init__(self, mahallas: gpd.GeoDataFrame) -> None:
        m = mahallas.reset_index(drop=True)
        table = pd.DataFrame({c: (m[c].astype(object) if c in m else None) for c in _COLUMNS})
        table["mahalla_id"] = table["mahalla_id"].astype(str)
        self.table = table.set_index("mahalla_id", drop=False)
        self.bounds = pd.DataFrame(shapely.bounds(m.geometry.to_numpy()) if len(m)
                                   else np.empty((0, 4)),
                                   columns=["x0", "y0", "x1", "y1"], index=self.table.index)
        self._gaz = Gazetteer.from_mahallas(m) if len(m) else None
        self._keys = name_keys(table["name"]).to_numpy(dtype=object)
        self._keys_cyr = name_keys(table["name_cyrillic"]).to_numpy(dtype=object)

    def __len__(self) -> int:
        return len(self.table)

    def find(self, text: str | None, *, limit: int = 10) -> pd.DataFrame:
        """The mahallas ``text`` may name, best first.

        The gazetteer's candidates (score 0..100) come first; names whose key starts with the
        query's key (two letters or more) follow with score 0, by name.

        Returns
        -------
        pandas.DataFrame
            Columns mahalla_id, name, name_cyrillic, district, region, score; empty for an
            empty or non-text query.
        """
        out = self.table.iloc[:0].assign(score=[])
        if not isinstance(text, str) or not text.strip() or self._gaz is None or limit <= 0:
            return out.reset_index(drop=True)
        text = text.strip()[:MAX_QUERY]
        found = self._gaz.candidates(text, limit=limit)
        ids_ = [str(i) for i in found["mahalla_id"]]
        scores = dict(zip(ids_, found["score"].astype(float), strict=True))
        key = name_key(text)
        if len(key) >= 2 and len(ids_) < limit:
            starts = np.array([k.startswith(key) for k in self._keys], dtype=bool) | np.array(
                [bool(k) and k.startswith(key) for k in self._keys_cyr], dtype=bool)
            more = self.table[starts & ~self.table.index.isin(ids_)]
            more = more.sort_values("name", kind="stable")
            ids_ += more.index.tolist()[:limit - len(ids_)]
        out = self.table.loc[ids_].copy()
        out["score"] = [scores.get(i, 0.0) for i in ids_]
        return out.reset_index(drop=True)

    def zoom_box(self, mahalla_id: str, *, pad: float = 1.0,
                 min_span: float = 0.005) -> list[float] | None:
        """``[x0, x1, y0, y1]`` around the mahalla (``2 * pad`` times its size, at least
        ``min_span`` degrees wide), or ``None`` for an id outside the search.

        Examples
        --------
        >>> from shapely.geometry import box
        >>> s = MahallaSearch(gpd.GeoDataFrame({"mahalla_id": ["m1"], "name": ["A"],
        ...     "district": ["D"], "region": ["R"], "geometry": [box(0, 0, 0.1, 0.1)]}, crs=4326))
        >>> s.zoom_box("m1"), s.zoom_box("other")
        ([-0.05, 0.15, -0.05, 0.15], None)
        """
        if mahalla_id not in self.bounds.index:
            return None
        x0, y0, x1, y1 = (float(v) for v in self.bounds.loc[mahalla_id])
        if not all(np.isfinite([x0, y0, x1, y1])):
            return None
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        half = max(max(x1 - x0, y1 - y0) * pad, min_span / 2)
        return [round(cx - half, 6), round(cx + half, 6), round(cy - half, 6),
                round(cy + half, 6)]
