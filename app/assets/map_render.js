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
 * Plotly builds the MapLibre map itself and passes no `fadeDuration` to it, so the map's
 * own setting is changed once it exists, on every plot of every page (a MutationObserver
 * sees each map's canvas container arrive), and each raster layer's fade is turned off as
 * it is added.
 */
(function () {
    "use strict";
    var CONTAINER = "maplibregl-canvas-container";

    function rastersAtOnce(m) {
        var style = m.getStyle && m.getStyle();
        (style && style.layers || []).forEach(function (layer) {
            if (layer.type === "raster"
                && m.getPaintProperty(layer.id, "raster-fade-duration") !== 0) {
                m.setPaintProperty(layer.id, "raster-fade-duration", 0);
            }
        });
    }

    function tune(gd) {
        var full = gd && gd._fullLayout, sub = full && full.map && full.map._subplot;
        var m = sub && sub.map;
        if (!m || m.__riskmapAtOnce) { return; }
        m.__riskmapAtOnce = true;
        if (typeof m._fadeDuration === "number") { m._fadeDuration = 0; }
        m.on("styledata", function () { rastersAtOnce(m); });
        if (m.isStyleLoaded && m.isStyleLoaded()) { rastersAtOnce(m); }
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
