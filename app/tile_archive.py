"""Map tiles from a ministry's offline tile file, so the web app serves its base map locally.

A ministry without internet access on its network keeps its base map in one file: an extract of
OpenStreetMap built with e.g. planetiler, tilemaker or tippecanoe, as an MBTiles (SQLite)
archive, or as a PMTiles (version 3) archive (built directly, or converted from MBTiles with
``pmtiles convert``). :class:`TileArchive` opens such a file, tells what it holds (vector or
raster tiles, zoom range, bounds, vector layers, attribution) and returns its tiles by
``z/x/y`` in the XYZ scheme of web maps; the app serves the bytes as they are stored, with the
media type and the ``Content-Encoding`` of :class:`Tile`. Nothing is fetched from the internet.

This module is I/O at the edge only: it reads the file and knows nothing of Flask or the store.
One :class:`TileArchive` may be shared by the threads that serve requests (reads are locked).
"""

from __future__ import annotations

import json
import math
import mmap
import operator
import os
import sqlite3
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Protocol

from pmtiles.reader import MemorySource, Reader
from pmtiles.tile import Compression

__all__ = ["MEDIA_TYPES", "Tile", "TileArchive", "TileArchiveError"]

#: media type of the tiles of each format
MEDIA_TYPES: dict[str, str] = {
    "pbf": "application/x-protobuf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "webp": "image/webp",
}

#: the highest zoom asked for (PMTiles tile ids end at 31; no base map comes near it)
_MAX_ZOOM = 31

_SQLITE_MAGIC = b"SQLite format 3\x00"
_PMTILES_MAGIC = b"PMTiles"
_GZIP_MAGIC = b"\x1f\x8b"
#: the PMTiles header's length in bytes (version 3)
_PMTILES_HEADER_LENGTH = 127

#: names of the MBTiles ``format`` metadata, to the format of :class:`TileArchive`
_MBTILES_FORMATS = {"pbf": "pbf", "mvt": "pbf", "png": "png", "jpg": "jpg", "jpeg": "jpg",
                    "webp": "webp"}
#: the PMTiles header's ``tile_type`` (by name) to the format of :class:`TileArchive`
_PMTILES_FORMATS = {"MVT": "pbf", "PNG": "png", "JPEG": "jpg", "WEBP": "webp"}

#: the encoding of a source whose tiles are each looked at (1f 8b: gzip)
_PER_TILE = "per-tile"


class TileArchiveError(ValueError):
    """The tile file cannot be read: missing, not a tile archive, or of an unsupported kind."""


@dataclass(frozen=True)
class Tile:
    """One tile as stored in the archive.

    Attributes
    ----------
    data : bytes
        The stored bytes, unchanged (still compressed when ``encoding`` says so).
    media_type : str
        ``application/x-protobuf`` (vector), ``image/png``, ``image/jpeg`` or ``image/webp``.
    encoding : str or None
        ``"gzip"`` when ``data`` is gzip-compressed (vector tiles usually are): the
        ``Content-Encoding`` to serve it with; None when it is not compressed.
    """

    data: bytes
    media_type: str
    encoding: str | None


class _Source(Protocol):
    """The reads of one kind of archive; :class:`TileArchive` locks around them."""

    def read(self, z: int, x: int, y: int) -> bytes | None:
        """The stored bytes of tile ``z/x/y`` (XYZ scheme), None when absent."""
        ...

    def close(self) -> None:
        """Release the file."""
        ...


