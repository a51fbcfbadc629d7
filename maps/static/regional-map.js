/*
 * The regional map's behaviour (see maps/regional.py): theme layers from vector tiles or GeoJSON,
 * their styling and popups, and the controls a reader expects (search, permalink, locate, full
 * screen). The page's query string picks what to show: ?layers=a,b&embed=1&source=geojson and
 * ?datetime=... (an as-of view, drawn from the items feed since tiles show the present).
 *
 * Attribute values come from publishers and may contain markup, so popups are built from DOM
 * nodes whose text is set with textContent: nothing from the data is ever parsed as HTML.
 */
(() => {
  "use strict";

  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const FIRST_FEATURE = "regional-map:first-feature";
  const params = new URLSearchParams(window.location.search);
  const pad = (n) => String(n).padStart(2, "0");

  /* "2026-11-03" -> "3 Nov 2026"; read from the string so the browser's time zone cannot shift it. */
  function formatDate(value) {
    const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(value);
    return match ? `${Number(match[3])} ${MONTHS[Number(match[2]) - 1]} ${match[1]}` : value;
  }

  /* Instants are shown in the reader's local time, which is what "when" means to them. */
  function formatDateTime(value) {
    const d = new Date(value);
    if (Number.isNaN(d.getTime())) return value;
    const date = `${d.getDate()} ${MONTHS[d.getMonth()]} ${d.getFullYear()}`;
    return `${date} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  function ownValue(table, key) {
    return Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined;
  }

  function displayValue(field, value) {
    switch (field.type) {
      case "code":
        return ownValue(field.labels, value) ?? String(value);
      case "date":
        return formatDate(String(value));
      case "datetime":
        return formatDateTime(String(value));
      case "boolean":
        return value ? "Yes" : "No";
      default:
        return String(value);
    }
  }

  function popupContent(theme, properties) {
    const box = document.createElement("div");
    box.className = "regional-popup";
    const heading = document.createElement("h3");
    heading.textContent = theme.title;
    const table = document.createElement("table");
    // A layer with no popup fields of its own (a check's report) shows every property as text.
    const fields = theme.popup.length
      ? theme.popup
      : Object.keys(properties).map((name) => ({ name, title: name, type: "text", labels: {} }));
    for (const field of fields) {
      const value = ownValue(properties, field.name);
      if (value === undefined || value === null || value === "") continue;
      const row = table.insertRow();
      const label = document.createElement("th");
      label.scope = "row";
      label.textContent = field.title;
      row.appendChild(label);
      row.insertCell().textContent = displayValue(field, value);
    }
    box.append(heading, table);
    return box;
  }

  function colourFor(theme, properties) {
    const value = theme.colourBy ? ownValue(properties, theme.colourBy) : undefined;
    return (value !== undefined && ownValue(theme.colours, value)) || theme.defaultColour;
  }

  function isPoint(feature) {
    return /Point$/.test(feature.geometry?.type ?? "");
  }

  const POINT_OUTLINE = { color: "#333333", weight: 1, opacity: 1, fillOpacity: 0.9 };

  function featureStyle(theme, feature) {
    const colour = colourFor(theme, feature.properties ?? {});
    if (isPoint(feature)) {
      return { ...POINT_OUTLINE, fillColor: colour };
    }
    return { color: colour, weight: 4, opacity: 0.9, fillColor: colour, fillOpacity: 0.3 };
  }

  /* Vector tiles do not tell a style function the geometry type: `point` applies to points only
     (see vectorgrid-compat.js), lines ignore the fill. */
  function tileStyle(theme, properties) {
    const colour = colourFor(theme, properties);
    return {
      color: colour,
      weight: 4,
      opacity: 0.9,
      fill: true,
      fillColor: colour,
      fillOpacity: 0.3,
      radius: 6,
      point: POINT_OUTLINE,
    };
  }

  function markFirstFeature() {
    if (performance.getEntriesByName(FIRST_FEATURE).length === 0) {
      performance.mark(FIRST_FEATURE);
    }
  }

  /* L.geoJSON options for a theme: see theme_config() in maps/regional.py for its shape. */
  function themeOptions(theme) {
    return {
      pointToLayer: (feature, latlng) => L.circleMarker(latlng, { radius: 6 }),
      style: (feature) => featureStyle(theme, feature),
      onEachFeature: (feature, layer) => {
        layer.bindPopup(() => popupContent(theme, feature.properties ?? {}));
      },
    };
  }

  /* Administrative boundaries give context only: outlines that let clicks through to features. */
  function outlineOptions() {
    return {
      interactive: false,
      style: { color: "#555555", weight: 1.5, dashArray: "6 4", fill: false },
    };
  }

  function withParam(url, name, value) {
    const parsed = new URL(url, window.location.href);
    parsed.searchParams.set(name, value);
    return parsed.origin === window.location.origin
      ? parsed.pathname + parsed.search
      : parsed.href;
  }

  function loadInto(layer, url, name, onLoaded) {
    fetch(url)
      .then((response) => {
        if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
        return response.json();
      })
      .then((data) => {
        layer.addData(data);
        if (onLoaded) onLoaded(layer);
        layer.fire("dataload");
      })
      .catch((error) => console.error(`Could not load the ${name} layer from ${url}: ${error}`));
  }

  /* A GeoJSON layer filled from url as soon as the page loads (boundaries, quality layers). */
  function remoteGeoJson(url, name, options) {
    const layer = L.geoJSON(null, options);
    loadInto(layer, url, name);
    return layer;
  }

  function geojsonThemeLayer(theme, datetime) {
    const layer = L.geoJSON(null, themeOptions(theme));
    const url = datetime ? withParam(theme.itemsUrl, "datetime", datetime) : theme.itemsUrl;
    // Fetched when first shown, so a theme the reader keeps off costs nothing.
    layer.once("add", () =>
      loadInto(layer, url, theme.title, (loaded) => {
        if (loaded.getLayers().length > 0) markFirstFeature();
      }),
    );
    return layer;
  }

  function openPopupAt(map, latlng, theme, properties) {
    L.popup().setLatLng(latlng).setContent(popupContent(theme, properties)).openOn(map);
  }

  /* 512-pixel tiles, each drawn from the server's tile one zoom level up: a quarter of the
     requests of 256-pixel tiles for the same view, which is what the first paint waits on.
     Tiles outside the tileset's bounds (the region, as its TileJSON says) are never requested:
     at the region's zoom that leaves one or two tiles per theme instead of a screenful. */
  function tileThemeLayer(theme) {
    const layer = L.vectorGrid.protobuf(theme.tilesUrl.replace("{z}", "{parentZ}"), {
      tileSize: 512,
      minZoom: 1,
      bounds: theme.bounds ? L.latLngBounds(theme.bounds) : undefined,
      parentZ: (data) => data.z - 1,
      rendererFactory: L.canvas.tile,
      interactive: true,
      vectorTileLayerStyles: { [theme.id]: (properties) => tileStyle(theme, properties) },
    });
    layer.on("click", (event) =>
      openPopupAt(layer._map, event.latlng, theme, event.layer.properties ?? {}),
    );
    layer.on("tileload", () => {
      if (layer._drewFeatures) markFirstFeature();
    });
    return layer;
  }

  /* Publishers and licences are credited one by one, so a publisher of three themes shown
     together is named once; Leaflet counts each credit and drops it with its last layer. */
  function credit(layer, credits) {
    let control = null;
    layer.on("add", () => {
      control = layer._map.attributionControl;
      credits.forEach((c) => control?.addAttribution(c));
    });
    layer.on("remove", () => credits.forEach((c) => control?.removeAttribution(c)));
    return layer;
  }

  /* A theme's layer: vector tiles unless the page asks for GeoJSON or for a past date. */
  function themeLayer(theme) {
    const datetime = params.get("datetime");
    const source = params.get("source") || theme.source;
    const layer =
      theme.tilesUrl && !datetime && source === "tiles"
        ? tileThemeLayer(theme)
        : geojsonThemeLayer(theme, datetime);
    return credit(layer, theme.credits ?? []);
  }

  /* ---- controls ------------------------------------------------------------------------- */

  const ICONS = {
    fullscreen:
      '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 9V4h5M15 4h5v5M20 15v5h-5M9 20H4v-5"/></svg>',
    locate:
      '<svg viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="12" r="4"/><path d="M12 2v4M12 18v4M2 12h4M18 12h4"/></svg>',
  };

  function element(tag, className, parent) {
    const node = L.DomUtil.create(tag, className, parent);
    return node;
  }

  function iconButton(parent, icon, label) {
    const button = element("button", "regional-button", parent);
    button.type = "button";
    button.title = label;
    button.setAttribute("aria-label", label);
    button.innerHTML = ICONS[icon]; // our own static markup, never data
    return button;
  }

  function quietControl(div) {
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    return div;
  }

  const FullScreen = L.Control.extend({
    options: { position: "topleft" },
    onAdd(map) {
      const div = element("div", "leaflet-bar regional-tools");
      const button = iconButton(div, "fullscreen", "Full screen");
      button.setAttribute("aria-pressed", "false");
      const container = map.getContainer();
      const set = (on) => {
        container.classList.toggle("regional-fullscreen", on);
        button.setAttribute("aria-pressed", String(on));
        map.invalidateSize();
      };
      L.DomEvent.on(button, "click", () => {
        const on = !container.classList.contains("regional-fullscreen");
        if (document.fullscreenEnabled) {
          const change = on ? container.requestFullscreen() : document.exitFullscreen();
          change.catch(() => set(on)); // refused (an iframe without allowfullscreen): fill the page
        } else {
          set(on);
        }
      });
      document.addEventListener("fullscreenchange", () =>
        set(document.fullscreenElement === container),
      );
      return quietControl(div);
    },
  });

  const Locate = L.Control.extend({
    options: { position: "topleft" },
    onAdd(map) {
      const div = element("div", "leaflet-bar regional-tools");
      const button = iconButton(div, "locate", "Show my location");
      const status = element("p", "regional-status", div);
      status.setAttribute("role", "status");
      let marker = null;
      L.DomEvent.on(button, "click", () => {
        status.textContent = "Finding your location…";
        map.locate({ setView: true, maxZoom: 15 });
      });
      map.on("locationfound", (event) => {
        status.textContent = "";
        if (marker) marker.remove();
        marker = L.circle(event.latlng, {
          radius: event.accuracy,
          interactive: false,
          color: "#0b5fff",
          weight: 2,
          fillOpacity: 0.1,
        }).addTo(map);
      });
      map.on("locationerror", (event) => {
        status.textContent = `Your location is not available (${event.message}).`;
      });
      return quietControl(div);
    },
  });

  /* ---- search: places, member authorities, feature references ------------------------------ */

  function featureResult(theme, feature) {
    const key = theme.naturalKey;
    const reference = feature.properties?.[key] ?? feature.id;
    return {
      label: `${theme.title}: ${reference}`,
      go(state) {
        const layer = state.layers[theme.id];
        if (layer && !state.map.hasLayer(layer)) layer.addTo(state.map);
        const bounds = L.geoJSON(feature).getBounds();
        state.map.fitBounds(bounds, { maxZoom: 16 });
        openPopupAt(state.map, bounds.getCenter(), theme, feature.properties ?? {});
      },
    };
  }

  function findFeatures(themes, text) {
    const searches = Object.values(themes)
      .filter((theme) => theme.naturalKey)
      .map((theme) => {
        let url = withParam(theme.itemsUrl, theme.naturalKey, text);
        url = withParam(url, "limit", "5");
        return fetch(url)
          .then((response) => (response.ok ? response.json() : { features: [] }))
          .then((data) => (data.features ?? []).map((f) => featureResult(theme, f)))
          .catch(() => []);
      });
    return Promise.all(searches).then((lists) => lists.flat());
  }

  function findPlaces(state, text) {
    const needle = text.toLocaleLowerCase();
    const matches = (name) => name.toLocaleLowerCase().includes(needle);
    const places = state.gazetteer
      .filter((place) => matches(place.name))
      .map((place) => ({
        label: place.name,
        go: () => state.map.setView([place.lat, place.lon], 13),
      }));
    const areas = (state.boundaries?.getLayers() ?? [])
      .filter((area) => matches(String(area.feature?.properties?.name ?? "")))
      .map((area) => ({
        label: area.feature.properties.name,
        go: () => state.map.fitBounds(area.getBounds()),
      }));
    return [...areas, ...places];
  }

  function showResults(state, list, results) {
    list.replaceChildren();
    if (results.length === 0) {
      const none = element("li", "regional-search-none", list);
      none.textContent = "Nothing found. Try a town, a council or a reference.";
      return;
    }
    for (const result of results.slice(0, 8)) {
      const item = element("li", "", list);
      const button = element("button", "regional-search-result", item);
      button.type = "button";
      button.textContent = result.label;
      L.DomEvent.on(button, "click", () => {
        list.replaceChildren();
        result.go(state);
      });
    }
  }

  const Search = L.Control.extend({
    options: { position: "topleft" },
    onAdd() {
      const state = this.options.state;
      const form = element("form", "regional-search leaflet-bar");
      form.setAttribute("role", "search");
      const label = element("label", "regional-visually-hidden", form);
      label.htmlFor = "regional-search-input";
      label.textContent = "Find a town, council or feature reference";
      const input = element("input", "", form);
      Object.assign(input, {
        id: "regional-search-input",
        type: "search",
        placeholder: "Town, council or reference",
        autocomplete: "off",
      });
      const submit = element("button", "regional-search-submit", form);
      submit.type = "submit";
      submit.textContent = "Search";
      const list = element("ul", "regional-search-results", form);
      list.setAttribute("aria-live", "polite");
      L.DomEvent.on(form, "submit", (event) => {
        L.DomEvent.preventDefault(event);
        const text = input.value.trim();
        if (!text) return;
        const places = findPlaces(state, text);
        findFeatures(state.themes, text).then((features) => {
          const results = [...features, ...places];
          if (results.length === 1) {
            list.replaceChildren();
            results[0].go(state);
          } else {
            showResults(state, list, results);
          }
        });
      });
      return quietControl(form);
    },
  });

  /* Embedded maps link to the full map at the same view, kept current by writeHash(). */
  const FullMapLink = L.Control.extend({
    options: { position: "bottomleft" },
    onAdd(map) {
      const div = element("div", "leaflet-bar regional-full-map");
      const link = element("a", "", div);
      link.textContent = "Open the full map";
      link.target = "_blank";
      link.rel = "noopener";
      const update = () => {
        link.href = this.options.url + window.location.hash;
      };
      update();
      map.on("permalink", update);
      return quietControl(div);
    },
  });

  /* ---- permalink: #zoom/lat/lon/layers=a,b ------------------------------------------------- */

  function readHash() {
    const parts = window.location.hash.replace(/^#/, "").split("/");
    if (parts.length < 3) return null;
    const [zoom, lat, lon] = parts.slice(0, 3).map(Number);
    if (![zoom, lat, lon].every(Number.isFinite)) return null;
    const layers = parts.slice(3).find((part) => part.startsWith("layers="));
    return {
      zoom,
      center: [lat, lon],
      layers: layers === undefined ? null : layers.slice(7).split(",").filter(Boolean),
    };
  }

  function shownLayers(state) {
    return Object.keys(state.layers).filter((id) => state.map.hasLayer(state.layers[id]));
  }

  function writeHash(state) {
    const center = state.map.getCenter();
    const view = [state.map.getZoom(), center.lat.toFixed(5), center.lng.toFixed(5)].join("/");
    const hash = `#${view}/layers=${shownLayers(state).join(",")}`;
    if (hash !== window.location.hash) {
      window.history.replaceState(null, "", hash);
      state.map.fire("permalink");
    }
  }

  function showOnly(state, ids) {
    for (const [id, layer] of Object.entries(state.layers)) {
      if (ids.includes(id)) {
        if (!state.map.hasLayer(layer)) layer.addTo(state.map);
      } else if (state.map.hasLayer(layer)) {
        layer.remove();
      }
    }
  }

  /* The view first, then the layers: a tile layer added before the view is set would request
     (and draw) a screenful of tiles at the old zoom that the new view throws away. */
  function applyView(state, view, defaultLayers) {
    if (view) {
      state.map.setView(view.center, view.zoom, { animate: false });
    } else {
      state.map.fitBounds(state.bounds, { animate: false });
    }
    const layers = view?.layers ?? defaultLayers;
    if (layers) showOnly(state, layers);
  }

  /* A small map (embedded, or on a phone) keeps its room: the layer list and the legend fold to
     their buttons, which open them; a tap on the map folds the layer list again. */
  function foldControls(map) {
    const layerList = map.getContainer().querySelector(".leaflet-control-layers");
    const fold = () => layerList?.classList.remove("leaflet-control-layers-expanded");
    fold();
    map.on("click", fold);
    const legend = map.getContainer().querySelector("details.regional-legend");
    if (legend) legend.open = false;
  }

  /* The legend lists the themes on the map, so an embedded one-theme map has a one-theme key. */
  function syncLegend(state) {
    const shown = new Set(shownLayers(state));
    for (const section of document.querySelectorAll(".regional-legend [data-theme]")) {
      section.hidden = !shown.has(section.dataset.theme);
    }
  }

  /* Called once the layers exist: options.layers maps theme ids to their layers. */
  function setup(map, options) {
    const state = {
      map,
      layers: options.layers,
      themes: options.themes,
      gazetteer: options.gazetteer ?? [],
      boundaries: options.boundaries ?? null,
      bounds: options.bounds,
    };
    const embed = params.get("embed") === "1";
    document.body.classList.toggle("regional-embed", embed);
    const requested = params.get("layers");
    const layers = requested === null ? Object.keys(state.layers) : requested.split(",");
    applyView(state, readHash(), layers);
    syncLegend(state);

    new FullScreen().addTo(map);
    new Locate().addTo(map);
    if (embed) {
      new FullMapLink({ url: options.fullMapUrl }).addTo(map);
    } else {
      new Search({ state }).addTo(map);
    }
    if (embed || window.matchMedia("(max-width: 600px)").matches) foldControls(map);
    map.on("moveend overlayadd overlayremove", () => writeHash(state));
    map.on("overlayadd overlayremove", () => syncLegend(state));
    window.addEventListener("hashchange", () => {
      const view = readHash();
      if (view) applyView(state, view, null);
      syncLegend(state);
    });
    writeHash(state);
    window.regionalMap.current = state;
    return state;
  }

  window.regionalMap = {
    themeOptions,
    outlineOptions,
    remoteGeoJson,
    themeLayer,
    popupContent,
    setup,
    FIRST_FEATURE,
  };
})();
