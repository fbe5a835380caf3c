"""Tests of the synthetic demo world generator (small size)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

import geopandas as gpd
import shapely

from riskmap.errors import ConfigError
from riskmap.etl.demo import SOURCE_LABEL, DemoFiles, generate_demo
from riskmap.etl.demo.config import period
from riskmap.etl.demo.files import write_csv
from riskmap.etl.demo.names import to_cyrillic, to_russian
from riskmap.etl.demo.places import MAIN_REGIONS, build_admin, to_xy
from riskmap.etl.demo.rows import _fmt, _timestamps, alias_lookup

CSV_DTYPES = dict.fromkeys(("incident_id", "occurred_at", "category", "lat", "lon", "address"), "string")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    return generate_demo(tmp_path_factory.mktemp("demo"), size="small", seed=7)


@pytest.fixture(scope="module")
def manifest(demo: DemoFiles) -> dict:
    return json.loads(demo.manifest.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def mahallas(demo: DemoFiles) -> gpd.GeoDataFrame:
    return gpd.read_file(demo.mahallas)


@pytest.fixture(scope="module")
def infra(demo: DemoFiles) -> gpd.GeoDataFrame:
    return gpd.read_file(demo.infrastructure)


@pytest.fixture(scope="module")
def rows(demo: DemoFiles) -> pd.DataFrame:
    return pd.read_csv(demo.incidents[0], dtype=CSV_DTYPES, keep_default_na=False)


def _xy(geoms: np.ndarray) -> np.ndarray:
    """Lon/lat geometries to the generator's metre plane."""
    return shapely.transform(geoms, lambda c: np.column_stack(to_xy(c[:, 0], c[:, 1])))


def _norm(text: str) -> str:
    return re.sub(r"[‘'`ʻ’]", "‘", text).lower().strip()


def test_same_seed_same_bytes(demo: DemoFiles, tmp_path: Path) -> None:
    again = generate_demo(tmp_path, size="small", seed=7)
    for a, b in [(demo.mahallas, again.mahallas), (demo.cameras, again.cameras),
                 (demo.infrastructure, again.infrastructure), (demo.manifest, again.manifest),
                 *zip(demo.incidents, again.incidents, strict=True)]:
        assert a.name == b.name
        assert a.read_bytes() == b.read_bytes(), a.name


def test_unknown_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="huge"):
        generate_demo(tmp_path, size="huge")
    assert list(tmp_path.iterdir()) == []


def test_raw_columns(demo: DemoFiles, mahallas: gpd.GeoDataFrame, infra: gpd.GeoDataFrame,
                     rows: pd.DataFrame) -> None:
    assert list(mahallas.columns) == ["mahalla_id", "name", "name_cyrillic", "district",
                                      "region", "population", "source", "geometry"]
    assert (mahallas["source"] == SOURCE_LABEL).all()
    assert set(mahallas.geom_type) <= {"Polygon", "MultiPolygon"}
    assert mahallas["mahalla_id"].str.fullmatch(r"(JZ|SU|QA)-\d{4}").all()
    assert mahallas["mahalla_id"].is_unique
    assert list(rows.columns) == ["incident_id", "occurred_at", "category", "lat", "lon",
                                  "address", "victim_sex", "victim_age", "offender_sex",
                                  "offender_age", "domestic", "repeat_offender",
                                  "on_probation"]
    cams = pd.read_csv(demo.cameras)
    assert list(cams.columns) == ["camera_id", "lat", "lon", "type", "bearing_deg", "fov_deg",
                                  "range_m", "height_m", "installed_on", "status"]
    assert list(infra.columns) == ["feature_id", "kind", "name", "road_class", "speed_kmh",
                                   "season_start", "season_end", "geometry"]
    assert {"Point", "LineString", "Polygon"} <= set(infra.geom_type)


def test_sizes_and_regions(manifest: dict, mahallas: gpd.GeoDataFrame,
                           rows: pd.DataFrame) -> None:
    assert 300 <= len(mahallas) <= 600
    assert set(mahallas["region"]) == {"Jizzax viloyati", "Surxondaryo viloyati",
                                       "Qashqadaryo viloyati"}
    assert 19_000 <= len(rows) <= 23_000
    assert manifest["counts"]["mahallas"] == len(mahallas)
    assert manifest["counts"]["incidents"]["incidents.csv"] == len(rows)


