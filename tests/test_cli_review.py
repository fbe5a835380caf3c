"""``riskmap review`` and the ``review_pack`` job on the small demo: a month, a quarter and a
half-year pack, every JSON figure checked against a direct computation from the incidents
frame; the PDF's pages (pdftotext); the kept pack re-opened as it was; the scope."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from riskmap.app.review_pack import SECTIONS, find_chromium
from riskmap.cli import cli
from riskmap.geo.status import StatusRule, status_history
from riskmap.jobs import Worker, status
from riskmap.jobs.api import submit
from riskmap.jobs.kinds import REVIEW_PACK, submit_review
from riskmap.layers import open_store
from riskmap.layers.access import DataAccess

REGION = "Jizzax viloyati"
OTHER = "Surxondaryo viloyati"
TZ = "Asia/Tashkent"
#: period -> its months, the previous period's months, the same months a year before
PERIODS = {
    "2025-06": (["2025-06"], ["2025-05"], ["2024-06"]),
    "2025-Q2": (["2025-04", "2025-05", "2025-06"], ["2025-01", "2025-02", "2025-03"],
                ["2024-04", "2024-05", "2024-06"]),
    "2025-H1": ([f"2025-{m:02d}" for m in range(1, 7)], [f"2024-{m:02d}" for m in range(7, 13)],
                [f"2024-{m:02d}" for m in range(1, 7)]),
}


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RISKMAP_STORE", "RISKMAP_APP__REGIONS", "RISKMAP_USER",
                 "RISKMAP_ETL__TIMEZONE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The small demo world, built once (as `riskmap demo --no-serve` builds it)."""
    root = tmp_path_factory.mktemp("review-demo") / "store"
    got = CliRunner().invoke(cli, ["demo", "--no-serve", "--no-progress", "--store", str(root)])
    assert got.exit_code == 0, got.output
    return str(root)


@pytest.fixture(scope="module")
def direct(demo_store: str) -> dict[str, Any]:
    """The region's incidents and mahallas read straight from the store."""
    store = open_store(demo_store)
    inc = pd.DataFrame(store.read("incidents", columns=["mahalla_id", "occurred_at",
                                                        "category", "region"]))
    inc = inc[(inc["region"] == REGION).to_numpy(bool)].reset_index(drop=True)
    month = pd.to_datetime(inc["occurred_at"], utc=True).dt.tz_convert(TZ).dt.strftime("%Y-%m")
    m = store.read("mahallas")
    m = m[(m["region"] == REGION).to_numpy(bool)].reset_index(drop=True)
    return {"incidents": inc, "month": month, "mahallas": m}


def _review(store: str, *args: str) -> Any:
    # English: the assertions read the English texts (the default is RISKMAP_LANG, else uz_Latn)
    return CliRunner().invoke(cli, ["review", "--store", store, "--lang", "en", *args])


def _red_sets(d: dict[str, Any], months: list[str], prev: list[str]) -> dict[str, set[str]]:
    """The status rule over the period's months, computed here on local wall-clock time."""
    inc = d["incidents"]
    local = (pd.to_datetime(inc["occurred_at"], utc=True).dt.tz_convert(TZ)
             .dt.tz_localize(None).dt.tz_localize("UTC"))
    frame = pd.DataFrame({"mahalla_id": inc["mahalla_id"], "occurred_at": local})
    now_m = pd.Timestamp(months[-1] + "-01", tz="UTC")
    before_m = pd.Timestamp(prev[-1] + "-01", tz="UTC")
    hist = status_history(frame, d["mahallas"], start=before_m, end=now_m,
                          rule=StatusRule(window_months=len(months)))
    red = hist[hist["status"] == "red"]
    now = set(red.loc[red["month"] == now_m, "mahalla_id"])
    before = set(red.loc[red["month"] == before_m, "mahalla_id"])
    return {"new": now - before, "left": before - now, "still": now & before}


