/*
 * Styling and popups for the regional map's theme layers (see maps/regional.py).
 *
 * Attribute values come from publishers and may contain markup, so popups are built from DOM
 * nodes whose text is set with textContent: nothing from the data is ever parsed as HTML.
 */
(() => {
  "use strict";

  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
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
    for (const field of theme.popup) {
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

  function featureStyle(theme, feature) {
    const colour = colourFor(theme, feature.properties ?? {});
    if (isPoint(feature)) {
      return { color: "#333333", weight: 1, fillColor: colour, fillOpacity: 0.9 };
    }
    return { color: colour, weight: 4, opacity: 0.9, fillColor: colour, fillOpacity: 0.3 };
  }

  /* L.geoJSON options for a theme: see theme_config() in maps/regional.py for its shape. */
  function themeOptions(theme) {
    return {
      attribution: theme.attribution,
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

  window.regionalMap = { themeOptions, outlineOptions };
})();
