/* A click anywhere inside a mahalla on the commanders' map opens it.
 *
 * Plotly reports clicks on data points only: the map's polygons are fills, so only a click on
 * a mahalla's (invisible) tooltip point at its centre opened it. This listens to the map's
 * drag surface: a press and release without movement (not a pan or a box zoom) is converted
 * to lon/lat with the axes' own pixel-to-data functions and handed to the page's store
 * `cmd-click-point`; the server finds the mahalla there (in the user's scope) and opens it.
 */
(function () {
    "use strict";
    var MAP = "cmd-map", STORE = "cmd-click-point", SLOP = 4;
    var down = null;
    function plot() {
        return document.querySelector("#" + MAP + " .js-plotly-plot");
    }
    document.addEventListener("mousedown", function (ev) {
        var gd = plot();
        down = null;
        if (!gd || ev.button !== 0 || !ev.target.closest) { return; }
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
        var xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        if (!xa || !ya || !window.dash_clientside || !window.dash_clientside.set_props) {
            return;
        }
        var box = start.drag.getBoundingClientRect();
        var x = xa.p2c(ev.clientX - box.left), y = ya.p2c(ev.clientY - box.top);
        if (!isFinite(x) || !isFinite(y)) { return; }
        window.dash_clientside.set_props(STORE, {data: {x: x, y: y, t: Date.now()}});
    }, true);
})();
