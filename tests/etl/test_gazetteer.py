"""Tests for etl.gazetteer: address parsing and matching on a hand-made world of square mahallas.

The world (1-degree squares, lower-left corner given; representative point = square centre):

=====  ===============  ======================  ====================  =======
id     name             district                region                square
=====  ===============  ======================  ====================  =======
m1     Do‘stlik         Jizzax shahri           Jizzax viloyati       (0, 0)
m2     Navbahor         Jizzax shahri           Jizzax viloyati       (1, 0)
m3     Bog‘ishamol      Jizzax shahri           Jizzax viloyati       (2, 0)
m4     Madaniyat        Sharof Rashidov tumani  Jizzax viloyati       (0, 1)
m5     Do‘stlik         Sharof Rashidov tumani  Jizzax viloyati       (1, 1)
m6     Qumqo‘rg‘on      Sharof Rashidov tumani  Jizzax viloyati       (2, 1)
m7     Alpomish         Termiz shahri           Surxondaryo viloyati  (10, 0)
m8     G‘oliblar        Termiz shahri           Surxondaryo viloyati  (11, 0)
m9     Navro‘z          Qarshi shahri           Qashqadaryo viloyati  (20, 0)
m10    Navro‘z          Qarshi tumani           Qashqadaryo viloyati  (21, 0)
=====  ===============  ======================  ====================  =======

District points: Jizzax shahri (0..3 x 0..1) -> (1.5, 0.5); Sharof Rashidov (0..3 x 1..2) ->
(1.5, 1.5); Termiz (10..12 x 0..1) -> (11, 0.5).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import shapely

from riskmap.errors import SchemaError
from riskmap.etl.gazetteer import MATCH_COLUMNS, Gazetteer, parse_address

ROWS = [
    ("m1", "Do‘stlik", "Дўстлик", "Jizzax shahri", "Jizzax viloyati", 0, 0),
    ("m2", "Navbahor", "Навбаҳор", "Jizzax shahri", "Jizzax viloyati", 1, 0),
    ("m3", "Bog‘ishamol", "Боғишамол", "Jizzax shahri", "Jizzax viloyati", 2, 0),
    ("m4", "Madaniyat", "Маданият", "Sharof Rashidov tumani", "Jizzax viloyati", 0, 1),
    ("m5", "Do‘stlik", "Дўстлик", "Sharof Rashidov tumani", "Jizzax viloyati", 1, 1),
    ("m6", "Qumqo‘rg‘on", "Қумқўрғон", "Sharof Rashidov tumani", "Jizzax viloyati", 2, 1),
    ("m7", "Alpomish", "Алпомиш", "Termiz shahri", "Surxondaryo viloyati", 10, 0),
    ("m8", "G‘oliblar", "Ғолиблар", "Termiz shahri", "Surxondaryo viloyati", 11, 0),
    ("m9", "Navro‘z", "Наврўз", "Qarshi shahri", "Qashqadaryo viloyati", 20, 0),
    ("m10", "Navro‘z", "Наврўз", "Qarshi tumani", "Qashqadaryo viloyati", 21, 0),
]
CENTRE = {r[0]: (r[5] + 0.5, r[6] + 0.5) for r in ROWS}


@pytest.fixture(scope="module")
def world() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "mahalla_id": [r[0] for r in ROWS],
            "name": [r[1] for r in ROWS],
            "name_cyrillic": [r[2] for r in ROWS],
            "district": [r[3] for r in ROWS],
            "region": [r[4] for r in ROWS],
        },
        geometry=[shapely.box(r[5], r[6], r[5] + 1, r[6] + 1) for r in ROWS],
        crs="EPSG:4326",
    )


@pytest.fixture(scope="module")
def gaz(world: gpd.GeoDataFrame) -> Gazetteer:
    return Gazetteer.from_mahallas(world)


def _match1(gaz: Gazetteer, address: str | None = None, **cols: str | None) -> dict[str, object]:
    series = {k: pd.Series([v], dtype=object) for k, v in cols.items()}
    addr = None if address is None and cols else pd.Series([address], dtype=object)
    row = gaz.match(addr, **series).iloc[0]
    return {k: (None if pd.isna(row[k]) else row[k]) for k in MATCH_COLUMNS}


# ----------------------------------------------------------------------------- parsing


def test_parse_address_tags_runs_by_type_words() -> None:
    def summary(text: str) -> list[tuple[tuple[str, ...], list[str]]]:
        return [(r.words, sorted(r.roles)) for r in parse_address(text)]

    assert summary("Jizzax shahri, Do‘stlik MFY, 12-uy") == [
        (("jizzax",), ["district"]), (("do'stlik",), ["mahalla"])]
    assert summary("г. Джизак, махалля Дустлик, д. 5") == [
        (("djizak",), ["district"]), (("dustlik",), ["mahalla"])]
    assert summary("Жиззах шаҳри Дўстлик МФЙ") == [
        (("jizzax",), ["district"]), (("do'stlik",), ["mahalla"])]
    assert summary("Termiz sh. Alpomish mahallasi, Navoiy ko‘chasi 7") == [
        (("termiz",), ["district"]), (("alpomish",), ["mahalla"]), (("navoiy",), ["street"])]
    assert summary("ул. Навои 5, Дустлик махалля") == [
        (("navoi",), ["street"]), (("dustlik",), ["mahalla"])]
    assert summary("8-mart MFY") == [(("8", "mart"), ["mahalla"])]
    assert summary("") == []


# ----------------------------------------------------------------------------- building


def test_representative_points(gaz: Gazetteer) -> None:
    got = gaz.match(mahalla=pd.Series([r[1] for r in ROWS]),
                    district=pd.Series([r[3] for r in ROWS]))
    assert got["mahalla_id"].tolist() == [r[0] for r in ROWS]
    assert list(zip(got["lon"], got["lat"], strict=True)) == [CENTRE[r[0]] for r in ROWS]


def test_district_points_are_on_the_union(gaz: Gazetteer) -> None:
    got = gaz.match(district=pd.Series(["Jizzax shahri", "Sharof Rashidov tumani",
                                        "Termiz shahri"]))
    assert got["precision"].tolist() == ["district"] * 3
    assert list(zip(got["lon"], got["lat"], strict=True)) == [(1.5, 0.5), (1.5, 1.5),
                                                               (11.0, 0.5)]


def test_projected_input_reports_lonlat(world: gpd.GeoDataFrame) -> None:
    gaz = Gazetteer.from_mahallas(world.to_crs(3857))
    row = _match1(gaz, "Termiz sh. Alpomish mahallasi")
    assert row["mahalla_id"] == "m7"
    assert row["lon"] == pytest.approx(10.5, abs=1e-6)
    assert row["lat"] == pytest.approx(0.5, abs=1e-2)  # the centre in metres, not degrees


def test_missing_column_is_a_schema_error(world: gpd.GeoDataFrame) -> None:
    with pytest.raises(SchemaError, match="district"):
        Gazetteer.from_mahallas(world.drop(columns=["district"]))


def test_bad_threshold(world: gpd.GeoDataFrame) -> None:
    with pytest.raises(ValueError, match="threshold"):
        Gazetteer.from_mahallas(world, threshold=0)


def test_empty_geometry_gives_nan_point(world: gpd.GeoDataFrame) -> None:
    w = world.copy()
    w.loc[0, "geometry"] = shapely.Polygon()
    row = _match1(Gazetteer.from_mahallas(w), "Jizzax sh., Do'stlik MFY")
    assert row["mahalla_id"] == "m1"
    assert row["lon"] is None  # NaN


# ----------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("Jizzax shahri, Do‘stlik MFY, 12-uy", "m1"),
        ("г. Джизак, махалля Дустлик, д. 5", "m1"),
        ("Жиззах шаҳри Дўстлик МФЙ", "m1"),
        ("Jizzax sh., Do'stlik mahallasi", "m1"),
        ("JIZZAX SH. DO`STLIK MFY", "m1"),
        ("Jizzax Dustlik 5", "m1"),
        ("Termiz sh. Alpomish mahallasi", "m7"),
        ("Sharof Rashidov tumani, Madaniyat", "m4"),
        ("Шароф Рашидов тумани, Дўстлик МФЙ", "m5"),
        ("Джизакская область, Шароф-Рашидовский район, махалля Дустлик", "m5"),
        ("Кумкурган", "m6"),
        ("Голиблар махалля", "m8"),
        ("«Bog‘ishamol» MFY fuqarolar yig‘ini", "m3"),
        ("Qarshi shahri, Navro‘z MFY", "m9"),
        ("Qarshi tumani, Navro‘z MFY", "m10"),
    ],
)
def test_addresses_match_the_mahalla(gaz: Gazetteer, address: str, expected: str) -> None:
    row = _match1(gaz, address)
    assert row["mahalla_id"] == expected
    assert row["precision"] == "mahalla"
    assert row["score"] == 100.0
    assert row["reason"] is None
    assert (row["lon"], row["lat"]) == CENTRE[expected]


@pytest.mark.parametrize("spelling", ["Дўстлик", "Дустлик", "Do‘stlik", "Do'stlik", "Dustlik",
                                      "DO`STLIK"])
def test_spelling_variants_match_the_same_mahalla(gaz: Gazetteer, spelling: str) -> None:
    row = _match1(gaz, f"Jizzax shahri, {spelling} MFY")
    assert row["mahalla_id"] == "m1"


def test_fuzzy_typo_above_threshold(gaz: Gazetteer) -> None:
    # key "bagishamil" vs "bagishamal": 9 of 10 letters -> ratio 90
    row = _match1(gaz, "Jizzax sh., Bog'ishamil MFY")
    assert row["mahalla_id"] == "m3"
    assert row["precision"] == "mahalla"
    assert row["score"] == pytest.approx(90.0)


def test_fuzzy_typo_needs_the_threshold(world: gpd.GeoDataFrame) -> None:
    strict = Gazetteer.from_mahallas(world, threshold=95)
    row = _match1(strict, "Jizzax sh., Bog'ishamil MFY")
    assert (row["mahalla_id"], row["precision"]) == (None, "district")


def test_far_string_is_not_matched(gaz: Gazetteer) -> None:
    row = _match1(gaz, "Bozorboshi MFY")
    assert row["mahalla_id"] is None
    assert row["precision"] is None
    assert row["reason"] == "not_found"
    assert row["score"] == 0.0


def test_ambiguous_name_without_district_is_not_guessed(gaz: Gazetteer) -> None:
    row = _match1(gaz, "Do‘stlik MFY")
    assert row["mahalla_id"] is None
    assert row["precision"] is None
    assert row["reason"] == "ambiguous"
    assert row["lon"] is None  # NaN


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"address": "Jizzax shahri, Do‘stlik MFY"}, "m1"),
        ({"address": "Sharof Rashidov tumani, Do‘stlik MFY"}, "m5"),
        ({"mahalla": "Do‘stlik", "district": "Jizzax sh."}, "m1"),
        ({"mahalla": "Дўстлик", "district": "Шароф Рашидов тумани"}, "m5"),
        ({"address": "Do‘stlik MFY, 3-uy", "district": "Sharof Rashidov"}, "m5"),
    ],
)
def test_ambiguous_name_resolved_by_district(gaz: Gazetteer, kwargs: dict[str, str],
                                             expected: str) -> None:
    assert _match1(gaz, **kwargs)["mahalla_id"] == expected


def test_qarshi_city_and_district_share_a_key(gaz: Gazetteer) -> None:
    # "Qarshi" alone names both Qarshi shahri and Qarshi tumani, each with a Navro‘z
    assert _match1(gaz, "Qarshi, Navro‘z MFY")["reason"] == "ambiguous"
    assert _match1(gaz, "Qarshi sh. Navro'z")["mahalla_id"] == "m9"


def test_region_restricts_the_search(gaz: Gazetteer) -> None:
    assert _match1(gaz, "Jizzax viloyati, G‘oliblar MFY")["reason"] == "not_found"
    assert _match1(gaz, "Surxondaryo viloyati, G‘oliblar MFY")["mahalla_id"] == "m8"
    assert _match1(gaz, "G‘oliblar", region="Surxondaryo")["mahalla_id"] == "m8"
    # both Do‘stliks are in Jizzax region: the region alone does not decide
    assert _match1(gaz, "Jizzax viloyati, Do‘stlik MFY")["reason"] == "ambiguous"


def test_district_only_precision(gaz: Gazetteer) -> None:
    row = _match1(gaz, "Sharof Rashidov tumani")
    assert row == {"mahalla_id": None, "district": "Sharof Rashidov tumani",
                   "region": "Jizzax viloyati", "precision": "district", "score": 100.0,
                   "lon": 1.5, "lat": 1.5, "reason": None}


def test_unknown_mahalla_in_known_district_falls_back_to_district(gaz: Gazetteer) -> None:
    row = _match1(gaz, "г. Джизак, махалля Ялангоч")
    assert (row["mahalla_id"], row["district"], row["precision"]) == (
        None, "Jizzax shahri", "district")
    assert (row["lon"], row["lat"]) == (1.5, 0.5)


def test_street_names_are_not_mahallas(gaz: Gazetteer) -> None:
    # Navbahor is a mahalla of Jizzax, but here it is a street
    row = _match1(gaz, "Jizzax sh., Navbahor ko‘chasi, 14-uy")
    assert (row["mahalla_id"], row["precision"]) == (None, "district")
    row = _match1(gaz, "г. Джизак, ул. Навбахор, д. 3, махалля Дустлик")
    assert row["mahalla_id"] == "m1"


@pytest.mark.parametrize("value", ["", "   ", None])
def test_empty_rows(gaz: Gazetteer, value: str | None) -> None:
    row = _match1(gaz, value, mahalla=None)
    assert row["reason"] == "empty"
    assert row["precision"] is None


def test_address_without_a_name_is_not_found(gaz: Gazetteer) -> None:
    assert _match1(gaz, "12-uy, 5-xonadon")["reason"] == "not_found"


def test_frame_shape_index_and_dtypes(gaz: Gazetteer) -> None:
    addr = pd.Series(["Jizzax sh., Do'stlik MFY", None, "Do'stlik MFY", "Jizzax sh., Do'stlik MFY"],
                     index=[40, 41, 42, 43])
    out = gaz.match(addr)
    assert tuple(out.columns) == MATCH_COLUMNS
    assert out.index.tolist() == [40, 41, 42, 43]
    assert out["mahalla_id"].dtype == "string"
    assert out["precision"].dtype == "string"
    assert out["reason"].dtype == "string"
    assert out["score"].dtype == "float64"
    assert out["mahalla_id"].tolist() == ["m1", pd.NA, pd.NA, "m1"]
    assert out["reason"].tolist() == [pd.NA, "empty", "ambiguous", pd.NA]


def test_repeated_rows_agree_with_single_rows(gaz: Gazetteer) -> None:
    forms = ["Jizzax sh., Do'stlik MFY", "Do'stlik MFY", "Кумкурган", "Sharof Rashidov tumani",
             "Bog'ishamil", None]
    rng = np.random.default_rng(3)
    pos = rng.integers(0, len(forms), 500)
    bulk = gaz.match(pd.Series(np.array(forms, dtype=object)[pos]))
    singles = pd.concat([gaz.match(pd.Series([f], dtype=object)) for f in forms],
                        ignore_index=True)
    expected = singles.iloc[pos].reset_index(drop=True)
    pd.testing.assert_frame_equal(bulk.reset_index(drop=True), expected)


def test_inputs_must_share_an_index(gaz: Gazetteer) -> None:
    with pytest.raises(ValueError, match="index"):
        gaz.match(pd.Series(["a"], index=[1]), district=pd.Series(["b"], index=[2]))
    with pytest.raises(ValueError, match="at least one"):
        gaz.match()


# ----------------------------------------------------------------------------- Russian forms

# A second world for Russian district/region forms: one Navro‘z per district (so only the
# district can place it), plus Bahor in one district of each of two regions.
RU_DISTRICTS = [
    ("Termiz shahri", "Surxondaryo viloyati"), ("Termiz tumani", "Surxondaryo viloyati"),
    ("Denov tumani", "Surxondaryo viloyati"), ("Muzrabot tumani", "Surxondaryo viloyati"),
    ("Qarshi shahri", "Qashqadaryo viloyati"), ("Qarshi tumani", "Qashqadaryo viloyati"),
    ("Ko‘kdala tumani", "Qashqadaryo viloyati"), ("Muborak tumani", "Qashqadaryo viloyati"),
    ("Kasbi tumani", "Qashqadaryo viloyati"),
]


def _world(rows: list[tuple[str, str, str, str]]) -> gpd.GeoDataFrame:
    """(mahalla_id, name, district, region) rows on unit squares along the x axis."""
    return gpd.GeoDataFrame(
        {"mahalla_id": [r[0] for r in rows], "name": [r[1] for r in rows],
         "district": [r[2] for r in rows], "region": [r[3] for r in rows]},
        geometry=[shapely.box(i, 0, i + 1, 1) for i in range(len(rows))], crs="EPSG:4326")


@pytest.fixture(scope="module")
def ru_gaz() -> Gazetteer:
    rows = [(f"n{i}", "Navro‘z", d, r) for i, (d, r) in enumerate(RU_DISTRICTS)]
    rows += [("b1", "Bahor", "Denov tumani", "Surxondaryo viloyati"),
             ("b2", "Bahor", "Kasbi tumani", "Qashqadaryo viloyati")]
    return Gazetteer.from_mahallas(_world(rows))


def _nav(district: str) -> str:
    return f"n{[d for d, _ in RU_DISTRICTS].index(district)}"


@pytest.mark.parametrize(
    ("address", "district"),
    [
        ("г. Термез, махалля Навруз", "Termiz shahri"),  # е for i; г. picks the city
        ("Сурхандарьинская область, г. Термез, махалля Навруз", "Termiz shahri"),
        ("Термезский район, махалля Навруз", "Termiz tumani"),  # район picks the tuman
        ("Денауский район, махалля Навруз", "Denov tumani"),  # -ау = -ov
        ("Сурхандарьинская область, Денауский р-н, махалля Навруз", "Denov tumani"),
        ("в Денауском районе, махалля Навруз", "Denov tumani"),  # oblique case
        ("Музрабадский район, махалля Навруз", "Muzrabot tumani"),  # -bad = -bot
        ("г. Карши, махалля Навруз", "Qarshi shahri"),
        ("Каршинский район, махалля Навруз", "Qarshi tumani"),  # -и + -нский
        ("Кашкадарьинская область, Каршинский район, махалля Навруз", "Qarshi tumani"),
        ("Кукдалинский район, махалля Навруз", "Ko‘kdala tumani"),  # -а + -инский
        ("Мубарекский район, махалля Навруз", "Muborak tumani"),  # е for o
        ("Касбийский район, махалля Навруз", "Kasbi tumani"),
    ],
)
def test_russian_district_forms(ru_gaz: Gazetteer, address: str, district: str) -> None:
    row = _match1(ru_gaz, address)
    assert (row["mahalla_id"], row["district"], row["precision"]) == (
        _nav(district), district, "mahalla")


def test_russian_district_form_alone_gives_the_district(ru_gaz: Gazetteer) -> None:
    row = _match1(ru_gaz, "Денауский район")
    assert (row["mahalla_id"], row["district"], row["precision"]) == (
        None, "Denov tumani", "district")
    assert row["score"] == 100.0  # final -au reads as -av: the keys are equal
    row = _match1(ru_gaz, "г. Термез")
    assert (row["district"], row["precision"]) == ("Termiz shahri", "district")
    assert row["score"] == 83.33  # ratio of "termez" and "termiz", 10 / 12, two decimals


def test_russian_district_form_in_its_own_column(ru_gaz: Gazetteer) -> None:
    row = _match1(ru_gaz, None, mahalla="Навруз", district="Мубарекский район")
    assert row["mahalla_id"] == _nav("Muborak tumani")


def test_russian_region_forms_restrict_the_search(ru_gaz: Gazetteer) -> None:
    assert _match1(ru_gaz, "Сурхандарьинская область, махалля Бахор")["mahalla_id"] == "b1"
    assert _match1(ru_gaz, "Кашкадарьинская область, махалля Бахор")["mahalla_id"] == "b2"
    assert _match1(ru_gaz, "махалля Бахор")["reason"] == "ambiguous"
    # the region is read, but it holds several Navro‘z
    assert _match1(ru_gaz, "Кашкадарьинская область, махалля Навруз")["reason"] == "ambiguous"


def test_russian_district_outside_the_named_region_is_not_taken(ru_gaz: Gazetteer) -> None:
    # Denov is in Surxondaryo, so in Qashqadaryo "Денауский" names nothing: no district
    row = _match1(ru_gaz, "Кашкадарьинская область, Денауский район, махалля Навруз")
    assert row["mahalla_id"] is None
    assert row["reason"] == "ambiguous"


@pytest.mark.parametrize("address", ["г. Атлантида, махалля Навруз",
                                     "Нарнийский район, махалля Навруз",
                                     "г. Луна, махалля Навруз"])
def test_made_up_district_is_not_matched(ru_gaz: Gazetteer, address: str) -> None:
    row = _match1(ru_gaz, address)
    assert (row["mahalla_id"], row["district"], row["reason"]) == (None, None, "ambiguous")


def test_fuzzy_district_needs_a_clear_margin() -> None:
    rows = [("s1", "Bahor", "Sardoba tumani", "Sirdaryo viloyati"),
            ("s2", "Bahor", "Sardor tumani", "Sirdaryo viloyati")]
    # key "sardabar": ratio 93.3 against "sardaba", 85.7 against "sardar" -> 7.6 points apart
    address = "Сардоборский район, махалля Бахор"
    strict = Gazetteer.from_mahallas(_world(rows))  # margin 10: too close to choose
    row = _match1(strict, address)
    assert (row["mahalla_id"], row["reason"]) == (None, "ambiguous")
    loose = Gazetteer.from_mahallas(_world(rows), admin_margin=5)
    row = _match1(loose, address)
    assert (row["mahalla_id"], row["district"]) == ("s1", "Sardoba tumani")
    assert row["score"] == 100.0  # the mahalla matched exactly inside the district
    assert _match1(loose, "Сардоборский район")["score"] == pytest.approx(93.33)
    high = Gazetteer.from_mahallas(_world(rows), admin_threshold=95, admin_margin=5)
    assert _match1(high, address)["reason"] == "ambiguous"


def test_bad_admin_parameters(world: gpd.GeoDataFrame) -> None:
    with pytest.raises(ValueError, match="admin_threshold"):
        Gazetteer.from_mahallas(world, admin_threshold=120)
    with pytest.raises(ValueError, match="admin_margin"):
        Gazetteer.from_mahallas(world, admin_margin=-1)


def test_every_demo_district_and_region_reads_in_russian() -> None:
    # the real names of etl.demo.places: Russian "<adjective> район" / "г. <city>" forms
    from riskmap.etl.demo.places import MAIN_REGIONS

    rows = [(f"d{i}", f"M{i}", d.name, r.name) for i, (r, d) in enumerate(
        (r, d) for r in MAIN_REGIONS for d in r.districts)]
    gaz = Gazetteer.from_mahallas(_world(rows))
    pairs = [(r, d) for r in MAIN_REGIONS for d in r.districts]
    addresses = [d.russian for _, d in pairs] + [f"{r.russian}, {d.russian}" for r, d in pairs]
    got = gaz.match(pd.Series(addresses))
    expected = [d.name for _, d in pairs] * 2
    assert got["district"].tolist() == expected
    assert got["precision"].tolist() == ["district"] * len(addresses)


def test_numbered_district_keeps_its_number() -> None:
    assert [(r.words, sorted(r.roles)) for r in parse_address("Toshkent 1-tumani, Navbahor MFY")
            ] == [(("toshkent", "1"), ["district"]), (("navbahor",), ["mahalla"])]
    rows = [("t0", "Navbahor", "Toshkent shahri", "Toshkent shahri"),
            ("t1", "Navbahor", "Toshkent 1-tumani", "Toshkent viloyati"),
            ("t2", "Navbahor", "Toshkent 2-tumani", "Toshkent viloyati")]
    gaz = Gazetteer.from_mahallas(_world(rows))
    got = gaz.match(pd.Series(["Toshkent 1-tumani, Navbahor MFY", "Тошкент 2-тумани, Навбаҳор МФЙ",
                               "Тошкент 1-й район, махалля Навбахор", "Toshkent sh., Navbahor MFY",
                               "Navbahor MFY, 12-uy"]))
    assert got["mahalla_id"].tolist() == ["t1", "t2", "t1", "t0", pd.NA]
