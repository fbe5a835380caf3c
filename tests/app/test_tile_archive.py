"""The offline tile archive: MBTiles and PMTiles files written here, read back by z/x/y."""

from __future__ import annotations

import gzip
import io
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
from PIL import Image, features
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

from riskmap.app.tile_archive import Tile, TileArchive, TileArchiveError

SQUARE = "POLYGON ((0 0, 4096 0, 4096 4096, 0 4096, 0 0))"
#: every tile of zoom 0-2 except 2/3/3, which stays missing
ADDRESSES = [(z, x, y) for z in range(3) for x in range(1 << z) for y in range(1 << z)
             if (z, x, y) != (2, 3, 3)]
BOUNDS = (67.8, 40.1, 67.9, 40.2)


def vector_tile(z: int, x: int, y: int, *, compress: bool = True) -> bytes:
    """A one-layer ("water") vector tile whose feature names its XYZ address."""
    data = mapbox_vector_tile.encode([{"name": "water", "features": [
        {"geometry": SQUARE, "properties": {"z": z, "x": x, "y": y}}]}])
    return gzip.compress(data, mtime=0) if compress else data


def address_of(tile: Tile) -> tuple[int, int, int]:
    """The XYZ address a vector tile of :func:`vector_tile` names."""
    raw = gzip.decompress(tile.data) if tile.encoding == "gzip" else tile.data
    props = mapbox_vector_tile.decode(raw)["water"]["features"][0]["properties"]
    return props["z"], props["x"], props["y"]


def image_bytes(kind: str) -> bytes:
    """A 1x1 image in ``kind`` (a PIL format name)."""
    out = io.BytesIO()
    Image.new("RGB", (1, 1), (200, 30, 30)).save(out, format=kind)
    return out.getvalue()


def write_mbtiles(path: Path, tiles: dict[tuple[int, int, int], bytes],
                  metadata: dict[str, str]) -> Path:
    """An MBTiles file of ``tiles`` keyed by XYZ address, stored in TMS rows as the spec says."""
    con = sqlite3.connect(path)
    with con:
        con.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        con.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, "
                    "tile_row INTEGER, tile_data BLOB)")
        con.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
        con.executemany("INSERT INTO metadata VALUES (?, ?)", metadata.items())
        con.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                        [(z, x, (1 << z) - 1 - y, data) for (z, x, y), data in tiles.items()])
    con.close()
    return path


def write_pmtiles(path: Path, tiles: dict[tuple[int, int, int], bytes], metadata: dict[str, Any],
                  *, tile_type: TileType = TileType.MVT,
                  tile_compression: Compression = Compression.GZIP) -> Path:
    """A PMTiles v3 file of ``tiles`` keyed by XYZ address, written by the pmtiles package."""
    with path.open("wb") as f:
        writer = Writer(f)
        for tile_id, data in sorted((zxy_to_tileid(*a), d) for a, d in tiles.items()):
            writer.write_tile(tile_id, data)
        west, south, east, north = BOUNDS
        writer.finalize({
            "tile_type": tile_type, "tile_compression": tile_compression,
            "min_lon_e7": round(west * 1e7), "min_lat_e7": round(south * 1e7),
            "max_lon_e7": round(east * 1e7), "max_lat_e7": round(north * 1e7),
            "center_zoom": 1, "center_lon_e7": round(67.85e7), "center_lat_e7": round(40.15e7),
        }, metadata)
    return path


VECTOR_META = {
    "name": "Jizzax OSM", "attribution": "© OpenStreetMap contributors", "format": "pbf",
    "minzoom": "0", "maxzoom": "2", "bounds": ",".join(map(str, BOUNDS)),
    "json": json.dumps({"vector_layers": [{"id": "water", "fields": {}}, {"id": "roads"}]}),
}


@pytest.fixture
def vector_mbtiles(tmp_path: Path) -> Path:
    """The gzip'd vector tiles of :data:`ADDRESSES` in an MBTiles file."""
    return write_mbtiles(tmp_path / "jizzax.mbtiles", {a: vector_tile(*a) for a in ADDRESSES},
                         VECTOR_META)


@pytest.fixture
def vector_pmtiles(tmp_path: Path) -> Path:
    """The gzip'd vector tiles of :data:`ADDRESSES` in a PMTiles file."""
    meta = {"name": "Jizzax OSM", "attribution": "© OpenStreetMap contributors",
            "vector_layers": [{"id": "water", "fields": {}}, {"id": "roads"}]}
    return write_pmtiles(tmp_path / "jizzax.pmtiles", {a: vector_tile(*a) for a in ADDRESSES},
                         meta)


# ---- MBTiles ----------------------------------------------------------------------------------


def test_vector_mbtiles_metadata(vector_mbtiles: Path) -> None:
    with TileArchive.open(vector_mbtiles) as archive:
        assert archive.path == vector_mbtiles
        assert (archive.format, archive.kind) == ("pbf", "vector")
        assert (archive.minzoom, archive.maxzoom) == (0, 2)
        assert archive.bounds == BOUNDS
        assert archive.vector_layers == ["water", "roads"]
        assert archive.name == "Jizzax OSM"
        assert archive.attribution == "© OpenStreetMap contributors"


