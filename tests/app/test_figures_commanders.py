"""Unit tests of the commanders' figure builders (pure: frames in, figures out)."""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from hypothesis import given
from hypothesis import strategies as st

import geopandas as gpd
import shapely

from riskmap.app.figures import ZERO_COLOUR, HoverField
from riskmap.app.figures_commanders import (
    CATEGORICAL_COLOURS,
    as_maplibre,
    category_chart,
    class_name,
    hover_text,
    is_maplibre,
    kde_image,
    kde_layer,
    metric_classes,
    metric_map,
    pai_chart,
    png_data_uri,
    point_layer,
    resolution_for_span,
    ring_index,
    trend_chart,
    verdict_lines,
    verdict_text,
    wrap_words,
)


def _decode_png(uri: str) -> tuple[int, int, np.ndarray]:
    """Width, height and RGBA pixels of a PNG data URI written by png_data_uri."""
    raw = base64.b64decode(uri.split(",", 1)[1])
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    w = h = 0
    while pos < len(raw):
        (length,) = struct.unpack(">I", raw[pos:pos + 4])
        tag, body = raw[pos + 4:pos + 8], raw[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", raw[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF
        if tag == b"IHDR":
            w, h = struct.unpack(">II", body[:8])
            assert body[8:10] == b"\x08\x06"  # 8-bit RGBA
        elif tag == b"IDAT":
            idat += body
        pos += 12 + length
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + 4 * w)
    assert (rows[:, 0] == 0).all()  # filter type "none" on every row
    return w, h, rows[:, 1:].reshape(h, w, 4)


def test_resolution_follows_the_span() -> None:
    assert [resolution_for_span(s) for s in (5.0, 0.61, 0.6, 0.16, 0.15, 0.01)] == [
        7, 7, 8, 8, 9, 9]
    assert resolution_for_span(None) == 7
    assert resolution_for_span(float("nan")) == 7


def test_count_classes_hand_case() -> None:
    c = metric_classes(np.array([0, 1, 2, 3, 4, 5, 6]), "count", k=3)
    assert c.names == ["0", "1–2", "3–4", "5–6"]
    assert c.codes.tolist() == [0, 1, 1, 2, 2, 3, 3]
    assert c.colours[0] == ZERO_COLOUR and len(set(c.colours)) == 4


def test_rate_classes_keep_zero_and_unknown_apart() -> None:
    c = metric_classes(np.array([0.0, np.nan, 1.0, 2.0, 4.0]), "rate", k=2)
    assert c.names[0] == "0" and c.names[-1] == "unknown"
    assert c.codes[0] == 0 and c.codes[1] == len(c.names) - 1
    assert 0 < c.codes[2] <= c.codes[3] <= c.codes[4] < len(c.names) - 1
    assert c.names[c.codes[4]].endswith("4.0")  # the top class reaches the maximum


def test_categorical_classes_order_colours_and_labels() -> None:
    v = np.array(["not_significant", "hot_99", None, "cold_95", "hot_99"], dtype=object)
    c = metric_classes(v, "gi_class")
    assert c.names == ["Hot spot 99%", "Not significant", "Cold spot 95%", "n/a"]
    assert c.colours[:3] == [CATEGORICAL_COLOURS[k] for k in ("hot_99", "not_significant",
                                                               "cold_95")]
    assert c.codes.tolist() == [1, 0, 3, 2, 0]
    unknown = metric_classes(np.array(["weird", "red"], dtype=object), "status")
    assert unknown.names == ["Red", "Weird"] and unknown.colours[1] not in ("", None)
    with pytest.raises(ValueError, match="expected one of"):
        metric_classes(np.array([1]), "bogus")
    assert class_name("intensifying_hot_spot") == "Intensifying hot spot"


@given(st.lists(st.one_of(st.none(), st.floats(-5, 1e6)), max_size=60),
       st.sampled_from(["count", "rate"]), st.integers(1, 7))