class TileArchive:
    """An open MBTiles or PMTiles archive; open one with :meth:`open`.

    Attributes
    ----------
    path : Path
        The archive's file.
    format : str
        Format of the tiles: ``"pbf"`` (Mapbox vector tiles), ``"png"``, ``"jpg"`` or ``"webp"``.
    kind : str
        ``"vector"`` for ``pbf`` tiles, else ``"raster"``.
    minzoom, maxzoom : int
        The zoom levels the archive holds tiles for (0 and 0 for an MBTiles file with no tiles
        and no zoom metadata).
    bounds : tuple of float or None
        ``(west, south, east, north)`` in degrees of longitude and latitude; None when the
        archive does not say.
    vector_layers : list of str
        Ids of the vector layers named in the metadata; empty for raster tiles.
    attribution : str or None
        The attribution to show on the map (HTML, as the tile builders write it).
    name : str or None
        The archive's name in its metadata.
    """

    path: Path
    format: str
    kind: str
    minzoom: int
    maxzoom: int
    bounds: tuple[float, float, float, float] | None
    vector_layers: list[str]
    attribution: str | None
    name: str | None

    def __init__(self, path: Path, source: _Source, *, format: str, minzoom: int, maxzoom: int,
                 bounds: tuple[float, float, float, float] | None, vector_layers: list[str],
                 attribution: str | None, name: str | None, encoding: str | None) -> None:
        """Wrap an open ``source``; :meth:`open` is the way to get one.

        Parameters
        ----------
        path : Path
            The archive's file.
        source : _Source
            The reads of the archive's kind.
        format, minzoom, maxzoom, bounds, vector_layers, attribution, name
            As the attributes of the class.
        encoding : str or None
            The encoding of every tile, or ``"per-tile"``: each tile's own first bytes tell.
        """
        if format not in MEDIA_TYPES:
            raise TileArchiveError(f"{path}: tile format {format!r} is not supported")
        self.path = path
        self.format = format
        self.kind = "vector" if format == "pbf" else "raster"
        self.minzoom = minzoom
        self.maxzoom = maxzoom
        self.bounds = bounds
        self.vector_layers = list(vector_layers) if self.kind == "vector" else []
        self.attribution = attribution
        self.name = name
        self._source = source
        self._encoding = encoding
        self._media_type = MEDIA_TYPES[format]
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> TileArchive:
        """Open the tile archive at ``path``, telling MBTiles from PMTiles by its first bytes.

        Parameters
        ----------
        path : str or os.PathLike
            An MBTiles (SQLite) or PMTiles (version 3) file, whatever its suffix.

        Returns
        -------
        TileArchive
            The open archive; close it with :meth:`close` (or use it as a context manager).

        Raises
        ------
        TileArchiveError
            The file is missing or unreadable, is neither MBTiles nor PMTiles, or holds tiles
            this module cannot serve (an unknown format, PMTiles compressed with brotli or zstd).
        """
        path = Path(path)
        try:
            with path.open("rb") as f:
                head = f.read(len(_SQLITE_MAGIC))
        except FileNotFoundError:
            raise TileArchiveError(f"{path}: no such tile file") from None
        except OSError as exc:
            raise TileArchiveError(f"{path}: cannot read the tile file: "
                                   f"{exc.strerror or exc}") from None
        if head == _SQLITE_MAGIC:
            return _open_mbtiles(path)
        if head.startswith(_PMTILES_MAGIC) and len(head) > len(_PMTILES_MAGIC):
            version = head[len(_PMTILES_MAGIC)]
            if version != 3:
                raise TileArchiveError(f"{path}: PMTiles version {version} is not supported "
                                       "(only version 3: rebuild it with `pmtiles convert`)")
            return _open_pmtiles(path)
        raise TileArchiveError(f"{path}: not an MBTiles or PMTiles file")

    def get(self, z: int, x: int, y: int) -> Tile | None:
        """The tile at zoom ``z``, column ``x`` and row ``y`` (XYZ scheme: row 0 in the north).

        Parameters
        ----------
        z, x, y : int
            The tile's address, as in a web map's ``{z}/{x}/{y}`` URL.

        Returns
        -------
        Tile or None
            The stored tile; None when the archive has no tile there, or when the address is
            not one (not integers, negative, ``x`` or ``y`` beyond ``2**z - 1``, ``z`` > 31).

        Raises
        ------
        TileArchiveError
            The archive is closed, or the file could not be read.
        """
        try:
            z, x, y = operator.index(z), operator.index(x), operator.index(y)
        except TypeError:
            return None
        if not (0 <= z <= _MAX_ZOOM and 0 <= x < 1 << z and 0 <= y < 1 << z):
            return None
        with self._lock:
            if self._closed:
                raise TileArchiveError(f"{self.path}: the tile archive is closed")
            try:
                data = self._source.read(z, x, y)
            except (sqlite3.Error, OSError, ValueError, EOFError, IndexError, zlib.error) as exc:
                raise TileArchiveError(f"{self.path}: cannot read tile {z}/{x}/{y}: "
                                       f"{exc}") from exc
        if data is None:
            return None
        encoding = self._encoding
        if encoding == _PER_TILE:
            encoding = "gzip" if data[:2] == _GZIP_MAGIC else None
        return Tile(data=data, media_type=self._media_type, encoding=encoding)

    def close(self) -> None:
        """Release the file; a second call does nothing, :meth:`get` then raises."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._source.close()

    def __enter__(self) -> TileArchive:
        """The archive itself; it is closed on leaving the ``with`` block."""
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Close the archive."""
        self.close()

    def __repr__(self) -> str:
        """The file, the kind and format of its tiles and its zoom range."""
        return (f"TileArchive({str(self.path)!r}, {self.kind} {self.format}, "
                f"z{self.minzoom}-{self.maxzoom})")


