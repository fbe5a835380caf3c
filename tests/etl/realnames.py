"""A real-name test world for the geocoder: Uzbekistan's official mahalla names inside real districts.

The mahalla list (``uzb-mahalla-names/quarters_2022-02-07.csv``: 10,020 mahallas, official Latin
and Cyrillic names, 2022 districts and regions in Uzbek Latin, Uzbek Cyrillic and Russian) is
joined to the OCHA district polygons (``uzb-admin-ocha/uzb_adm2_shp.zip``) by region P-code and
district name; each district polygon is split into as many Voronoi cells as it has mahallas
(seeded points), so the mahallas are plausible polygons inside their real district. A district
the 2018 OCHA layer lacks (later splits such as Bandixon) takes the cells of its region's outline
instead. Only the names matter to the geocoder; the shapes just give it points.

:func:`make_addresses` writes incident addresses for sampled mahallas in seven styles (seeded),
and :func:`score` runs them through :meth:`riskmap.etl.gazetteer.Gazetteer.match` exactly as the
incident loader does and counts, per style, the rows placed in the right mahalla, the rows
placed wrongly or guessed, and the rows left at district level or unmatched.

Everything here is independent of the code under test: the writer's idea of "the name" of a
mahalla (:func:`core_name`: the official Latin name without its assembly abbreviation, brackets
or quotes, lower case, spaces, hyphens and apostrophes removed) decides which mahallas are
namesakes, and it does not use :mod:`riskmap.etl.translit`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rapidfuzz import fuzz

import geopandas as gpd
import shapely

__all__ = [
    "STYLES",
    "STYLE_LABELS",
    "RealWorld",
    "core_name",
    "incident_addresses",
    "load_world",
    "make_addresses",
    "score",
    "summary_table",
]

#: the seven ways an address is written, in table order
STYLES = ("latin", "cyrillic", "russian", "apostrophes", "typo", "namesake_district",
          "namesake_alone")
STYLE_LABELS = {
    "latin": "official Latin name with MFY and district",
    "cyrillic": "official Cyrillic name (as the ministry writes it) and district",
    "russian": "Russian: \"махалля X\", Russian district name (\"Денауский район\")",
    "apostrophes": "apostrophe variants (' ` ʻ ‘ or none), lower case",
    "typo": "one typo in the name",
    "namesake_district": "a name found in several districts, district given",
    "namesake_alone": "a name found in several districts, no district: must stay unmatched",
}

# 2022 region id -> OCHA ADM1 P-code (the 2022 list numbers regions its own way).
_REGION_PCODE = {1: "UZ35", 2: "UZ03", 3: "UZ06", 4: "UZ08", 5: "UZ10", 6: "UZ12", 7: "UZ14",
                 8: "UZ18", 9: "UZ22", 10: "UZ24", 11: "UZ27", 12: "UZ30", 13: "UZ33",
                 14: "UZ26"}

_APOS = "'`‘’ʻʼ´"
_APOS_RE = re.compile(f"[{_APOS}]")
# Assembly abbreviations as the official lists write them (letters only, lower case): MFY,
# QFY, SHFY, Sh.FY, M.F.Y, M F Y, ShchaFY, "MFYВ" (a stray Cyrillic В), MP/AP (Karakalpak).
_ABBR_LAT = {"mfy", "qfy", "kfy", "shfy", "ofy", "fy", "pfy", "kmfy", "shchafy", "mp", "ap",
             "mpj", "ify", "sfy", "mfi", "ssg", "max", "maxalla", "mahalla", "mahallasi",
             "fuqarolar", "fuqarolai", "fukarolar", "yigini", "mfylari"}
_ABBR_CYR = {"мфй", "қфй", "кфй", "шфй", "офй", "фй", "пфй", "кмфй", "шчафй", "мп", "ап", "мпж",
             "ифй", "сфй", "мфи", "ссг", "мах", "махалла", "маҳалла", "маҳалласи", "фуқаролар",
             "фуқаролаи", "фукаролар", "йиғини", "мфйлари"}
_GLUED_RE = re.compile(r"(?<=[a-zа-яўқғҳ`'‘’])(MFY|QFY|SHFY|МФЙ|ҚФЙ|ШФЙ)\b")
_SPACED_RE = re.compile(r"\b([MQKSmqks]|[МҚКШмқкш])[ .]+([Ff]|[Фф])[ .]+([Yy]|[Йй])\b\.?")
_BRACKET_RE = re.compile(r"\([^)]*\)?")
_QUOTE_RE = re.compile(r"[\"«»“”„]")
_RU_LETTERS = str.maketrans({"ў": "у", "Ў": "У", "қ": "к", "Қ": "К", "ғ": "г", "Ғ": "Г",
                             "ҳ": "х", "Ҳ": "Х"})


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", str(text))).strip(" ,")


def _name_part(text: str, *, cyrillic: bool) -> str:
    """The official name without assembly abbreviation, brackets and quotes (case kept)."""
    s = _BRACKET_RE.sub(" ", text)
    s = _QUOTE_RE.sub(" ", s)
    s = _GLUED_RE.sub(" ", s)
    s = _SPACED_RE.sub(" ", s)
    abbr = _ABBR_CYR if cyrillic else _ABBR_LAT
    words = [w for w in s.split()
             if _APOS_RE.sub("", w).replace(".", "").lower().rstrip("вv") not in abbr
             and _APOS_RE.sub("", w).replace(".", "").lower() not in abbr]
    out = _clean(" ".join(words))
    return out or _clean(text)


def core_name(name: str) -> str:
    """The writer's idea of a mahalla's name: what two namesakes share.

    The official Latin name without its assembly abbreviation (MFY, QFY, SHFY, "fuqarolar
    yig‘ini", ...), bracketed notes and quotes; lower case; apostrophes, spaces, hyphens and
    dots removed ("Yangi qishloq MFY" = "Yangiqishloq MFY" = "Yangi-Qishloq QFY").

    Examples
    --------
    >>> core_name("Qizilnavr (Jamoatchi) MFY"), core_name("SarbozorMFY"), core_name("")
    ('qizilnavr', 'sarbozor', '')
    """
    part = _name_part(name, cyrillic=False).lower()
    return re.sub(r"[\s\-.'`‘’ʻʼ´\"]+", "", part)


def _strict(name: str) -> str:
    """The official name as a reader compares it: lower case, one apostrophe, one space."""
    s = re.sub(r"\.\s+", ".", _APOS_RE.sub("'", name).replace("-", " ").lower())
    return _clean(_QUOTE_RE.sub(" ", s))


def _ru_core(name_cyrillic: str) -> str:
    """The name as a Russian writer has it (ў -> у, қ -> к, ғ -> г, ҳ -> х), letters only."""
    return re.sub(r"[^а-яё0-9]", "", _russian_name(name_cyrillic).lower())


# --------------------------------------------------------------------------- the world


@dataclass
class RealWorld:
    """The mahallas layer (as the loader gets it) and the district names in three scripts."""

    mahallas: gpd.GeoDataFrame
    districts: pd.DataFrame  # district_id, district, district_oz, district_ru, region*, pcode


def _read_names(names_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    q = pd.read_csv(names_dir / "quarters_2022-02-07.csv", dtype=str, na_values=["NULL"],
                    keep_default_na=False, encoding="utf-8-sig")
    d = pd.read_csv(names_dir / "districts_2022-02-07.csv", dtype=str, encoding="utf-8-sig")
    r = pd.read_csv(names_dir / "regions_2022-02-07.csv", dtype=str, encoding="utf-8-sig")
    r = r.rename(columns={"id": "region_id", "name_uz": "region", "name_oz": "region_oz",
                          "name_ru": "region_ru"})
    d = d.rename(columns={"id": "district_id", "name_uz": "district", "name_oz": "district_oz",
                          "name_ru": "district_ru"}).merge(r, on="region_id", how="left")
    for col in ("district", "district_oz", "region", "region_oz"):
        d[col] = d[col].map(_clean)
    # a few Russian names carry a second line ("город Дўстлик\nДўстлик"): a writer uses one
    d["district_ru"] = d["district_ru"].map(lambda s: _clean(str(s).splitlines()[0]))
    d["region_ru"] = d["region_ru"].map(_clean)
    d["adm1"] = d["region_id"].astype(int).map(_REGION_PCODE)
    q = q.rename(columns={"id": "mahalla_id", "name_uz": "name", "name_oz": "name_cyrillic"})
    q["name"] = q["name"].map(_clean)
    q["name_cyrillic"] = q["name_cyrillic"].fillna("").map(_clean)
    return q, d


def _simple(text: str) -> str:
    """Lower-case letters of a district name without its type words (for joining only)."""
    s = _APOS_RE.sub("", text.lower())
    s = re.sub(r"\b(tumani|shahri|sh|район|город|г)\b\.?", " ", s)
    s = s.replace("ский", "").replace("ская", "")
    return re.sub(r"[^a-zа-яёўқғҳ]", "", s)


def _join_districts(d: pd.DataFrame, adm2: gpd.GeoDataFrame) -> pd.Series:
    """OCHA ADM2 P-code of each 2022 district (None when the 2018 layer lacks it)."""
    out: dict[str, str | None] = {}
    for _, row in d.iterrows():
        cand = adm2[adm2["ADM1_PCODE"] == row["adm1"]]
        city = row["district"].lower().endswith(" shahri")
        is_city = cand["ADM2TYPEEN"] != "district"
        best, best_score = None, 0.0
        for _, c in cand.iterrows():
            kind_ok = bool(is_city[c.name]) == city
            s = max(fuzz.ratio(_simple(row["district"]), _simple(c["ADM2_UZ"])),
                    fuzz.ratio(_simple(row["district_ru"]), _simple(c["ADM2_RU"])))
            s += 5.0 if kind_ok else 0.0
            if s > best_score:
                best, best_score = c["ADM2_PCODE"], s
        out[row["district_id"]] = best if best_score >= 85.0 else None
    return d["district_id"].map(out)


def _points_in(poly: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """n distinct random points inside ``poly`` (rejection sampling on its bounds)."""
    x0, y0, x1, y1 = poly.bounds
    got = np.empty(0, dtype=object)
    shapely.prepare(poly)
    while len(got) < n:
        xy = rng.uniform((x0, y0), (x1, y1), size=(max(4 * n, 64), 2))
        pts = shapely.points(xy)
        got = np.concatenate([got, pts[shapely.contains(poly, pts)]])
    return got[:n]


def _cells(poly: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """Split ``poly`` into n Voronoi cells around random points inside it."""
    if n == 1:
        return np.array([poly], dtype=object)
    pts = _points_in(poly, n, rng)
    vor = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=poly))
    # voronoi_polygons does not keep the input order: give each point the cell containing it
    tree = shapely.STRtree(vor)
    p_idx, c_idx = tree.query(pts, predicate="intersects")
    cell_of = np.full(n, -1)
    cell_of[p_idx[::-1]] = c_idx[::-1]
    cells = shapely.intersection(vor[cell_of], poly)
    bad = shapely.is_empty(cells) | (cell_of < 0)
    cells[bad] = shapely.intersection(shapely.buffer(pts[bad], 1e-4), poly)
    return cells


def load_world(names_dir: Path, adm2_zip: Path, *, seed: int = 20260511) -> RealWorld:
    """Build the real-name world: every official mahalla, a cell inside its real district.

    Parameters
    ----------
    names_dir
        The ``uzb-mahalla-names`` folder.
    adm2_zip
        ``uzb-admin-ocha/uzb_adm2_shp.zip``.
    seed
        Seed of the cell points.

    Returns
    -------
    RealWorld
        ``mahallas``: mahalla_id, name (official Latin), name_cyrillic, district, region
        (2022 Uzbek Latin names), geometry (EPSG:4326); ``districts``: the district names in
        Uzbek Latin, Uzbek Cyrillic and Russian, with their region's.
    """
    q, d = _read_names(names_dir)
    adm2 = gpd.read_file(adm2_zip)
    d["pcode"] = _join_districts(d, adm2)
    d = d[d["district_id"].isin(q["district_id"])].reset_index(drop=True)
    shape = dict(zip(adm2["ADM2_PCODE"], adm2.geometry, strict=True))
    region_shape = {r: shapely.union_all(g.geometry.to_numpy())
                    for r, g in adm2.groupby("ADM1_PCODE")}
    rng = np.random.default_rng(seed)
    geoms = np.empty(len(q), dtype=object)
    rows = q.groupby("district_id", sort=True).indices
    for _, row in d.sort_values("district_id").iterrows():
        idx = rows[row["district_id"]]
        poly = shape[row["pcode"]] if pd.notna(row["pcode"]) else region_shape[row["adm1"]]
        geoms[idx] = _cells(shapely.make_valid(poly), len(idx), rng)
    m = q.merge(d[["district_id", "district", "region"]], on="district_id", how="left")
    mahallas = gpd.GeoDataFrame(
        m[["mahalla_id", "name", "name_cyrillic", "district", "region"]],
        geometry=geoms, crs="EPSG:4326")
    return RealWorld(mahallas, d)


# --------------------------------------------------------------------------- addresses


def _samplable(world: RealWorld) -> pd.DataFrame:
    """Mahallas with their cores; which can be told apart in their district; namesakes."""
    m = pd.DataFrame(world.mahallas.drop(columns="geometry"))
    m = m.merge(world.districts[["district", "region", "district_oz", "district_ru", "region_oz",
                                 "region_ru"]], on=["district", "region"], how="left")
    m["core"] = m["name"].map(core_name)
    m["strict"] = m["name"].map(_strict)
    per_district = m.groupby(["region", "district", "strict"])["mahalla_id"].transform("size")
    core_per_district = m.groupby(["region", "district", "core"])["mahalla_id"].transform("size")
    # a name without a type word ("Birlik") cannot be told from a typed one ("Birlik MFY")
    untyped = m["name"].map(lambda n: _name_part(n, cyrillic=False) == _clean(n))
    # names spoilt by a wrong code page in the official file ("JoСЉme", "Р•rkindarya") and
    # names that the list repeats within one district cannot be written back unambiguously
    mojibake = m["name"].str.contains(r"[А-Яа-я]|\?", regex=True)
    m["usable"] = ((per_district == 1) & ~mojibake & (m["core"].str.len() >= 2)
                   & ~(untyped & (core_per_district > 1)))
    m["core_unique_here"] = core_per_district == 1
    # Russian cannot tell Кўтарма from Кутарма: such a pair is one name to a Russian writer
    m["ru_core"] = m["name_cyrillic"].map(_ru_core)
    ru_per_district = m.groupby(["region", "district", "ru_core"])["mahalla_id"].transform("size")
    m["ru_unique_here"] = (ru_per_district == 1) & m["core_unique_here"]
    n_districts = m.groupby("core")["district"].transform(lambda s: s.nunique())
    m["namesake"] = n_districts >= 2
    return m


def _with_type(name: str, part: str, word: str) -> str:
    """The official name, with an assembly word added when it has none."""
    return name if _clean(part) != _clean(name) else f"{name} {word}"


def _frame_address(rng: np.random.Generator, name: str, district: str, region: str,
                   house: str) -> str:
    parts = [district, name] if rng.random() < 0.5 else [name, district]
    if rng.random() < 0.3:
        parts.insert(0, region)
    if rng.random() < 0.3:
        parts.append(house)
    return ", ".join(parts)


def _apostrophes(rng: np.random.Generator, text: str) -> str:
    mark = ["'", "`", "ʻ", "‘", ""][rng.integers(5)]
    return _APOS_RE.sub(mark, text).lower()


_LETTERS = "abdefghijklmnopqrstuvxyz"


def _typo(rng: np.random.Generator, name: str) -> str:
    """One edit (substitution, deletion, insertion or swap) at a letter of the name part."""
    abbr = {w.lower() for w in re.findall(r"\w+", name)} - {
        w.lower() for w in re.findall(r"\w+", _name_part(name, cyrillic=False))}
    letters = [i for m in re.finditer(r"\w+", name) if m.group(0).lower() not in abbr
               for i in range(m.start(), m.end()) if name[i].isalpha()]
    letters = letters or [i for i, ch in enumerate(name) if ch.isalpha()]
    i = letters[rng.integers(len(letters))]
    op = rng.integers(4)
    new = _LETTERS[rng.integers(len(_LETTERS))]
    if op == 0:
        return name[:i] + new + name[i + 1:]
    if op == 1:
        return name[:i] + name[i + 1:]
    if op == 2:
        return name[:i] + new + name[i:]
    j = i + 1 if i + 1 < len(name) and name[i + 1].isalpha() else i - 1
    lo, hi = min(i, j), max(i, j)
    return name[:lo] + name[hi] + name[lo] + name[hi + 1:]


def _russian_name(name_cyrillic: str) -> str:
    return _name_part(name_cyrillic, cyrillic=True).translate(_RU_LETTERS)


def _write(style: str, row: pd.Series | dict[str, object], rng: np.random.Generator,
           cores_here: set[str]) -> str | None:
    house = f"{rng.integers(1, 120)}-uy"
    kind = style
    if style == "namesake_district":
        kind = ["latin", "cyrillic", "russian"][rng.integers(3)]
        if kind == "russian" and not row["ru_unique_here"]:
            kind = "latin"
    if kind == "latin":
        name = _with_type(row["name"], _name_part(row["name"], cyrillic=False), "MFY")
        return _frame_address(rng, name, row["district"], row["region"], house)
    if kind == "cyrillic":
        name = _with_type(row["name_cyrillic"],
                          _name_part(row["name_cyrillic"], cyrillic=True), "МФЙ")
        return _frame_address(rng, name, row["district_oz"], row["region_oz"],
                              f"{rng.integers(1, 120)}-уй")
    if kind == "russian":
        name = f"махалля {_russian_name(row['name_cyrillic'])}"
        return _frame_address(rng, name, row["district_ru"], row["region_ru"],
                              f"д. {rng.integers(1, 120)}")
    if kind == "apostrophes":
        name = _with_type(row["name"], _name_part(row["name"], cyrillic=False), "MFY")
        return _apostrophes(rng, _frame_address(rng, name, row["district"], row["region"],
                                                house))
    if kind == "typo":
        for _ in range(20):
            typo = _typo(rng, row["name"])
            # a typo that writes another name of the district (or none) is not a typo test
            if core_name(typo) != row["core"] and core_name(typo) not in cores_here:
                name = _with_type(typo, _name_part(typo, cyrillic=False), "MFY")
                return _frame_address(rng, name, row["district"], row["region"], house)
        return None
    # namesake_alone: the name on its own, in one of the three scripts
    pick = rng.integers(3)
    if pick == 0:
        return _with_type(row["name"], _name_part(row["name"], cyrillic=False), "MFY")
    if pick == 1:
        return _with_type(row["name_cyrillic"],
                          _name_part(row["name_cyrillic"], cyrillic=True), "МФЙ")
    return f"махалля {_russian_name(row['name_cyrillic'])}"


def make_addresses(world: RealWorld, *, per_style: int = 500, seed: int = 9) -> pd.DataFrame:
    """Incident addresses for sampled mahallas, ``per_style`` in each of :data:`STYLES`.

    Parameters
    ----------
    world
        From :func:`load_world`.
    per_style
        Rows per style.
    seed
        Seed of the sample and of the writing choices.

    Returns
    -------
    pd.DataFrame
        style, address, mahalla_id (the true mahalla), district, region (the true ones);
        for "namesake_alone" the true answer is "unmatched" (its district columns still say
        where the sampled mahalla is).
    """
    rng = np.random.default_rng(seed)
    m = _samplable(world)
    cores = m.groupby(["region", "district"])["core"].agg(set).to_dict()
    pools = {
        "latin": m[m["usable"]],
        "cyrillic": m[m["usable"] & (m["name_cyrillic"] != "")],
        "russian": m[m["usable"] & m["ru_unique_here"] & (m["name_cyrillic"] != "")],
        "apostrophes": m[m["usable"]],
        "typo": m[m["usable"] & m["core_unique_here"] & (m["core"].str.len() >= 4)],
        "namesake_district": m[m["usable"] & m["core_unique_here"] & m["namesake"]
                               & (m["name_cyrillic"] != "")],
        "namesake_alone": m[m["usable"] & m["namesake"] & (m["name_cyrillic"] != "")],
    }
    out = []
    for style in STYLES:
        pool = pools[style]
        order = rng.permutation(len(pool))
        got = 0
        for pos in order:
            if got == per_style:
                break
            row = pool.iloc[pos]
            address = _write(style, row, rng, cores[(row["region"], row["district"])])
            if address is None:
                continue
            out.append((style, address, row["mahalla_id"], row["district"], row["region"]))
            got += 1
    return pd.DataFrame(out, columns=["style", "address", "mahalla_id", "district", "region"])


def incident_addresses(world: RealWorld, *, rows: int = 200_000, seed: int = 11,
                       skew: float = 1.0) -> pd.DataFrame:
    """A stream of incident addresses: places drawn with a heavy tail, written many ways.

    Each row picks a mahalla (Zipf-like weights ``1 / rank ** skew`` over a shuffled list of
    the mahallas every style can write), and writes its address in one of the five styles
    with a district (latin 25%, cyrillic 25%, russian 20%, apostrophes 20%, typo 10%), with
    the same random choices as :func:`make_addresses` (order, region, house number): the
    strings mostly differ, the places repeat, as in a police register.

    Returns
    -------
    pd.DataFrame
        style, address, mahalla_id, district, region.
    """
    rng = np.random.default_rng(seed)
    m = _samplable(world)
    pool = m[m["usable"] & m["ru_unique_here"] & (m["name_cyrillic"] != "")
             & (m["core"].str.len() >= 4)].reset_index(drop=True)
    pool = pool.iloc[rng.permutation(len(pool))].reset_index(drop=True)
    weights = 1.0 / np.arange(1, len(pool) + 1) ** skew
    picks = rng.choice(len(pool), size=rows, p=weights / weights.sum())
    styles = rng.choice(["latin", "cyrillic", "russian", "apostrophes", "typo"], size=rows,
                        p=[0.25, 0.25, 0.2, 0.2, 0.1])
    cores = m.groupby(["region", "district"])["core"].agg(set).to_dict()
    records = pool.to_dict("records")
    out = []
    for pick, style in zip(picks, styles, strict=True):
        row = records[pick]
        address = _write(str(style), row, rng, cores[(row["region"], row["district"])])
        if address is None:  # no fair typo for this name: write it plainly
            style, address = "latin", _write("latin", row, rng, set())
        out.append((style, address, row["mahalla_id"], row["district"], row["region"]))
    return pd.DataFrame(out, columns=["style", "address", "mahalla_id", "district", "region"])


# --------------------------------------------------------------------------- scoring


def score(addresses: pd.DataFrame, matched: pd.DataFrame) -> pd.DataFrame:
    """Outcome of each address: "right", "wrong" (or guessed) or "open" (district only/none).

    A row is right when it got its mahalla ("namesake_alone": when it got neither a mahalla
    nor a district); wrong when it got another mahalla or a wrong district ("namesake_alone":
    when it got any mahalla or district); otherwise open.
    """
    def values(col: str) -> np.ndarray:
        return np.array([None if pd.isna(v) else str(v) for v in matched[col]], dtype=object)

    got_m, got_d, got_r = values("mahalla_id"), values("district"), values("region")
    alone = (addresses["style"] == "namesake_alone").to_numpy()
    has_m = np.array([v is not None for v in got_m])
    has_d = np.array([v is not None for v in got_d])
    right_m = has_m & (got_m == addresses["mahalla_id"].to_numpy(dtype=object))
    right_d = ((got_d == addresses["district"].to_numpy(dtype=object))
               & (got_r == addresses["region"].to_numpy(dtype=object)))
    outcome = np.where(right_m, "right",
                       np.where(has_m | (has_d & ~right_d), "wrong", "open"))
    outcome = np.where(alone, np.where(has_m | has_d, "wrong", "right"), outcome)
    return addresses.assign(outcome=outcome, got_mahalla=got_m, got_district=got_d,
                            reason=matched["reason"].to_numpy())


def summary_table(scored: pd.DataFrame) -> pd.DataFrame:
    """Share of right / wrong / open rows per style (in :data:`STYLES` order) and overall."""
    tab = pd.crosstab(scored["style"], scored["outcome"], normalize="index")
    tab = tab.reindex(index=list(STYLES), columns=["right", "wrong", "open"], fill_value=0.0)
    overall = scored["outcome"].value_counts(normalize=True)
    tab.loc["overall"] = [float(overall.get(c, 0.0)) for c in ("right", "wrong", "open")]
    return tab.fillna(0.0)