def test_numeric_classes_are_valid_and_monotone(values: list[float | None], metric: str,
                                                k: int) -> None:
    v = np.array([np.nan if x is None else x for x in values], dtype=float)
    if metric == "count":
        v = np.where(np.isfinite(v), np.floor(np.abs(v)), 0)
    c = metric_classes(v, metric, k=k)
    assert len(c.names) == len(c.colours)
    assert ((c.codes >= 0) & (c.codes < len(c.names))).all()
    finite_pos = np.isfinite(v) & (v > 0)
    assert (c.codes[finite_pos] > 0).all()
    order = np.argsort(v[finite_pos], kind="stable")
    assert np.all(np.diff(c.codes[finite_pos][order]) >= 0)


def _units() -> gpd.GeoDataFrame:
    x0 = np.array([67.84, 67.85, 67.86])
    return gpd.GeoDataFrame({
        "mahalla_id": ["A", "B", "C"], "name": ["Bog'ishamol", "Navro'z", "Sharq"],
        "count": [0, 4, 9], "status": ["green", "red", "red"],
        "gi_class": ["cold_90", "not_significant", "hot_95"],
    }, geometry=shapely.box(x0, 40.12, x0 + 0.01, 40.13), crs="EPSG:4326")


_HOVER = (HoverField("name", "Mahalla"), HoverField("count", "Incidents", ":,d"),
          HoverField("mahalla_id", "Id"))


def test_metric_map_legend_matches_fills_and_tooltips() -> None:
    units = _units()
    fig = go.Figure(metric_map(units, "status", hover=_HOVER,
                               highlight=ring_index(units.geometry.iloc[[1]])))
    classes = [t for t in fig.data if t.meta["kind"] == "mahalla"]
    assert [t.name for t in classes] == ["Red", "Green"]
    assert [t.fillcolor for t in classes] == [CATEGORICAL_COLOURS["red"],
                                              CATEGORICAL_COLOURS["green"]]
    assert [t.meta["n"] for t in classes] == [2, 1]
    # two red squares: 2 rings of 5 points, each closed by a NaN
    assert len(classes[0].x) == 12 and np.isnan(np.asarray(classes[0].x, float)).sum() == 2
    highlight = next(t for t in fig.data if t.meta["kind"] == "highlight")
    assert highlight.meta["n"] == 1 and highlight.line.width == 3
    hover = next(t for t in fig.data if t.meta["kind"] == "mahalla-hover")
    assert list(hover.customdata) == ["A", "B", "C"]  # clicks carry the mahalla id
    assert hover.text[1] == "<b>Mahalla: Navro&#x27;z</b><br>Incidents: 4<br>Id: B"
    assert fig.layout.legend.title.text == "Mahalla status"
    counts = go.Figure(metric_map(units, "count", hover=_HOVER))
    assert next(t.name for t in counts.data if t.meta["kind"] == "mahalla") == "0"


_STYLE = {"version": 8, "sources": {}, "layers": [{"id": "water", "type": "background"}]}


