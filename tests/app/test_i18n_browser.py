"""The app in the reader's language, in headless Chromium: the login page and the pages switch
to Russian and Uzbek Cyrillic, the choice survives a reload (URL) and the next login (profile)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from riskmap.app import ids
from riskmap.auth import accounts
from tests.app.conftest import build_store

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "correct horse battery staple"
UZ_CYRL_MONTHS = ("Январ", "Феврал", "Март", "Апрел", "Май", "Июн", "Июл", "Август",
                  "Сентябр", "Октябр", "Ноябр", "Декабр")


def _log_in(browser: Any, wait: Any, url: str) -> None:
    from selenium.webdriver.common.by import By

    wait(browser, lambda d: d.find_elements(By.ID, "login-submit"))
    browser.find_element(By.ID, "username").send_keys("lang")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login-submit").click()
    wait(browser, lambda d: d.find_elements(By.ID, ids.NAV))


def _header(browser: Any) -> str:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.ID, ids.HEADER).text.lower()  # CSS may upper-case labels


def _page(browser: Any) -> str:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.ID, ids.MAIN).text.lower()


def test_language_switch_reload_and_next_login(tmp_path: Path, app_server: Any, browser: Any,
                                               wait: Any) -> None:
    from selenium.webdriver.common.by import By

    store = build_store(tmp_path / "store")
    accounts.add_user(store, "lang", PASSWORD, role="admin")
    with app_server(store, "app", auth="accounts") as url:
        browser.delete_all_cookies()
        # the login page in Russian, chosen on it
        browser.get(f"{url}/login?lang=ru")
        wait(browser, lambda d: d.find_element(By.ID, "login-submit").text == "Войти")
        assert "Имя пользователя" in browser.find_element(By.TAG_NAME, "body").text
        _log_in(browser, wait, url)
        assert "lang=ru" in browser.current_url
        wait(browser, lambda d: "обзор" in _header(d) and "выйти" in _header(d))
        wait(browser, lambda d: "категории" in _page(d) and "область" in _page(d))
        # a category name in the categories dropdown
        browser.find_element(By.CSS_SELECTOR, f"#{ids.OVERVIEW.CATEGORIES}").click()
        wait(browser, lambda d: "Мошенничество" in d.find_element(By.TAG_NAME, "body").text)
        assert accounts.user_language(store, "lang") == "ru"

        # switch to Uzbek Cyrillic in the header
        browser.find_element(By.CSS_SELECTOR, f"#{ids.LANGUAGE}").click()
        option = wait(browser, lambda d: [e for e in d.find_elements(By.XPATH, "//*[text()='Ўзбекча']")
                                          if e.is_displayed()])
        option[0].click()
        wait(browser, lambda d: "lang=uz_Cyrl" in d.current_url)
        wait(browser, lambda d: "вилоят" in _page(d) and "умумий кўриниш" in _header(d))
        # the date picker's month names (Babel's CLDR data)
        browser.find_element(By.CSS_SELECTOR, ".page-overview .dash-datepicker").click()
        wait(browser, lambda d: any(m in d.find_element(By.TAG_NAME, "body").text
                                    for m in UZ_CYRL_MONTHS))
        wait(browser, lambda d: accounts.user_language(store, "lang") == "uz_Cyrl")

        # a reload keeps the URL's language
        browser.refresh()
        wait(browser, lambda d: "вилоят" in _page(d) and "чиқиш" in _header(d))

        # log out, log in again without ?lang=: the profile's language
        browser.find_element(By.CSS_SELECTOR, f"#{ids.LOGOUT} button").click()
        wait(browser, lambda d: d.find_element(By.ID, "login-submit").text == "Кириш")
        browser.get(f"{url}/login")  # no language asked: the browser's (English) login page
        _log_in(browser, wait, url)
        assert "lang=" not in browser.current_url
        wait(browser, lambda d: "вилоят" in _page(d) and "туман" in _page(d))


def test_commanders_page_in_russian(dash_server: str, browser: Any, wait: Any) -> None:
    """The commanders' page with ?lang=ru: the tab title, the map summary, the red list's
    headers and its status "why" tooltips, the forecast check's message are Russian."""
    from selenium.webdriver.common.by import By

    browser.get(f"{dash_server}/commanders?lang=ru")
    wait(browser, lambda d: d.title == "riskmap · командирам")  # the tab title, per request
    wait(browser, lambda d: "происшеств" in _page(d) and "махалл" in _page(d))
    browser.find_element(By.XPATH, "//div[contains(@class,'tab') and .='Красный список']").click()
    wait(browser, lambda d: all(h in _page(d) for h in ("махалля", "район", "статус")))
    # the status "why" of each red mahalla (the tooltips' data), rendered in Russian
    tips = wait(browser, lambda d: d.execute_script(
        "var el = document.getElementById(arguments[0]);"
        "var key = el && Object.keys(el).find(k => k.startsWith('__reactFiber'));"
        "var f = key && el[key];"
        "while (f && !(f.memoizedProps && f.memoizedProps.tooltip_data)) f = f.return;"
        "return f ? f.memoizedProps.tooltip_data : null;", ids.COMMANDERS.REDLIST))
    whys = [t["status"]["value"] for t in tips]
    assert whys and all(w.startswith("Красный: ") and " за 12 мес." in w for w in whys), whys
    browser.find_element(By.XPATH, "//div[contains(@class,'tab') and .='Проверка прогноза']"
                         ).click()
    wait(browser, lambda d: any(s in _page(d) for s in (
        "идёт проверка прогнозов", "недостаточно данных", "рекомендован", "метод не "
        "рекомендован")), timeout=120)
    assert "forecast" not in _page(browser) and "recommended" not in _page(browser)