@pytest.mark.slow
@pytest.mark.parametrize("period", list(PERIODS))
def test_pack_figures_match_direct_queries(demo_store: str, direct: dict[str, Any],
                                           tmp_path: Path, period: str) -> None:
    out, js = tmp_path / "pack.html", tmp_path / "pack.json"
    got = _review(demo_store, "--region", REGION, "--period", period, "-o", str(out),
                  "--json", str(js))
    assert got.exit_code == 0, got.output
    data = json.loads(js.read_text(encoding="utf-8"))
    months, prev, last = PERIODS[period]
    inc, month, mahallas = direct["incidents"], direct["month"], direct["mahallas"]
    in_now = month.isin(months).to_numpy()
    assert data["region"] == REGION and data["period"] == period
    assert data["incidents"] == int(in_now.sum()) > 0
    assert data["incidents_previous_period"] == int(month.isin(prev).sum()) > 0
    assert data["incidents_same_period_last_year"] == int(month.isin(last).sum()) > 0
    assert data["mahallas"] == len(mahallas) == 138
    free = set(mahallas["mahalla_id"]) - set(inc.loc[in_now, "mahalla_id"])
    assert set(data["crime_free"]) == free and data["crime_free_mahallas"] == len(free)
    assert data["by_category"] == {k: int(v) for k, v in
                                   inc.loc[in_now, "category"].value_counts().items()}
    assert sum(data["by_category"].values()) == data["incidents"]
    red = _red_sets(direct, months, prev)
    assert {k: set(v) for k, v in data["red"].items()} == red
    assert data["red_count"] == len(red["new"]) + len(red["still"]) > 0
    for cat in ("drugs", "cybercrime"):
        assert data["focus"][cat]["count"] == int((in_now & (inc["category"] == cat)
                                                  .to_numpy()).sum())
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and f"Review pack: {REGION}, {period}" in page
    assert "Synthetic demo data" in page and page.count("<svg") >= 4
    assert not any(s in page for s in ("http://", "https://", "<script", "<link", "src="))
    assert page.count("no roadmap recorded") == len(red["new"]) + len(red["still"]) \
        + len(red["left"])
    assert f"kept as review-{period}-" in got.output


@pytest.mark.slow
def test_pdf_has_a_page_per_section(demo_store: str, tmp_path: Path) -> None:
    if find_chromium() is None or shutil.which("pdftotext") is None:
        pytest.fail("the PDF test needs chromium and pdftotext (poppler-utils): run "
                    "./scripts/test, which installs them", pytrace=False)
    pdf = tmp_path / "q2.pdf"
    got = _review(demo_store, "--region", REGION, "--period", "2025-Q2", "--pdf", str(pdf),
                  "--no-keep")
    assert got.exit_code == 0, got.output
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          check=True).stdout.decode("utf-8")
    pages = text.split("\f")
    first_lines = [next((ln.strip() for ln in p.splitlines() if ln.strip()), "") for p in pages]
    assert f"Review pack: {REGION}, 2025-Q2" in pages[0] and "Summary" in pages[0]
    starts = [first_lines.index(title) for title in SECTIONS[1:]]
    assert starts == sorted(starts) and starts[0] >= 1, first_lines
    assert "Hot spots" in pages[starts[SECTIONS.index("Maps") - 1]]
    assert "previous period counts" in pages[starts[-1]]


@pytest.mark.slow
def test_a_kept_pack_opens_as_it_was(demo_store: str, tmp_path: Path) -> None:
    first, again = tmp_path / "a.html", tmp_path / "b.html"
    got = _review(demo_store, "--region", REGION, "--period", "2025-05", "-o", str(first),
                  "--json", str(tmp_path / "a.json"))
    assert got.exit_code == 0, got.output
    saved = _review(demo_store, "--region", REGION, "--period", "2025-05", "--saved", "-o",
                    str(again), "--json", str(tmp_path / "b.json"))
    assert saved.exit_code == 0, saved.output
    assert again.read_bytes() == first.read_bytes()
    a, b = (json.loads((tmp_path / n).read_text()) for n in ("a.json", "b.json"))
    assert a == b and "kept pack review-2025-05-" in saved.output
    none = _review(demo_store, "--region", REGION, "--period", "2023-05", "--saved", "-o",
                   str(tmp_path / "c.html"))
    assert none.exit_code == 2 and "no review pack kept" in none.output


