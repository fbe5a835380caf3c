"""Map label fonts served by the app itself: MapLibre GL glyph PBFs built from an OS font.

A MapLibre style draws text with signed distance field (SDF) glyphs that it fetches from its
``glyphs`` URL, ``.../{fontstack}/{range}.pbf``: one protocol buffer per block of 256 code points
(``0-255``, ``256-511``, ...), each glyph a small greyscale bitmap whose value says how far a
pixel is from the letter's outline (191 on the edge, higher inside), plus the metrics that place
it. Plotly's map traces point that URL at a public server, so without the internet the map shows
no names; :func:`glyph_range` builds the same files from a TrueType/OpenType font of the OS
(:func:`find_font`: DejaVu Sans and the like, which cover Latin and Cyrillic), so labels render
offline.

The constants are those of Mapbox's node-fontnik and MapLibre's TinySDF (glyphs drawn at 24 px,
3 px of buffer round each bitmap, SDF radius 8 px, cutoff 0.25): MapLibre assumes them. A code
point the font lacks is left out of the file, as fontnik does (MapLibre then skips that
character rather than drawing an empty box). Pillow cannot read a font's character map, so a
glyph counts as missing when it renders exactly as a code point no font maps (U+10FFFF: the
font's ``.notdef`` box), same bitmap, offset and advance; a font whose ``.notdef`` is blank would
lose blank glyphs of the same advance too (the space, always kept, aside).
"""

from __future__ import annotations

import functools
import os
import pathlib
from typing import Any

import numpy as np
from scipy import ndimage

__all__ = ["BUFFER", "CUTOFF", "FONT_CANDIDATES", "FONT_SETTING", "FONT_SIZE", "RADIUS",
           "find_font", "glyph_range", "parse_range"]

#: common OS fonts with Latin and Cyrillic (Uzbek included), the first that exists is used
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
)
#: the setting (environment variable) that names another font file
FONT_SETTING = "RISKMAP_APP__MAP__FONT"
#: glyphs are drawn this many px high (em size), with this much blank round each bitmap
FONT_SIZE, BUFFER = 24, 3
#: distances beyond this many px are clipped; ``CUTOFF`` of the 0-255 scale lies outside the edge
RADIUS, CUTOFF = 8, 0.25
#: a code point no font maps: it renders as the font's ``.notdef`` (the "missing" box)
_UNMAPPED = "\U0010ffff"
_LAST_START = 0xFF00


def find_font(configured: str | os.PathLike[str] | None = None) -> pathlib.Path:
    """The font file to draw labels with: ``configured`` if set, else a common OS font.

    Parameters
    ----------
    configured
        A font file (the :data:`FONT_SETTING` setting); ``None`` or ``""``: the first of
        :data:`FONT_CANDIDATES` that exists.

    Raises
    ------
    FileNotFoundError
        ``configured`` is not a file, or none of the candidates is installed.
    """
    if configured is not None and str(configured) != "":
        path = pathlib.Path(configured)
        if not path.is_file():
            raise FileNotFoundError(f"map label font {str(path)!r} ({FONT_SETTING}) not found")
        return path
    for candidate in FONT_CANDIDATES:
        if os.path.isfile(candidate):
            return pathlib.Path(candidate)
    raise FileNotFoundError("no font for map labels: install fonts-dejavu-core (Debian/Ubuntu) "
                            f"or set {FONT_SETTING} to a TrueType/OpenType file")


def parse_range(text: str) -> int:
    """The first code point of a glyph range name such as ``"1024-1279"``.

    Raises
    ------
    ValueError
        Not ``"start-end"`` with ``start`` a multiple of 256 up to 65280 and ``end = start + 255``.

    Examples
    --------
    >>> parse_range("0-255"), parse_range("1024-1279")
    (0, 1024)
    >>> parse_range("0-254")
    Traceback (most recent call last):
    ...
    ValueError: not a glyph range: '0-254'
    """
    start_text, sep, end_text = str(text).partition("-")
    if not (sep and start_text.isdigit() and end_text.isdigit()):
        raise ValueError(f"not a glyph range: {text!r}")
    start, end = int(start_text), int(end_text)
    if start % 256 or start > _LAST_START or end != start + 255:
        raise ValueError(f"not a glyph range: {text!r}")
    return start


def glyph_range(font_path: str | os.PathLike[str], start: int, *,
                fontstack: str = "riskmap") -> bytes:
    """The glyph PBF of code points ``start`` to ``start + 255`` (cached per font and range).

    Parameters
    ----------
    font_path
        A TrueType/OpenType font (see :func:`find_font`).
    start
        The range's first code point (see :func:`parse_range`).
    fontstack
        The name written into the file (MapLibre does not check it).

    Returns
    -------
    bytes
        A ``glyphs`` message of MapLibre's ``glyphs.proto``: one fontstack holding the glyphs
        the font has, the space always among them when in range.
    """
    if not (isinstance(start, int) and 0 <= start <= _LAST_START and start % 256 == 0):
        raise ValueError(f"not a glyph range start: {start!r}")
    return _glyph_range(str(font_path), start, fontstack)


