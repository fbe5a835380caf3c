"""Translations: every marked text has a translation in every language, and no text users see
in ``app/`` is a plain string literal (an AST scan), so that a new untranslated text fails."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from riskmap import i18n
from riskmap.i18n.names import NAMES, display_name

ROOT = Path(__file__).resolve().parents[1]
#: the sources scripts/i18n extracts from (babel.cfg)
SOURCES = ("app", "etl/zone_report.py", "riskmap/i18n", "riskmap/auth/accounts.py")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def _extracted() -> dict[object, str]:
    """msgid -> where, extracted from the sources as ``pybabel extract`` does."""
    found: dict[object, str] = {}
    for source in SOURCES:
        path = ROOT / source
        if path.is_dir():
            items = extract_from_dir(str(path), method_map=[("**.py", "python")],
                                     keywords=KEYWORDS)
            for filename, lineno, message, _comments, _context in items:
                found.setdefault(message, f"{source}/{filename}:{lineno}")
        else:
            from babel.messages.extract import extract_from_file

            for lineno, message, _comments, _context in extract_from_file(
                    "python", str(path), keywords=KEYWORDS):
                found.setdefault(message, f"{source}:{lineno}")
    return found


def _po(lang: str) -> dict[object, object]:
    path = i18n.LOCALE_DIR / lang / "LC_MESSAGES" / "riskmap.po"
    with path.open("rb") as fh:
        cat = read_po(fh)
    return {(tuple(m.id) if isinstance(m.id, list | tuple) else m.id):
            (m.string if not m.fuzzy else "") for m in cat if m.id}


def test_template_lists_every_marked_text() -> None:
    with (i18n.LOCALE_DIR / "riskmap.pot").open("rb") as fh:
        template = {(tuple(m.id) if isinstance(m.id, list | tuple) else m.id)
                    for m in read_po(fh) if m.id}
    missing = {m: w for m, w in _extracted().items() if m not in template}
    assert not missing, f"run ./scripts/i18n: not in riskmap.pot: {missing}"


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_text_is_translated(lang: str) -> None:
    catalogue = _po(lang)
    with (i18n.LOCALE_DIR / "riskmap.pot").open("rb") as fh:
        ids = [(tuple(m.id) if isinstance(m.id, list | tuple) else m.id)
               for m in read_po(fh) if m.id]
    untranslated = [m for m in {*ids, *_extracted()}
                    if not (catalogue.get(m) if not isinstance(catalogue.get(m), tuple | list)
                            else all(catalogue[m]))]
    assert not untranslated, f"{lang}: no translation for {untranslated}"


@pytest.mark.parametrize("lang", ["uz_Latn", "uz_Cyrl", "ru"])
def test_placeholders_survive_translation(lang: str) -> None:
    """``{name}`` and ``%{customdata[0]}`` placeholders are the same in every translation."""
    pattern = re.compile(r"%?\{[^}]*\}")
    for msgid, text in _po(lang).items():
        ids = msgid if isinstance(msgid, tuple) else (msgid,)
        texts = text if isinstance(text, tuple | list) else (text,)
        want = sorted(set(pattern.findall(ids[-1])))
        for t in texts:
            assert sorted(set(pattern.findall(t))) == want, (lang, msgid, t)


def test_uzbek_cyrillic_is_cyrillic_and_latin_is_latin() -> None:
    keep = re.compile(r"%?\{[^}]*\}|<[^>]+>|`[^`]*`|\b(?:H3|KDE|CSV|HTML|JSON|GeoJSON|"
                      r"YYYY-MM-DD|riskmap(?: build)?|ingest|res|Gi|PAI|PDF|z)\b")
    for msgid, text in _po("uz_Cyrl").items():
        for t in (text if isinstance(text, tuple | list) else (text,)):
            assert not re.search(r"[A-Za-z]", keep.sub("", t)), (msgid, t)
    for msgid, text in _po("uz_Latn").items():
        for t in (text if isinstance(text, tuple | list) else (text,)):
            assert not re.search(r"[А-Яа-яЁё]", t), (msgid, t)


def test_gettext_numbers_and_names_follow_the_language() -> None:
    with i18n.use_language("ru"):
        assert i18n.gettext("Region") == "Область"
        assert i18n.ngettext("{n} incident", "{n} incidents", 5) == "{n} происшествий"
        assert i18n.ngettext("{n} incident", "{n} incidents", 2) == "{n} происшествия"
        assert i18n.format_number(12345) == "12\xa0345"
        assert display_name("domestic_violence") == "Домашнее насилие"
        assert display_name("hot_99") == "горячая точка 99%"
    with i18n.use_language("uz_Cyrl"):
        assert i18n.gettext("District") == "Туман"
        assert display_name("face_recognition") == "Юзни таниш"
        assert i18n.month_name(1) == "Январ"
    with i18n.use_language("uz_Latn"):
        assert i18n.gettext("Region") == "Viloyat" and display_name("red") == "Qizil"
    assert i18n.gettext("Region") == "Region"  # no language: the source text
    assert i18n.best_match("en-US,en;q=0.9") == "en"


@pytest.mark.parametrize("lang", ["uz_Latn", "ru", "en"])
def test_vectorised_formatters_equal_one_by_one(lang: str) -> None:
    from riskmap.i18n.names import display_names

    # -0.04 rounds to -0.0, which must not be shown, nor be remembered as 0.0's text
    values = [1234.56, 0.05, -2.449, float("nan"), 0.0, 1234.56, float("inf"), 7.25, -0.04]
    with i18n.use_language(lang):
        got = i18n.format_decimals(values, 1, missing="?")
        one = [i18n.format_decimal(v, 1) if abs(v) < float("inf") else "?" for v in values]
        assert got.tolist() == one
        assert "-" not in got[1] + got[4] + got[8]
        codes = ["hot_95", None, "vehicle_theft", "hot_95", float("nan")]
        names = display_names(codes, missing="-")
        assert names.tolist() == [display_name("hot_95"), "-", display_name("vehicle_theft"),
                                  display_name("hot_95"), "-"]


def test_every_listed_code_has_a_name() -> None:
    from riskmap.auth.roles import ROLES
    from riskmap.etl.categories import CATEGORIES
    from riskmap.geo.trends import EMERGING_CLASSES
    from riskmap.layers.spec import CAMERA_TYPES

    codes = {*CATEGORIES, *CAMERA_TYPES, *ROLES, *EMERGING_CLASSES, "red", "yellow", "green"}
    assert codes <= set(NAMES), sorted(codes - set(NAMES))


# --- the AST scan of app/ --------------------------------------------------------------

#: keyword arguments whose text users read
_TEXT_KEYWORDS = {"children", "label", "placeholder", "title", "title_text", "name", "text",
                  "hovertemplate", "start_date_placeholder_text", "end_date_placeholder_text",
                  "map_text", "chart_text", "legend_title", "legend_title_text", "xaxis_title",
                  "yaxis_title"}
#: helpers whose first arguments are texts users read
_TEXT_HELPERS = {"field": 1, "empty_figure": 1}
_WORDS = re.compile(r"%\{[^}]*\}|\{[^}]*\}|<[^>]+>")


def _is_text(node: ast.AST) -> bool:
    """A plain str literal or f-string holding words (placeholders and tags do not count)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return re.search(r"[A-Za-z]{2}", _WORDS.sub("", node.value)) is not None
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.Constant) and re.search(r"[A-Za-z]{2}", str(v.value))
                   for v in node.values)
    return False


