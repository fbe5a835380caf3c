"""The commanders' "Review pack" tab: a monthly pack made as a background job and downloaded
(HTML and PDF) in a real browser; earlier packs listed and re-opened as they were; crafted
requests for another region's packs get nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import geopandas as gpd

from riskmap.app.callbacks.review import pack_region, valid_pack_id
from riskmap.app.ids import COMMANDERS, REVIEW
from riskmap.app.review_pack import review_html
from riskmap.etl.review_pack import keep_pack, load_review
from riskmap.jobs import list_jobs
from riskmap.layers import open_store
from riskmap.layers.access import DataAccess
from riskmap.layers.store import Store
from tests import fixtures
from tests.app.test_planner_jobs import _app, _post, _response

TZ = "Asia/Tashkent"


def _text(driver: Any, element_id: str) -> str:
    return driver.find_element("id", element_id).text


def _disabled(driver: Any, element_id: str) -> bool:
    return driver.find_element("id", element_id).get_attribute("disabled") is not None


@pytest.mark.browser
def test_a_monthly_pack_is_made_downloaded_and_reopened(make_store: Any, app_server: Any,
                                                        browser: Any, wait: Any,
                                                        downloads: Any,
                                                        clean_console: Any) -> None:
    from tests.jobs.conftest import background_worker

    store = make_store()
    with app_server(store, "cmd-test") as url:
        browser.get(url + "/commanders")
        wait(browser, lambda d: _text(d, COMMANDERS.SUMMARY).startswith("500 incidents"))
        browser.find_element("xpath", "//div[contains(@class,'tab') and .='Review pack']").click()
        # the scope's only region; periods with data, newest first
        wait(browser, lambda d: _text(d, REVIEW.REGION) == "Region: Jizzax viloyati")
        wait(browser, lambda d: _text(d, REVIEW.PERIOD).strip() == "2025-06")
        assert _disabled(browser, REVIEW.OPEN_HTML) and _disabled(browser, REVIEW.OPEN_PDF)
        browser.find_element("id", REVIEW.MAKE).click()
        wait(browser, lambda d: _text(d, REVIEW.PROGRESS_TEXT) == "Waiting for a worker ...")
        assert _disabled(browser, REVIEW.MAKE) and not _disabled(browser, REVIEW.CANCEL)
        with background_worker(store):
            wait(browser, lambda d: _text(d, REVIEW.PACK_TEXT).startswith(
                "Jizzax viloyati 2025-06: "), timeout=90)
        jobs = list_jobs(store)
        assert [(j.kind, j.status, j.owner) for j in jobs] == [("review_pack", "done",
                                                                "cmd-test")]
        assert not _disabled(browser, REVIEW.MAKE)
        kept = store.read("review_packs")
        assert len(kept) == 1 and kept["period"].iat[0] == "2025-06"
        pack_id = kept["pack_id"].iat[0]
        # the figures shown are the pack's: June's incidents of the tiny world
        june = pd.to_datetime(store.read("incidents")["occurred_at"], utc=True) \
            .dt.tz_convert(TZ).dt.strftime("%Y-%m") == "2025-06"
        assert f": {int(june.sum()):,} incidents" in _text(browser, REVIEW.PACK_TEXT)
        # the HTML and the PDF
        browser.find_element("id", REVIEW.OPEN_HTML).click()
        page = downloads.wait_for(f"{pack_id}.html").read_text(encoding="utf-8")
        assert page == kept["html"].iat[0]
        assert "Review pack: Jizzax viloyati, 2025-06" in page
        browser.find_element("id", REVIEW.OPEN_PDF).click()
        pdf = downloads.wait_for(f"{pack_id}.pdf", timeout=90)
        assert pdf.read_bytes().startswith(b"%PDF")
        # the earlier pack is listed and re-opens as it was, after a reload
        browser.get(url + "/commanders")
        wait(browser, lambda d: _text(d, COMMANDERS.SUMMARY).startswith("500 incidents"))
        browser.find_element("xpath", "//div[contains(@class,'tab') and .='Review pack']").click()
        box = wait(browser, lambda d: d.find_element(
            "css selector", f"#{REVIEW.PACKS} td input[type='radio']"))
        assert "2025-06" in _text(browser, REVIEW.PACKS)
        box.click()
        wait(browser, lambda d: pack_id in _text(d, REVIEW.PACK_TEXT))
        (downloads.folder / f"{pack_id}.html").unlink()
        browser.find_element("id", REVIEW.OPEN_HTML).click()
        assert downloads.wait_for(f"{pack_id}.html").read_text(encoding="utf-8") == page
        audit = store.read("audit")
        got = audit[(audit["action"] == "download_review_pack").to_numpy(bool)]
        assert [json.loads(d)["format"] for d in got["detail"]] == ["html", "pdf", "html"]
        assert set(got["user"]) == {"cmd-test"}
        clean_console(browser)


# ---- crafted requests -----------------------------------------------------------------------

def _two_region_store(root: Path) -> Store:
    other = gpd.GeoDataFrame({"mahalla_id": ["S1"], "name": ["Registon"],
                              "name_cyrillic": ["Регистон"], "district": ["Samarqand shahri"],
                              "region": ["Samarqand"], "population": [900.0]},
                             geometry=[fixtures.square(2, 0)], crs="EPSG:4326")
    world = gpd.GeoDataFrame(pd.concat([fixtures.mahallas(), other], ignore_index=True),
                             crs="EPSG:4326")
    store = open_store(str(root))
    with store.transaction() as txn:
        txn.replace("mahallas", world)
        txn.replace("incidents", fixtures.incidents())
    return store


def test_a_crafted_request_for_another_regions_pack_gets_nothing(tmp_path: Path) -> None:
    store = _two_region_store(tmp_path / "store")
    admin = DataAccess(store, user="admin")
    pack = load_review(admin, "Jizzakh", "2025-06", tz=TZ)
    theirs = keep_pack(admin, pack, review_html(pack))
    app = _app(store, regions=["Samarqand"])
    # Make with another region: no job, a message
    got = _response(_post(app, f"{REVIEW.MAKE}.n_clicks",
                          {COMMANDERS.REGION: "Jizzakh", REVIEW.PERIOD: "2025-06"}))
    assert got[REVIEW.JOB]["data"] is None
    assert "within your scope" in got[REVIEW.MESSAGE]["children"]
    assert list_jobs(store) == []
    # the pack's id, sent as the offered pack, as a selected row, or listed: nothing
    forged = _response(_post(app, f"{REVIEW.OPEN_HTML}.n_clicks",
                             {REVIEW.PACK: {"pack_id": theirs}}))
    assert REVIEW.DOWNLOAD not in forged
    assert "no pack of your scope" in forged[REVIEW.MESSAGE]["children"]
    picked = _response(_post(app, f"{REVIEW.PACKS}.selected_row_ids",
                             {REVIEW.PACKS: [theirs]}))
    assert picked[REVIEW.PACK]["data"] is None and picked[REVIEW.OPEN_HTML]["disabled"]
    listed = _response(_post(app, f"{REVIEW.PACKS_REFRESH}.n_clicks",
                             {COMMANDERS.TABS: "review", COMMANDERS.REGION: "Jizzakh"}))
    assert listed[REVIEW.PACKS]["data"] == []
    audit = store.read("audit")
    assert not (audit["action"] == "download_review_pack").any()
    # the same requests within the scope: a job of the own region
    own = _response(_post(app, f"{REVIEW.MAKE}.n_clicks",
                          {COMMANDERS.REGION: None, REVIEW.PERIOD: "2025-06"}))
    job = own[REVIEW.JOB]["data"]["job_id"]
    assert [(j.job_id, j.params["region"]) for j in list_jobs(store)] == [(job, "Samarqand")]


def test_pack_ids_and_regions_are_checked() -> None:
    assert valid_pack_id("review-2025-06-0123456789ab")
    assert not valid_pack_id({"pack_id": "x"}) and not valid_pack_id("review-2025-06-x' OR 1")
    assert pack_region(["A", "B"], None) is None and pack_region(["A"], ["A"]) is None
