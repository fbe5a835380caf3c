/* A click anywhere inside a mahalla on the commanders' map opens it.
 *
 * The map is MapLibre (plotly's map subplot) in the app, plotly cartesian axes elsewhere.
 * Plotly reports a click on a polygon only after a hover over it (no hover on a touch
 * screen), and on the cartesian map only on a point, so this listens to the map itself: a
 * press and release without movement (not a pan or a box zoom) is converted to lon/lat
 * (MapLibre's unproject, or the axes' pixel-to-data functions) and handed to the page's
 * store `cmd-click-point`; the server finds the mahalla there (in the user's scope) and
 * opens it.
 */
(function () {
    "use strict";
    var MAP = "cmd-map", STORE = "cmd-click-point", SLOP = 4;
    var down = null;
    function plot() {
        return document.querySelector("#" + MAP + " .js-plotly-plot");
    }
    function maplibre(gd) {
        var full = gd && gd._fullLayout, sub = full && full.map && full.map._subplot;
        return sub && sub.map;
    }
    document.addEventListener("mousedown", function (ev) {
        var gd = plot(), m = maplibre(gd);
        down = null;
        if (!gd || ev.button !== 0 || !ev.target.closest) { return; }
        if (m) {
            if (ev.shiftKey || !m.getCanvasContainer().contains(ev.target)) { return; }
            down = {x: ev.clientX, y: ev.clientY, map: m};
            return;
        }
        var drag = ev.target.closest(".nsewdrag");
        if (!drag || !gd.contains(drag)) { return; }
        down = {x: ev.clientX, y: ev.clientY, drag: drag};
    }, true);
    document.addEventListener("mouseup", function (ev) {
        var start = down, gd = plot();
        down = null;
        if (!start || !gd || !gd._fullLayout || !gd.data || !gd.data.length) { return; }
        if (Math.abs(ev.clientX - start.x) > SLOP || Math.abs(ev.clientY - start.y) > SLOP) {
            return;  // a pan or a box zoom
        }
        if (!window.dash_clientside || !window.dash_clientside.set_props) { return; }
        var x, y, box;
        if (start.map) {
            box = start.map.getCanvas().getBoundingClientRect();
            var ll = start.map.unproject([ev.clientX - box.left, ev.clientY - box.top]);
            x = ll.lng;
            y = ll.lat;
        } else {
            var xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
            if (!xa || !ya) { return; }
            box = start.drag.getBoundingClientRect();
            x = xa.p2c(ev.clientX - box.left);
            y = ya.p2c(ev.clientY - box.top);
        }
        if (!isFinite(x) || !isFinite(y)) { return; }
        window.dash_clientside.set_props(STORE, {data: {x: x, y: y, t: Date.now()}});
    }, true);
})();