def test_mbtiles_rows_are_flipped_to_xyz(vector_mbtiles: Path) -> None:
    with TileArchive.open(vector_mbtiles) as archive:
        north, south = archive.get(1, 0, 0), archive.get(1, 0, 1)
        assert north is not None and south is not None
        assert address_of(north) == (1, 0, 0)  # stored at TMS row 1
        assert address_of(south) == (1, 0, 1)  # stored at TMS row 0
        for address in ADDRESSES:
            tile = archive.get(*address)
            assert tile is not None and tile.data == vector_tile(*address)


def test_mbtiles_vector_tile_is_served_as_stored(vector_mbtiles: Path) -> None:
    with TileArchive.open(vector_mbtiles) as archive:
        tile = archive.get(2, 1, 2)
    assert tile == Tile(data=vector_tile(2, 1, 2), media_type="application/x-protobuf",
                        encoding="gzip")


@pytest.mark.parametrize("address", [(2, 3, 3), (3, 0, 0), (-1, 0, 0), (1, 99, 0), (1, 0, 99),
                                     (1, -1, 0), (1, 0, -1), (0, 1, 0), (32, 0, 0), (10**6, 0, 0),
                                     (1.5, 0, 0), ("1", "0", "0"), (None, 0, 0)])
def test_missing_and_impossible_tiles_are_none(vector_mbtiles: Path, vector_pmtiles: Path,
                                               address: tuple[Any, Any, Any]) -> None:
    for path in (vector_mbtiles, vector_pmtiles):
        with TileArchive.open(path) as archive:
            assert archive.get(*address) is None


def test_raw_protobuf_without_format_is_sniffed_as_vector(tmp_path: Path) -> None:
    path = write_mbtiles(tmp_path / "raw.mbtiles",
                         {a: vector_tile(*a, compress=False) for a in ADDRESSES}, {})
    with TileArchive.open(path) as archive:
        assert (archive.format, archive.kind) == ("pbf", "vector")
        assert (archive.minzoom, archive.maxzoom) == (0, 2)  # from the tiles
        assert archive.bounds is None and archive.name is None and archive.vector_layers == []
        tile = archive.get(1, 1, 0)
        assert tile is not None and tile.encoding is None
        assert address_of(tile) == (1, 1, 0)


@pytest.mark.parametrize(("pil_format", "format", "media_type"), [
    ("PNG", "png", "image/png"), ("JPEG", "jpg", "image/jpeg"), ("WEBP", "webp", "image/webp")])
def test_raster_mbtiles_format_is_sniffed(tmp_path: Path, pil_format: str, format: str,
                                          media_type: str) -> None:
    if pil_format == "WEBP" and not features.check("webp"):
        pytest.skip("Pillow built without WebP")
    image = image_bytes(pil_format)
    path = write_mbtiles(tmp_path / "raster.mbtiles",
                         {(3, 2, 1): image, (5, 7, 9): image}, {"name": "Scan"})
    with TileArchive.open(path) as archive:
        assert (archive.format, archive.kind) == (format, "raster")
        assert (archive.minzoom, archive.maxzoom) == (3, 5)
        assert archive.vector_layers == []
        assert archive.get(3, 2, 1) == Tile(data=image, media_type=media_type, encoding=None)
        assert archive.get(3, 2, 6) is None  # the TMS row of 3/2/1, asked as XYZ


def test_mbtiles_format_metadata_is_normalised(tmp_path: Path) -> None:
    image = image_bytes("JPEG")
    path = write_mbtiles(tmp_path / "photo.mbtiles", {(0, 0, 0): image},
                         {"format": "JPEG", "minzoom": "0", "maxzoom": "0", "bounds": "bad",
                          "json": "{not json"})
    with TileArchive.open(path) as archive:
        assert (archive.format, archive.kind, archive.bounds) == ("jpg", "raster", None)
        tile = archive.get(0, 0, 0)
        assert tile is not None and tile.media_type == "image/jpeg"


def test_mbtiles_is_opened_read_only(vector_mbtiles: Path) -> None:
    before = vector_mbtiles.read_bytes()
    with TileArchive.open(vector_mbtiles) as archive:
        assert archive.get(0, 0, 0) is not None
    assert vector_mbtiles.read_bytes() == before
    assert sorted(p.name for p in vector_mbtiles.parent.iterdir()) == [vector_mbtiles.name]


def test_mbtiles_under_an_awkward_path(tmp_path: Path) -> None:
    folder = tmp_path / "xarita 100% #1?"
    folder.mkdir()
    path = write_mbtiles(folder / "base map", {(0, 0, 0): vector_tile(0, 0, 0)}, VECTOR_META)
    with TileArchive.open(str(path)) as archive:
        tile = archive.get(0, 0, 0)
        assert tile is not None and address_of(tile) == (0, 0, 0)