def test_mahallas_tessellate_districts(mahallas: gpd.GeoDataFrame) -> None:
    _, region_polys, district_polys = build_admin(whole_country=False)
    geoms = _xy(mahallas.geometry.to_numpy())
    assert shapely.is_valid(geoms).all()
    for (region, district), poly in district_polys.items():
        sel = ((mahallas["district"] == district) & (mahallas["region"] == region)).to_numpy()
        assert sel.any(), district
        part = geoms[sel]
        union = shapely.union_all(part)
        # no overlaps: the areas add up to the area of the union (1 m² of rounding allowed)
        assert shapely.area(part).sum() - union.area < 1.0, district
        # no gaps or spill: the union is the district polygon (up to the 7-decimal rounding
        # of the file, about 1 cm along the boundary)
        assert shapely.symmetric_difference(union, poly).area < 0.02 * poly.length, district
    # and the districts tessellate their regions
    for region, poly in region_polys.items():
        parts = [p for (r, _), p in district_polys.items() if r == region]
        assert shapely.symmetric_difference(shapely.union_all(parts), poly).area < 1e-6 * poly.area


def test_named_mahallas_in_their_districts(mahallas: gpd.GeoDataFrame, manifest: dict) -> None:
    expected = {
        "Mirzacho‘l tumani": {"Mustaqillik"}, "Jizzax shahri": {"Do‘stlik", "Yoshlik"},
        "Sharof Rashidov tumani": {"Madaniyat"}, "Arnasoy tumani": {"G‘oliblar"},
        "Baxmal tumani": {"Bog‘ishamol"}, "G‘allaorol tumani": {"Nurafshon", "Guliston"},
        "Termiz shahri": {"Alpomish"}, "Qumqo‘rg‘on tumani": {"Yangishahar"},
    }
    for district, names in expected.items():
        here = set(mahallas.loc[mahallas["district"] == district, "name"])
        assert names <= here, district
    # names are unique within a district but repeat across districts (ambiguity to resolve)
    assert not mahallas.duplicated(["region", "district", "name"]).any()
    assert mahallas["name"].duplicated().any()
    assert (mahallas["name"] == "Do‘stlik").sum() >= 2
    # Cyrillic forms
    dostlik = mahallas[mahallas["name"] == "Do‘stlik"]
    assert (dostlik["name_cyrillic"] == "Дўстлик").all()
    assert {e["name"] for e in manifest["named_mahallas"]["Jizzax shahri"]} == {"Do‘stlik",
                                                                                "Yoshlik"}


def test_town_mahallas_are_small_and_populous(mahallas: gpd.GeoDataFrame) -> None:
    city = mahallas[mahallas["district"] == "Termiz shahri"]
    area_km2 = shapely.area(_xy(city.geometry.to_numpy())) / 1e6
    assert np.median(area_km2) < 1.0  # a few hundred metres across
    assert city["population"].between(1500, 8000).all()
    steppe = mahallas[mahallas["district"] == "Forish tumani"]
    steppe_area = shapely.area(_xy(steppe.geometry.to_numpy())) / 1e6
    assert steppe_area.max() > 20  # kilometres across in the steppe
    assert (steppe["population"] / steppe_area).min() < (city["population"] / area_km2).min()