# ---- MBTiles ----------------------------------------------------------------------------------


class _MBTilesSource:
    """Tiles of an MBTiles file: SQLite, rows in the TMS scheme (row 0 in the south)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def read(self, z: int, x: int, y: int) -> bytes | None:
        """The stored bytes of tile ``z/x/y`` (XYZ), None when absent."""
        row = self._connection.execute(
            "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? "
            "AND tile_row = ?", ((z, x, (1 << z) - 1 - y))).fetchone()
        return _as_bytes(row[0]) if row is not None else None

    def close(self) -> None:
        """Close the SQLite connection."""
        self._connection.close()


def _as_bytes(value: Any) -> bytes | None:
    """A stored tile as bytes (SQLite may hold it as text); None for NULL."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    return bytes(value)


def _open_mbtiles(path: Path) -> TileArchive:
    """Open the MBTiles file ``path`` read-only and read its metadata."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
    except sqlite3.Error as exc:
        raise TileArchiveError(f"{path}: cannot open the MBTiles file: {exc}") from None
    try:
        return _read_mbtiles(path, connection)
    except sqlite3.Error as exc:
        connection.close()
        raise TileArchiveError(f"{path}: not a readable MBTiles file: {exc}") from None
    except BaseException:
        connection.close()
        raise


def _read_mbtiles(path: Path, connection: sqlite3.Connection) -> TileArchive:
    """The archive over the open ``connection``: metadata read, format sniffed when missing."""
    tables = {name for (name,) in connection.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    if "tiles" not in tables:
        raise TileArchiveError(f"{path}: an SQLite file without a tiles table, "
                               "not an MBTiles file")
    meta: dict[str, str] = {}
    if "metadata" in tables:
        for key, value in connection.execute("SELECT name, value FROM metadata"):
            if isinstance(key, str) and value is not None:
                meta[key.strip().lower()] = str(value)

    stated = meta.get("format", "").strip().lower()
    if stated:
        if stated not in _MBTILES_FORMATS:
            raise TileArchiveError(f"{path}: tile format {stated!r} is not supported "
                                   "(pbf, png, jpg or webp)")
        format = _MBTILES_FORMATS[stated]
    else:
        row = connection.execute(
            "SELECT tile_data FROM tiles WHERE length(tile_data) > 0 LIMIT 1").fetchone()
        first = _as_bytes(row[0]) if row is not None else None
        sniffed = _sniff_format(first) if first else None
        if sniffed is None:
            what = "no tiles" if first is None else "tiles of an unknown format"
            raise TileArchiveError(f"{path}: no format in the metadata and {what}")
        format = sniffed

    minzoom, maxzoom = _int_or_none(meta.get("minzoom")), _int_or_none(meta.get("maxzoom"))
    if minzoom is None or maxzoom is None:
        low, high = connection.execute(
            "SELECT MIN(zoom_level), MAX(zoom_level) FROM tiles").fetchone()
        minzoom = minzoom if minzoom is not None else int(low or 0)
        maxzoom = maxzoom if maxzoom is not None else int(high or 0)

    return TileArchive(
        path, _MBTilesSource(connection), format=format, minzoom=minzoom, maxzoom=maxzoom,
        bounds=_parse_bounds(meta.get("bounds")),
        vector_layers=_layer_ids(_json_or_none(meta.get("json"))),
        attribution=meta.get("attribution") or None, name=meta.get("name") or None,
        encoding=_PER_TILE)


def _sniff_format(data: bytes) -> str | None:
    """The format of one tile's bytes: gzip or raw protobuf -> pbf, else by the image magic."""
    if data[:2] == _GZIP_MAGIC:
        return "pbf"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:3] == b"\xff\xd8\xff":
        return "jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:1] == b"\x1a":  # field 3 (layers), length-delimited: a Mapbox vector tile
        return "pbf"
    return None


def _int_or_none(value: str | None) -> int | None:
    """A zoom level from metadata text (``"14"``, ``"14.0"``); None when missing or not one."""
    try:
        number = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return int(number) if math.isfinite(number) and number == int(number) else None


def _parse_bounds(value: str | None) -> tuple[float, float, float, float] | None:
    """``"w,s,e,n"`` as four floats; None when missing or not four finite numbers."""
    if not value:
        return None
    try:
        parts = [float(p) for p in value.split(",")]
    except ValueError:
        return None
    if len(parts) != 4 or not all(math.isfinite(p) for p in parts):
        return None
    return parts[0], parts[1], parts[2], parts[3]