def test_sqlite_without_tiles_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE things (id INTEGER)")
    con.commit()
    con.close()
    with pytest.raises(TileArchiveError, match="tiles table") as info:
        TileArchive.open(path)
    assert str(path) in str(info.value)


def test_unknown_mbtiles_format_is_refused(tmp_path: Path) -> None:
    path = write_mbtiles(tmp_path / "a.mbtiles", {(0, 0, 0): b"????"}, {"format": "avif"})
    with pytest.raises(TileArchiveError, match="avif"):
        TileArchive.open(path)
    path = write_mbtiles(tmp_path / "b.mbtiles", {(0, 0, 0): b"????"}, {})
    with pytest.raises(TileArchiveError, match="unknown format"):
        TileArchive.open(path)


# ---- PMTiles ----------------------------------------------------------------------------------


def test_vector_pmtiles(vector_pmtiles: Path) -> None:
    with TileArchive.open(vector_pmtiles) as archive:
        assert (archive.format, archive.kind) == ("pbf", "vector")
        assert (archive.minzoom, archive.maxzoom) == (0, 2)
        assert archive.bounds == pytest.approx(BOUNDS)
        assert archive.vector_layers == ["water", "roads"]
        assert archive.name == "Jizzax OSM"
        assert archive.attribution == "© OpenStreetMap contributors"
        north, south = archive.get(1, 0, 0), archive.get(1, 0, 1)
        assert north is not None and south is not None
        assert (address_of(north), address_of(south)) == ((1, 0, 0), (1, 0, 1))
        for address in ADDRESSES:
            assert archive.get(*address) == Tile(data=vector_tile(*address),
                                                 media_type="application/x-protobuf",
                                                 encoding="gzip")


def test_raster_pmtiles_by_content_not_suffix(tmp_path: Path) -> None:
    image = image_bytes("PNG")
    path = write_pmtiles(tmp_path / "scan.bin", {(1, 1, 0): image}, {},
                         tile_type=TileType.PNG, tile_compression=Compression.NONE)
    with TileArchive.open(path) as archive:
        assert (archive.format, archive.kind, archive.vector_layers) == ("png", "raster", [])
        assert (archive.minzoom, archive.maxzoom) == (1, 1)
        assert archive.name is None and archive.attribution is None
        assert archive.get(1, 1, 0) == Tile(data=image, media_type="image/png", encoding=None)
        assert archive.get(1, 0, 0) is None


@pytest.mark.parametrize("compression", [Compression.BROTLI, Compression.ZSTD])
def test_pmtiles_brotli_and_zstd_are_refused(tmp_path: Path, compression: Compression) -> None:
    path = write_pmtiles(tmp_path / "packed.pmtiles", {(0, 0, 0): b"packed"}, {},
                         tile_compression=compression)
    with pytest.raises(TileArchiveError, match=r"rebuild .* gzip") as info:
        TileArchive.open(path)
    assert str(path) in str(info.value)
    assert compression.name.lower() in str(info.value)


def test_other_pmtiles_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.pmtiles"
    path.write_bytes(b"PMTiles\x02" + bytes(200))
    with pytest.raises(TileArchiveError, match="version 2"):
        TileArchive.open(path)


def test_truncated_pmtiles_is_refused(vector_pmtiles: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.pmtiles"
    path.write_bytes(vector_pmtiles.read_bytes()[:60])
    with pytest.raises(TileArchiveError, match="truncated"):
        TileArchive.open(path)


# ---- not archives -----------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"hello, map\n", b"SQLite format 2\x00 and more"])
def test_other_files_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.mbtiles"
    path.write_bytes(content)
    with pytest.raises(TileArchiveError) as info:
        TileArchive.open(path)
    assert str(info.value) == f"{path}: not an MBTiles or PMTiles file"


def test_missing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.pmtiles"
    with pytest.raises(TileArchiveError) as info:
        TileArchive.open(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TileArchiveError) as info:
        TileArchive.open(tmp_path)
    assert str(tmp_path) in str(info.value)


# ---- lifecycle and threads --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["vector_mbtiles", "vector_pmtiles"])
def test_closed_archive(name: str, request: pytest.FixtureRequest) -> None:
    archive = TileArchive.open(request.getfixturevalue(name))
    assert "vector pbf" in repr(archive)
    archive.close()
    archive.close()  # a second close does nothing
    with pytest.raises(TileArchiveError, match="closed"):
        archive.get(0, 0, 0)


@pytest.mark.parametrize("name", ["vector_mbtiles", "vector_pmtiles"])
def test_concurrent_reads(name: str, request: pytest.FixtureRequest) -> None:
    expected = {a: vector_tile(*a) for a in ADDRESSES}
    work = [a for _ in range(20) for a in ADDRESSES]

    def read(address: tuple[int, int, int]) -> tuple[tuple[int, int, int], bytes | None]:
        tile = archive.get(*address)
        return address, tile.data if tile is not None else None

    with TileArchive.open(request.getfixturevalue(name)) as archive, \
            ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(read, work))
    assert len(results) == len(work)
    assert all(data == expected[address] for address, data in results)