@functools.lru_cache(maxsize=64)
def _glyph_range(path: str, start: int, fontstack: str) -> bytes:
    from PIL import ImageFont  # not needed to import the module (the doctests, find_font)

    # basic layout: one code point, one glyph (MapLibre shapes nothing either); a font object
    # per range, as FreeType faces are not to be shared between the server's threads
    font = ImageFont.truetype(path, FONT_SIZE, layout_engine=ImageFont.Layout.BASIC)
    ascent, _ = font.getmetrics()
    missing = _render(font, _UNMAPPED, ascent)
    glyphs = []
    for cp in range(start, start + 256):
        if cp < 32 or 127 <= cp < 160 or 0xD800 <= cp < 0xE000:  # controls, surrogates
            continue
        got = _render(font, chr(cp), ascent)
        if cp != 32 and got[:5] == missing[:5] and np.array_equal(got[5], missing[5]):
            continue
        width, height, left, bitmap_top, advance, coverage = got
        fields = [_key(1, 0) + _varint(cp)]
        if width and height:
            fields.append(_bytes(2, _sdf(coverage)))
        # fontnik's ``top``: the bitmap's top above the baseline less the font's ascender
        top = bitmap_top - ascent
        fields += [_key(3, 0) + _varint(width), _key(4, 0) + _varint(height),
                   _key(5, 0) + _varint(_zigzag(left)), _key(6, 0) + _varint(_zigzag(top)),
                   _key(7, 0) + _varint(advance)]
        glyphs.append(_bytes(3, b"".join(fields)))
    stack = _bytes(1, fontstack.encode()) + _bytes(2, f"{start}-{start + 255}".encode())
    return _bytes(1, stack + b"".join(glyphs))


def _render(font: Any, ch: str, ascent: int) -> tuple[Any, ...]:
    """``(width, height, left, top above baseline, advance, coverage)``, bitmap cropped tight.

    Pillow's mask spans the glyph's whole advance; the blank columns and rows are cut off, so
    ``left`` is the ink's left bearing, as in fontnik. ``coverage`` is ``(height, width)`` in
    0-1 (empty for a blank glyph).
    """
    mask, (ox, oy) = font.getmask2(ch, mode="L")
    w, h = mask.size
    advance = round(font.getlength(ch))
    a = np.asarray(mask, dtype=np.uint8).reshape(h, w)
    rows, cols = np.flatnonzero(a.any(axis=1)), np.flatnonzero(a.any(axis=0))
    if not len(rows):
        return 0, 0, 0, 0, advance, np.zeros((0, 0))
    a = a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    return (a.shape[1], a.shape[0], ox + int(cols[0]), ascent - oy - int(rows[0]), advance,
            a / 255.0)


def _sdf(coverage: np.ndarray) -> bytes:
    """The SDF bitmap (``BUFFER`` px added round it) of a ``(h, w)`` coverage array, row-major.

    Distances (px, positive outside) come from the Euclidean distance transform of the pixels at
    least half covered; a partly covered pixel ``a`` is ``0.5 - a`` from the edge.
    """
    a = np.pad(coverage, BUFFER)
    inside = a >= 0.5
    if not inside.any():  # a faint glyph: its darkest pixels stand for the inside
        inside = a >= a.max()
    d = np.where(inside, 0.5 - ndimage.distance_transform_edt(inside),
                 ndimage.distance_transform_edt(~inside) - 0.5)
    edge = (a > 0) & (a < 1)
    d[edge] = 0.5 - a[edge]
    value = np.rint(255 - 255 * (d / RADIUS + CUTOFF))
    return np.clip(value, 0, 255).astype(np.uint8).tobytes()


def _varint(n: int) -> bytes:
    """Protobuf base-128 varint of ``n >= 0``.

    >>> _varint(1), _varint(300)
    (b'\\x01', b'\\xac\\x02')
    """
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _zigzag(n: int) -> int:
    """Protobuf ``sint32`` zigzag code: 0, -1, 1, -2 -> 0, 1, 2, 3.

    >>> [_zigzag(n) for n in (0, -1, 1, -2)]
    [0, 1, 2, 3]
    """
    return (n << 1) ^ (n >> 31)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _bytes(field: int, data: bytes) -> bytes:
    """A length-delimited field (string, bytes, embedded message)."""
    return _key(field, 2) + _varint(len(data)) + data