def _json_or_none(value: str | None) -> Any:
    """The metadata's ``json`` text parsed; None when missing or not JSON."""
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _layer_ids(meta: Any) -> list[str]:
    """Ids of the ``vector_layers`` of a metadata object; those without an id are left out."""
    layers = meta.get("vector_layers") if isinstance(meta, dict) else None
    if not isinstance(layers, list):
        return []
    return [layer["id"] for layer in layers
            if isinstance(layer, dict) and isinstance(layer.get("id"), str)]


# ---- PMTiles ----------------------------------------------------------------------------------


class _PMTilesSource:
    """Tiles of a PMTiles (v3) file, read by the ``pmtiles`` package over a memory map."""

    def __init__(self, file: BinaryIO, mapping: mmap.mmap, reader: Any) -> None:
        self._file = file
        self._mapping = mapping
        self._reader = reader

    def read(self, z: int, x: int, y: int) -> bytes | None:
        """The stored bytes of tile ``z/x/y`` (PMTiles is XYZ already), None when absent."""
        data = self._reader.get(z, x, y)
        return bytes(data) if data is not None else None

    def close(self) -> None:
        """Unmap and close the file."""
        try:
            self._mapping.close()
        finally:
            self._file.close()


def _open_pmtiles(path: Path) -> TileArchive:
    """Open the PMTiles (v3) file ``path`` and read its header and metadata."""
    file = path.open("rb")
    try:
        if os.fstat(file.fileno()).st_size < _PMTILES_HEADER_LENGTH:
            raise TileArchiveError(f"{path}: a truncated PMTiles file (no full header)")
        mapping = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    except BaseException:
        file.close()
        raise
    try:
        # MemorySource over the map reads as pmtiles' MmapSource does, and lets close() unmap
        reader = Reader(MemorySource(mapping))
        try:
            header = reader.header()
        except Exception as exc:
            raise TileArchiveError(f"{path}: a damaged PMTiles header: {exc!r}") from None
        _check_pmtiles_compression(path, header)
        format = _PMTILES_FORMATS.get(header["tile_type"].name)
        if format is None:
            raise TileArchiveError(f"{path}: PMTiles tile type {header['tile_type'].name} is "
                                   "not supported (MVT, PNG, JPEG or WEBP)")
        try:
            meta = reader.metadata()
        except Exception:  # damaged metadata: the tiles are still served, unnamed
            meta = {}
        meta = meta if isinstance(meta, dict) else {}
        layers = _layer_ids(meta) or _layer_ids(_nested_json(meta.get("json")))
        compression = header["tile_compression"]
        encoding = ("gzip" if compression == Compression.GZIP
                    else None if compression == Compression.NONE else _PER_TILE)
        return TileArchive(
            path, _PMTilesSource(file, mapping, reader), format=format,
            minzoom=int(header["min_zoom"]), maxzoom=int(header["max_zoom"]),
            bounds=_pmtiles_bounds(header), vector_layers=layers,
            attribution=_text_or_none(meta.get("attribution")),
            name=_text_or_none(meta.get("name")), encoding=encoding)
    except BaseException:
        mapping.close()
        file.close()
        raise


def _check_pmtiles_compression(path: Path, header: Any) -> None:
    """Refuse what cannot be read here: directories not gzip'd, tiles brotli- or zstd-packed."""
    internal = header["internal_compression"]
    if internal != Compression.GZIP:
        raise TileArchiveError(f"{path}: PMTiles internal compression {internal.name.lower()} "
                               "is not supported: rebuild the archive with gzip compression")
    tiles = header["tile_compression"]
    if tiles in (Compression.BROTLI, Compression.ZSTD):
        raise TileArchiveError(f"{path}: PMTiles tile compression {tiles.name.lower()} is not "
                               "supported (browsers are served the stored bytes, and only gzip "
                               "is decoded everywhere): rebuild the archive with gzip tile "
                               "compression")


def _pmtiles_bounds(header: Any) -> tuple[float, float, float, float] | None:
    """``(west, south, east, north)`` from the header's ``*_e7`` fields; None when empty."""
    keys = ("min_lon_e7", "min_lat_e7", "max_lon_e7", "max_lat_e7")
    values = tuple(header[k] / 1e7 for k in keys)
    if values == (0.0, 0.0, 0.0, 0.0):
        return None
    return values[0], values[1], values[2], values[3]


def _nested_json(value: Any) -> Any:
    """A ``json`` metadata entry (kept from an MBTiles source) as an object."""
    return _json_or_none(value) if isinstance(value, str) else value


def _text_or_none(value: Any) -> str | None:
    """A metadata text; None when missing, empty or not text."""
    return value if isinstance(value, str) and value else None
