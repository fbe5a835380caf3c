"""Export every layer a user may read as one GeoPackage (or a folder of GeoParquet files).

For desktop GIS (QGIS, ArcGIS): each layer of the store, base and derived, becomes a layer of
the bundle with its CRS (EPSG:4326); tables without geometry (hot spots of H3 cells, status
history, figures) become attribute tables. Reads go through the data-access layer, so the
bundle holds only what the user's scope allows and every layer read is audited; a layer that
cannot be scoped is left out for a scoped user (and named in the result). Bookkeeping layers
(the audit log, store metadata, accounts) are never exported; the KDE surface is a raster:
``riskmap export kde`` writes it as a GeoTIFF. Tables of H3 cells (hot spots) carry the cell
hexagons as their geometry.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import geopandas as gpd

__all__ = ["EXCLUDED", "BundleResult", "write_bundle"]

#: layers a bundle never holds (bookkeeping, secrets, people's contact details, rasters)
EXCLUDED = frozenset({"audit", "store_meta", "users", "sessions", "login_failures",
                      "api_tokens", "jobs", "ingest_runs", "kde_surface", "review_packs",
                      "roadmaps", "roadmap_measures", "derived_dirty", "derived_state",
                      "study_units"})


@dataclass
class BundleResult:
    """What went into a bundle: rows per layer, and the layers left out with why."""

    path: str
    layers: dict[str, int] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)


def write_bundle(access: Any, out: str | os.PathLike[str], *, fmt: str = "gpkg") -> BundleResult:
    """Write the layers ``access`` may read to ``out`` (``gpkg``: one file; ``parquet``: a
    folder of ``<layer>.parquet``), atomically: to a temporary name, then renamed."""
    if fmt not in ("gpkg", "parquet"):
        raise ValueError(f"format {fmt!r}: expected gpkg or parquet")
    out = Path(out)
    result = BundleResult(path=str(out))
    frames: dict[str, pd.DataFrame] = {}
    for name in sorted(access.store.layer_names()):
        if name in EXCLUDED:
            result.left_out[name] = "not exported (bookkeeping or raster)"
            continue
        try:
            frames[name] = access.read(name, purpose="export")
        except PermissionError as exc:
            result.left_out[name] = f"outside this user's scope ({exc})"
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")  # GDAL wants the .gpkg ending
    _remove(tmp)
    try:
        if fmt == "gpkg":
            tmp.parent.mkdir(parents=True, exist_ok=True)
            for name, frame in frames.items():
                _write_gpkg_layer(_plain(frame), tmp, name)
        else:
            tmp.mkdir(parents=True)
            for name, frame in frames.items():
                _plain(frame).to_parquet(tmp / f"{name}.parquet", index=False)
        _remove(out)
        tmp.replace(out)
    except BaseException:
        _remove(tmp)
        raise
    result.layers = {name: len(frame) for name, frame in frames.items()}
    return result


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns a GIS reads: object columns as text; tables of H3 cells get the hexagons."""
    out = frame.copy()
    if not isinstance(out, gpd.GeoDataFrame) and "h3" in out.columns \
            and pd.api.types.is_integer_dtype(out["h3"]):
        from riskmap.geo.h3index import cell_polygons

        out = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(
            cell_polygons(out["h3"].to_numpy(dtype="int64")), index=out.index, crs=4326))
    for col in out.columns:
        if col == getattr(out, "_geometry_column_name", None):
            continue
        if pd.api.types.is_object_dtype(out[col]):
            out[col] = out[col].astype("string")
    return out


def _write_gpkg_layer(frame: pd.DataFrame, path: Path, name: str) -> None:
    import pyogrio

    append = path.exists()
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns:
        pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG", append=append,
                                promote_to_multi=False)
    else:  # an attribute table
        pyogrio.write_dataframe(pd.DataFrame(frame), path, layer=name, driver="GPKG",
                                append=append)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
