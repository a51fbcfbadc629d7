/*
 * Make Leaflet.VectorGrid 1.3.0 (vendor/leaflet.vectorgrid) clickable on Leaflet 1.9.
 *
 * 1. Its canvas tiles call L.DomEvent.fakeStop on click, which Leaflet 1.8 removed: the click
 *    threw and no popup opened (upstream issue #274, fixed unreleased by PR #288 with stop()).
 * 2. Its point symbolizers inherit CircleMarker.getLatLng but have no latlng, so Leaflet 1.9's
 *    map event code, which asks a "marker" for its position, threw "reading 'lat'". Hiding
 *    getLatLng makes Leaflet use the mouse position, which is where the reader clicked anyway.
 *
 * Two additions for regional-map.js: a style's `point` options override the rest for points (one
 * style function serves a theme's points and lines), and a layer records that it drew features.
 */
(() => {
  "use strict";

  if (!L.DomEvent.fakeStop) {
    L.DomEvent.fakeStop = L.DomEvent.stop;
  }

  const createLayer = L.VectorGrid.prototype._createLayer;
  L.VectorGrid.include({
    _createLayer(feat, pxPerExtent, layerStyle) {
      const layer = createLayer.call(this, feat, pxPerExtent, layerStyle);
      if (layer instanceof L.CircleMarker) {
        layer.getLatLng = undefined;
        const render = layer.render;
        layer.render = (renderer, style) =>
          render.call(layer, renderer, L.extend({}, style, style.point));
      }
      this._drewFeatures = true;
      return layer;
    },
  });
})();