def test_metric_map_on_maplibre_fills_carry_their_tooltips_and_ids() -> None:
    """Over a MapLibre style: one choroplethmap per class under the base map's water, each
    polygon with its tooltip and id; outlines on top; a first view of the area to fit."""
    units = _units()
    units.loc[2, "geometry"] = shapely.MultiPolygon([shapely.box(2, 0, 2.4, 1),
                                                     shapely.box(2.6, 0, 3, 1)])
    fig = metric_map(units, "status", hover=_HOVER, style=_STYLE,
                     highlight=ring_index(units.geometry.iloc[[1]]),
                     bounds=(0.0, 0.0, 3.0, 1.0), uirevision="r|d")
    classes = [t for t in fig["data"] if t["meta"]["kind"] == "mahalla"]
    assert [t["type"] for t in classes] == ["choroplethmap"] * 2
    assert [t["name"] for t in classes] == ["Red", "Green"]
    assert [t["colorscale"][0][1] for t in classes] == [CATEGORICAL_COLOURS["red"],
                                                        CATEGORICAL_COLOURS["green"]]
    assert all(t["below"] == "water" for t in classes)
    red, green = classes
    assert red["customdata"] == ["B", "C"] and green["customdata"] == ["A"]
    assert red["text"][0] == "<b>Mahalla: Navro&#x27;z</b><br>Incidents: 4<br>Id: B"
    # each location names one feature of the trace's GeoJSON, a multipolygon kept whole
    features = {f["id"]: f["geometry"] for f in red["geojson"]["features"]}
    assert list(features) == red["locations"]
    assert [features[i]["type"] for i in red["locations"]] == ["Polygon", "MultiPolygon"]
    highlight = fig["data"][0]  # first, so that a new selection is sent as this trace alone
    assert highlight["meta"] == {"kind": "highlight", "n": 1} and highlight["below"] == ""
    assert highlight["type"] == "scattermap" and highlight["showlegend"]
    unmarked = metric_map(units, "status", hover=_HOVER, style=_STYLE)["data"][0]
    assert unmarked["meta"] == {"kind": "highlight", "n": 0} and list(unmarked["lon"]) == []
    assert not unmarked["showlegend"]
    layout = fig["layout"]
    assert layout["map"]["style"] is _STYLE and layout["map"]["uirevision"] == "r|d"
    assert layout["meta"] == {"fit": [0.0, 0.0, 3.0, 1.0], "fit_key": "r|d"}
    assert layout["map"]["center"] == {"lon": 1.5, "lat": 0.5} and "xaxis" not in layout
    # the same layers as the cartesian map, only drawn on MapLibre
    flat = metric_map(units, "status", hover=_HOVER)
    assert [t["name"] for t in flat["data"] if t["meta"]["kind"] == "mahalla"] == ["Red", "Green"]


def test_point_and_kde_layers_on_maplibre() -> None:
    units = _units()
    fig = metric_map(units, "count", hover=_HOVER, style=_STYLE)
    assert is_maplibre(fig) and not is_maplibre(metric_map(units, "count", hover=_HOVER))
    point_layer(fig, np.array([0.5, np.nan]), np.array([0.5, 1.0]), name="Cameras",
                kind="cameras", hover=pd.DataFrame({"camera_id": ["C1", "C2"]}),
                colour="#1f4e9c", symbol="diamond")
    cams = fig["data"][-1]
    assert cams["type"] == "scattermap" and list(cams["lon"]) == [0.5]
    assert cams["customdata"] == ["C1"] and "symbol" not in cams["marker"]
    text = as_maplibre({"type": "scatter", "mode": "text", "x": [1], "y": [2], "text": ["a"],
                        "meta": {"kind": "names"}})
    assert text["mode"] == "markers+text" and text["uid"] == "pts-names"  # no sprite needed
    layer = kde_layer(np.ones((2, 3)), (67.0, 40.0, 67.6, 40.4))
    assert layer["sourcetype"] == "image" and layer["source"].startswith("data:image/png")
    assert layer["coordinates"] == [[67.0, 40.4], [67.6, 40.4], [67.6, 40.0], [67.0, 40.0]]
    assert layer["below"] == "river"  # over the fills and water, under roads and names


def test_hover_text_formats_and_missing_values() -> None:
    frame = pd.DataFrame({"n": [1234567, 3], "share": [12.345, np.nan], "s": ["<x>", None]})
    text = hover_text(frame, [HoverField("n", "N", ":,d"), HoverField("share", "Share", ":.1f"),
                              HoverField("s", "S")])
    assert text.tolist() == ["<b>N: 1,234,567</b><br>Share: 12.3<br>S: &lt;x&gt;",
                             "<b>N: 3</b><br>Share: n/a<br>S: n/a"]


@given(st.lists(st.text(alphabet="ab-—,;.\u00a0Жж", min_size=1, max_size=12)
                .filter(lambda w: not w.isspace()), max_size=30),
       st.integers(min_value=1, max_value=80))
def test_wrap_words_equals_textwrap_on_single_spaced_text(words: list[str], width: int) -> None:
    import textwrap

    text = " ".join(words)
    assert wrap_words(text, width) == textwrap.wrap(text, width, break_long_words=False,
                                                    break_on_hyphens=False)


