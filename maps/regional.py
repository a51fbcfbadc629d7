"""The public web maps: the regional map of every theme, and the data-quality map for partners.

Everything the page loads comes from our own server (assets_url): no CDN, and a base map only if
the deployment names one. The map then works on networks without internet access and tells no
third party who looks. Themes are drawn from the server's vector tiles, or from its OGC API items
feed when a page asks for GeoJSON (?source=geojson) or a past date (?datetime=...); styling,
popups and controls live in static/regional-map.js, configured per theme from its spec.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from html import escape
from pathlib import Path
from typing import Any, Literal

import folium
from branca.element import MacroElement
from folium.template import Template
from folium.utilities import JsCode

from maps.gazetteer import EAST_MIDLANDS, Place
from protocols.spec import Protocols, ThemeSpec

STATIC_DIR = Path(__file__).parent / "static"
DEFAULT_ITEMS_URL = "/ogc/collections/{collection}/items?f=json&limit=10000"
DEFAULT_TILES_URL = "/ogc/collections/{collection}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"
DEFAULT_ASSETS_URL = "/static/maps"
LayerSource = Literal["tiles", "geojson"]


@dataclass(frozen=True)
class Basemap:
    """A raster base map: a Leaflet URL template and the credit its licence asks for."""

    url: str
    attribution: str


class RemoteGeoJson(folium.map.Layer):
    """A GeoJSON layer that the browser fills from a URL at page load.

    The page then shows the feed as it is now rather than a snapshot baked into the HTML; being a
    Layer, folium's LayerControl lists it. `options` is JavaScript for the L.geoJSON options.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = regionalMap.remoteGeoJson(
                {{ this.url|tojson }}, {{ this.layer_name|tojson }}, {{ this.options.js_code }});
        {% endmacro %}
        """
    )

    def __init__(self, url: str, name: str, options: JsCode, control: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=control)
        self._name = "RemoteGeoJson"
        self.url = url
        self.options = options


class ThemeLayer(folium.map.Layer):
    """One theme, drawn by regionalMap.themeLayer() from tiles or GeoJSON as the page asks.

    Not shown by folium: regionalMap.setup() adds the layers the URL (or the default, all) names.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = regionalMap.themeLayer({{ this.config|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(name=config["title"], overlay=True, show=False)
        self._name = "ThemeLayer"
        self.config = config


class MapFeatures(MacroElement):
    """Search, permalink, locate, full screen and embedding, wired to the map's theme layers.

    Added after the layer control. It sets the first view itself: the permalink's, or the region's
    bounds (a folium fit_bounds would still be animating and undo the permalink's zoom).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            regionalMap.setup({{ this._parent.get_name() }}, {
                layers: {
                    {%- for layer in this.layers %}
                    {{ layer.config.id|tojson }}: {{ layer.get_name() }},
                    {%- endfor %}
                },
                themes: {{ this.themes|tojson }},
                gazetteer: {{ this.places|tojson }},
                boundaries: {{ this.boundaries.get_name() if this.boundaries else "null" }},
                fullMapUrl: {{ this.full_map_url|tojson }},
                bounds: {{ this.bounds|tojson }},
            });
        {% endmacro %}
        """
    )

    def __init__(
        self,
        layers: list[ThemeLayer],
        boundaries: RemoteGeoJson | None,
        places: Sequence[Place],
        full_map_url: str,
        bounds_wgs84: tuple[float, float, float, float],
    ) -> None:
        super().__init__()
        self._name = "MapFeatures"
        self.layers = layers
        self.themes = {layer.config["id"]: layer.config for layer in layers}
        self.boundaries = boundaries
        self.places = [asdict(place) for place in places]
        self.full_map_url = full_map_url
        self.bounds = leaflet_bounds(bounds_wgs84)


class Legend(MacroElement):
    """The map key: the map's title, then each layer's colours under the labels readers know.

    Added as a Leaflet control so it sits in the map's corner stack instead of over other controls.
    Each section names its layer (data-theme), so the page can hide the key of a layer turned off.
    A <details> element, so a phone can fold it away (it starts folded there) with no script of
    its own; its body scrolls, and takes the keyboard focus so it can be scrolled without a mouse.
    """

    _template = Template(
        """
        {% macro html(this, kwargs) %}
            <details id="{{ this.get_name() }}" class="regional-legend leaflet-control" open>
                <summary>Legend</summary>
                <div class="legend-body" tabindex="0" role="region" aria-label="Legend">
                <h2>{{ this.title|e }}</h2>
                {%- for layer_id, layer_title, entries in this.sections %}
                <section data-theme="{{ layer_id|e }}">
                <h3>{{ layer_title|e }}</h3>
                <ul>
                    {%- for label, colour in entries %}
                    <li><span class="swatch" style="background: {{ colour|e }}"></span>
                        {{- label|e }}</li>
                    {%- endfor %}
                </ul>
                </section>
                {%- endfor %}
                </div>
            </details>
        {% endmacro %}

        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.control({position: "bottomleft"});
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

    def __init__(self, title: str, sections: list[tuple[str, str, list[tuple[str, str]]]]) -> None:
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


def credits(theme: ThemeSpec, publishers: Sequence[str]) -> list[str]:
    """The theme's publishers and licence, each credited once on the map however many layers
    share it (regional-map.js adds them to Leaflet's attribution line one by one).

    Leaflet puts attributions into the page as HTML, so the text is escaped here.
    """
    return [escape(name) for name in publishers] + [escape(f"Licence: {theme.licence}")]


def theme_config(
    theme: ThemeSpec,
    protocols: Protocols,
    *,
    items_url: str = DEFAULT_ITEMS_URL,
    tiles_url: str | None = None,
    source: LayerSource = "tiles",
    publishers: Sequence[str] = (),
    bounds_wgs84: tuple[float, float, float, float] | None = None,
) -> dict[str, Any]:
    """The theme as regionalMap.themeLayer() in static/regional-map.js expects it.

    bounds_wgs84, the tileset's bounds, keeps the browser from asking for tiles outside them.
    """
    return {
        "id": theme.id,
        "title": theme.title,
        "credits": credits(theme, publishers),
        "colourBy": theme.style.colour_by,
        "colours": theme.style.colours,
        "defaultColour": theme.style.default_colour,
        "popup": [
            _popup_field(theme, name, protocols)
            for name in theme.style.popup
            if not theme.field(name).sensitive  # the public map never shows them
        ],
        "naturalKey": theme.natural_key[0] if len(theme.natural_key) == 1 else None,
        "itemsUrl": items_url.format(collection=theme.id),
        "tilesUrl": tiles_url.format(collection=theme.id) if tiles_url else None,
        "source": source,
        "bounds": leaflet_bounds(bounds_wgs84) if bounds_wgs84 else None,
    }


def leaflet_bounds(bounds_wgs84: tuple[float, float, float, float]) -> list[list[float]]:
    """(west, south, east, north), as an OGC bbox, to Leaflet's [[south, west], [north, east]]."""
    west, south, east, north = bounds_wgs84
    return [[south, west], [north, east]]


def _use_local_assets(fmap: folium.Map, assets_url: str) -> None:
    """Point the page at our own copies of its scripts and styles instead of folium's CDNs.

    folium.Map keeps its CDN links in class-level lists; replacing them on this instance leaves
    other maps alone. Only Leaflet and VectorGrid are needed: no jQuery or Bootstrap is used.
    """
    fmap.default_js = [
        ("leaflet", f"{assets_url}/vendor/leaflet/leaflet.js"),
        ("vectorgrid", f"{assets_url}/vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js"),
        ("vectorgrid_compat", f"{assets_url}/vectorgrid-compat.js"),
        ("regional_map", f"{assets_url}/regional-map.js"),
    ]
    fmap.default_css = [
        ("leaflet_css", f"{assets_url}/vendor/leaflet/leaflet.css"),
        ("regional_map_css", f"{assets_url}/regional-map.css"),
    ]


def _accessible(page: str) -> str:
    """Declare the page's language and let phone readers zoom (folium's viewport forbids it)."""
    page = page.replace("<html>", '<html lang="en-GB">', 1)
    return re.sub(
        r'<meta name="viewport"[^>]*>',
        '<meta name="viewport" content="width=device-width, initial-scale=1" />',
        page,
        count=1,
    )


def _base_map(
    title: str,
    bounds_wgs84: tuple[float, float, float, float],
    assets_url: str,
    basemap: Basemap | None,
    boundaries_url: str | None,
) -> tuple[folium.Map, RemoteGeoJson | None]:
    """A titled map on our own assets, the base map if any, and the member boundaries."""
    west, south, east, north = bounds_wgs84
    fmap = folium.Map(
        location=((south + north) / 2, (west + east) / 2), tiles=None, control_scale=True
    )
    _use_local_assets(fmap, assets_url.rstrip("/"))
    fmap.get_root().title = escape(title)
    if basemap:
        folium.TileLayer(basemap.url, attr=escape(basemap.attribution), control=False).add_to(fmap)
    boundaries = None
    if boundaries_url:
        outline = JsCode("regionalMap.outlineOptions()")
        boundaries = RemoteGeoJson(boundaries_url, "Boundaries", outline, control=False)
        boundaries.add_to(fmap)
    return fmap, boundaries


def _finish(fmap: folium.Map, layers: list[ThemeLayer], features: MapFeatures) -> str:
    for layer in layers:
        layer.add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    features.add_to(fmap)
    return _accessible(fmap.get_root().render())


def build_regional_map(
    protocols: Protocols,
    *,
    title: str,
    bounds_wgs84: tuple[float, float, float, float],
    items_url: str = DEFAULT_ITEMS_URL,
    tiles_url: str | None = DEFAULT_TILES_URL,
    source: LayerSource = "tiles",
    assets_url: str = DEFAULT_ASSETS_URL,
    boundaries_url: str | None = None,
    basemap: Basemap | None = None,
    publishers: Mapping[str, Sequence[str]] | None = None,
    places: Sequence[Place] = EAST_MIDLANDS,
    full_map_url: str = "/map",
) -> str:
    """Render the public map page: a toggleable layer per theme, a legend, search and controls.

    items_url and tiles_url are formatted with each theme's collection id (tiles_url keeps
    Leaflet's {z}/{y}/{x}); the browser fetches them, so the map follows the live feeds. With no
    tiles_url, or source="geojson", themes come from the items feed. assets_url is where
    STATIC_DIR is served. bounds_wgs84 is (west, south, east, north) in degrees, as in an OGC
    bbox. boundaries_url, if given, is a GeoJSON drawn as outlines and searched by name.
    publishers maps a theme id to the names credited on its layer; places are searched by name.
    """
    fmap, boundaries = _base_map(title, bounds_wgs84, assets_url, basemap, boundaries_url)
    publishers = publishers or {}
    themes = list(protocols.themes.values())
    layers = [
        ThemeLayer(
            theme_config(
                theme,
                protocols,
                items_url=items_url,
                tiles_url=tiles_url,
                source=source,
                publishers=publishers.get(theme.id, ()),
                bounds_wgs84=bounds_wgs84,
            )
        )
        for theme in themes
    ]
    sections = [(t.id, t.title, legend_entries(t, protocols)) for t in themes]
    Legend(title, sections).add_to(fmap)
    features = MapFeatures(layers, boundaries, places, full_map_url, bounds_wgs84)
    return _finish(fmap, layers, features)


QUARANTINE_COLOUR = "#d7191c"
BOUNDARY_ISSUE_COLOUR = "#7b3294"


def _text_fields(*names: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"name": n, "title": t, "type": "text", "labels": {}} for n, t in names]


def build_quality_map(
    *,
    title: str,
    bounds_wgs84: tuple[float, float, float, float],
    quarantine_url: str,
    boundary_issues_url: str | None = None,
    assets_url: str = DEFAULT_ASSETS_URL,
    boundaries_url: str | None = None,
    basemap: Basemap | None = None,
) -> str:
    """The partners' data-quality map: quarantined features and, when checked, boundary issues.

    Quarantined features are drawn where the publisher's file put them, so a feature in the sea
    or in another county shows a CRS or coordinate mix-up at a glance.
    """
    fmap, boundaries = _base_map(title, bounds_wgs84, assets_url, basemap, boundaries_url)
    quarantine = {
        "id": "quarantine",
        "title": "Quarantined features",
        "credits": [],
        "colourBy": None,
        "colours": {},
        "defaultColour": QUARANTINE_COLOUR,
        "popup": _text_fields(
            ("reason", "Why it was held back"),
            ("theme", "Theme"),
            ("source", "Source"),
            ("run_id", "Run"),
            ("source_row", "Row in the file"),
        ),
        "naturalKey": None,
        "itemsUrl": quarantine_url,
        "tilesUrl": None,
        "source": "geojson",
    }
    configs = [quarantine]
    if boundary_issues_url:
        configs.append(
            {
                **quarantine,
                "id": "boundary-issues",
                "title": "Boundary issues",
                "defaultColour": BOUNDARY_ISSUE_COLOUR,
                "popup": [],  # every property: the check's own fields
                "itemsUrl": boundary_issues_url,
            }
        )
    layers = [ThemeLayer(config) for config in configs]
    sections = [(c["id"], c["title"], [(c["title"], c["defaultColour"])]) for c in configs]
    Legend(title, sections).add_to(fmap)
    features = MapFeatures(layers, boundaries, EAST_MIDLANDS, "/quality/map", bounds_wgs84)
    return _finish(fmap, layers, features)
