"""Analyst place aliases for the gazetteer: read the alias file, check and index the rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from riskmap.errors import InputFileError, MissingColumnError, SchemaError
from riskmap.etl.address import text_key
from riskmap.etl.admin_names import key_index
from riskmap.etl.translit import mahalla_keys, name_key

__all__ = ["PlaceAliases", "index_aliases", "read_place_aliases"]


@dataclass(frozen=True)
class PlaceAliases:
    """Analyst aliases: whole-text key -> targets and name key -> targets.

    A target is a mahalla position (>= 0) or, for a district-only alias, -1 - district.
    """

    texts: dict[str, frozenset[int]]
    names: dict[str, frozenset[int]]



def read_place_aliases(path: str | Path) -> pd.DataFrame:
    """Read a place-alias file: UTF-8 CSV with alias, mahalla_id and optional district, region.

    Parameters
    ----------
    path
        The CSV file (a header row; extra columns are kept and ignored by the gazetteer).

    Returns
    -------
    pd.DataFrame
        The rows as strings (missing cells as <NA>), ready for :meth:`Gazetteer.with_aliases`.

    Raises
    ------
    riskmap.errors.MissingColumnError
        If the alias or mahalla_id column is missing.
    riskmap.errors.InputFileError
        If a row has an empty alias, or neither a mahalla_id nor a district.
    """
    frame = pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""],
                        encoding="utf-8-sig")
    frame.columns = [str(c).strip() for c in frame.columns]
    for col in ("alias", "mahalla_id"):
        if col not in frame.columns:
            raise MissingColumnError(path, col, list(frame.columns))
    for i, row in enumerate(frame.itertuples(index=False), start=2):
        values = row._asdict()
        if pd.isna(values["alias"]) or not str(values["alias"]).strip():
            raise InputFileError(path, "empty alias", row=i, column="alias")
        if pd.isna(values["mahalla_id"]) and pd.isna(values.get("district", pd.NA)):
            raise InputFileError(path, "neither a mahalla_id nor a district", row=i,
                                 column="mahalla_id")
    return frame


def index_aliases(aliases: pd.DataFrame, *, mahalla_ids: Sequence[str],
                  m_district: Sequence[int], d_name: np.ndarray, d_region: np.ndarray,
                  ) -> PlaceAliases:
    """Check the alias rows against the places and index them by text and by name key.

    Parameters
    ----------
    aliases
        Columns alias and mahalla_id, optionally district and region.
    mahalla_ids
        The mahalla ids, by position (as strings).
    m_district
        The district position of each mahalla.
    d_name, d_region
        The name and region of each district, by position.

    Raises
    ------
    riskmap.errors.SchemaError
        If a column is missing, an alias is empty, or an alias names a mahalla or district
        the places do not have (or a district that is not the mahalla's).
    """
    missing = [c for c in ("alias", "mahalla_id") if c not in aliases.columns]
    if missing:
        raise SchemaError(
            f"place aliases lack column(s) {', '.join(missing)} (found: "
            f"{', '.join(map(str, aliases.columns)) or 'none'})")
    by_id = {str(m): i for i, m in enumerate(mahalla_ids)}

    def cell(row: pd.Series, col: str) -> str:
        value = row.get(col)
        return "" if value is None or pd.isna(value) else str(value).strip()

    def target(n: int, mid: str, district: str, region: str) -> int:
        """Mahalla position of an alias row (>= 0), or -1 - district for a district alias."""
        if mid:
            if mid not in by_id:
                raise SchemaError(f"place alias row {n}: mahalla_id {mid!r} is not in the "
                                  "mahallas layer")
            p = by_id[mid]
            d = m_district[p]
            if district and name_key(district) != name_key(d_name[d]):
                raise SchemaError(
                    f"place alias row {n}: mahalla {mid!r} is in {d_name[d]!r}, not in "
                    f"district {district!r}")
            if region and name_key(region) != name_key(d_region[d]):
                raise SchemaError(
                    f"place alias row {n}: mahalla {mid!r} is in {d_region[d]!r}, not in "
                    f"region {region!r}")
            return p
        hits = [i for i, (r, d) in enumerate(zip(d_region, d_name, strict=True))
                if district and name_key(d) == name_key(district)
                and (not region or name_key(r) == name_key(region))]
        if len(hits) != 1:
            raise SchemaError(
                f"place alias row {n}: no mahalla_id, and district {district!r} (region "
                f"{region!r}) names {len(hits)} districts of the mahallas layer, not one")
        return -1 - hits[0]

    texts: list[tuple[str, int]] = []
    names: list[tuple[str, int]] = []
    for n, (_, row) in enumerate(aliases.iterrows(), start=1):
        alias, mid = cell(row, "alias"), cell(row, "mahalla_id")
        district, region = cell(row, "district"), cell(row, "region")
        if not alias:
            raise SchemaError(f"place alias row {n}: the alias is empty")
        t = target(n, mid, district, region)
        texts.append((text_key(alias), t))
        k = mahalla_keys(alias)
        names += [(k.full, t), (k.core, t)]
    return PlaceAliases(key_index(texts), key_index(names))
