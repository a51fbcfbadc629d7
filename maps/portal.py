"""The data portal: the landing page, a page per theme and the partners' data-quality page.

The server gathers the facts (counts, runs, publishers) and passes them in as the small frozen
dataclasses below; this module only turns them into HTML, so it needs no database and never
imports the server. Templates live in templates/ and are autoescaped: every value from the
database or a publisher is text, never markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape

from protocols.spec import Protocols, ThemeSpec

UK_TIME = ZoneInfo("Europe/London")
DOWNLOADS = (("GeoPackage", "gpkg"), ("FlatGeobuf", "fgb"), ("CSV", "csv"), ("GeoJSON", "geojson"))


@dataclass(frozen=True)
class PublisherInfo:
    name: str
    kind: str  # council or utility


@dataclass(frozen=True)
class PortalInfo:
    """The partnership, and the absolute URL GIS officers copy feed addresses from."""

    title: str
    description: str
    base_url: str
    publishers: tuple[PublisherInfo, ...]
    assets_url: str = "/static/maps"


@dataclass(frozen=True)
class ThemeCard:
    """One theme as the portal shows it; loaded and quarantined count its latest runs."""

    id: str
    title: str
    description: str
    publishers: tuple[str, ...]
    licence: str
    update_frequency: str
    last_updated: datetime | None
    feature_count: int
    loaded: int = 0
    quarantined: int = 0
    history: tuple[datetime, ...] = ()  # when each successful load finished, oldest first
    sensitive: bool = False

    @property
    def quality_share(self) -> float | None:
        """The share of the latest input that passed every check, or None before any run."""
        total = self.loaded + self.quarantined
        return self.loaded / total if total else None


@dataclass(frozen=True)
class RunRow:
    """One ingest run on the quality page, with links to its reports when they were written."""

    id: int
    source: str
    publisher: str
    theme: str
    status: str
    finished_at: datetime | None
    loaded: int | None
    quarantined: int | None
    message: str | None
    reports: tuple[tuple[str, str], ...] = ()  # (format, url)


def format_when(value: datetime | None) -> str:
    """UK local time, as partners read it: "25 Nov 2026 14:03"."""
    if value is None:
        return "never"
    return value.astimezone(UK_TIME).strftime("%-d %b %Y %H:%M")


def format_share(value: float | None) -> str:
    if value is None:
        return "not yet checked"
    return f"{value:.1%}" if value < 1 else "100%"


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("maps", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = format_when
    env.filters["share"] = format_share
    env.filters["thousands"] = lambda n: f"{n:,}"
    env.globals["downloads"] = DOWNLOADS
    return env


def _render(template: str, portal: PortalInfo, **context: object) -> str:
    return _environment().get_template(template).render(portal=portal, **context)


def render_landing(portal: PortalInfo, cards: Sequence[ThemeCard]) -> str:
    return _render(
        "index.html",
        portal,
        cards=cards,
        total=sum(card.feature_count for card in cards),
    )


def _fields(theme: ThemeSpec, protocols: Protocols) -> list[tuple[str, str, str, str]]:
    """(title, name, type, allowed values) for the theme's public fields."""
    rows = []
    for field in theme.fields:
        if field.sensitive:
            continue
        codelist = protocols.codelist_for(field)
        allowed = ", ".join(v.label for v in codelist.values) if codelist else ""
        rows.append((field.title, field.name, str(field.type), allowed))
    return rows


def render_theme_page(
    portal: PortalInfo, card: ThemeCard, theme: ThemeSpec, protocols: Protocols
) -> str:
    return _render(
        "theme.html",
        portal,
        card=card,
        fields=_fields(theme, protocols),
        history=[(moment.isoformat(), format_when(moment)) for moment in card.history],
    )


def render_quality_page(
    portal: PortalInfo,
    cards: Sequence[ThemeCard],
    runs: Sequence[RunRow],
    has_boundary_checks: bool,
    signed_in: str | None = None,
) -> str:
    """`signed_in` names the partner reading, with a way to sign out."""
    return _render(
        "quality.html",
        portal,
        cards=cards,
        runs=runs,
        has_boundary_checks=has_boundary_checks,
        signed_in=signed_in,
    )