def test_alpomish_cameras(demo: DemoFiles, mahallas: gpd.GeoDataFrame,
                          infra: gpd.GeoDataFrame) -> None:
    alp = mahallas[(mahallas["district"] == "Termiz shahri") & (mahallas["name"] == "Alpomish")]
    assert len(alp) == 1
    poly = _xy(alp.geometry.to_numpy())[0]
    cams = pd.read_csv(demo.cameras)
    x, y = to_xy(cams["lon"].to_numpy(), cams["lat"].to_numpy())
    inside = cams[shapely.contains_xy(poly, x, y)]
    assert inside["type"].value_counts().to_dict() == {
        "face_recognition": 20, "traffic": 3, "licence_plate": 3}
    # licence-plate cameras watch the entrances: within 15 m of the boundary, on a street
    lp = inside[inside["type"] == "licence_plate"]
    lx, ly = to_xy(lp["lon"].to_numpy(), lp["lat"].to_numpy())
    pts = shapely.points(lx, ly)
    assert (shapely.distance(pts, poly.boundary) < 15).all()
    streets = _xy(infra.loc[infra["kind"] == "road"].geometry.to_numpy())
    assert (shapely.distance(pts[:, None], streets[None, :]).min(axis=1) < 1).all()
    # schools and bus stops inside Alpomish, each watched by face-recognition cameras
    site = infra[infra["kind"].isin(["school", "bus_stop"])]
    sx, sy = to_xy(shapely.get_x(site.geometry.to_numpy()), shapely.get_y(site.geometry.to_numpy()))
    site_in = shapely.contains_xy(poly, sx, sy)
    assert site_in.sum() >= 4
    face = inside[inside["type"] == "face_recognition"]
    fx, fy = to_xy(face["lon"].to_numpy(), face["lat"].to_numpy())
    d = np.hypot(fx[:, None] - sx[site_in], fy[:, None] - sy[site_in]).min(axis=1)
    assert (d < 20).sum() >= 14


def test_camera_defaults(demo: DemoFiles) -> None:
    cams = pd.read_csv(demo.cameras, dtype={"installed_on": "string"}, keep_default_na=False)
    expected = {"face_recognition": (30, 60), "licence_plate": (40, 30), "traffic": (80, 90)}
    for kind, (rng_m, fov) in expected.items():
        sel = cams[cams["type"] == kind]
        assert (sel["range_m"] == rng_m).all() and (sel["fov_deg"] == fov).all()
    over = cams[cams["type"] == "overview"]
    assert (over["range_m"] == 120).all() and set(over["fov_deg"]) == {90.0, 360.0}
    assert cams["bearing_deg"].between(0, 360, inclusive="left").all()
    assert set(cams["status"]) <= {"active", "planned", "broken"}
    planned = cams["status"] == "planned"
    assert (cams.loc[planned, "installed_on"] == "").all()
    assert cams.loc[~planned, "installed_on"].str.fullmatch(r"\d{4}-\d\d-\d\d").all()


def test_face_camera_looks_at_its_site() -> None:
    from riskmap.etl.demo.cameras import _bearing

    # east, north, south-west: compass bearings clockwise from north
    assert _bearing(np.array([1.0, 0.0, -1.0]), np.array([0.0, 1.0, -1.0])).tolist() == [
        90.0, 0.0, 225.0]


def test_cybercrime_share_and_locations(rows: pd.DataFrame) -> None:
    canon = rows["category"].str.lower().map(alias_lookup())
    assert canon.notna().mean() > 0.99
    assert abs((canon == "cybercrime").mean() - 0.42) < 0.03
    assert abs((canon == "fraud").mean() - 0.08) < 0.02
    address_only = canon.isin(["cybercrime", "fraud"])
    # cybercrime and fraud have no coordinates; the rest have 6-decimal coordinates
    assert (rows.loc[address_only, "lat"] == "").all()
    located = rows.loc[~address_only & (rows["lat"] != ""), "lat"]
    assert located.str.fullmatch(r"-?\d+\.\d{6}|abc|999").all()
    # the spellings vary: canonical codes, Uzbek Latin, Uzbek Cyrillic and Russian
    cyber = set(rows.loc[canon == "cybercrime", "category"])
    assert {"cybercrime", "kiberjinoyat", "кибержиноят", "киберпреступление"} <= {
        c.lower() for c in cyber}


def _address_names(mahallas: gpd.GeoDataFrame) -> set[str]:
    names = set(map(_norm, mahallas["name"])) | set(map(_norm, mahallas["name_cyrillic"]))
    return names | {_norm(to_russian(c)) for c in mahallas["name_cyrillic"]}


