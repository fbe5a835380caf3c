"""The focus fields of incidents (sex, age group, family context, repeat and probation flags)
from files with Uzbek and Russian headers and values, on both stores; bad values quarantined."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from riskmap.etl.ingest import ingest_incidents, load_aliases, load_context
from tests.etl.grid import centre, grid_frame

NOW = pd.Timestamp("2025-06-01T00:00:00Z")

UZ_HEADER = ["№", "sana", "jinoyat turi", "kenglik", "uzunlik", "jabrlanuvchi jinsi",
             "jabrlanuvchi yoshi", "jinoyatchi jinsi", "jinoyatchi yoshi", "oilaviy",
             "takroriy", "shartli"]
RU_HEADER = ["номер", "дата", "вид преступления", "широта", "долгота", "пол потерпевшего",
             "возраст потерпевшего", "пол подозреваемого", "возраст подозреваемого",
             "бытовое", "рецидив", "условно осуждённый"]


def _write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _uz_rows() -> list[list[object]]:
    lat, lon = centre(0)[1], centre(0)[0]
    return [
        ["U1", "2025-01-10", "oilaviy zo'ravonlik", lat, lon, "ayol", "34", "erkak", "41",
         "ha", "yo‘q", "yo'q"],
        ["U2", "2025-01-11", "o'g'irlik", lat, lon, "Erkak", "16", "erkak", "15-17", "yo'q",
         "ha", "ha"],
        ["U3", "2025-01-12", "bezorilik", lat, lon, "", "", "", "", "", "", ""],
        ["U4", "2025-01-12", "kiberjinoyat", lat, lon, "аёл", "voyaga yetmagan", "", "25 yosh",
         "", "", ""],
        ["Q1", "2025-01-13", "theft", lat, lon, "kim", "30", "erkak", "20", "", "", ""],
        ["Q2", "2025-01-13", "theft", lat, lon, "ayol", "150", "erkak", "20", "", "", ""],
        ["Q3", "2025-01-13", "theft", lat, lon, "ayol", "30", "erkak", "20", "balki", "", ""],
        ["Q4", "2025-01-13", "theft", lat, lon, "ayol", "30", "erkak", "15-25", "", "", ""],
    ]


def _ru_rows() -> list[list[object]]:
    lat, lon = centre(4)[1], centre(4)[0]
    return [
        ["R1", "10.02.2025", "бытовое насилие", lat, lon, "женский", "29", "мужской", "35",
         "да", "нет", "нет"],
        ["R2", "11.02.2025", "кража", lat, lon, "Ж", "несовершеннолетний", "М", "молодёжь",
         "нет", "да", "Да"],
        ["R3", "12.02.2025", "наркотики", lat, lon, "", "", "м", "60+", "", "1", "0"],
        ["S1", "13.02.2025", "кража", lat, lon, "оно", "30", "м", "20", "", "", ""],
        ["S2", "13.02.2025", "кража", lat, lon, "ж", "30", "м", "20", "", "возможно", ""],
    ]


@pytest.fixture
def loaded(store, tmp_path):
    store.replace("mahallas", grid_frame())
    ctx = load_context(store, aliases=load_aliases(), now=NOW)
    uz = ingest_incidents(_write(tmp_path / "uz.csv", UZ_HEADER, _uz_rows()), store, ctx)
    ru = ingest_incidents(_write(tmp_path / "ru.csv", RU_HEADER, _ru_rows()), store, ctx)
    return store, uz, ru


def test_uzbek_and_russian_headers_and_values_load_as_canonical_focus_fields(loaded):
    store, uz, ru = loaded
    assert (uz.loaded, uz.quarantined) == (4, 4)
    assert (ru.loaded, ru.quarantined) == (3, 2)
    inc = pd.DataFrame(store.read("incidents")).set_index("incident_id")
    got = {i: tuple(None if pd.isna(v) else v for v in inc.loc[i, [
        "victim_sex", "victim_age_group", "offender_sex", "offender_age_group", "domestic",
        "repeat_offender", "on_probation"]]) for i in inc.index}
    assert got == {
        "U1": ("female", "adult", "male", "adult", True, False, False),
        "U2": ("male", "minor", "male", "minor", False, True, True),
        "U3": (None, None, None, None, None, None, None),
        "U4": ("female", "minor", None, "youth", None, None, None),
        "R1": ("female", "youth", "male", "adult", True, False, False),
        "R2": ("female", "minor", "male", "youth", False, True, True),
        "R3": (None, None, "male", "senior", None, True, False),
    }
    assert inc.loc["U1", "category"] == "domestic_violence"
    assert inc.loc["R3", "category"] == "drugs"


def test_unreadable_focus_values_are_quarantined_naming_column_and_value(loaded):
    store, uz, ru = loaded
    assert uz.by_reason == {"invalid_sex": 1, "invalid_age": 2, "invalid_flag": 1}
    assert ru.by_reason == {"invalid_sex": 1, "invalid_flag": 1}
    q = pd.DataFrame(store.read("quarantine"))
    q["id"] = [json.loads(r).get("incident_id") for r in q["raw"]]
    q = q.set_index("id")
    assert q.loc["Q1", "reason"] == "invalid_sex"
    assert "'victim_sex'" in q.loc["Q1", "detail"] and "'kim'" in q.loc["Q1", "detail"]
    assert q.loc["Q2", "reason"] == "invalid_age" and "'150'" in q.loc["Q2", "detail"]
    assert q.loc["Q3", "reason"] == "invalid_flag" and "'domestic'" in q.loc["Q3", "detail"]
    assert q.loc["Q4", "reason"] == "invalid_age" and "'15-25'" in q.loc["Q4", "detail"]
    assert q.loc["S2", "reason"] == "invalid_flag" and "'repeat_offender'" in q.loc["S2",
                                                                                    "detail"]
    # the original row, with its Russian header renamed, is kept for correction
    assert json.loads(q.loc["S1", "raw"])["victim_sex"] == "оно"


def test_reloading_the_same_file_changes_nothing_and_a_new_value_updates(loaded, tmp_path):
    store, _, _ = loaded
    ctx = load_context(store, aliases=load_aliases(), now=NOW)
    again = ingest_incidents(_write(tmp_path / "ru.csv", RU_HEADER, _ru_rows()), store, ctx)
    assert (again.loaded, again.updated, again.duplicates) == (0, 0, 3)
    rows = _ru_rows()
    rows[2][5] = "ayol"  # R3's victim now known
    changed = ingest_incidents(_write(tmp_path / "ru2.csv", RU_HEADER, rows), store, ctx)
    assert changed.updated == 1
    inc = pd.DataFrame(store.read("incidents")).set_index("incident_id")
    assert inc.loc["R3", "victim_sex"] == "female"


def test_a_rows_content_hash_is_its_own_whatever_else_the_file_holds(tmp_path):
    """Only the rows with focus values have them hashed: a row's hash must not depend on the
    other rows of its file (a re-load of a changed file would otherwise see every row as
    changed)."""
    from riskmap.layers import open_store

    def hashes(rows: list[list[object]], name: str) -> dict[str, int]:
        with open_store(str(tmp_path / name)) as store:
            store.replace("mahallas", grid_frame())
            ctx = load_context(store, aliases=load_aliases(), now=NOW)
            ingest_incidents(_write(tmp_path / f"{name}.csv", UZ_HEADER, rows), store, ctx)
            got = store.read("incidents", columns=["incident_id", "content_hash"])
        return dict(zip(got["incident_id"], got["content_hash"], strict=True))

    every = hashes(_uz_rows(), "all")
    assert {"U1", "U2", "U3", "U4"} <= set(every)
    alone = hashes([r for r in _uz_rows() if r[0] in ("U2", "U3")], "two")
    without_focus = hashes([r for r in _uz_rows() if r[0] == "U3"], "one")
    assert alone == {k: every[k] for k in ("U2", "U3")}
    assert without_focus == {"U3": every["U3"]}
    assert every["U2"] != hashes([[*_uz_rows()[1][:5], *([""] * 7)]], "bare")["U2"]
