"""The geocoder on Uzbekistan's real mahalla names: the accuracy table of docs/geocoding.md.

All ~10,020 official mahallas (Latin and Cyrillic names, 2022 districts and regions) laid
inside the real OCHA district polygons (see ``tests/etl/realnames.py``); 3,500 incident
addresses written in seven ways (seeded), run through ``Gazetteer.from_mahallas`` + ``match``
as the incident loader does; each style must meet its target (right, wrong or guessed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import shapely

from riskmap.etl.gazetteer import Gazetteer
from tests.conftest import shared_file
from tests.etl.realnames import (
    STYLE_LABELS,
    STYLES,
    RealWorld,
    core_name,
    load_world,
    make_addresses,
    score,
    summary_table,
)

pytestmark = pytest.mark.slow

PER_STYLE = 500
SEED = 9
#: per style: (at least right, at most wrong or guessed), as shares of its rows
TARGETS = {
    "latin": (0.98, 0.004),
    "cyrillic": (0.98, 0.004),
    "russian": (0.97, 0.004),
    "apostrophes": (0.98, 0.004),
    "typo": (0.90, 0.01),
    "namesake_district": (0.98, 0.004),
    "namesake_alone": (0.99, 0.0),  # never guessed
}
OVERALL = (0.95, 0.001)


@pytest.fixture(scope="module")
def world() -> RealWorld:
    names = shared_file("uzb-mahalla-names/quarters_2022-02-07.csv").parent
    return load_world(names, shared_file("uzb-admin-ocha/uzb_adm2_shp.zip"))


@pytest.fixture(scope="module")
def addresses(world: RealWorld) -> pd.DataFrame:
    return make_addresses(world, per_style=PER_STYLE, seed=SEED)


@pytest.fixture(scope="module")
def gaz(world: RealWorld) -> Gazetteer:
    return Gazetteer.from_mahallas(world.mahallas)


@pytest.fixture(scope="module")
def scored(gaz: Gazetteer, addresses: pd.DataFrame) -> pd.DataFrame:
    return score(addresses, gaz.match(addresses["address"]))


def _table_text(table: pd.DataFrame) -> str:
    return "\n".join(f"{STYLE_LABELS.get(s, s)}: right {r:.1%}, wrong {w:.1%}, open {o:.1%}"
                     for s, (r, w, o) in table.iterrows())


def test_world_holds_every_official_mahalla_inside_its_district(world: RealWorld) -> None:
    m = world.mahallas
    assert len(m) == 10_020
    assert m["mahalla_id"].is_unique
    assert shapely.is_valid(m.geometry.to_numpy()).all()
    adm2 = gpd.read_file(shared_file("uzb-admin-ocha/uzb_adm2_shp.zip"))
    shape = dict(zip(adm2["ADM2_PCODE"], adm2.geometry, strict=True))
    joined = world.districts.dropna(subset=["pcode"])
    assert len(joined) >= len(world.districts) - 10  # districts the 2018 layer lacks
    pcode = dict(zip(zip(joined["region"], joined["district"], strict=True), joined["pcode"],
                     strict=True))
    codes = [pcode.get(k) for k in zip(m["region"], m["district"], strict=True)]
    has = np.array([c is not None for c in codes])
    polygons = np.array([shape[c] for c in codes if c is not None], dtype=object)
    points = shapely.point_on_surface(m.geometry.to_numpy()[has])
    assert has.mean() > 0.99
    assert shapely.contains(shapely.buffer(polygons, 1e-9), points).all()


def test_addresses_are_seeded(world: RealWorld, addresses: pd.DataFrame) -> None:
    assert addresses.groupby("style").size().to_dict() == dict.fromkeys(STYLES, PER_STYLE)
    again = make_addresses(world, per_style=PER_STYLE, seed=SEED)
    pd.testing.assert_frame_equal(addresses, again)
    other = make_addresses(world, per_style=PER_STYLE, seed=SEED + 1)
    assert not addresses["address"].equals(other["address"])


def test_namesake_styles_use_names_of_several_districts(world: RealWorld,
                                                        addresses: pd.DataFrame) -> None:
    m = world.mahallas
    districts = m.assign(core=m["name"].map(core_name)).groupby("core")["district"].nunique()
    cores = m.set_index("mahalla_id")["name"].map(core_name)
    for style in ("namesake_district", "namesake_alone"):
        picked = addresses.loc[addresses["style"] == style, "mahalla_id"]
        assert (districts[cores[picked]].to_numpy() >= 2).all()


@pytest.mark.parametrize("style", STYLES)
def test_accuracy_per_writing_style(scored: pd.DataFrame, style: str) -> None:
    table = summary_table(scored)
    right, wrong = table.loc[style, "right"], table.loc[style, "wrong"]
    min_right, max_wrong = TARGETS[style]
    assert right >= min_right and wrong <= max_wrong, (
        f"{STYLE_LABELS[style]}: right {right:.1%} (target {min_right:.0%}), wrong "
        f"{wrong:.2%} (target <= {max_wrong:.1%})\n{_table_text(table)}")


def test_accuracy_overall(scored: pd.DataFrame) -> None:
    table = summary_table(scored)
    right, wrong = table.loc["overall", "right"], table.loc["overall", "wrong"]
    assert right >= OVERALL[0] and wrong <= OVERALL[1], _table_text(table)


def test_namesakes_without_a_district_are_never_guessed(scored: pd.DataFrame) -> None:
    alone = scored[scored["style"] == "namesake_alone"]
    assert alone["got_mahalla"].isna().all()
    assert alone["got_district"].isna().all()
    assert (alone["reason"] == "ambiguous").mean() > 0.99


# ----------------------------------------------------------------------------- candidates


def test_candidates_put_the_right_mahalla_first(gaz: Gazetteer, addresses: pd.DataFrame) -> None:
    # the first 150 addresses of every way of writing that names one place (typos included)
    rows = addresses[addresses["style"] != "namesake_alone"].groupby("style").head(150)
    first = [gaz.candidates(a)["mahalla_id"].head(1).tolist() == [str(m)]
             for a, m in zip(rows["address"], rows["mahalla_id"], strict=True)]
    rate = rows.assign(first=first).groupby("style")["first"].mean()
    assert (rate >= 0.97).all(), rate.to_dict()


def test_candidates_list_every_namesake_of_a_name_without_district(
        world: RealWorld, gaz: Gazetteer, addresses: pd.DataFrame) -> None:
    m = world.mahallas
    core = m["name"].map(core_name).to_numpy()
    ids = m["mahalla_id"].astype(str).to_numpy()
    rows = addresses[addresses["style"] == "namesake_alone"].head(100)
    top_in_several = 0
    for address, mid in zip(rows["address"], rows["mahalla_id"], strict=True):
        got = gaz.candidates(address, limit=1000)
        namesakes = set(ids[core == core[ids == str(mid)][0]])
        assert namesakes <= set(got["mahalla_id"]), address
        top = got[got["score"] == got["score"].max()]
        assert str(mid) in set(top["mahalla_id"]), address
        top_in_several += top["district"].nunique() >= 2
    assert top_in_several >= 0.95 * len(rows)
