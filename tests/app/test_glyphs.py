"""Glyph PBFs from the OS font (app/glyphs.py), read back with a small protobuf decoder."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from riskmap.app import glyphs
from riskmap.app.glyphs import find_font, glyph_range, parse_range

# scripts/test installs fonts-dejavu-core: no font is a broken setup, not a reason to skip
FONT = find_font()


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _fields(buf: bytes) -> list[tuple[int, Any]]:
    """``(field, value)`` of a message: varints as int, length-delimited fields as bytes."""
    out: list[tuple[int, Any]] = []
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
            out.append((field, value))
        elif wire == 2:
            size, i = _varint(buf, i)
            out.append((field, bytes(buf[i:i + size])))
            i += size
        else:
            raise AssertionError(f"unexpected wire type {wire}")
    assert i == len(buf)
    return out


def _unzigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def _decode(pbf: bytes) -> tuple[str, str, dict[int, dict[str, Any]]]:
    """``(fontstack name, range, {code point: glyph})`` of a one-fontstack glyph PBF."""
    top = _fields(pbf)
    assert [f for f, _ in top] == [1]
    name = rng = ""
    found: dict[int, dict[str, Any]] = {}
    for field, value in _fields(top[0][1]):
        assert isinstance(value, bytes)
        if field == 1:
            name = value.decode()
        elif field == 2:
            rng = value.decode()
        else:
            assert field == 3
            raw = dict(_fields(value))
            assert set(raw) - {2} == {1, 3, 4, 5, 6, 7}
            found[raw[1]] = {"bitmap": raw.get(2), "width": raw[3], "height": raw[4],
                             "left": _unzigzag(raw[5]), "top": _unzigzag(raw[6]),
                             "advance": raw[7]}
    return name, rng, found


def _bitmap(g: dict[str, Any]) -> np.ndarray:
    return np.frombuffer(g["bitmap"], np.uint8).reshape(g["height"] + 6, g["width"] + 6)


def test_latin_range() -> None:
    name, rng, found = _decode(glyph_range(FONT, 0))
    assert (name, rng) == ("riskmap", "0-255")
    a = found[ord("A")]
    assert a["width"] > 0 and a["height"] > 0 and a["advance"] > 0
    assert len(a["bitmap"]) == (a["width"] + 6) * (a["height"] + 6)
    space = found[32]
    assert space["bitmap"] is None and space["width"] == space["height"] == 0
    assert space["advance"] > 0
    assert not set(found) & {*range(32), *range(127, 160)}  # no control characters
    assert {ord(c) for c in "azAZ09.,«»é"} <= set(found)


def test_sdf_of_l_is_high_on_the_stroke_and_low_in_the_corners() -> None:
    sdf = _bitmap(_decode(glyph_range(FONT, 0))[2][ord("l")])
    centre = sdf[len(sdf) // 2]
    assert centre.max() >= 192  # inside the stroke: above the 191 of the edge
    # 3 px of buffer round the ink: the corners are 4 px or more outside the stem
    assert max(sdf[0, 0], sdf[0, -1], sdf[-1, 0], sdf[-1, -1]) < 100
    # the value falls away from the stroke on either side
    peak = int(centre.argmax())
    assert np.all(np.diff(centre[:peak + 1].astype(int)) >= 0)
    assert np.all(np.diff(centre[peak:].astype(int)) <= 0)


def test_cyrillic_and_uzbek_letters() -> None:
    _, rng, found = _decode(glyph_range(FONT, 1024))
    assert rng == "1024-1279"
    for cp in (0x416, 0x45E, 0x49B, 0x4B3):  # Ж ў қ ҳ
        assert found[cp]["width"] > 0 and found[cp]["bitmap"]
    _, rng, found = _decode(glyph_range(FONT, 512))
    assert rng == "512-767" and found[0x2BB]["width"] > 0  # ʻ of Uzbek Latin (oʻ, gʻ)


def test_missing_glyphs_are_left_out() -> None:
    # the private use area: no glyphs in the OS fonts, so the range holds none
    name, rng, found = _decode(glyph_range(FONT, 0xE000, fontstack="Other"))
    assert (name, rng, found) == ("Other", "57344-57599", {})


def test_descender() -> None:
    found = _decode(glyph_range(FONT, 0))[2]
    g, x = found[ord("g")], found[ord("x")]
    assert g["top"] - g["height"] < x["top"] - x["height"]
    assert x["top"] - x["height"] >= found[ord("A")]["top"] - found[ord("A")]["height"] - 1


@pytest.mark.parametrize(("text", "start"), [("0-255", 0), ("1024-1279", 1024),
                                             ("65280-65535", 65280)])
def test_parse_range(text: str, start: int) -> None:
    assert parse_range(text) == start


@pytest.mark.parametrize("text", ["0-254", "256-510", "-256-0", "a-b", "65536-65791", "0",
                                  "0-255-1", " 0-255", "", "128-383"])
def test_parse_range_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not a glyph range"):
        parse_range(text)


def test_glyph_range_refuses_bad_starts() -> None:
    for start in (-256, 1, 65536):
        with pytest.raises(ValueError):
            glyph_range(FONT, start)


def test_find_font(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nope.ttf"
    for configured in (missing, str(missing)):
        with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
            find_font(configured)
    with pytest.raises(FileNotFoundError, match="not found"):
        find_font(tmp_path)  # a folder is no font
    assert find_font(FONT) == FONT and find_font(str(FONT)) == FONT
    assert find_font() == find_font("") and str(find_font()) in glyphs.FONT_CANDIDATES
    monkeypatch.setattr(glyphs, "FONT_CANDIDATES", (str(missing),))
    with pytest.raises(FileNotFoundError, match=r"fonts-dejavu-core.*RISKMAP_APP__MAP__FONT"):
        find_font()


def test_cached() -> None:
    first = glyph_range(FONT, 768)
    assert glyph_range(str(FONT), 768) is first
    assert glyph_range(FONT, 768, fontstack="x") is not first
