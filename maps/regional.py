"""The public regional web map: one live layer per theme, drawn from the server's OGC API feeds.

Everything the page loads comes from our own server (assets_url): no CDN, no tiles unless asked
for. The map then works on networks without internet access and tells no third party who looks.
Feature styling and popups live in static/regional-map.js, configured per theme from its spec.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

import folium
from branca.element import MacroElement
from folium.template import Template
from folium.utilities import JsCode
from jinja2.utils import htmlsafe_json_dumps

from protocols.spec import Protocols, ThemeSpec

STATIC_DIR = Path(__file__).parent / "static"
DEFAULT_ITEMS_URL = "/ogc/collections/{collection}/items?f=json&limit=10000"
DEFAULT_ASSETS_URL = "/static/maps"


class RemoteGeoJson(folium.map.Layer):
    """A GeoJSON layer that the browser fills from a URL at page load.

    The page then shows the feed as it is now rather than a snapshot baked into the HTML; being a
    Layer, folium's LayerControl lists it. `options` is JavaScript for the L.geoJSON options.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.geoJSON(null, {{ this.options.js_code }});
            fetch({{ this.url|tojson }})
                .then(function (response) {
                    if (!response.ok) {
                        throw new Error(response.status + " " + response.statusText);
                    }
                    return response.json();
                })
                .then(function (data) { {{ this.get_name() }}.addData(data); })
                .catch(function (error) {
                    console.error("Could not load the " + {{ this.layer_name|tojson }}
                        + " layer from " + {{ this.url|tojson }} + ": " + error);
                });
        {% endmacro %}
        """
    )

    def __init__(self, url: str, name: str, options: JsCode) -> None:
        super().__init__(name=name, overlay=True)
        self._name = "RemoteGeoJson"
        self.url = url
        self.options = options


class Legend(MacroElement):
    """The map key: the map's title, then each theme's colours under the labels readers know.

    Added as a Leaflet control so it sits in the map's corner stack instead of over other controls.
    """

    _template = Template(
        """
        {% macro html(this, kwargs) %}
            <div id="{{ this.get_name() }}" class="regional-legend leaflet-control">
                <h2>{{ this.title|e }}</h2>
                {%- for theme_title, entries in this.sections %}
                <h3>{{ theme_title|e }}</h3>
                <ul>
                    {%- for label, colour in entries %}
                    <li><span class="swatch" style="background: {{ colour|e }}"></span>
                        {{- label|e }}</li>
                    {%- endfor %}
                </ul>
                {%- endfor %}
            </div>
        {% endmacro %}

        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.control({position: "bottomright"});
            {{ this.get_name() }}.onAdd = function () {
                var div = document.getElementById({{ this.get_name()|tojson }});
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, title: str, sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__()
        self._name = "Legend"
        self.title = title
        self.sections = sections


def legend_entries(theme: ThemeSpec, protocols: Protocols) -> list[tuple[str, str]]:
    """(label, colour) pairs for a theme, in its style's order, labelled from its code list.

    An "Other" entry shows the default colour whenever some values have no colour of their own.
    """
    style = theme.style
    if not style.colour_by:
        return [(theme.title, style.default_colour)]
    codelist = protocols.codelist_for(theme.field(style.colour_by))
    entries = [
        (codelist.label(code) if codelist else code, colour)
        for code, colour in style.colours.items()
    ]
    if codelist is None or codelist.codes - set(style.colours):
        entries.append(("Other", style.default_colour))
    return entries


def _popup_field(theme: ThemeSpec, name: str, protocols: Protocols) -> dict[str, Any]:
    """What the browser needs to show one popup row: label, type, and code labels if a code."""
    field = theme.field(name)
    codelist = protocols.codelist_for(field)
    labels = {v.code: v.label for v in codelist.values} if codelist else {}
    return {"name": field.name, "title": field.title, "type": str(field.type), "labels": labels}


def theme_config(theme: ThemeSpec, protocols: Protocols) -> dict[str, Any]:
    """The theme as regionalMap.themeOptions() in static/regional-map.js expects it."""
    return {
        "title": theme.title,
        # Leaflet puts attributions into the page as HTML, so the text is escaped here.
        "attribution": escape(theme.attribution) or None,
        "colourBy": theme.style.colour_by,
        "colours": theme.style.colours,
        "defaultColour": theme.style.default_colour,
        "popup": [_popup_field(theme, name, protocols) for name in theme.style.popup],
    }


def _theme_layer(theme: ThemeSpec, protocols: Protocols, items_url: str) -> RemoteGeoJson:
    config = htmlsafe_json_dumps(theme_config(theme, protocols))
    return RemoteGeoJson(
        url=items_url.format(collection=theme.id),
        name=theme.title,
        options=JsCode(f"regionalMap.themeOptions({config})"),
    )


def _use_local_assets(fmap: folium.Map, assets_url: str) -> None:
    """Point the page at our own copies of its scripts and styles instead of folium's CDNs.

    folium.Map keeps its CDN links in class-level lists; replacing them on this instance leaves
    other maps alone. Only Leaflet is needed: no jQuery, Bootstrap or awesome-markers is used.
    """
    fmap.default_js = [
        ("leaflet", f"{assets_url}/vendor/leaflet/leaflet.js"),
        ("regional_map", f"{assets_url}/regional-map.js"),
    ]
    fmap.default_css = [
        ("leaflet_css", f"{assets_url}/vendor/leaflet/leaflet.css"),
        ("regional_map_css", f"{assets_url}/regional-map.css"),
    ]


def build_regional_map(
    protocols: Protocols,
    *,
    title: str,
    items_url: str = DEFAULT_ITEMS_URL,
    assets_url: str = DEFAULT_ASSETS_URL,
    bounds_wgs84: tuple[float, float, float, float],
    boundaries_url: str | None = None,
    tiles: str | None = None,
    tiles_attribution: str | None = None,
) -> str:
    """Render the public map page: a toggleable layer per theme, a legend and a scale bar.

    items_url is formatted with each theme's collection id and fetched by the browser, so the map
    follows the live OGC API feed. assets_url is where STATIC_DIR is served. bounds_wgs84 is
    (west, south, east, north) in degrees, as in an OGC bbox. boundaries_url, if given, is a
    GeoJSON drawn as outlines for context. tiles is a Leaflet URL template (or a folium tile
    provider name) for a base map; a URL template needs tiles_attribution.
    """
    assets_url = assets_url.rstrip("/")
    west, south, east, north = bounds_wgs84
    fmap = folium.Map(
        location=((south + north) / 2, (west + east) / 2), tiles=None, control_scale=True
    )
    _use_local_assets(fmap, assets_url)
    fmap.get_root().title = escape(title)
    if tiles:
        folium.TileLayer(tiles, attr=tiles_attribution, control=False).add_to(fmap)
    if boundaries_url:
        outline = JsCode("regionalMap.outlineOptions()")
        RemoteGeoJson(url=boundaries_url, name="Boundaries", options=outline).add_to(fmap)
    themes = list(protocols.themes.values())
    for theme in themes:
        _theme_layer(theme, protocols, items_url).add_to(fmap)
    sections = [(theme.title, legend_entries(theme, protocols)) for theme in themes]
    Legend(title, sections).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    fmap.fit_bounds([[south, west], [north, east]])
    return fmap.get_root().render()
