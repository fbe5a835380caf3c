"""Match free-text addresses and mahalla/district/region names to mahallas (the geocoding gazetteer).

The work is split by job: :mod:`riskmap.etl.address` parses an address into tagged runs of
name words, :mod:`riskmap.etl.address_groups` groups the rows of a batch that parse alike,
:mod:`riskmap.etl.place_index` holds the name keys of the mahallas and districts (with
:mod:`riskmap.etl.admin_names` for district and region names and
:mod:`riskmap.etl.place_aliases` for an analyst's aliases), :mod:`riskmap.etl.plain_match`
settles the common "[region,] district, name" groups with array look-ups,
:mod:`riskmap.etl.exact_match` the others by the full rules, :mod:`riskmap.etl.fuzzy_match`
what exact keys miss, and :mod:`riskmap.etl.place_candidates` ranks the places an address
could mean for an analyst.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely

from riskmap.errors import SchemaError
from riskmap.etl.address import parse_address
from riskmap.etl.address_groups import RowGroups, group_rows
from riskmap.etl.exact_match import resolve
from riskmap.etl.fuzzy_match import resolve_fuzzy
from riskmap.etl.place_aliases import read_place_aliases
from riskmap.etl.place_candidates import rank_candidates
from riskmap.etl.place_index import Outcome, Pending, PlaceIndex
from riskmap.etl.plain_match import resolve_plain_groups
from riskmap.geo.points import xy

__all__ = ["MATCH_COLUMNS", "Gazetteer", "parse_address", "read_place_aliases"]

#: Columns of the frame returned by :meth:`Gazetteer.match`, in order.
MATCH_COLUMNS = ("mahalla_id", "district", "region", "precision", "score", "lon", "lat", "reason")


class Gazetteer:
    """Look-up of mahallas and districts by name, for geocoding addresses without coordinates.

    Build it with :meth:`from_mahallas` (or from plain tables with the constructor) and call
    :meth:`match`. Names are compared by key (:func:`etl.translit.mahalla_keys`,
    :func:`etl.translit.name_key`), so Uzbek Latin, Uzbek Cyrillic and Russian spellings of
    one name coincide.

    Parameters
    ----------
    mahallas
        One row per mahalla: mahalla_id, name, name_cyrillic (may be missing), district,
        region, lon, lat (its representative point, EPSG:4326).
    districts
        One row per (region, district): district, region, lon, lat (representative point of
        the union of its mahallas).
    threshold
        Minimum rapidfuzz ``ratio`` (0..100) of a fuzzy mahalla match. A whole name written
        with one typo (one letter replaced, swapped, added or dropped; names of five letters
        or more) is taken below it when no other name of the search scope is as close.
    admin_threshold
        Minimum score (0..100) of a fuzzy district/region match. Lower than ``threshold``:
        the candidates are few (the districts of the named region, else all) and Russian
        forms differ from Uzbek ones in vowels (Термез/Termiz).
    admin_margin
        Points by which the best fuzzy district/region must beat the next distinct name;
        closer candidates leave the district unknown rather than guess.
    aliases
        Place aliases an analyst recorded (see :meth:`with_aliases`), or None.
    """

    def __init__(self, mahallas: pd.DataFrame, districts: pd.DataFrame, *,
                 threshold: float = 88.0, admin_threshold: float = 80.0,
                 admin_margin: float = 10.0, aliases: pd.DataFrame | None = None) -> None:
        self._ix = PlaceIndex(mahallas, districts, threshold=threshold,
                              admin_threshold=admin_threshold, admin_margin=admin_margin,
                              aliases=aliases)
        self.threshold = self._ix.threshold

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_mahallas(cls, mahallas: gpd.GeoDataFrame, *, threshold: float = 88.0,
                      admin_threshold: float = 80.0, admin_margin: float = 10.0,
                      aliases: pd.DataFrame | None = None) -> Gazetteer:
        """Build the gazetteer from the mahallas layer.

        Parameters
        ----------
        mahallas
            Columns mahalla_id, name, district, region, geometry, and optionally
            name_cyrillic. Any CRS (points are reported in EPSG:4326); empty or missing
            geometries give NaN points.
        threshold
            Minimum fuzzy mahalla score (rapidfuzz ``ratio``, 0..100).
        admin_threshold, admin_margin
            Minimum fuzzy district/region score and its lead over the next name (see the
            class).
        aliases
            Place aliases (columns alias, mahalla_id and optionally district, region; see
            :meth:`with_aliases`), or None.

        Returns
        -------
        Gazetteer

        Raises
        ------
        riskmap.errors.SchemaError
            If a required column is missing, or an alias names an unknown mahalla/district.
        """
        required = ["mahalla_id", "name", "district", "region", "geometry"]
        missing = [c for c in required if c not in mahallas.columns]
        if missing:
            raise SchemaError(
                f"mahallas frame lacks column(s) {', '.join(missing)} needed by the gazetteer "
                f"(found: {', '.join(map(str, mahallas.columns))})")
        geoms = gpd.GeoSeries(mahallas.geometry.to_numpy(), crs=mahallas.crs)
        table = pd.DataFrame({
            "mahalla_id": mahallas["mahalla_id"].to_numpy(),
            "name": mahallas["name"].to_numpy(),
            "district": mahallas["district"].fillna("").astype(str).to_numpy(),
            "region": mahallas["region"].fillna("").astype(str).to_numpy(),
        })
        if "name_cyrillic" in mahallas:
            table["name_cyrillic"] = mahallas["name_cyrillic"].to_numpy()
        table["lon"], table["lat"] = _lonlat(shapely.point_on_surface(geoms.to_numpy()),
                                             mahallas.crs)
        groups = table.groupby(["region", "district"], sort=False).indices
        unions = [shapely.union_all(geoms.to_numpy()[idx]) for idx in groups.values()]
        d_lon, d_lat = _lonlat(shapely.point_on_surface(np.array(unions, dtype=object)),
                               mahallas.crs)
        districts = pd.DataFrame({
            "region": [r for r, _ in groups], "district": [d for _, d in groups],
            "lon": d_lon, "lat": d_lat})
        return cls(table, districts, threshold=threshold, admin_threshold=admin_threshold,
                   admin_margin=admin_margin, aliases=aliases)

    def with_aliases(self, aliases: pd.DataFrame) -> Gazetteer:
        """A copy of this gazetteer that also knows the analyst's place aliases.

        An alias is a name, or a whole address, that an analyst tied to a mahalla by hand
        (from a review of unmatched rows). Later loads use it:

        - a row whose whole address (or, without one, its mahalla column) reads as an alias
          (compared after :func:`etl.translit.prepare_text`: script, case, apostrophes and
          punctuation do not matter) goes to the alias's mahalla, before any other rule;
        - a name in the address that matches no official mahalla name exactly is looked up
          among the aliases by key, before fuzzy matching.

        An alias only places a row within the row's recognised region/district (as names
        do), and two aliases of one name in different districts make it ambiguous. An alias
        with an empty mahalla_id and a district places rows at district precision.

        Parameters
        ----------
        aliases
            Columns alias and mahalla_id, optionally district and region (which must agree
            with the mahalla's, or name the district for a district-only alias). Rows with
            an empty alias are refused; see :func:`read_place_aliases` for a file.

        Returns
        -------
        Gazetteer
            A new gazetteer (this one is unchanged); its aliases replace any it had.

        Raises
        ------
        riskmap.errors.SchemaError
            If a column is missing, an alias is empty, or an alias names a mahalla or
            district the gazetteer does not have (or a district that is not the mahalla's).
        """
        index = self._ix.index_aliases(aliases)
        out = copy.copy(self)
        out._ix = copy.copy(self._ix)
        out._ix.aliases = index
        return out

    # ------------------------------------------------------------------ matching

    def match(self, address: pd.Series | None = None, *, mahalla: pd.Series | None = None,
              district: pd.Series | None = None, region: pd.Series | None = None,
              ) -> pd.DataFrame:
        """Match each row to a mahalla (or only a district), never guessing between namesakes.

        Rules: a region or district found in the row (given columns, or words such as
        "shahri", "tumani", "г.", "район", "viloyati" in the address, or a bare district
        name) restricts the mahalla search to it. A marked district or region the keys miss
        is read as a Russian form (Денауский район = Denov tumani, г. Термез = Termiz shahri,
        Сурхандарьинская область = Surxondaryo viloyati; see
        :func:`etl.translit.admin_skeleton`), else fuzzily with ``admin_threshold`` and
        ``admin_margin``, among the districts of the named region if any; "г. Ташкент" /
        "Toshkent shahri" names the region Toshkent shahri.

        Mahalla names are then looked up, names tagged by a type word (MFY, махалля, ...)
        first, by exact key in this order: the name with the settlement/street words after
        it ("махалля Янги шахар"), the full key, the core key (no type words), the variant
        keys (apostrophe dropped, initials dropped; :func:`etl.translit.mahalla_keys`),
        bracketed notes last; then the analyst's aliases; then rapidfuzz ``ratio`` >=
        ``threshold`` (or one typo in a whole name). Several mahallas of one district under
        one key are told apart by the assembly kind written (MFY/QFY/...) and the spelling
        written; a name that exists in several candidate districts leaves the row unmatched
        with reason "ambiguous"; a row where only one district is recognisable gets
        precision "district" at the district's representative point. Streets ("Navoiy
        ko‘chasi", "ул. Навои") and house numbers are ignored. Rows that read alike (the
        same names, differing only in house numbers, punctuation, case or the order of
        their parts) are resolved once; each distinct text is parsed once.

        Parameters
        ----------
        address
            Free text in Uzbek Latin, Uzbek Cyrillic or Russian.
        mahalla, district, region
            Names from their own columns (same index as ``address``).

        Returns
        -------
        pd.DataFrame
            Same index as the inputs; columns mahalla_id, district, region, precision
            ("mahalla" | "district" | <NA>), score (0..100; 0 when nothing matched), lon, lat
            (representative point), reason (<NA> when matched, else "not_found",
            "ambiguous" or "empty").

        Raises
        ------
        ValueError
            If no input is given or the inputs' indexes differ.
        """
        inputs = {"address": address, "mahalla": mahalla, "district": district,
                  "region": region}
        given = {k: v for k, v in inputs.items() if v is not None}
        if not given:
            raise ValueError("match() needs at least one of address, mahalla, district, region")
        index = next(iter(given.values())).index
        for name, ser in given.items():
            if not ser.index.equals(index):
                raise ValueError(f"match(): the index of {name!r} differs from the others")
        groups = group_rows(given, aliases=self._ix.aliases is not None)
        return self._frame(self._resolve(groups), groups.codes, index)

    def _resolve(self, groups: RowGroups) -> list[Outcome]:
        """Each group's outcome: plain groups by array look-ups, the others by the full rules
        (once per distinct reading), then one fuzzy pass for what the exact keys missed."""
        found = resolve_plain_groups(self._ix, groups)
        memo: dict[tuple[object, ...], Outcome | Pending] = {}
        for g in np.flatnonzero([o is None for o in found]).tolist():
            if groups.empty[g]:
                found[g] = Outcome(reason="empty")
                continue
            key = (groups.runs(g), bool(groups.russian[g]), groups.alias_text[g])
            got = memo.get(key)
            if got is None:
                got = memo[key] = resolve(self._ix, list(key[0]), key[1], key[2])
            found[g] = got
        pending = {id(o): o for o in found if isinstance(o, Pending)}
        resolve_fuzzy(self._ix, list(pending.values()))
        done = [o.outcome if isinstance(o, Pending) else o for o in found]
        return [o if o is not None else Outcome(reason="not_found") for o in done]  # (none left)

    def candidates(self, text: str, *, district: str | None = None, region: str | None = None,
                   limit: int = 5) -> pd.DataFrame:
        """Rank every mahalla an address could mean, best first, for a match made by hand.

        The address is read as :meth:`match` reads it: a region or district it names (or
        ``district``/``region``, read as :meth:`match` reads those columns) restricts the
        candidates to it; the remaining name words are compared with every mahalla name of
        that scope (all of them when none is recognised) by rapidfuzz ``ratio`` on their keys
        (full, core, apostrophe-free and initial-free variants, as written; see
        :func:`etl.translit.mahalla_keys`), so an exact key or spelling variant scores 100 and a
        typo a little less. A part of the name (an n-gram of its words) that matches scores
        in proportion to the share of the name it covers. An analyst's alias of the name
        scores 100. Namesakes are all listed, each with its district; nothing is guessed.

        Parameters
        ----------
        text
            The address (or just a name), as in :meth:`match`.
        district, region
            The row's district and region, if known (any script, as in :meth:`match`).
        limit
            At most this many candidates.

        Returns
        -------
        pd.DataFrame
            Columns mahalla_id, name (official), district, region (strings) and score
            (0..100, two decimals), best first (among equal scores: the run tried first by
            :meth:`match`, then the assembly kind and spelling written, then the layer's
            order); empty when no
            name scores at least :data:`riskmap.etl.place_candidates.MIN_CANDIDATE_SCORE`,
            when the text has no name words, or when ``district``/``region`` is given but
            names no known district or region.

        Raises
        ------
        ValueError
            If ``limit`` is negative.

        Examples
        --------
        >>> import geopandas as gpd
        >>> from shapely.geometry import box
        >>> gaz = Gazetteer.from_mahallas(gpd.GeoDataFrame({
        ...     "mahalla_id": ["m1", "m2", "m3"],
        ...     "name": ["Do‘stlik MFY", "Do‘stlik MFY", "Bog‘bon MFY"],
        ...     "district": ["Jizzax shahri", "Zomin tumani", "Zomin tumani"],
        ...     "region": ["Jizzax viloyati"] * 3,
        ...     "geometry": [box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)]}, crs=4326))
        >>> gaz.candidates("Dostlik")[["mahalla_id", "district", "score"]]
          mahalla_id       district  score
        0         m1  Jizzax shahri  100.0
        1         m2   Zomin tumani  100.0
        >>> gaz.candidates("Zomin tumani, Bogbom MFY")[["mahalla_id", "score"]]
          mahalla_id  score
        0         m3   83.33
        >>> len(gaz.candidates("Xyzzy Plugh"))
        0
        """
        return rank_candidates(self._ix, text, district=district, region=region, limit=limit)

    def _frame(self, outcomes: list[Outcome], codes: np.ndarray, index: pd.Index) -> pd.DataFrame:
        """Expand per-group outcomes to the input rows."""
        ix = self._ix
        m = np.array([o.mahalla for o in outcomes], dtype=np.int64)[codes]
        d = np.array([o.district for o in outcomes], dtype=np.int64)[codes]
        is_m, is_d = m >= 0, d >= 0
        lon = np.where(is_m, ix.m_lon[np.maximum(m, 0)], ix.d_lon[np.maximum(d, 0)])
        lat = np.where(is_m, ix.m_lat[np.maximum(m, 0)], ix.d_lat[np.maximum(d, 0)])
        lon[~is_d] = np.nan
        lat[~is_d] = np.nan

        def text(values: np.ndarray, valid: np.ndarray) -> pd.api.extensions.ExtensionArray:
            out = values.astype(object)
            out[~valid] = None
            return pd.array(out, dtype="string")

        ids = ix.ids.take(m, allow_fill=True)
        if not isinstance(ids.dtype, pd.StringDtype):
            ids = pd.array(ids.astype(str), dtype="string").copy()
            ids[~is_m] = pd.NA
        return pd.DataFrame({
            "mahalla_id": ids,
            "district": text(ix.d_name[np.maximum(d, 0)], is_d),
            "region": text(ix.d_region[np.maximum(d, 0)], is_d),
            "precision": text(np.array([o.precision for o in outcomes], dtype=object)[codes],
                              is_d),
            "score": np.array([o.score for o in outcomes], dtype=np.float64)[codes],
            "lon": lon, "lat": lat,
            "reason": pd.array(np.array([o.reason for o in outcomes], dtype=object)[codes],
                               dtype="string"),
        }, index=index)


def _lonlat(points: np.ndarray, crs: object) -> tuple[np.ndarray, np.ndarray]:
    """Longitude/latitude of points (NaN for empty/missing), reprojected to EPSG:4326."""
    ser = gpd.GeoSeries(points, crs=crs)
    if crs is not None and not ser.crs.equals("EPSG:4326"):
        ser = ser.to_crs("EPSG:4326")
    return xy(ser.to_numpy())