def test_hover_text_repeated_values_and_categories() -> None:
    frame = pd.DataFrame({"g": pd.Categorical(["hot", "cold", "hot", None]),
                          "n": [1, 1, 2, 1], "why": ["x " * 50, "x " * 50, "y", None]})
    text = hover_text(frame, [HoverField("g", "G"), HoverField("n", "N", ":,d"),
                              HoverField("why", "Why")])
    assert text[0] == "<b>G: hot</b><br>N: 1<br>Why: " + "<br>".join(
        ["x " * 31 + "x", "x " * 17 + "x"])
    assert text[1].startswith("<b>G: cold</b><br>N: 1<br>Why: x x")
    assert text[2] == "<b>G: hot</b><br>N: 2<br>Why: y"
    assert text[3] == "<b>G: n/a</b><br>N: 1<br>Why: n/a"


def test_ring_index_hand_case_and_take() -> None:
    square = shapely.box(0, 0, 1, 1)
    multi = shapely.MultiPolygon([shapely.box(10, 0, 11, 1), shapely.box(12, 0, 13, 1)])
    holed = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (2, 1), (2, 2)]])
    r = ring_index(np.array([square, None, multi, shapely.from_wkt("POLYGON EMPTY"), holed],
                            dtype=object))
    assert r.start.tolist() == [0, 6, 6, 18, 18] and r.stop.tolist() == [6, 6, 18, 18, 24]
    assert r.x[:6].tolist()[:5] == [1, 1, 0, 0, 1] and np.isnan(r.x[5])
    x, _y = r.gather(np.array([False, False, True, False, False]))
    assert np.nanmin(x) == 10 and np.nanmax(x) == 13 and np.isnan(x).sum() == 2
    sub = r.take(np.array([4, 0]))
    assert sub.start.tolist() == [0, 6] and sub.stop.tolist() == [6, 12]
    assert np.nanmax(sub.x[:6]) == 4  # the holed polygon's exterior only
    assert ring_index(np.empty(0, dtype=object)).x.size == 0


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(1, 5),
                          st.booleans()), min_size=1, max_size=20), st.data())
def test_gather_equals_building_rings_again(boxes: list[tuple[int, int, int, bool]],
                                            draw: st.DataObject) -> None:
    geoms = np.array([None if missing else shapely.box(x, y, x + w, y + w)
                      for x, y, w, missing in boxes], dtype=object)
    r = ring_index(geoms)
    mask = np.array(draw.draw(st.lists(st.booleans(), min_size=len(geoms),
                                       max_size=len(geoms))))
    x, y = r.gather(mask)
    again = ring_index(geoms[mask])
    np.testing.assert_array_equal(x, again.x)
    np.testing.assert_array_equal(y, again.y)


def test_metric_map_empty_and_base_only() -> None:
    empty = _units().iloc[:0]
    fig = go.Figure(metric_map(empty, "count", hover=_HOVER))
    assert fig.layout.annotations[0].text.startswith("No mahallas")
    base = go.Figure(metric_map(empty, "count", hover=_HOVER,
                                base=ring_index(_units().geometry), kind="h3"))
    assert [t.meta["kind"] for t in base.data] == ["base"]


def test_point_layer_drops_missing_coordinates() -> None:
    fig = metric_map(_units(), "count", hover=_HOVER)
    hover = pd.DataFrame({"camera_id": ["C1", "C2", "C3"], "type": ["overview"] * 3})
    point_layer(fig, np.array([67.845, np.nan, 67.855]), np.array([40.125, 40.0, 40.125]),
                name="Cameras", kind="cameras", hover=hover, colour="#1f4e9c")
    cams = go.Figure(fig).data[-1]
    assert cams.meta["kind"] == "cameras" and len(cams.x) == 2
    assert list(cams.customdata) == ["C1", "C3"]
    assert cams.text[0] == "<b>Camera id: C1</b><br>Type: overview"


def test_png_round_trip() -> None:
    rgba = np.zeros((2, 3, 4), dtype=np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)
    rgba[1, 2] = (0, 0, 255, 128)
    w, h, pixels = _decode_png(png_data_uri(rgba))
    assert (w, h) == (3, 2)
    assert np.array_equal(pixels, rgba)
    with pytest.raises(ValueError, match="RGBA"):
        png_data_uri(np.zeros((2, 2, 3), dtype=np.uint8))


