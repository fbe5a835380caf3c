"""The README's screenshots: every page of a demo store in Uzbek (Latin) and Russian, taken in
headless Chromium over ``riskmap serve`` (``riskmap bench screenshots``).

The pages are opened as a user opens them (the language in the URL, as the switch leaves it);
each shot waits until Dash has no callback in flight and the map has drawn, then the PNG is cut
down to a 256-colour palette (a third of the bytes; maps have few colours).
"""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path
from typing import Any

from riskmap.bench.app import _NEAREST_MAHALLA_JS, BenchError, open_browser, serve

__all__ = ["LANGUAGES", "PAGES", "take"]

#: languages shot, in the README's order
LANGUAGES = ("uz_Latn", "ru")
#: (file stem, path, CSS selector of the plot that must have drawn)
PAGES = (
    ("overview", "/", "#overview-map .js-plotly-plot"),
    ("commanders", "/commanders", "#cmd-map .js-plotly-plot"),
    ("commanders-panel", "/commanders", "#cmd-map .js-plotly-plot"),
    ("planner", "/planner", "#planner-map .js-plotly-plot"),
    ("tourism", "/tourism", "#tourism-map .js-plotly-plot"),
)
_IDLE_JS = """
const plot = document.querySelector(arguments[0]);
const sub = plot && plot._fullLayout && plot._fullLayout.map && plot._fullLayout.map._subplot;
const tiles = !sub || !sub.map || (sub.map.loaded() && sub.map.areTilesLoaded());
return !!(window.store && !window.store.getState().isLoading && plot && plot._fullLayout
          && plot.data && plot.data.length) && tiles;
"""


def _settled(driver: Any, selector: str, timeout: float = 120.0) -> None:
    """Wait until Dash is idle with the plot drawn, twice 1.5 s apart (a late callback)."""
    end = time.monotonic() + timeout
    calm = 0
    while time.monotonic() < end:
        calm = calm + 1 if driver.execute_script(_IDLE_JS, selector) else 0
        if calm >= 2:
            return
        time.sleep(1.5)
    raise BenchError(f"{driver.current_url}: the page did not settle in {timeout:.0f} s")


def _save(png: bytes, path: Path) -> None:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def take(store: str, out: Path, *, pages: tuple[str, ...] | None = None, width: int = 1400,
         height: int = 1050) -> list[Path]:
    """Shoot :data:`PAGES` (those named in ``pages``; None: all) in :data:`LANGUAGES` over
    ``store`` into ``out`` (``<page>.<lang>.png``); returns the files written."""
    known = [p[0] for p in PAGES]
    unknown = sorted(set(pages or ()) - set(known))
    if unknown:
        raise BenchError(f"unknown page {', '.join(unknown)}: expected {', '.join(known)}")
    chosen = [p for p in PAGES if pages is None or p[0] in pages]
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="riskmap-shots-") as tmp, \
            serve(store, Path(tmp)) as (url, _server), open_browser(Path(tmp)) as driver:
        driver.set_window_size(width, height + 200)  # the window's frame takes some
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        for lang in LANGUAGES:
            for stem, path, plot in chosen:
                driver.get(f"{url}{path}?lang={lang}")
                _settled(driver, plot)
                if stem == "commanders-panel":  # open the mahalla nearest the map's centre
                    got = driver.execute_script(_NEAREST_MAHALLA_JS, plot)
                    if not got:
                        raise BenchError("no mahalla on the commanders' map to open")
                    if got[2]:
                        driver.get(f"{url}{path}?mahalla={got[2]}&lang={lang}")  # its tab opens
                    else:  # MapLibre: clicked, as a user opens it
                        from selenium.webdriver.common.action_chains import ActionChains

                        canvas = driver.find_element("css selector",
                                                     f"{plot} canvas.maplibregl-canvas")
                        ActionChains(driver).move_to_element_with_offset(
                            canvas, int(got[0]), int(got[1])).pause(0.3).click().perform()
                        time.sleep(0.5)
                    _settled(driver, plot)
                target = out / f"{stem}.{lang}.png"
                _save(driver.get_screenshot_as_png(), target)
                written.append(target)
                print(f"  {target}", flush=True)
    return written
