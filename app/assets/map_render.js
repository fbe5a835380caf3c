/* Every MapLibre map of the app draws its final picture at once.
 *
 * MapLibre fades names in and out over 300 ms whenever the labels are placed again (each
 * pan, zoom, new tile or redraw), and fades a raster layer (the KDE surface) in over another
 * 300 ms. A fade is a run of frames: on a PC drawing WebGL in software, where one frame of
 * the commanders' map takes 150-250 ms, a fade was two or three more frames after the map
 * was otherwise ready (measured in headless Chromium: a region change settled in 0.82 s
 * without the fade against 1.25 s with it, at p50). Names and the KDE now appear in the
 * frame they are placed in.
 *
 * A polygon fill also smooths its own edges in a second pass (`fill-antialias`). Plotly
 * draws an outline layer over every edge of its polygon traces, so that pass is not seen;
 * it is turned off where the outline is drawn (a frame of the commanders' map: 245 ms with
 * it, 202 ms without, median of 48 frames each, interleaved).
 *
 * Plotly builds the MapLibre map itself and passes no `fadeDuration` to it, so the map's
 * own setting is changed once it exists, on every plot of every page (a MutationObserver
 * sees each map's canvas container arrive, before plotly adds its first trace), and each
 * raster layer and outlined fill is added with its fade or smoothing off (changed after it
 * is drawn, each would cost one more frame per redraw).
 */
(function () {
    "use strict";
    var CONTAINER = "maplibregl-canvas-container";

    function outlinedTrace(gd, layerId) {
        // plotly names a trace's layers "plotly-trace-layer-<uid>-<fill|line|...>" and
        // draws a polygon trace's rings as a line layer of marker.line.width
        var m = /^plotly-trace-layer-(.*)-fill$/.exec(layerId);
        var data = m && gd && gd._fullData;
        if (!data) { return false; }
        for (var i = 0; i < data.length; i++) {
            var t = data[i];
            if (t.uid === m[1]) {
                var line = t.marker && t.marker.line;
                return t.type === "choroplethmap" && !!line && line.width > 0;
            }
        }
        return false;
    }

    function atOnce(gd, layer) {
        // the paint a layer is added with: nothing changed after it is drawn (a change then
        // costs one more frame)
        if (!layer || typeof layer !== "object") { return layer; }
        if (layer.type === "raster") {
            return Object.assign({}, layer, {paint: Object.assign(
                {}, layer.paint, {"raster-fade-duration": 0})});
        }
        if (layer.type === "fill" && outlinedTrace(gd, layer.id)) {
            return Object.assign({}, layer, {paint: Object.assign(
                {}, layer.paint, {"fill-antialias": false})});
        }
        return layer;
    }

    function tune(gd) {
        var full = gd && gd._fullLayout, sub = full && full.map && full.map._subplot;
        var m = sub && sub.map;
        if (!m || m.__riskmapAtOnce) { return; }
        m.__riskmapAtOnce = true;
        if (typeof m._fadeDuration === "number") { m._fadeDuration = 0; }
        var add = m.addLayer;
        m.addLayer = function (layer, before) {
            return add.call(m, atOnce(gd, layer), before);
        };
        // layers plotly added before this ran (its first plot, when the style was ready at
        // once): changed where they are (one more frame, at the first draw only)
        var style = m.getStyle && m.isStyleLoaded && m.isStyleLoaded() && m.getStyle();
        (style && style.layers || []).forEach(function (layer) {
            var paint = atOnce(gd, layer).paint || {};
            ["raster-fade-duration", "fill-antialias"].forEach(function (key) {
                if (key in paint && m.getPaintProperty(layer.id, key) !== paint[key]) {
                    m.setPaintProperty(layer.id, key, paint[key]);
                }
            });
        });
    }

    function added(node) {
        if (node.nodeType !== 1 || !node.classList || !node.classList.contains(CONTAINER)) {
            return;
        }
        // plotly keeps the map once the constructor returns: look after this task
        setTimeout(function () { tune(node.closest(".js-plotly-plot")); }, 0);
    }

    new MutationObserver(function (records) {
        for (var i = 0; i < records.length; i++) {
            var nodes = records[i].addedNodes;
            for (var j = 0; j < nodes.length; j++) { added(nodes[j]); }
        }
    }).observe(document.documentElement, {childList: true, subtree: true});
})();