def _targets(call: ast.Call) -> list[ast.AST]:
    func = call.func
    out: list[ast.AST] = []
    component = (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                 and func.value.id in ("html", "dcc", "go"))
    figure_call = isinstance(func, ast.Attribute) and func.attr in (
        "update_layout", "add_annotation", "update_xaxes", "update_yaxes", "add_trace")
    if component and call.args and func.value.id != "go":  # type: ignore[attr-defined]
        first = call.args[0]
        out += first.elts if isinstance(first, ast.List | ast.Tuple) else [first]
    if isinstance(func, ast.Name) and func.id in _TEXT_HELPERS:
        out += call.args[:_TEXT_HELPERS[func.id]]
    if component or figure_call or (isinstance(func, ast.Name) and func.id in _TEXT_HELPERS):
        for kw in call.keywords:
            if kw.arg in _TEXT_KEYWORDS:
                value = kw.value
                out += value.elts if isinstance(value, ast.List | ast.Tuple) else [value]
    return out


def _dict_texts(node: ast.Dict) -> list[ast.AST]:
    """``{"label": "..."}`` (dropdown options) and ``{"title": {"text": "..."}}``."""
    return [v for k, v in zip(node.keys, node.values, strict=True)
            if isinstance(k, ast.Constant) and k.value in ("label", "text") and v is not None]


