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
 * sees each map's canvas container arrive), and each raster layer's fade and each outlined
 * fill's smoothing are turned off as the layers are added.
 */
(function () {
    "use strict";
    var CONTAINER = "maplibregl-canvas-container";

    function outlined(m, fillId) {
        // plotly draws a polygon trace as a fill layer and a line layer of its rings
        var lineId = fillId.slice(0, -"-fill".length) + "-line";
        if (!m.getLayer(lineId) || m.getLayoutProperty(lineId, "visibility") === "none") {
            return false;
        }
        var width = m.getPaintProperty(lineId, "line-width");
        return typeof width === "number" && width > 0;
    }

    function cheaper(m) {
        var style = m.getStyle && m.getStyle();
        (style && style.layers || []).forEach(function (layer) {
            if (layer.type === "raster"
                && m.getPaintProperty(layer.id, "raster-fade-duration") !== 0) {
                m.setPaintProperty(layer.id, "raster-fade-duration", 0);
            }
            // a fill smooths its own edges in a second pass; where plotly's outline is
            // drawn on every edge that pass is not seen, and it cost a sixth of a frame
            if (layer.type === "fill" && layer.id.indexOf("plotly-trace-layer-") === 0
                && /-fill$/.test(layer.id)
                && m.getPaintProperty(layer.id, "fill-antialias") !== false
                && outlined(m, layer.id)) {
                m.setPaintProperty(layer.id, "fill-antialias", false);
            }
        });
    }

    function tune(gd) {
        var full = gd && gd._fullLayout, sub = full && full.map && full.map._subplot;
        var m = sub && sub.map;
        if (!m || m.__riskmapAtOnce) { return; }
        m.__riskmapAtOnce = true;
        if (typeof m._fadeDuration === "number") { m._fadeDuration = 0; }
        m.on("styledata", function () { cheaper(m); });
        if (m.isStyleLoaded && m.isStyleLoaded()) { cheaper(m); }
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
