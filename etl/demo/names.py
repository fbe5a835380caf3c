"""Uzbek names for the demo world: mahalla vocabulary and Latin→Cyrillic/Russian spellings."""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = [
    "APOSTROPHES",
    "MAHALLA_NAMES",
    "to_cyrillic",
    "to_russian",
]

# Common Uzbek mahalla names (Uzbek Latin, ‘ for the o‘/g‘ sign, ’ for the glottal stop).
# The first twenty are drawn more often, so they repeat across districts.
MAHALLA_NAMES: tuple[str, ...] = (
    "Navro‘z", "Bahor", "Istiqlol", "Paxtakor", "Guliston", "Obod", "Tinchlik", "Mehnat",
    "Birlik", "Bog‘bon", "Mustaqillik", "Do‘stlik", "Yoshlik", "Madaniyat", "Navbahor",
    "Oydin", "Ittifoq", "Farovon", "Chinor", "Olmazor",
    "Ziyokor", "Ma’rifat", "Hamkorlik", "Sharq", "Yangiobod", "Yangi hayot", "Bog‘iston",
    "Gulzor", "Lolazor", "Oqtepa", "Qoratepa", "Ko‘ktepa", "Zarafshon", "Amir Temur",
    "Alisher Navoiy", "Bobur", "Ulug‘bek", "Beruniy", "Ibn Sino", "Al-Xorazmiy", "Furqat",
    "Muqimiy", "Cho‘lpon", "Oybek", "G‘afur G‘ulom", "Mevazor", "Uzumzor", "Anorzor",
    "Tutzor", "Yangiariq", "Katta ariq", "Qo‘rg‘oncha", "Qo‘shtepa", "To‘qimachi",
    "Temiryo‘lchi", "Quruvchi", "Energetik", "Bunyodkor", "Kamolot", "Nurli yo‘l", "Yorqin",
    "Quyosh", "Oltin vodiy", "Ko‘kalamzor", "Shodlik", "Saodat", "Umid", "Orzu", "Ezgulik",
    "Mehr", "Oqsaroy", "Ipak yo‘li", "Vatan", "Ozodlik", "Fayziobod", "Xonobod", "Bo‘ston",
    "Chorbog‘", "Eski shahar", "Markaz", "Gulobod", "Tong", "Chashma", "Buloq", "Sohil",
    "Daryo bo‘yi", "Tog‘oldi", "Adir", "Yangi yer", "Zilol", "Nihol", "Dilkusho", "Iftixor",
    "Ma’naviyat", "Barkamol", "Ilg‘or", "Taraqqiyot", "Yuksalish", "Yangi davr", "Istiqbol",
    "Nurafshon", "Alpomish", "Yangishahar", "G‘oliblar", "Bog‘ishamol", "Qadriyat",
    "Sog‘lom avlod", "Navqiron", "Jasorat", "Mardlik", "Bunyod", "Sarbon", "Qamar", "Oqoltin",
)

# Ways people type the o‘/g‘ sign.
APOSTROPHES: tuple[str, ...] = ("‘", "'", "`", "ʻ", "’")

_MULTI = [
    ("yo‘", "йў"), ("o‘", "ў"), ("g‘", "ғ"), ("sh", "ш"), ("ch", "ч"), ("ng", "нг"),
    ("yo", "ё"), ("yu", "ю"), ("ya", "я"), ("ye", "е"),
]
_SINGLE = dict(zip(
    "abdefghijklmnopqrstuvxyz’",
    ["а", "б", "д", "е", "ф", "г", "ҳ", "и", "ж", "к", "л", "м", "н", "о", "п", "қ", "р", "с",
     "т", "у", "в", "х", "й", "з", "ъ"], strict=True))
_VOWELS = set("aeiou")
_MULTI_MAP = dict(_MULTI)
_TOKEN = re.compile("|".join(re.escape(m) for m, _ in _MULTI) + "|.", re.DOTALL)
_RUSSIAN = str.maketrans("ўЎқҚғҒҳҲ", "уУкКгГхХ")


def _normalise_apostrophes(text: str) -> str:
    out = re.sub(r"([oOgG])[‘'`ʻ’]", r"\1‘", text)
    return re.sub(r"[ʼ'`ʻ]", "’", out)


@lru_cache(maxsize=65536)
def to_cyrillic(text: str) -> str:
    """Transliterate Uzbek Latin to Uzbek Cyrillic.

    Parameters
    ----------
    text
        Uzbek Latin text; any of the usual apostrophes may mark o‘/g‘.

    Returns
    -------
    str
        Uzbek Cyrillic text.

    Examples
    --------
    >>> to_cyrillic("Do‘stlik"), to_cyrillic("Jizzax shahri"), to_cyrillic("")
    ('Дўстлик', 'Жиззах шаҳри', '')
    """
    src = _normalise_apostrophes(text)
    out: list[str] = []
    prev = " "
    for m in _TOKEN.finditer(src.lower()):
        tok = m.group(0)
        orig = src[m.start():m.end()]
        if tok in _MULTI_MAP:
            rep = _MULTI_MAP[tok]
        elif (tok == "e" and not prev.isalpha()) or (tok == "e" and prev in _VOWELS):
            rep = "э"
        else:
            rep = _SINGLE.get(tok, orig)
        if orig[:1].isupper():
            rep = rep[:1].upper() + rep[1:]
        out.append(rep)
        prev = tok[-1]
    return "".join(out)


def to_russian(cyrillic: str) -> str:
    """Russian-style spelling of an Uzbek Cyrillic name (ў→у, қ→к, ғ→г, ҳ→х).

    Examples
    --------
    >>> to_russian("Дўстлик")
    'Дустлик'
    """
    return cyrillic.translate(_RUSSIAN)