def untranslated_texts(path: Path) -> list[tuple[str, int, str]]:
    """``(file, line, text)`` of each plain literal users would read in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = path.relative_to(ROOT).as_posix()
    out = []
    for node in ast.walk(tree):
        found: list[ast.AST] = []
        if isinstance(node, ast.Call):
            found = _targets(node)
        elif isinstance(node, ast.Dict):
            found = _dict_texts(node)
        for item in found:
            if _is_text(item):
                text = (item.value if isinstance(item, ast.Constant)
                        else ast.unparse(item))
                out.append((rel, item.lineno, str(text)))
    return out


#: texts not translated yet, by file (burn this list down; never add to it)
REMAINING: dict[str, set[str]] = {}


#: literals the scan takes for words that are not (the brand, a hidden trace's name)
_NOT_TEXT = {"riskmap", "ranks"}


def test_scan_finds_a_plain_literal(tmp_path: Path) -> None:
    src = ROOT / "app" / "_scan_probe.py"
    try:
        src.write_text('from dash import html\nfrom riskmap.i18n import gettext as _\n'
                       'X = [html.P("Plain text"), html.P(_("Marked text")),\n'
                       '     {"label": "Option", "value": "o"}, html.B(f"{1} items")]\n')
        texts = [t for _f, _l, t in untranslated_texts(src)]
        assert texts == ["Plain text", "Option", "f'{1} items'"] or sorted(texts) == sorted(
            ["Plain text", "Option", "f'{1} items'"])
    finally:
        src.unlink()


def test_app_texts_are_marked_for_translation() -> None:
    new = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        for rel, line, text in untranslated_texts(path):
            if text not in REMAINING.get(rel, set()) and text not in _NOT_TEXT:
                new.append(f"{rel}:{line}: {text!r}")
    assert not new, ("texts users see must go through riskmap.i18n (_() / N_()) and "
                     "./scripts/i18n:\n" + "\n".join(new))


# --- files in the chosen language: the brief, the zone report, a CSV export ---------------


def _english_labels() -> set[str]:
    """English source texts of the catalogue that Russian writes otherwise: labels of two or
    more words, or capitalised single words of 6+ letters (no placeholders)."""
    out = set()
    for msgid, text in _po("ru").items():
        if isinstance(msgid, tuple) or not text or text == msgid or re.search(r"[{}%<]", msgid):
            continue
        words = re.findall(r"[A-Za-z]+", msgid)
        if len(words) >= 2 or (len(words) == 1 and len(words[0]) >= 6 and msgid[0].isupper()):
            out.add(msgid.strip())
    return out


def _visible(page: str) -> str:
    import html as _html

    page = re.sub(r"(?s)<(style|script)\b.*?</\1>", " ", page)
    return _html.unescape(re.sub(r"<[^>]+>", " ", page))


def _english_in(text: str, labels: set[str]) -> list[str]:
    return sorted(label for label in labels
                  if re.search(r"(?<![A-Za-z])" + re.escape(label) + r"(?![A-Za-z])", text))


def test_brief_in_russian_has_no_english_label() -> None:
    import pandas as pd

    from riskmap.app.brief import Brief, brief_csv, brief_html

    why = ("red: 7 incidents in 12 months, 3.5 per 1,000 (top 10%: >= 2.9); Gi* z=2.4 hot 95%")
    brief = Brief(
        mahalla={"mahalla_id": "M11", "name": "Doʻstlik", "district": "Jizzax shahri",
                 "region": "Jizzax viloyati", "population": 12345.0},
        window="2025-01-01 – 2025-06-30",
        incidents=pd.DataFrame({"incident_id": ["I1"], "occurred_at": ["2025-03-10 12:00"],
                                "category": ["vehicle_theft"],
                                "geocode_precision": ["coordinates"]}),
        months=["2025-01"], monthly=[1],
        categories=pd.DataFrame({"category": ["vehicle_theft"], "count": [1]}),
        status=pd.DataFrame({"month": ["2025-06"], "status": ["red"], "count": [7],
                             "why": [why]}),
        cameras=pd.DataFrame({"camera_id": ["C1"], "type": ["overview"], "status": ["active"],
                              "range_m": [80.0]}),
        generated="2025-07-01 09:00", demo=True)
    labels = _english_labels()
    with i18n.use_language("ru"):
        page, csv = brief_html(brief), brief_csv(brief)
    text = _visible(page)
    assert _english_in(text, labels) == []
    assert "Справка: Doʻstlik (M11)" in text and "Угон транспорта" in text
    assert "12\xa0345" in text  # the locale's grouping
    assert "7 происшествий за 12 мес." in text and "горячая точка 95%" in text  # the "why"
    assert csv.splitlines()[0] == ("Код махалли,Махалля,Район,Код происшествия,Дата и время,"
                                   "Категория,Как определено место")
    with i18n.use_language("en"):  # English keeps the machine-readable column ids
        assert brief_csv(brief).splitlines()[0].startswith("mahalla_id,mahalla,district,")


def test_zone_report_in_russian_has_no_english_label(tmp_path: Path) -> None:
    from riskmap.etl.zone_report import zone_report
    from riskmap.layers.access import DataAccess
    from tests.etl.test_zone_report import TH, zone_world

    report = zone_report(DataAccess(zone_world(tmp_path / "store"), user="t"),
                         "qo'ng'irot KO'LI", thresholds=TH)
    with i18n.use_language("ru"):
        page = report.to_html()
    text = _visible(page)
    assert _english_in(text, _english_labels()) == []
    assert '<html lang="ru">' in page and "готовност" in text and "Охват камерами" in text
    assert "Синтетические демо-данные" in text


def test_csv_export_headers_follow_lang(tmp_path: Path) -> None:
    import pandas as pd
    from click.testing import CliRunner

    from riskmap.cli import cli
    from tests.etl.grid import centre, grid_frame

    store = str(tmp_path / "store")
    grid_frame().to_file(tmp_path / "m.geojson")
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", "mahallas", str(tmp_path / "m.geojson"),
                               "--store", store]).exit_code == 0
    lon, lat = centre(0)
    pd.DataFrame({"id": ["X1"], "sana": ["2025-01-10 10:00"], "turi": ["theft"],
                  "lat": [lat], "lon": [lon]}).to_csv(tmp_path / "i.csv", index=False)
    res = runner.invoke(cli, ["ingest", "incidents", str(tmp_path / "i.csv"), "--store", store,
                              "--no-progress"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["export", "incidents", "--store", store, "--lang", "ru",
                              "-o", str(tmp_path / "ru.csv")])
    assert res.exit_code == 0, res.output
    head = (tmp_path / "ru.csv").read_text(encoding="utf-8").splitlines()[0]
    assert head.startswith("Код происшествия,Дата и время,Категория,Широта,Долгота,Ячейка H3")
    assert _english_in(head.replace(",", " , "), _english_labels()) == []
    # the default (and --lang en) keeps the column ids other systems read
    res = runner.invoke(cli, ["export", "incidents", "--store", store, "-o",
                              str(tmp_path / "en.csv")], env={"RISKMAP_LANG": ""})
    assert res.exit_code == 0, res.output
    assert (tmp_path / "en.csv").read_text().startswith("incident_id,occurred_at,category,")


def _review_pack() -> object:
    """A review pack of the nine grid mahallas (one region) for 2025-Q2, with a red one."""
    import numpy as np
    import pandas as pd

    from riskmap.etl.review_pack import ReviewPack
    from riskmap.geo.review import parse_period, review_figures
    from tests.etl.grid import grid_frame

    m = grid_frame().assign(region="Jizzax viloyati")
    rng = np.random.default_rng(7)
    n = 400
    ids = np.where(rng.random(n) < 0.5, m["mahalla_id"].iloc[0],
                   rng.choice(m["mahalla_id"].iloc[1:6].to_numpy(), n))
    days = rng.integers(0, 540, n)
    incidents = pd.DataFrame({
        "mahalla_id": ids,
        "occurred_at": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(days, unit="D"),
        "category": rng.choice(["theft", "drugs", "cybercrime", "vehicle_theft"], n)})
    figures = review_figures(incidents, m, parse_period("2025-Q2"), region="Jizzax viloyati",
                             tz="Asia/Tashkent")
    return ReviewPack(figures=figures, coverage=pd.Series([12.5, 0.0], index=m["mahalla_id"]
                                                          .iloc[:2].to_numpy()),
                      generated_at=pd.Timestamp("2025-07-01 09:00", tz="UTC"),
                      generated_by="t", scope="Jizzax viloyati", timezone="Asia/Tashkent",
                      demo=True)


def test_review_pack_in_russian_has_no_english_label() -> None:
    from riskmap.app.review_pack import review_html

    pack = _review_pack()
    js_before = pack.to_json()
    labels = _english_labels()
    with i18n.use_language("ru"):
        page = review_html(pack)
    text = _visible(page)
    assert _english_in(text, labels) == []
    assert '<html lang="ru">' in page
    assert "Обзорный пакет: Jizzax viloyati, 2-й квартал 2025" in text
    assert "Синтетические демо-данные" in text and "Махалли без преступлений" in text
    assert "1 апреля 2025" in text and "30 июня 2025" in text  # Babel dates
    assert "Кража" in text and "Наркотики" in text  # category names
    assert pack.figures.red_new or pack.figures.red_still
    assert "происшествий за" in text or "происшествия за" in text  # the "why", rendered
    # the JSON keeps its keys and codes
    assert pack.to_json() == js_before and "by_category" in js_before
    with i18n.use_language("uz_Cyrl"):
        cyr = _visible(review_html(pack))
    assert "Шарҳ тўплами" in cyr and "2025-йил 2-чорак" in cyr
    # no language (library calls): the English texts and the period's code
    assert "Review pack: Jizzax viloyati, 2025-Q2" in review_html(pack)


def test_review_job_and_cli_take_the_language() -> None:
    from riskmap.jobs.kinds import review_job_params

    assert review_job_params("R", "2025-06", lang="ru-RU")["lang"] == "ru"
    assert review_job_params("R", "2025-06")["lang"] == "uz_Latn"  # the default


def test_planner_csv_in_russian_has_no_english_label() -> None:
    import geopandas as gpd
    import shapely

    from riskmap.app.callbacks.planner import plan_csv

    plan = gpd.GeoDataFrame({
        "camera_id": ["P1"], "plan_id": ["plan-1"], "rank": [1], "site_id": ["S1"],
        "kind": ["bus_stop"], "type": ["overview"], "bearing_deg": [90.0], "fov_deg": [60.0],
        "range_m": [80.0], "height_m": [6.0], "cost": [1.0], "marginal_gain": [3.5],
        "marginal_gain_share": [0.2], "mahalla_id": ["M11"], "district": ["Jizzax shahri"],
        "region": ["Jizzax viloyati"]}, geometry=[shapely.Point(67.8, 40.1)], crs=4326)
    with i18n.use_language("ru"):
        head, row = plan_csv(plan).splitlines()[:2]
    cells = head.split(",")
    assert cells[:4] == ["Камера", "План", "Порядковый номер", "Объект"]
    assert _english_in(" , ".join(cells), _english_labels()) == []
    assert not any(re.fullmatch(r"[a-z_0-9]+", c) for c in cells), cells  # no column id left
    assert "bus_stop" in row  # values keep their codes
    with i18n.use_language("en"):
        assert plan_csv(plan).startswith("camera_id,plan_id,rank,site_id,")


def test_tourism_checklist_detail_in_russian(tmp_path: Path) -> None:
    from riskmap.app.callbacks.tourism import checklist_items
    from riskmap.etl.zone_report import zone_report
    from riskmap.layers.access import DataAccess
    from tests.etl.test_zone_report import TH, zone_world

    report = zone_report(DataAccess(zone_world(tmp_path / "store"), user="t"),
                         "qo'ng'irot KO'LI", thresholds=TH)
    assert all(row["detail_parts"] for row in report.checklist)
    with i18n.use_language("ru"):
        items = checklist_items(report)
    details = [li.children[-1].children for li in items]
    text = " ".join(details)
    assert _english_in(text, _english_labels()) == []
    assert not re.search(r"\b(?:the|from|of|min|layer|covered|reached)\b", text), details
    assert re.search(r"[А-Яа-я]", text) and ("мин" in text or "в слое нет" in text)
    # the English detail of geo/zones stays in the data (the JSON)
    assert all(isinstance(row["detail"], str) and row["detail"] for row in report.checklist)


def test_job_lines_follow_the_language() -> None:
    """The planner's and the review pack's job lines (one function) in the reader's language;
    the worker's own message is kept as it is."""
    from riskmap.app.job_status import KINDS, job_line

    states = [{"status": "queued"}, {"status": "running", "progress": 0.42, "message": "m"},
              {"status": "cancel_requested"}, {"status": "cancelled"},
              {"status": "refused", "message": "m"}, {"status": "failed"},
              {"status": "succeeded"}, {"status": "succeeded", "message": "m"}]
    for kind in KINDS:
        english = [job_line(s, kind) for s in states]
        with i18n.use_language("ru"):
            russian = [job_line(s, kind) for s in states]
        assert all(e != r for e, r in zip(english, russian, strict=True)), russian
        assert "42" in russian[1] and russian[1].endswith("(m)") and russian[4].endswith(": m")
    with i18n.use_language("uz_Latn"):
        assert job_line({"status": "queued"}, "plan") == "Bajaruvchi kutilmoqda ..."
