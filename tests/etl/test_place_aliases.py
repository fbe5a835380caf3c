"""Place aliases: ``riskmap ingest aliases FILE``, the stored layer, and loads that use it.

Every test that touches a store runs on both backends (the ``store_url`` fixture). The world is
the ETL grid (``tests/etl/grid.py``) plus one mahalla of another region (Samarqand).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import geopandas as gpd

from riskmap.cli import cli
from riskmap.etl.ingest import (
    alias_key,
    check_place_aliases,
    ingest_incidents,
    load_aliases,
    load_context,
    regeocode_addresses,
    regeocode_quarantined,
    stored_place_aliases,
)
from riskmap.layers import open_store
from riskmap.layers.access import DataAccess
from tests.etl.grid import grid_frame, square

#: a header and rows of an incident CSV located only by address
_INCIDENTS = "incident_id,occurred_at,category,address\n"


def _world() -> gpd.GeoDataFrame:
    """The grid (Jizzakh) and one mahalla of Samarqand."""
    other = gpd.GeoDataFrame({"mahalla_id": ["S1"], "name": ["Registon"],
                              "name_cyrillic": ["Регистон"], "district": ["Samarqand shahri"],
                              "region": ["Samarqand"], "population": [500.0]},
                             geometry=[square(9)], crs=4326)
    return gpd.GeoDataFrame(pd.concat([grid_frame(), other], ignore_index=True), crs=4326)


def _cli(*args: str) -> object:
    res = CliRunner().invoke(cli, list(args))
    return res


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> str:
    """A store (embedded or PostGIS) holding the mahallas, loaded as a user loads them."""
    path = tmp_path / "m.geojson"
    _world().to_file(path)
    res = _cli("ingest", "mahallas", str(path), "--store", store_url)
    assert res.exit_code == 0, res.output
    return store_url


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---- the key and the checks (pure) ---------------------------------------------------------

def test_alias_key_sets_script_case_and_punctuation_aside() -> None:
    key = alias_key("Eski Chorsu, bozori!", "Jizzax shahri", "Jizzakh")
    assert key == "eski chorsu bozori|jizzax shahri|jizzakh"
    assert alias_key("ЭСКИ ЧОРСУ  бозори", "Jizzax shahri", "Jizzakh") == key
    # two districts of one name kind ("Qarshi shahri" / "Qarshi tumani") keep apart
    assert alias_key("x", "Qarshi shahri", "R") != alias_key("x", "Qarshi tumani", "R")


def test_check_place_aliases_fills_the_area_and_names_each_fault() -> None:
    rows = pd.DataFrame({
        "alias": ["Eski bozor", "Eski bozor", "Yangi", "Tuman joy", "x" * 501, "...", "Bad"],
        "mahalla_id": ["M1", "M9", "M99", None, "M1", "M1", "M4"],
        "district": [None, "Jizzax shahri", None, "Arnasoy", None, None, None],
        "region": [None, None, None, None, None, None, "Samarqand"],
    })
    out, reason, detail = check_place_aliases(rows, _world(), user="ali", source="a.csv")
    assert reason.tolist() == [None, "wrong_district", "unknown_mahalla", None, "value_too_long",
                               "missing_alias", "wrong_region"]
    assert out.loc[0, ["district", "region"]].tolist() == ["Jizzax shahri", "Jizzakh"]
    # a district-only alias takes the district's full name and region from the layer
    assert pd.isna(out.loc[3, "mahalla_id"])
    assert out.loc[3, ["district", "region"]].tolist() == ["Arnasoy tumani", "Jizzakh"]
    assert "column 'district': 'Jizzax shahri'" in detail[1] and "'Arnasoy tumani'" in detail[1]
    assert "column 'mahalla_id': 'M99'" in detail[2]
    assert set(out["created_by"]) == {"ali"} and set(out["source"]) == {"a.csv"}


# ---- riskmap ingest aliases ------------------------------------------------------------------

def test_ingest_aliases_loads_good_rows_and_quarantines_the_rest(world: str,
                                                                 tmp_path: Path) -> None:
    path = _write(tmp_path / "aliases.csv", (
        "alias,mahalla_id,district,region\n"
        "Eski Chorsu bozori,M2,,\n"            # row 2
        "Paxtakor stadioni,M5,Sharof Rashidov,\n"
        "Nowhere,M77,,\n"                      # row 4: unknown mahalla
        "eski chorsu BOZORI,M2,,\n"            # row 5: the same alias again: a duplicate
        "Eski Chorsu bozori!,M3,,\n"           # row 6: the same alias, another mahalla
        "Registon yonida,S1,,Jizzakh\n"))      # row 7: the region is not S1's
    res = _cli("ingest", "aliases", str(path), "--store", world, "--report",
               str(tmp_path / "r.json"))
    assert res.exit_code == 0, res.output
    assert "6 rows -> 2 loaded, 0 updated, 1 duplicates, 3 quarantined" in res.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["by_reason"] == {"unknown_mahalla": 1, "conflicting_id": 1, "wrong_region": 1}
    with open_store(world) as store:
        aliases = store.read("place_aliases").sort_values("alias")
        assert aliases["alias"].tolist() == ["Eski Chorsu bozori", "Paxtakor stadioni"]
        assert aliases["district"].tolist() == ["Jizzax shahri", "Sharof Rashidov tumani"]
        assert set(aliases["created_by"]) == {"local"} and set(aliases["source"]) == {
            "aliases.csv"}
        q = store.read("quarantine").set_index("source_row")
    assert q["layer"].unique().tolist() == ["place_aliases"]
    assert sorted(q.index) == [4, 6, 7]
    assert set(q["source_file"]) == {"aliases.csv"}
    assert "column 'mahalla_id': 'M77'" in q.loc[4, "detail"]
    assert "at row 2" in q.loc[6, "detail"]
    assert json.loads(q.loc[7, "raw"])["region"] == "Jizzakh"

    # loading the same file again changes nothing; a changed mahalla is an update
    res = _cli("ingest", "aliases", str(path), "--store", world)
    assert "6 rows -> 0 loaded, 0 updated, 3 duplicates, 3 quarantined" in res.output
    _write(path, "alias,mahalla_id\nEski Chorsu bozori,M1\n")
    res = _cli("ingest", "aliases", str(path), "--store", world)
    assert "1 rows -> 0 loaded, 1 updated" in res.output
    with open_store(world) as store:
        got = store.read("place_aliases", filters=[("alias", "=", "Eski Chorsu bozori")])
        assert got["mahalla_id"].tolist() == ["M1"]
    # --replace: the file's aliases are all there is
    res = _cli("ingest", "aliases", str(path), "--store", world, "--replace")
    assert res.exit_code == 0, res.output
    with open_store(world) as store:
        assert store.count("place_aliases") == 1


def test_a_corrected_quarantine_export_loads_and_resolves_its_rows(world: str,
                                                                   tmp_path: Path) -> None:
    path = _write(tmp_path / "aliases.csv", "alias,mahalla_id\nEski bozor,M22\nYangi bozor,M2\n"
                                            "Bog' bozor,M33\n")
    assert "2 quarantined" in _cli("ingest", "aliases", str(path), "--store", world).output
    export = tmp_path / "q.csv"
    res = _cli("export", "quarantine", "--layer", "place_aliases", "--store", world,
               "-o", str(export))
    assert res.exit_code == 0, res.output
    fixed = pd.read_csv(export, dtype=str)
    fixed.loc[fixed["alias"] == "Eski bozor", "mahalla_id"] = "M2"  # one fixed, one not
    fixed.to_csv(export, index=False)
    res = _cli("ingest", "aliases", str(export), "--store", world)
    assert "2 rows -> 1 loaded, 0 updated, 0 duplicates, 1 quarantined" in res.output, res.output
    assert "resolved 1 earlier quarantined rows" in res.output
    with open_store(world) as store:
        q = store.read("quarantine")
        aliases = store.read("place_aliases")
    assert q[["quarantine_id", "reason"]].values.tolist() == [["pla:aliases.csv:4",
                                                               "unknown_mahalla"]]
    assert "quarantine_id" not in json.loads(q["raw"].iat[0])
    assert sorted(aliases["alias"]) == ["Eski bozor", "Yangi bozor"]


@pytest.mark.parametrize(("text", "where"), [
    ("name,mahalla_id\nx,M1\n", "column 'alias'"),
    ("alias,mahalla_id\nx,M1\n,M2\n", "row 3, column 'alias'"),
])
def test_ingest_aliases_refuses_an_unreadable_file_naming_row_and_column(
        text: str, where: str, tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    path = _write(tmp_path / "a.csv", text)
    res = _cli("ingest", "aliases", str(path), "--store", store)
    assert res.exit_code == 2, res.output
    assert "a.csv" in res.output and where in res.output and "Traceback" not in res.output


def test_ingest_aliases_needs_mahallas_and_no_table_options(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    path = _write(tmp_path / "a.csv", "alias,mahalla_id\nx,M1\n")
    res = _cli("ingest", "aliases", str(path), "--store", store)
    assert res.exit_code == 2 and "no mahallas" in res.output
    res = _cli("ingest", "aliases", str(path), "--store", store, "--map", "a=alias")
    assert res.exit_code == 2 and "--map cannot be used with aliases" in res.output


# ---- loads use the stored aliases ------------------------------------------------------------

def test_the_next_incident_load_uses_the_stored_aliases(world: str, tmp_path: Path) -> None:
    incidents = _write(tmp_path / "i.csv", _INCIDENTS + (
        "A1,2025-03-01 10:00,theft,\"Eski Chorsu bozori orqasi\"\n"
        "A2,2025-03-01 11:00,theft,\"Jizzax shahri, Paxtakor stadioni 4-uy\"\n"
        "A3,2025-03-01 12:00,theft,\"Arnasoy tumani, Paxtakor stadioni\"\n"))
    res = _cli("ingest", "incidents", str(incidents), "--store", world)
    assert "3 rows -> 2 loaded" in res.output and "no_location 1" in res.output
    aliases = _write(tmp_path / "a.csv", "alias,mahalla_id\nEski Chorsu bozori orqasi,M2\n"
                                         "Paxtakor stadioni,M1\n")
    assert _cli("ingest", "aliases", str(aliases), "--store", world).exit_code == 0
    # the same rows under new ids: placed by the aliases (within the district they name)
    again = _write(tmp_path / "j.csv", incidents.read_text().replace(",2025", "x,2025"))
    res = _cli("ingest", "incidents", str(again), "--store", world)
    assert "3 rows -> 3 loaded" in res.output, res.output
    with open_store(world) as store:
        got = store.read("incidents").set_index("incident_id")
    assert got.loc["A1x", ["mahalla_id", "geocode_precision"]].tolist() == ["M2", "mahalla"]
    assert got.loc["A2x", ["mahalla_id", "geocode_precision"]].tolist() == ["M1", "mahalla"]
    # "Paxtakor stadioni" is an alias in Jizzax shahri: in Arnasoy it places nothing
    assert got.loc["A3x", ["district", "geocode_precision"]].tolist() == [
        "Arnasoy tumani", "district"]


def test_load_context_skips_stale_aliases_with_a_note(world: str) -> None:
    with open_store(world) as store:
        rows, _, _ = check_place_aliases(
            pd.DataFrame({"alias": ["Eski bozor", "Yangi bozor"], "mahalla_id": ["M2", "M3"]}),
            _world(), user="ali", source="app")
        rows.loc[1, "mahalla_id"] = "M-gone"  # a mahalla id the layer no longer has
        store.replace("place_aliases", rows)
        notes: list[str] = []
        ctx = load_context(store, aliases=load_aliases(), notes=notes)
        usable, _ = stored_place_aliases(store)
    assert usable["alias"].tolist() == ["Eski bozor"]
    assert len(notes) == 1 and "1 stored place alias(es) skipped" in notes[0]
    got = ctx.gazetteer.match(pd.Series(["Eski bozor", "Yangi bozor"]))
    assert got["mahalla_id"].tolist()[0] == "M2" and pd.isna(got["mahalla_id"].iat[1])
    with open_store(world) as store:
        plain = load_context(store, aliases=load_aliases(), place_aliases=False)
    assert pd.isna(plain.gazetteer.match(pd.Series(["Eski bozor"]))["mahalla_id"].iat[0])


def test_a_scoped_user_reads_the_aliases_of_their_region_only(world: str,
                                                              tmp_path: Path) -> None:
    path = _write(tmp_path / "a.csv", "alias,mahalla_id\nEski bozor,M2\nRegiston yonida,S1\n")
    assert _cli("ingest", "aliases", str(path), "--store", world).exit_code == 0
    with open_store(world) as store:
        got = DataAccess(store, user="s", regions=["Samarqand"]).read("place_aliases")
    assert got["alias"].tolist() == ["Registon yonida"]


# ---- the addresses of district-precision rows, and geocoding again ---------------------------

def test_district_rows_keep_their_address_until_placed(world: str, tmp_path: Path) -> None:
    path = _write(tmp_path / "i.csv", _INCIDENTS + (
        "D1,2025-03-01 10:00,theft,\"Jizzax shahri, Paxtakor stadioni\"\n"
        "D2,2025-03-01 10:00,theft,\"Jizzax shahri, Yoshlik MFY\"\n"))
    assert _cli("ingest", "incidents", str(path), "--store", world).exit_code == 0
    with open_store(world) as store:
        kept = store.read("incident_addresses")
        assert kept["incident_id"].tolist() == ["D1"]
        assert kept.loc[0, ["address", "district", "region", "source_file", "source_row"]
                        ].tolist() == ["Jizzax shahri, Paxtakor stadioni", "Jizzax shahri",
                                       "Jizzakh", "i.csv", 2]
        assert json.loads(kept.loc[0, "location"]) == {
            "address": "Jizzax shahri, Paxtakor stadioni"}
        # geocoding it again with an alias places it; nothing is written by that function
        ctx = load_context(store, aliases=load_aliases())
        ctx.gazetteer = ctx.gazetteer.with_aliases(
            pd.DataFrame({"alias": ["Paxtakor stadioni"], "mahalla_id": ["M2"]}))
        moved = regeocode_addresses(store.read("incidents"), kept, ctx)
        assert moved["incident_id"].tolist() == ["D1"]
        assert moved.loc[0, ["mahalla_id", "geocode_precision"]].tolist() == ["M2", "mahalla"]
        m2 = store.read("incidents", filters=[("incident_id", "=", "D2")])
        assert moved["h3"].iat[0] == m2["h3"].iat[0]  # the cell a load gives that mahalla
    aliases = _write(tmp_path / "a.csv", "alias,mahalla_id\nPaxtakor stadioni,M2\n")
    assert _cli("ingest", "aliases", str(aliases), "--store", world).exit_code == 0
    res = _cli("ingest", "incidents", str(path), "--store", world)
    assert "1 updated" in res.output, res.output
    with open_store(world) as store:
        assert store.read("incident_addresses")["incident_id"].tolist() == []


def test_loading_again_records_the_addresses_of_unchanged_district_rows(
        world: str, tmp_path: Path) -> None:
    path = _write(tmp_path / "i.csv", _INCIDENTS
                  + "D1,2025-03-01 10:00,theft,\"Arnasoy tumani, Qayerdadir\"\n")
    assert _cli("ingest", "incidents", str(path), "--store", world).exit_code == 0
    with open_store(world) as store:
        with store.transaction() as txn:  # as a store loaded before the layer existed
            txn.delete("incident_addresses", ["D1"])
        assert store.count("incident_addresses") == 0
    res = _cli("ingest", "incidents", str(path), "--store", world)
    assert "1 duplicates" in res.output
    with open_store(world) as store:
        assert store.read("incident_addresses")["incident_id"].tolist() == ["D1"]


def test_regeocode_quarantined_loads_the_original_row(world: str, tmp_path: Path) -> None:
    path = _write(tmp_path / "i.csv", _INCIDENTS
                  + "Q1,2025-03-01 10:00,o‘g‘irlik,\"Eski Chorsu bozori orqasi\"\n"
                  + ",2025-03-02 10:00,theft,\"Eski Chorsu bozori orqasi\"\n")
    assert _cli("ingest", "incidents", str(path), "--store", world).exit_code == 0
    with open_store(world) as store:
        records = store.read("quarantine")
        ctx = load_context(store, aliases=load_aliases())
    assert len(records) == 2
    same, resolved = regeocode_quarantined(records, ctx)
    assert len(same) == 0 and resolved == []
    ctx.gazetteer = ctx.gazetteer.with_aliases(
        pd.DataFrame({"alias": ["Eski Chorsu bozori orqasi"], "mahalla_id": ["M2"]}))
    placed, resolved = regeocode_quarantined(records, ctx)
    assert sorted(resolved) == sorted(records["quarantine_id"])
    placed = placed.sort_values("source_row").reset_index(drop=True)
    assert placed["incident_id"].iat[0] == "Q1" and placed["incident_id"].iat[1].startswith("h")
    assert placed["category"].tolist() == ["theft", "theft"]
    assert placed["mahalla_id"].tolist() == ["M2", "M2"]
    assert placed["source_file"].tolist() == ["i.csv", "i.csv"]
    assert placed["source_row"].tolist() == [2, 3]
    # the id a load of the file would give the row without an id: no duplicate later
    with open_store(world) as store:
        ctx2 = load_context(store, aliases=load_aliases())
        ctx2.gazetteer = ctx.gazetteer
        ingest_incidents(path, store, ctx2)
        ids = set(store.read("incidents")["incident_id"])
    assert set(placed["incident_id"]) <= ids and len(ids) == 2
    assert np.all(placed.geometry.is_empty)