def _address_name(address: str) -> str:
    for pat in (r".*,\s*(.+?)\s+(?:mfy|mahallasi|мфй|маҳалласи)$", r".*махалля\s+(.+)$"):
        m = re.match(pat, _norm(address))
        if m:
            return m.group(1)
    return ""


def _district_only() -> set[str]:
    """The district-only address spellings of the small world (Latin, Cyrillic, Russian)."""
    return {form for r in MAIN_REGIONS for d in r.districts
            for form in (d.name, f"{r.cyrillic}, {d.cyrillic}", d.russian)}


def test_addresses_resolve_in_three_scripts(rows: pd.DataFrame, mahallas: gpd.GeoDataFrame,
                                            manifest: dict) -> None:
    addr = rows.loc[rows["lat"] == "", "address"]
    known = _address_names(mahallas)
    found = addr.map(_address_name).isin(known)
    assert found.mean() > 0.98
    # about 1% name only the district
    district_only = addr.isin(_district_only())
    assert district_only.sum() == manifest["incidents"]["district_only_addresses"]
    assert 0.003 < district_only.mean() < 0.03
    assert not (found & district_only).any()
    assert addr.str.contains("MFY").any() and addr.str.contains("МФЙ").any()
    assert addr.str.contains("махалля").any()
    assert (addr == "Jizzax shahri, Do‘stlik MFY").any() or addr.str.contains("Jizzax").any()
    assert to_cyrillic("Jizzax shahri, Do‘stlik") == "Жиззах шаҳри, Дўстлик"


def test_manifest_counts_match_files(rows: pd.DataFrame, manifest: dict,
                                     mahallas: gpd.GeoDataFrame) -> None:
    q = manifest["dirty"]["quarantine"]
    fix = manifest["dirty"]["fix_flags"]
    ts = rows["occurred_at"]
    assert (ts == "").sum() == q["missing_date"]
    assert ts.str.startswith("2031-").sum() == q["future_date"]
    parsed = pd.Series([_parse(s) for s in ts])
    assert (parsed.isna() & (ts != "")).sum() == q["invalid_date"]
    assert rows.duplicated().sum() == q["duplicate_row"]
    assert (rows["incident_id"].duplicated() & ~rows.duplicated()).sum() == q["conflicting_id"]
    cat = rows["category"].str.lower().map(alias_lookup())
    assert cat.isna().sum() == q["unknown_category"]
    bad = rows["lat"].isin(["abc", "999"]) | rows["lon"].isin(["abc", "999"])
    assert bad.sum() == q["invalid_coordinates"]
    # no coordinates and an address that matches no mahalla
    no_coord = rows["lat"] == ""
    unmatched = ~rows["address"].map(_address_name).isin(_address_names(mahallas))
    district_only = rows["address"].isin(_district_only())
    assert (no_coord & unmatched & ~district_only).sum() == q["no_location"]
    # coordinates outside the world: swapped ones come back inside when swapped back,
    # near ones lie 20-150 m outside, far ones (abroad) are neither
    ok = ~no_coord & ~bad
    lat = pd.to_numeric(rows.loc[ok, "lat"]).to_numpy()
    lon = pd.to_numeric(rows.loc[ok, "lon"]).to_numpy()
    land = shapely.union_all(_xy(mahallas.geometry.to_numpy()))
    shapely.prepare(land)
    x, y = to_xy(lon, lat)
    out = ~shapely.contains_xy(land, x, y)
    sx, sy = to_xy(lat, lon)
    swapped = out & shapely.contains_xy(land, sx, sy)
    assert swapped.sum() == fix["swapped_coordinates"]
    dist = shapely.distance(shapely.points(x[out], y[out]), land)
    near = (dist < 200)
    assert near.sum() == fix["snapped_to_mahalla"]
    assert (dist[near] > 20).all() and (dist[near] < 150).all()
    assert (out & ~swapped).sum() - near.sum() == q["outside_area"]
    assert manifest["dirty"]["expected_loaded_rows"] == len(rows) - sum(q.values())
    assert 0.005 <= (sum(q.values()) + sum(fix.values())) / len(rows) <= 0.01


