"""Map free-text crime categories (Uzbek Latin/Cyrillic, Russian, English) to riskmap's canonical codes."""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from riskmap.errors import InputFileError
from riskmap.etl.translit import cyr_to_lat, unify_apostrophes

__all__ = [
    "CATEGORIES",
    "DEFAULT_ALIASES",
    "alias_key",
    "build_alias_table",
    "load_alias_file",
    "normalize_categories",
]

#: The canonical incident categories, in schema order.
CATEGORIES: tuple[str, ...] = (
    "homicide",
    "assault",
    "sexual_violence",
    "robbery",
    "burglary",
    "theft",
    "vehicle_theft",
    "fraud",
    "cybercrime",
    "drugs",
    "domestic_violence",
    "hooliganism",
    "traffic",
    "weapons",
    "other",
)

_ALIASES_BY_CODE: dict[str, tuple[str, ...]] = {
    "homicide": (
        "qotillik", "odam o'ldirish", "qasddan odam o'ldirish", "қотиллик", "одам ўлдириш",
        "қасддан одам ўлдириш", "убийство", "умышленное убийство", "murder", "killing",
    ),
    "assault": (
        "tan jarohati", "tan jarohati yetkazish", "badanga shikast yetkazish", "kaltaklash",
        "тан жароҳати", "тан жароҳати етказиш", "калтаклаш", "побои",
        "нанесение телесных повреждений", "телесные повреждения", "причинение вреда здоровью",
        "нападение", "battery",
    ),
    "sexual_violence": (
        "jinsiy zo'ravonlik", "nomusga tegish", "жинсий зўравонлик", "номусга тегиш",
        "изнасилование", "сексуальное насилие", "половое насилие", "половое преступление",
        "насильственные действия сексуального характера", "rape", "sexual assault",
    ),
    "robbery": (
        "talonchilik", "bosqinchilik", "талончилик", "босқинчилик", "грабёж", "разбой",
        "mugging",
    ),
    "burglary": (
        "o'g'rilik uyga kirib", "uyga kirib o'g'rilik", "o'g'irlik uyga kirib",
        "uyga kirib o'g'irlik", "xonadon o'g'riligi", "ўғрилик уйга кириб",
        "уйга кириб ўғрилик", "хонадон ўғрилиги", "кража со взломом",
        "квартирная кража", "кража из жилища", "break-in", "housebreaking",
    ),
    "theft": (
        "o'g'irlik", "o'g'rilik", "ўғирлик", "ўғрилик", "кража", "хищение", "larceny",
        "stealing",
    ),
    "vehicle_theft": (
        "avtomobil o'g'irligi", "avtomobil o'g'irlash", "transport vositasini o'g'irlash",
        "автомобил ўғирлиги", "автомобиль ўғирлиги", "транспорт воситасини ўғирлаш", "угон",
        "угон автомобиля", "угон транспортного средства", "кража автомобиля", "car theft",
        "auto theft", "motor vehicle theft",
    ),
    "fraud": (
        "firibgarlik", "фирибгарлик", "мошенничество", "swindle", "scam",
    ),
    "cybercrime": (
        "kiberjinoyat", "kiberjinoyatchilik", "kiber firibgarlik", "кибержиноят",
        "кибержиноятчилик", "киберпреступление", "киберпреступность", "компьютерное преступление",
        "cyber crime", "cyber",
    ),
    "drugs": (
        "giyohvandlik", "giyohvand moddalar", "narkotik", "гиёҳвандлик", "гиёҳванд моддалар",
        "наркотики", "наркотик", "незаконный оборот наркотиков", "наркомания", "narcotics",
        "drug",
    ),
    "domestic_violence": (
        "oilaviy zo'ravonlik", "oiladagi zo'ravonlik", "maishiy zo'ravonlik",
        "оилавий зўравонлик", "оиладаги зўравонлик", "бытовое насилие", "семейное насилие",
        "домашнее насилие",
    ),
    "hooliganism": (
        "bezorilik", "безорилик", "хулиганство", "хулиганка", "hooligan", "vandalism",
    ),
    "traffic": (
        "yo'l-transport hodisasi", "yo'l transport hodisasi", "yth", "avtohalokat",
        "йўл-транспорт ҳодисаси", "йўл транспорт ҳодисаси", "ЙТҲ", "ДТП",
        "дорожно-транспортное происшествие", "авария", "traffic accident", "road accident",
        "traffic violation",
    ),
    "weapons": (
        "qurol", "qurol-yarog'", "qurol saqlash", "qonunsiz qurol saqlash", "қурол",
        "қурол-яроғ", "қурол сақлаш", "оружие", "незаконное оружие", "незаконное хранение оружия",
        "незаконный оборот оружия", "weapon", "firearms",
    ),
    "other": (
        "boshqa", "boshqalar", "бошқа", "бошқалар", "прочее", "прочие", "другое", "misc",
    ),
}

