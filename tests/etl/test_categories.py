"""Tests for etl.categories: alias keys, alias tables and vectorised category normalisation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import riskmap.etl.categories as categories
from riskmap.errors import InputFileError
from riskmap.etl.categories import (
    CATEGORIES,
    DEFAULT_ALIASES,
    alias_key,
    build_alias_table,
    load_alias_file,
    normalize_categories,
)

CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def test_categories_are_the_schema_codes_in_order() -> None:
    assert CATEGORIES == (
        "homicide", "assault", "sexual_violence", "robbery", "burglary", "theft",
        "vehicle_theft", "fraud", "cybercrime", "drugs", "domestic_violence", "hooliganism",
        "traffic", "weapons", "other",
    )


@pytest.mark.parametrize("code", CATEGORIES)
def test_every_code_has_latin_and_cyrillic_aliases(code: str) -> None:
    aliases = [a for a, c in DEFAULT_ALIASES.items() if c == code]
    assert code in aliases
    assert code.replace("_", " ") in aliases
    assert any(CYRILLIC.search(a) for a in aliases), code
    latin = [a for a in aliases if not CYRILLIC.search(a) and a not in (code, code.replace("_", " "))]
    assert latin, code


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("o'g'irlik", "theft"), ("ўғирлик", "theft"), ("кража", "theft"), ("Кража", "theft"),
        ("firibgarlik", "fraud"), ("фирибгарлик", "fraud"), ("мошенничество", "fraud"),
        ("kiberjinoyat", "cybercrime"), ("киберпреступление", "cybercrime"),
        ("giyohvandlik", "drugs"), ("наркотики", "drugs"),
        ("bezorilik", "hooliganism"), ("безорилик", "hooliganism"), ("хулиганство", "hooliganism"),
        ("talonchilik", "robbery"), ("грабёж", "robbery"), ("грабеж", "robbery"),
        ("bosqinchilik", "robbery"), ("разбой", "robbery"),
        ("qotillik", "homicide"), ("убийство", "homicide"),
        ("tan jarohati", "assault"), ("побои", "assault"),
        ("нанесение телесных повреждений", "assault"),
        ("avtomobil o'g'irligi", "vehicle_theft"), ("угон", "vehicle_theft"),
        ("кража со взломом", "burglary"), ("o'g'rilik uyga kirib", "burglary"),
        ("oilaviy zo'ravonlik", "domestic_violence"), ("бытовое насилие", "domestic_violence"),
        ("yo'l-transport hodisasi", "traffic"), ("ДТП", "traffic"),
        ("qurol", "weapons"), ("оружие", "weapons"),
        ("jinsiy zo'ravonlik", "sexual_violence"), ("изнасилование", "sexual_violence"),
        ("boshqa", "other"), ("прочее", "other"),
        ("vehicle theft", "vehicle_theft"), ("Vehicle_Theft", "vehicle_theft"),
        ("DOMESTIC VIOLENCE", "domestic_violence"),
    ],
)
def test_default_aliases(label: str, code: str) -> None:
    assert build_alias_table()[alias_key(label)] == code


@pytest.mark.parametrize(
    "variant", ["o'g'irlik", "o‘g‘irlik", "oʻgʻirlik", "o`g`irlik", "o’g’irlik", "  O‘G‘IRLIK ",
                "ogirlik", "ўғирлик"],
)
def test_alias_key_unifies_apostrophes_case_and_script(variant: str) -> None:
    assert alias_key(variant) == "ogirlik"


def test_alias_key_collapses_whitespace_and_punctuation() -> None:
    assert alias_key("  Кража,  со -- взломом! ") == alias_key("кража со взломом") == "kraja so vzlomom"
    assert alias_key("грабёж") == alias_key("ГРАБЕЖ") == "grabej"
    assert alias_key(None) == ""
    assert alias_key(12) == ""


def test_no_two_default_aliases_collide_on_different_codes() -> None:
    seen: dict[str, str] = {}
    for alias, code in DEFAULT_ALIASES.items():
        assert seen.setdefault(alias_key(alias), code) == code, alias


def test_build_alias_table_extra_overrides_and_adds() -> None:
    table = build_alias_table({"Карманная кража": "theft", "угон": "theft"})
    assert table[alias_key("карманная кража")] == "theft"
    assert table[alias_key("угон")] == "theft"  # an explicit extra wins over the default
    assert build_alias_table()[alias_key("угон")] == "vehicle_theft"  # defaults untouched


def test_build_alias_table_rejects_unknown_code_naming_alias() -> None:
    with pytest.raises(ValueError, match=r"'pickpocket'.*'petty_theft'"):
        build_alias_table({"pickpocket": "petty_theft"})


def test_load_alias_file_json(tmp_path: Path) -> None:
    path = tmp_path / "aliases.json"
    path.write_text(json.dumps({"cho'ntakkesarlik": "theft"}, ensure_ascii=False), encoding="utf-8")
    assert load_alias_file(path) == {"cho'ntakkesarlik": "theft"}


def test_load_alias_file_csv(tmp_path: Path) -> None:
    path = tmp_path / "aliases.csv"
    path.write_text("alias,category\nкарманная кража,theft\nvandalizm,hooliganism\n",
                    encoding="utf-8")
    extra = load_alias_file(path)
    assert extra == {"карманная кража": "theft", "vandalizm": "hooliganism"}
    assert build_alias_table(extra)[alias_key("Vandalizm")] == "hooliganism"


def test_load_alias_file_csv_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "aliases.csv"
    path.write_text("name,code\nx,theft\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"aliases\.csv.*'alias' and 'category'"):
        load_alias_file(path)


def test_load_alias_file_json_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "aliases.json"
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"aliases\.json"):
        load_alias_file(path)


def test_normalize_categories_values_and_missing() -> None:
    values = pd.Series(["Кража", "ДТП", "no such thing", None, np.nan, "  ", "fraud", "Кража"],
                       index=list("abcdefgh"), name="category")
    out = normalize_categories(values, build_alias_table())
    assert out.dtype == "string"
    assert out.index.tolist() == list("abcdefgh")
    assert out.name == "category"
    assert out.tolist() == ["theft", "traffic", pd.NA, pd.NA, pd.NA, pd.NA, "fraud", "theft"]


def test_normalize_categories_empty() -> None:
    out = normalize_categories(pd.Series([], dtype=object), build_alias_table())
    assert len(out) == 0
    assert out.dtype == "string"


def test_normalize_categories_normalises_each_distinct_label_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    table = build_alias_table()
    calls: list[object] = []

    def counting(text: object) -> str:
        calls.append(text)
        return alias_key(text)

    monkeypatch.setattr(categories, "alias_key", counting)
    labels = np.array(["кража", "угон", "ДТП", "boshqa"], dtype=object)
    values = pd.Series(labels[np.arange(10_000) % 4])
    out = normalize_categories(values, table)
    assert sorted(map(str, calls)) == sorted(labels)
    assert out.value_counts().to_dict() == {
        "theft": 2500, "vehicle_theft": 2500, "traffic": 2500, "other": 2500}


@pytest.mark.parametrize(("label", "code"), [("половое насилие", "sexual_violence"),
                                             ("Незаконное оружие", "weapons"),
                                             ("қурол сақлаш", "weapons")])
def test_russian_and_cyrillic_phrasings(label: str, code: str) -> None:
    assert normalize_categories(pd.Series([label]), build_alias_table()).tolist() == [code]


def test_every_demo_category_label_is_known() -> None:
    # the demo generator's vocabulary (Uzbek Latin/Cyrillic, Russian, codes, robbery extras)
    from riskmap.etl.demo.rows import alias_lookup

    labels = alias_lookup()
    got = normalize_categories(pd.Series(list(labels)), build_alias_table())
    assert got.tolist() == list(labels.values())
