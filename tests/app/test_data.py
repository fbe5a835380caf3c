"""The app's data model: hand-checked aggregates, URL round trips, scoped and audited reads."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import shapely

from riskmap.app.data import LEVELS, AppModel, ViewQuery
from riskmap.geo.h3index import cells_from_lonlat, parents
from riskmap.layers.access import DataAccess

# six incidents, by grid square (row, col) of the 0.01-degree mahalla grid at 67.84E 40.12N
LON = np.array([67.845, 67.846, 67.855, 67.865, 67.845, 67.845])
LAT = np.array([40.125, 40.1251, 40.125, 40.125, 40.135, 40.125])
#      mahalla   M00      M00      M01      M02      M10      M00
CATEGORY = ["theft", "theft", "assault", "theft", "fraud", "burglary"]
OCCURRED = ["2025-03-01T10:00:00Z", "2025-03-31T18:59:00Z",  # 23:59 in Tashkent (UTC+5)
            "2025-03-31T19:30:00Z",                          # 1 April 00:30 in Tashkent
            "2025-02-28T20:00:00Z",                          # 1 March 01:00 in Tashkent
            "2025-03-15T12:00:00Z", "2025-01-10T12:00:00Z"]


@pytest.fixture
def model(make_store: Any, incidents_at: Any) -> AppModel:
    store = make_store(incidents_at(LON, LAT, CATEGORY, OCCURRED))
    return AppModel(DataAccess(store, user="tester")).load()


def test_counts_per_mahalla_with_rates(model: AppModel) -> None:
    got = model.counts(ViewQuery()).set_index("mahalla_id")
    assert len(got) == 9  # every mahalla, zeros included
    assert got["count"].to_dict() == {"M00": 3, "M01": 1, "M02": 1, "M10": 1, "M11": 0,
                                      "M12": 0, "M20": 0, "M21": 0, "M22": 0}
    # population of M00 is 1000, of M01 2000
    assert got.loc["M00", "rate_per_1000"] == pytest.approx(3.0)
    assert got.loc["M01", "rate_per_1000"] == pytest.approx(0.5)
    assert got.loc["M00", "share"] == pytest.approx(50.0)
    assert got.loc["M00", "name"] == "Bog'ishamol"


def test_filters_dates_are_local_days(model: AppModel) -> None:
    march = ViewQuery(start=date(2025, 3, 1), end=date(2025, 3, 31))
    # in: 1 March 01:00, 1 March 15:00, 15 March, 31 March 23:59 (local); out: 1 April 00:30
    assert model.total(march) == 4
    assert model.total(ViewQuery(start=date(2025, 4, 1))) == 1
    assert model.total(ViewQuery(end=date(2025, 1, 10))) == 1
    assert model.total(ViewQuery(categories=("theft", "fraud"))) == 4
    assert model.total(ViewQuery(categories=("weapons",))) == 0
    assert model.total(ViewQuery(district="Sharof Rashidov tumani")) == 1
    assert model.total(ViewQuery(region="Jizzax viloyati", district="Jizzax shahri")) == 5
    assert model.total(ViewQuery(region="Nowhere")) == 0
    assert model.total(ViewQuery(precise=True)) == 5  # the fraud case is at its mahalla only
    both = ViewQuery(categories=("theft",), start=date(2025, 3, 1), end=date(2025, 3, 31),
                     district="Jizzax shahri")
    assert model.total(both) == 2


def test_district_filter_limits_the_mahallas(model: AppModel) -> None:
    q = ViewQuery(district="Sharof Rashidov tumani")
    got = model.counts(q)
    assert got["mahalla_id"].tolist() == ["M02", "M12", "M22"]
    assert got["count"].tolist() == [1, 0, 0]
    assert len(model.base_map(q)) == 3


@pytest.mark.parametrize("res", [7, 8, 9])
def test_counts_per_h3_cell(model: AppModel, res: int) -> None:
    incidents = model.access.store.read("incidents")
    cells9 = incidents["h3"].to_numpy(dtype="int64")
    want = pd.Series(parents(cells9, res) if res < 9 else cells9).value_counts().sort_index()
    got = model.counts(ViewQuery(level=f"h3_{res}"))
    assert got["h3"].tolist() == want.index.tolist()
    assert got["count"].tolist() == want.tolist()
    assert got["h3_hex"].tolist() == [format(int(c), "x") for c in want.index]
    units = model.units(ViewQuery(level=f"h3_{res}", categories=("theft",)))
    assert units["count"].sum() == 3
    # every hexagon contains its label point (the cell centre)
    centres = shapely.points(units["x"].to_numpy(), units["y"].to_numpy())
    assert shapely.contains(units.geometry.to_numpy(), centres).all()


def test_vocabulary_for_controls(model: AppModel) -> None:
    assert model.regions() == ["Jizzax viloyati"]
    assert model.districts() == ["Jizzax shahri", "Sharof Rashidov tumani"]
    assert model.districts("Nowhere") == []
    assert model.categories() == ["assault", "burglary", "theft", "fraud"]
    assert model.date_bounds() == (date(2025, 1, 10), date(2025, 4, 1))


def test_reads_are_scoped_and_audited(make_store: Any, incidents_at: Any) -> None:
    store = make_store(incidents_at(LON, LAT, CATEGORY, OCCURRED))
    outsider = AppModel(DataAccess(store, user="outsider", regions=["Samarqand viloyati"]))
    assert outsider.n_incidents == 0 and len(outsider.mahallas) == 0
    assert outsider.counts(ViewQuery(level="h3_8")).empty
    assert outsider.date_bounds() == (None, None)
    audit = store.read("audit")
    mine = audit[audit["user"] == "outsider"]
    assert sorted(mine["layer"]) == ["incidents", "mahallas"]
    assert set(mine["action"]) == {"app"} and set(mine["rows"]) == {0}
    # the model reads once per process, not once per query
    outsider.counts(ViewQuery())
    assert len(store.read("audit").query("user == 'outsider'")) == 2


def test_query_rejects_bad_values_but_urls_are_lenient() -> None:
    with pytest.raises(ValueError, match="level='h3_10'"):
        ViewQuery(level="h3_10")
    with pytest.raises(ValueError, match="after end"):
        ViewQuery(start=date(2025, 2, 1), end=date(2025, 1, 1))
    q = ViewQuery.from_params({"level": "h3_10", "start": "2025-02-01", "end": "2025-01-01",
                               "categories": "theft,,theft, assault", "precise": "yes"})
    assert q == ViewQuery(start=date(2025, 1, 1), end=date(2025, 2, 1),
                          categories=("theft", "assault"), precise=True)
    assert ViewQuery().to_search() == ""
    assert ViewQuery(level="h3_8", categories=("theft", "fraud")).to_search() == (
        "?level=h3_8&categories=theft,fraud")


_texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1,
                 max_size=12).filter(lambda s: s.strip() == s and "," not in s)


@given(level=st.sampled_from(LEVELS), region=st.none() | _texts, district=st.none() | _texts,
       days=st.none() | st.tuples(st.dates(date(2000, 1, 1), date(2040, 1, 1)),
                                  st.integers(0, 400)),
       categories=st.lists(_texts, max_size=4, unique=True), precise=st.booleans())
def test_view_query_round_trips_through_the_url(level: str, region: str | None,
                                                district: str | None,
                                                days: tuple[date, int] | None,
                                                categories: list[str], precise: bool) -> None:
    from urllib.parse import parse_qsl

    start, end = (None, None) if days is None else (days[0], days[0] + pd.Timedelta(
        days=days[1]).to_pytimedelta())
    q = ViewQuery(level=level, region=region, district=district, start=start, end=end,
                  categories=tuple(categories), precise=precise)
    assert ViewQuery.from_params(dict(parse_qsl(q.to_search()[1:]))) == q


def test_empty_store_renders_a_message(tmp_path: Any) -> None:
    from riskmap.app.callbacks.overview import render
    from riskmap.layers import open_store

    model = AppModel(DataAccess(open_store(str(tmp_path / "empty")), audit=False))
    assert model.n_incidents == 0 and model.regions() == [] and model.categories() == []
    for level in LEVELS:
        fig, text, _ = render(model, ViewQuery(level=level))
        assert text.startswith("0 incidents in 0 ")
        assert fig.layout.annotations[0].text.startswith("No mahallas or incidents")


def test_controls_to_query_to_map(model: AppModel) -> None:
    from riskmap.app.callbacks.overview import query_from_controls, render

    q = query_from_controls("h3_9", None, "Jizzax shahri", "2025-03-01T00:00:00",
                            "2025-03-31", ["theft"], ["precise"])
    assert q == ViewQuery(level="h3_9", district="Jizzax shahri", start=date(2025, 3, 1),
                          end=date(2025, 3, 31), categories=("theft",), precise=True)
    fig, text, drawn = render(model, q)
    # the two thefts of March in M00 (incidents 0 and 1; the third theft is in M02)
    n_cells = len(np.unique(cells_from_lonlat(LON[:2], LAT[:2], 9)))
    assert text == (f"2 incidents in {n_cells} H3 cell{'s' if n_cells > 1 else ''} (res 9), "
                    "2025-03-01 – 2025-03-31")
    assert [t.meta["kind"] for t in fig.data][-2:] == ["base", "h3-hover"]
    assert drawn == {"range": None, "res": 9}  # few cells: the chosen resolution, all of them
    assert query_from_controls(None, None, None, None, None, None, []) == ViewQuery()