#: Alias -> canonical code. Every code maps to itself and its English spelling with spaces.
DEFAULT_ALIASES: dict[str, str] = {
    **{code: code for code in CATEGORIES},
    **{code.replace("_", " "): code for code in CATEGORIES},
    **{alias: code for code, aliases in _ALIASES_BY_CODE.items() for alias in aliases},
}

_DROP_RE = re.compile(r"[^0-9a-z]+")


def alias_key(text: object) -> str:
    """Return the normalised look-up key of a category label.

    Lower case, Cyrillic transliterated (:func:`etl.translit.cyr_to_lat`) after ё -> е, every
    apostrophe variant (o' o‘ oʻ o` ’) removed so "o‘g‘irlik" = "o'g'irlik" = "ogirlik", and runs
    of whitespace/punctuation (including "_" and "-") collapsed to one space.

    Parameters
    ----------
    text
        A label; anything that is not a string gives "".

    Returns
    -------
    str
        The key.

    Examples
    --------
    >>> alias_key("  O‘G‘IRLIK ")
    'ogirlik'
    >>> alias_key("Грабёж") == alias_key("грабеж")
    True
    >>> alias_key("vehicle_theft")
    'vehicle theft'
    >>> alias_key(None)
    ''
    """
    if not isinstance(text, str):
        return ""
    s = unicodedata.normalize("NFC", text).lower().replace("ё", "е")
    s = unify_apostrophes(cyr_to_lat(s)).replace("'", "")
    return _DROP_RE.sub(" ", s.lower()).strip()


def build_alias_table(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Build the key -> canonical code table from :data:`DEFAULT_ALIASES` plus ``extra``.

    Parameters
    ----------
    extra
        Additional alias -> code pairs (they override the defaults). Codes must be canonical.

    Returns
    -------
    dict[str, str]
        Look-up table keyed by :func:`alias_key`.

    Raises
    ------
    ValueError
        If an ``extra`` value is not one of :data:`CATEGORIES`; the message names the alias.

    Examples
    --------
    >>> build_alias_table({"pickpocketing": "theft"})["pickpocketing"]
    'theft'
    """
    table = {alias_key(alias): code for alias, code in DEFAULT_ALIASES.items()}
    for alias, code in (extra or {}).items():
        if code not in CATEGORIES:
            raise ValueError(
                f"category alias {alias!r} maps to {code!r}, which is not a canonical category "
                f"(expected one of: {', '.join(CATEGORIES)})"
            )
        key = alias_key(alias)
        if not key:
            raise ValueError(f"category alias {alias!r} is empty after normalisation")
        table[key] = code
    return table


def load_alias_file(path: str | Path) -> dict[str, str]:
    """Read extra category aliases from a JSON object ``{alias: code}`` or a CSV file.

    The CSV needs the columns ``alias`` and ``category``. Codes are not validated here; pass
    the result to :func:`build_alias_table`, which does.

    Parameters
    ----------
    path
        A ``.json`` file, or any other extension read as UTF-8 CSV.

    Returns
    -------
    dict[str, str]
        alias -> code.

    Raises
    ------
    riskmap.errors.InputFileError
        If the file is not an object of strings / lacks the columns; the message names the file.
    """
    path = Path(path)
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputFileError(path, f"not valid JSON ({exc})") from exc
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            raise InputFileError(path, "expected a JSON object of {alias: category} strings")
        return dict(data)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("alias", "category") if c not in (reader.fieldnames or [])]
        if missing:
            raise InputFileError(
                path,
                f"expected CSV columns 'alias' and 'category' (found: "
                f"{', '.join(reader.fieldnames or []) or 'none'})",
                column=missing[0],
            )
        out: dict[str, str] = {}
        for i, row in enumerate(reader, start=2):
            alias, code = (row.get("alias") or "").strip(), (row.get("category") or "").strip()
            if not alias or not code:
                raise InputFileError(path, "empty alias or category", row=i)
            out[alias] = code
        return out


def normalize_categories(values: pd.Series, table: Mapping[str, str]) -> pd.Series:
    """Map category labels to canonical codes; unknown or missing labels give <NA>.

    Each distinct label is normalised once, so the cost grows with the number of distinct
    labels, not rows.

    Parameters
    ----------
    values
        Raw labels (any dtype).
    table
        A table from :func:`build_alias_table`.

    Returns
    -------
    pd.Series
        dtype ``string`` (NA-valued), same index and name as ``values``.

    Examples
    --------
    >>> t = build_alias_table()
    >>> normalize_categories(pd.Series(["Кража", "ДТП", "xyz", None]), t).tolist()
    ['theft', 'traffic', <NA>, <NA>]
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    lookup = pd.array([table.get(alias_key(u)) for u in uniques], dtype="string")
    result = lookup.take(np.asarray(codes, dtype=np.intp), allow_fill=True)
    return pd.Series(result, index=values.index, name=values.name)