@pytest.mark.parametrize(("args", "message"), [
    (["--period", "2025-13"], "is not a month (2025-06), a quarter (2025-Q2) or a half-year"),
    (["--period", "2025-Q5"], "is not a month"),
    (["--period", "Q2"], "is not a month"),
])
def test_a_bad_period_is_one_clear_message(tmp_path: Path, args: list[str],
                                           message: str) -> None:
    got = _review(str(tmp_path / "none"), "--region", REGION, *args, "-o",
                  str(tmp_path / "x.html"))
    assert got.exit_code == 2 and message in got.output and "Traceback" not in got.output
    assert not (tmp_path / "x.html").exists()


@pytest.mark.slow
def test_an_unknown_region_is_a_clear_error(demo_store: str, tmp_path: Path) -> None:
    got = _review(demo_store, "--region", "Atlantis", "--period", "2025-06", "-o",
                  str(tmp_path / "x.html"))
    assert got.exit_code == 2, got.output
    assert "no mahallas in region 'Atlantis'" in got.output and REGION in got.output


@pytest.mark.slow
def test_a_commander_gets_no_pack_of_another_region(demo_store: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKMAP_USER", "cmd_surx")
    monkeypatch.setenv("RISKMAP_APP__REGIONS", json.dumps([OTHER]))
    for extra in ([], ["--saved"]):
        got = _review(demo_store, "--region", REGION, "--period", "2025-06", *extra, "-o",
                      str(tmp_path / "x.html"))
        assert got.exit_code == 2, got.output
        assert f"scoped to {OTHER}: no review pack of '{REGION}'" in got.output
        assert not (tmp_path / "x.html").exists()
    audit = open_store(demo_store).read("audit")
    mine = audit[(audit["user"] == "cmd_surx").to_numpy(bool)]
    assert (mine["outcome"] == "denied").sum() == 2
    assert set(mine["action"]) == {"review"}
    own = _review(demo_store, "--region", OTHER, "--period", "2025-06", "--json",
                  str(tmp_path / "own.json"))
    assert own.exit_code == 0, own.output
    assert json.loads((tmp_path / "own.json").read_text())["region"] == OTHER


@pytest.mark.slow
def test_the_review_job_keeps_a_pack_within_the_owners_scope(demo_store: str) -> None:
    from riskmap.etl.review_pack import list_packs, open_pack

    store = open_store(demo_store)
    surx = DataAccess(store, user="cmd_surx", regions=[OTHER], client="10.0.0.7")
    with pytest.raises(PermissionError, match="no review pack"):
        submit_review(surx, {"region": REGION, "period": "2025-06"})
    own = submit_review(surx, {"region": OTHER, "period": "2025-Q2", "timezone": TZ,
                               "lang": "en"})
    # a job asking for another region past the check is refused by its own scoped reads
    sneaky = submit(store, REVIEW_PACK, {"region": REGION, "period": "2025-Q2",
                                         "timezone": TZ, "demo": True},
                    owner="cmd_surx", regions=[OTHER])
    assert Worker(store.url, poll_s=0.1, heartbeat_s=0.5, stale_s=30).run(once=True) == 2
    st = status(store, own)
    assert st.status == "done", st.message
    bad = status(store, sneaky)
    assert bad.status == "refused" and "no review pack" in (bad.message or "")
    from riskmap.jobs import result

    res = result(store, own)
    kept = open_pack(surx, pack_id=res["pack_id"])
    assert kept["region"] == OTHER and kept["period"] == "2025-Q2"
    assert kept["json"]["incidents"] == res["incidents"] > 0
    assert f"Review pack: {OTHER}, 2025-Q2" in kept["html"]
    with pytest.raises(Exception, match="no review pack kept"):
        open_pack(DataAccess(store, user="cmd_jz", regions=[REGION]), pack_id=res["pack_id"])
    packs = list_packs(DataAccess(store, user="admin"))
    assert set(packs.loc[(packs["owner"] == "cmd_surx").to_numpy(bool), "region"]) == {OTHER}


def _two_regions() -> Any:
    """The tiny world's four Jizzakh mahallas, one of Samarqand beside them, its incidents."""
    import geopandas as gpd

    from tests import fixtures

    other = gpd.GeoDataFrame({"mahalla_id": ["S1"], "name": ["Registon"],
                              "name_cyrillic": ["Регистон"], "district": ["Samarqand shahri"],
                              "region": ["Samarqand"], "population": [900.0]},
                             geometry=[fixtures.square(2, 0)], crs="EPSG:4326")
    world = gpd.GeoDataFrame(pd.concat([fixtures.mahallas(), other], ignore_index=True),
                             crs="EPSG:4326")
    return world, fixtures.incidents()


def test_a_kept_pack_reopens_as_it_was_within_scope_on_both_stores(store: Any) -> None:
    """The store-level half of the packs (keep, list, re-open, the job, the scope), on the
    embedded store and PostGIS."""
    from riskmap.app.review_pack import review_html
    from riskmap.errors import ConfigError
    from riskmap.etl.review_pack import keep_pack, list_packs, load_review, open_pack
    from riskmap.jobs import result

    world, incidents = _two_regions()
    with store.transaction() as txn:
        txn.replace("mahallas", world)
        txn.replace("incidents", incidents)
    jz = DataAccess(store, user="cmd_jz", regions=["Jizzakh"], client="10.0.0.5")
    pack = load_review(jz, "Jizzakh", "2025-06", tz=TZ)
    assert (pack.to_json()["incidents"], pack.to_json()["mahallas"]) == (1, 4)
    page = review_html(pack)
    first = keep_pack(jz, pack, page)
    kept = open_pack(jz, region="Jizzakh", period="2025-06")
    assert kept["pack_id"] == first and kept["html"] == page
    assert kept["json"] == json.loads(json.dumps(pack.to_json()))
    assert pd.Timestamp(kept["generated_at"]) == pack.generated_at
    # a pack made again is kept beside the first: the newest opens, the first still by id
    again = load_review(jz, "Jizzakh", "2025-06", tz=TZ,
                        now=pack.generated_at + pd.Timedelta(minutes=5))
    second = keep_pack(jz, again, review_html(again))
    assert open_pack(jz, region="Jizzakh", period="2025-06")["pack_id"] == second
    assert open_pack(jz, pack_id=first)["html"] == page
    listed = list_packs(jz, "Jizzakh")
    assert listed["pack_id"].tolist() == [second, first]
    # another region's commander gets nothing of it, whichever way they ask
    sam = DataAccess(store, user="cmd_sam", regions=["Samarqand"], client="10.0.0.6")
    with pytest.raises(PermissionError, match="no review pack of 'Jizzakh'"):
        load_review(sam, "Jizzakh", "2025-06", tz=TZ)
    with pytest.raises(PermissionError, match="no review pack of 'Jizzakh'"):
        open_pack(sam, region="Jizzakh", period="2025-06")
    with pytest.raises(ConfigError, match="no review pack kept"):
        open_pack(sam, pack_id=first)
    assert len(list_packs(sam)) == 0 and len(list_packs(sam, "Jizzakh")) == 0
    with pytest.raises(PermissionError, match="no review pack"):
        submit_review(sam, {"region": "Jizzakh", "period": "2025-06"})
    # the job makes and keeps a pack of the owner's region; one past the check is refused
    own = submit_review(sam, {"region": "Samarqand", "period": "2025-Q2", "timezone": TZ,
                              "lang": "en"})
    sneaky = submit(store, REVIEW_PACK, {"region": "Jizzakh", "period": "2025-Q2",
                                         "timezone": TZ, "demo": False},
                    owner="cmd_sam", regions=["Samarqand"])
    assert Worker(store.url, poll_s=0.1, heartbeat_s=0.5, stale_s=30).run(once=True) == 2
    assert status(store, own).status == "done", status(store, own).message
    assert status(store, sneaky).status == "refused"
    made = open_pack(sam, pack_id=result(store, own)["pack_id"])
    assert made["region"] == "Samarqand" and made["period"] == "2025-Q2"
    assert "Review pack: Samarqand, 2025-Q2" in made["html"]
    audit = store.read("audit")
    mine = audit[(audit["user"] == "cmd_sam").to_numpy(bool)]
    assert (mine["outcome"] == "denied").sum() >= 3
    assert set(audit.loc[(audit["action"] == "review_pack").to_numpy(bool), "user"]) == {
        "cmd_jz", "cmd_sam"}