def test_kde_image_places_the_grid_and_hides_zeros() -> None:
    grid = np.zeros((4, 6))
    grid[1, 2] = 5.0
    grid[2, 3] = np.nan
    img = kde_image(grid, (67.0, 40.0, 67.6, 40.4))
    assert (img["x"], img["y"]) == (67.0, 40.4)
    assert img["sizex"] == pytest.approx(0.6) and img["sizey"] == pytest.approx(0.4)
    assert img["xref"] == "x" and img["yref"] == "y" and img["sizing"] == "stretch"
    w, h, pixels = _decode_png(img["source"])
    assert (w, h) == (6, 4)
    alpha = pixels[..., 3]
    assert alpha[1, 2] == 255 and alpha.sum() == 255  # only the one positive cell shows
    big = kde_image(np.ones((1200, 300)), (0, 0, 1, 1), max_pixels=600)
    assert _decode_png(big["source"])[:2] == (150, 600)


def test_panel_charts() -> None:
    months = pd.date_range("2025-01-01", periods=3, freq="MS")
    trend = trend_chart(months, np.array([1, 0, 4]))
    assert trend["data"][0]["x"] == ["2025-01", "2025-02", "2025-03"]
    assert trend["data"][0]["y"] == [1, 0, 4]
    cats = category_chart(["theft", "vehicle_theft"], np.array([5, 2]))
    assert cats["data"][0]["y"] == ["Vehicle theft", "Theft"]  # largest on top
    from riskmap import i18n

    with i18n.use_language("ru"):  # names and titles in the reader's language
        ru_cats = category_chart(["vehicle_theft", "<b>x</b>"], np.array([5, 2]))
        ru_trend = trend_chart(months, np.array([1, 0, 4]))
    assert ru_cats["data"][0]["y"] == ["&lt;b&gt;x&lt;/b&gt;", "Угон транспорта"]
    assert ru_trend["layout"]["yaxis"]["title"]["text"] != "Incidents per month"
    # the dicts are valid plotly figures
    assert go.Figure(trend).data[0].meta == {"kind": "trend"}
    assert go.Figure(cats).layout.height == 140  # at least 140 px


_COVERAGES = [0.01, 0.02, 0.05, 0.10]


def _rows(method: str, pai: list[float], width: float = 0.5) -> pd.DataFrame:
    return pd.DataFrame({"method": method, "coverage": _COVERAGES, "pai": pai,
                         "pai_lo": [p - width for p in pai], "pai_hi": [p + width for p in pai],
                         "area_share": _COVERAGES})


def test_pai_chart_draws_the_chosen_method_with_its_band_and_the_baselines_dashed() -> None:
    rows = pd.concat([_rows("naive", [13.0, 9.0, 6.0, 5.0]),
                      _rows("kde", [12.0, 8.0, 5.0, 3.5]),
                      _rows("counts", [11.0, 7.5, 4.8, 3.4]),
                      _rows("kde_200m", [10.5, 7.0, 4.6, 3.3])])
    fig = pai_chart(rows.sample(frac=1.0, random_state=1), "kde")
    kinds = [(t.meta["kind"], t.meta["method"]) for t in fig.data]
    # the band under everything, the chosen line on top; other methods are not drawn
    assert kinds == [("pai-band", "kde"), ("pai-baseline", "counts"),
                     ("pai-baseline", "kde_200m"), ("pai", "kde")]
    band, counts, plain, kde = fig.data
    assert band.fill == "toself" and band.name == "kernel density (KDE): 95% interval"
    assert list(band.x) == [1.0, 2.0, 5.0, 10.0, 10.0, 5.0, 2.0, 1.0]
    assert list(band.y) == [12.5, 8.5, 5.5, 4.0, 3.0, 4.5, 7.5, 11.5]  # upper out, lower back
    assert counts.line.dash == plain.line.dash == "dash"
    assert counts.name == "all-history counts (baseline)"
    assert plain.name == "plain 200 m KDE (baseline)"
    assert list(counts.y) == [11.0, 7.5, 4.8, 3.4]
    assert kde.line.dash is None and list(kde.x) == [1.0, 2.0, 5.0, 10.0]
    assert list(kde.y) == [12.0, 8.0, 5.0, 3.5]
    assert [list(c) for c in kde.customdata][2] == [4.5, 5.5, 5.0]  # lo, hi, % flagged
    assert fig.layout.xaxis.type == "log" and list(fig.layout.xaxis.tickvals) == [1, 2, 5, 10]
    assert list(fig.layout.xaxis.ticktext) == ["1%", "2%", "5%", "10%"]
    assert fig.layout.yaxis.type == "log"  # 3.0 to 12.5: more than a factor of 3
    assert list(fig.layout.yaxis.tickvals) == [2, 5, 10, 20]
    assert list(fig.layout.yaxis.ticktext) == ["2", "5", "10", "20"]