def _parse(text: str) -> dt.datetime | None:
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S", "%d.%m.%Y %H:%M"):
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def test_dates_cover_two_full_years(rows: pd.DataFrame) -> None:
    parsed = [_parse(s) for s in rows["occurred_at"]]
    days = pd.Series([p.date() for p in parsed if p is not None and p.year < 2031])
    assert days.min() == dt.date(2024, 1, 1) and days.max() == dt.date(2025, 12, 31)
    iso = rows["occurred_at"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+05:00")
    dmy = rows["occurred_at"].str.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d")
    assert iso.mean() > 0.7 and 0.05 < dmy.mean() < 0.2
    # summer busier than winter, evenings busier than early mornings (located crime)
    loc = pd.Series([p for p, lat in zip(parsed, rows["lat"], strict=True)
                     if p is not None and lat not in ("", "abc") and p.year < 2031])
    month = loc.map(lambda p: p.month)
    hour = loc.map(lambda p: p.hour)
    assert month.isin([6, 7, 8]).sum() > 1.2 * month.isin([12, 1, 2]).sum()
    assert hour.isin([19, 20, 21]).sum() > 3 * hour.isin([3, 4, 5]).sum()


def test_planted_hotspots_trend(rows: pd.DataFrame, manifest: dict) -> None:
    ok = (rows["lat"] != "") & ~rows["lat"].isin(["abc", "999"]) & (rows["lon"] != "999")
    sub = rows[ok]
    year = np.array([p.year if p else 0 for p in map(_parse, sub["occurred_at"])])
    x, y = to_xy(pd.to_numeric(sub["lon"]).to_numpy(), pd.to_numeric(sub["lat"]).to_numpy())
    for h in manifest["hotspots"]:
        hx, hy = to_xy(h["lon"], h["lat"])
        near = np.hypot(x - hx, y - hy) < 400
        first, second = (near & (year == 2024)).sum(), (near & (year == 2025)).sum()
        if h["kind"] == "emerging":
            assert second > 1.5 * first
        elif h["kind"] == "diminishing":
            assert first > 1.5 * second
        else:
            assert first + second > 50


def test_near_repeats(rows: pd.DataFrame) -> None:
    """Self-excitation: more pairs close in space and time than a shuffle of times gives."""
    canon = rows["category"].str.lower().map(alias_lookup())
    ok = canon.isin(["burglary"]) & (rows["lat"] != "") & ~rows["lat"].isin(["abc", "999"])
    sub = rows[ok & (rows["lon"] != "999")]
    t = np.array([p.replace(tzinfo=None).timestamp() / 86400 if p else np.nan
                  for p in map(_parse, sub["occurred_at"])])
    x, y = to_xy(pd.to_numeric(sub["lon"]).to_numpy(), pd.to_numeric(sub["lat"]).to_numpy())
    close = np.hypot(x[:, None] - x, y[:, None] - y) < 300

    def pairs(tt: np.ndarray) -> int:
        return int((close & (np.abs(tt[:, None] - tt) < 14)).sum())

    shuffled = np.random.default_rng(0).permutation(t)
    assert pairs(t) > 1.5 * pairs(shuffled)


def test_excel_file(demo: DemoFiles, manifest: dict) -> None:
    wb = load_workbook(demo.incidents[1], read_only=True)
    values = list(wb.active.iter_rows(values_only=True))
    wb.close()
    assert list(values[0])[:6] == ["incident_id", "occurred_at", "category", "lat", "lon",
                                   "address"]
    assert "victim_sex" in values[0] and "domestic" in values[0]  # the focus fields too
    body = values[1:]
    assert len(body) == manifest["counts"]["incidents"]["incidents_extra.xlsx"] == 300
    when = [r[1] for r in body]
    real = [w for w in when if isinstance(w, dt.datetime)]
    text = [w for w in when if isinstance(w, str)]
    assert len(real) + len(text) == len(body) and len(real) > 50 and len(text) > 50
    assert all(re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", w) for w in text)
    assert all(dt.datetime(2024, 1, 1) <= w < dt.datetime(2026, 1, 1) for w in real)
    lat = [r[3] for r in body if r[3] is not None]
    assert lat and all(isinstance(v, float) for v in lat)
    csv_ids = set(pd.read_csv(demo.incidents[0], usecols=["incident_id"])["incident_id"])
    assert not csv_ids & {r[0] for r in body}


def test_tourist_zone(infra: gpd.GeoDataFrame, mahallas: gpd.GeoDataFrame) -> None:
    zone = infra[infra["kind"] == "tourist_zone"]
    assert list(zone["name"]) == ["Aydar-Arnasay"]
    assert zone["season_start"].iloc[0] == "05-01" and zone["season_end"].iloc[0] == "09-30"
    minx, miny, maxx, maxy = zone.total_bounds
    assert minx >= 66.9 and maxx <= 68.2 and miny >= 40.4 and maxy <= 41.15
    zpoly = _xy(zone.geometry.to_numpy())[0]
    host = mahallas[mahallas["district"].isin(["Forish tumani", "Arnasoy tumani"])]
    spill = shapely.difference(zpoly, shapely.union_all(_xy(host.geometry.to_numpy())))
    assert spill.area < 0.02 * zpoly.length  # inside Forish/Arnasoy up to coordinate rounding
    for kind in ("camp", "beach", "police_post", "emergency_service"):
        feats = _xy(infra.loc[infra["kind"] == kind].geometry.to_numpy())
        d = shapely.distance(feats, zpoly)
        assert (d <= 2000).sum() >= 1, kind
    camps = _xy(infra.loc[infra["kind"] == "camp"].geometry.to_numpy())
    assert shapely.within(camps, zpoly).all() and len(camps) >= 3
    # access roads from the nearest towns reach into the zone, entering at an entrance
    access = infra[infra["name"].str.contains("Aydar-Arnasay yo‘li", na=False)]
    assert len(access) == 2
    assert shapely.intersects(_xy(access.geometry.to_numpy()), zpoly).all()
    assert (infra["kind"] == "entrance").sum() >= 2
    assert (infra["kind"] == "power_line").sum() >= 1


def test_roads(infra: gpd.GeoDataFrame) -> None:
    roads = infra[infra["kind"] == "road"]
    speeds = {"motorway": 90, "primary": 70, "secondary": 50, "tertiary": 40, "track": 20}
    assert set(roads["road_class"]) <= set(speeds)
    assert {"motorway", "primary", "secondary", "tertiary"} <= set(roads["road_class"])
    assert (roads["speed_kmh"] == roads["road_class"].map(speeds)).all()
    assert set(roads.geom_type) == {"LineString"}
    kinds = set(infra["kind"])
    assert {"town", "school", "bus_stop", "market", "station", "police_post",
            "emergency_service", "fire_station", "medical"} <= kinds
    assert infra["feature_id"].is_unique


def test_focus_fields_are_realistic_and_deterministic() -> None:
    from riskmap.etl.demo.incidents import focus_columns
    from riskmap.etl.focus import read_age_groups, read_flags, read_sexes

    cats = np.array(["domestic_violence"] * 2000 + ["hooliganism"] * 2000 + ["drugs"] * 2000,
                    dtype=object)
    cols = focus_columns(cats, seed=3)
    again = focus_columns(cats, seed=3)
    assert all((cols[k] == again[k]).all() for k in cols)
    sex, bad_sex = read_sexes(pd.Series(cols["victim_sex"]))
    age, bad_age = read_age_groups(pd.Series(cols["offender_age"]))
    dom, bad_dom = read_flags(pd.Series(cols["domestic"]))
    assert not (bad_sex.any() or bad_age.any() or bad_dom.any())  # every spelling is read
    dv, hool, drugs = slice(0, 2000), slice(2000, 4000), slice(4000, 6000)
    # victims of domestic violence are mostly women; drug offences have no victim
    assert (sex[dv] == "female").mean() > 0.6
    assert (sex[drugs] == None).all()  # noqa: E711
    assert (dom[dv] == True).all()  # noqa: E712
    # hooligans are younger: more juvenile offenders than among domestic violence
    assert (age[hool] == "minor").mean() > 3 * (age[dv] == "minor").mean() > 0


def test_tourist_zone_cameras_cover_part_of_the_zone(demo: DemoFiles,
                                                      infra: gpd.GeoDataFrame) -> None:
    """Overview domes at four of the seven camps, cameras on the beach, plate and traffic
    cameras at one of the two entrances: a partly covered zone."""
    cams = pd.read_csv(demo.cameras, dtype={"installed_on": "string"}, keep_default_na=False)
    cx, cy = to_xy(cams["lon"].to_numpy(), cams["lat"].to_numpy())
    cpts = shapely.points(cx, cy)

    def near(kind: str, metres: float) -> np.ndarray:
        """Per feature of ``kind``: the types of the cameras within ``metres``."""
        feats = _xy(infra.loc[infra["kind"] == kind].geometry.to_numpy())
        d = shapely.distance(feats[:, None], cpts[None, :])
        return np.array([sorted(cams["type"].to_numpy()[row < metres]) for row in d],
                        dtype=object)

    camps = near("camp", 20)
    assert [len(c) for c in camps].count(1) == 4 and [len(c) for c in camps].count(0) == 3
    assert {t for c in camps for t in c} == {"overview"}
    assert len(near("beach", 1)[0]) == 3
    gates = near("entrance", 30)
    assert sorted(map(tuple, gates)) == [(), ("licence_plate", "traffic")]
    zone_cams = cams[shapely.dwithin(cpts, _xy(infra.loc[infra["kind"] == "tourist_zone"]
                                              .geometry.to_numpy())[0], 1.0)]
    assert (zone_cams["status"] == "active").all() and len(zone_cams) == 9
    # the lake inside the zone is marked as water, so travel is measured on the shore
    assert (infra["kind"] == "water").sum() == 1


_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=12)


@given(st.lists(st.tuples(_TEXT, st.one_of(st.none(), _TEXT), _TEXT), max_size=30),
       st.sampled_from(["object", "str"]))
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_csv_writer_gives_the_bytes_of_to_csv(tmp_path: Path, rows: list[tuple], dtype: str
                                               ) -> None:
    """The Arrow CSV writer of the raw rows writes what ``DataFrame.to_csv`` writes: commas,
    quotes, line breaks, missing values, non-ASCII names and a quoted header name."""
    frame = pd.DataFrame(rows, columns=["id", "address, text", 'say "x"'], dtype=dtype)
    write_csv(frame, tmp_path / "a.csv")
    frame.to_csv(tmp_path / "b.csv", index=False, encoding="utf-8", lineterminator="\n")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_csv_writer_quotes_a_bare_carriage_return(tmp_path: Path) -> None:
    write_csv(pd.DataFrame({"a": ["x\ry", "z"], "b": [None, "q"]}), tmp_path / "a.csv")
    assert (tmp_path / "a.csv").read_bytes() == b'a,b\n"x\ry",\nz,q\n'


def test_coordinates_and_times_are_spelt_as_printf_and_pandas_do() -> None:
    rng = np.random.default_rng(3)
    v = np.round(np.r_[rng.uniform(-180, 180, 5_000), np.nan, 0.0, -0.0, 41.5, 1e-7], 6)
    assert (_fmt(v).astype(str) == np.where(np.isnan(v), "", np.char.mod("%.6f", np.nan_to_num(v)))
            ).all()
    t_min = rng.integers(0, 5 * 365 * 1440, 5_000)
    got = _timestamps(t_min, np.random.default_rng(9))
    start, _ = period()
    s = pd.Series(np.datetime_as_string(np.datetime64(start.isoformat(), "m")
                                        + t_min.astype("timedelta64[m]"), unit="m"))
    u = np.random.default_rng(9).random(t_min.size)
    iso, dmy = u < 0.80, (u >= 0.80) & (u < 0.92)
    assert (got[iso] == (s[iso] + ":00+05:00")).all()
    assert (got[dmy] == (s.str[8:10] + "." + s.str[5:7] + "." + s.str[0:4] + " "
                         + s.str[11:16])[dmy]).all()
    assert (got[~iso & ~dmy] == (s.str.replace("T", " ") + ":00")[~iso & ~dmy]).all()