def test_pai_chart_without_a_method_or_intervals() -> None:
    rows = pd.concat([_rows("counts", [7.5, 6.5, 5.0, 4.0]),
                      _rows("kde_200m", [7.0, 6.0, 4.8, 3.9])])
    only_baselines = pai_chart(rows, None)
    assert [t.meta["kind"] for t in only_baselines.data] == ["pai-baseline"] * 2
    # a baseline recommended: its solid line and band over its own dashed one
    chosen = pai_chart(rows, "counts")
    assert [(t.meta["kind"], t.meta["method"]) for t in chosen.data] == [
        ("pai-band", "counts"), ("pai-baseline", "counts"), ("pai-baseline", "kde_200m"),
        ("pai", "counts")]
    # no interval columns: no band; NaN figures are left out
    bare = rows.drop(columns=["pai_lo", "pai_hi"])
    bare.loc[bare.index[0], "pai"] = np.nan
    fig = pai_chart(bare, "kde_200m")
    assert [t.meta["kind"] for t in fig.data] == ["pai-baseline", "pai-baseline", "pai"]
    assert list(fig.data[0].x) == [2.0, 5.0, 10.0]
    # a zero (no hit) cannot go on a log axis; a narrow range needs none
    zero = rows.copy()
    zero.loc[zero.index[-1], "pai_lo"] = 0.0
    assert pai_chart(zero, "kde_200m").layout.yaxis.type == "linear"
    assert pai_chart(_rows("counts", [1.2, 1.1, 1.1, 1.0], 0.1), "counts").layout.yaxis.type \
        == "linear"
    assert pai_chart(rows.iloc[:0], "kde").layout.annotations[0].text == "No evaluation"


def test_verdict_text_names_the_winner_or_says_use_counts() -> None:
    beats = {"method": "kde_200m", "leader": "kde_200m", "pai": 5.9, "counts_pai": 5.5,
             "diff": 0.4, "diff_lo": 0.12, "diff_hi": 0.66, "beats_counts": True}
    assert verdict_text("0.01", beats) == (
        "1% of the area: plain 200 m KDE beats all-history counts by +0.40 [+0.12, +0.66] "
        "PAI (5.90 vs 5.50)")
    inside = {"method": None, "leader": "near_repeat", "pai": 5.6, "counts_pai": 5.5,
              "diff": 0.1, "diff_lo": -0.05, "diff_hi": 0.25, "beats_counts": False}
    assert verdict_text(0.05, inside) == (
        "5% of the area: no method beats all-history counts here: use counts "
        "(closest: near-repeat +0.10 [-0.05, +0.25])")
    unscored = {"method": "kde", "leader": "kde", "pai": 5.6, "counts_pai": None,
                "diff": None, "diff_lo": None, "diff_hi": None, "beats_counts": None}
    assert verdict_text(0.1, unscored) == (
        "10% of the area: kernel density (KDE) leads (PAI 5.60); all-history counts were not "
        "scored")
    # coverages with the same verdict share a line; the order of the coverages is kept
    best = {"0.01": beats, "0.02": inside, "0.05": inside, "0.1": unscored}
    assert verdict_lines(best) == [
        verdict_text("0.01", beats), verdict_text(["0.02", "0.05"], inside),
        verdict_text("0.1", unscored)]
    assert verdict_lines(best)[1].startswith("2% and 5% of the area: no method beats")
