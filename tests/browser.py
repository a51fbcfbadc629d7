"""Open pages in real headless Chromium for tests, recording what went wrong while they loaded.

Only a browser shows whether a map actually draws: scripts run, feeds are fetched, nothing is asked
of another host. A missing Playwright or Chromium is an error, not a skip, so CI cannot pass
without having looked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import Dialog, Page, Playwright, Request, Response, Route

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
NON_NETWORK_SCHEMES = {"data", "blob", "about"}
VIEWPORT = {"width": 1280, "height": 800}


class BrowserUnavailable(RuntimeError):
    """Playwright or Chromium is not installed; the message says how to install it."""


@dataclass
class PageReport:
    """What a page did while it was open; lists fill in as events arrive.

    failed_requests holds network failures (external requests too, as they are blocked) and
    responses with an HTTP error status; dialogs are alert/confirm/prompt calls, all dismissed.
    """

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    title: str = ""


def is_external(url: str) -> bool:
    """True if fetching url would leave this machine."""
    parts = urlsplit(url)
    return parts.scheme not in NON_NETWORK_SCHEMES and parts.hostname not in LOCAL_HOSTS


def _start_playwright() -> Playwright:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise BrowserUnavailable(
            "Playwright is not installed: run `.venv/bin/pip install -e '.[test]'`"
        ) from exc
    if not CHROMIUM.exists():
        raise BrowserUnavailable(
            f"Chromium is not at {CHROMIUM}: run `apt-get install -y chromium`"
        )
    return sync_playwright().start()


def _record(page: Page, report: PageReport) -> None:
    """Attach listeners that copy the page's errors, requests and dialogs into report."""

    def on_response(response: Response) -> None:
        if response.status >= 400:
            report.failed_requests.append(f"{response.status} {response.url}")

    def on_failed(request: Request) -> None:
        report.failed_requests.append(f"{request.failure} {request.url}")

    def on_dialog(dialog: Dialog) -> None:
        report.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("console", lambda m: m.type == "error" and report.console_errors.append(m.text))
    page.on("pageerror", lambda error: report.page_errors.append(str(error)))
    page.on("requestfailed", on_failed)
    page.on("response", on_response)
    page.on("dialog", on_dialog)


def _block_external(page: Page, report: PageReport) -> None:
    """Record, then refuse, any request for another host, so a test never waits on the internet."""

    def handle(route: Route) -> None:
        if is_external(route.request.url):
            report.external_requests.append(route.request.url)
            route.abort("blockedbyclient")
        else:
            route.continue_()

    page.route("**/*", handle)


@contextmanager
def open_page(
    url: str,
    wait_for: str | None = None,
    token: str | None = None,
    viewport: dict[str, int] | None = None,
) -> Iterator[tuple[Page, PageReport]]:
    """Load url and yield the live page (to click or evaluate JS on) with its report.

    Waits for the network to go idle, and for the CSS selector wait_for if given. The report keeps
    filling while the page is open, so read it after the with-block for the complete picture.
    A token is set as the cookie partner sign-in sets, as if the browser had signed in. A
    viewport other than the desktop's is a phone's: touch and mobile layout on.
    """
    playwright = _start_playwright()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        phone = {"is_mobile": True, "has_touch": True} if viewport else {}
        page = browser.new_page(viewport=viewport or VIEWPORT, **phone)  # type: ignore[arg-type]
        report = PageReport()
        _record(page, report)
        _block_external(page, report)
        if token:
            host = urlsplit(url).hostname or "127.0.0.1"
            cookie = {"name": "rgis_token", "value": token, "domain": host, "path": "/"}
            page.context.add_cookies([cookie])  # type: ignore[list-item]
        page.goto(url, wait_until="networkidle")
        if wait_for:
            page.wait_for_selector(wait_for)
        report.title = page.title()
        yield page, report
    finally:
        playwright.stop()


def load_page(
    url: str, screenshot: Path, wait_for: str | None = None, token: str | None = None
) -> PageReport:
    """Load url as open_page does, save a full-page PNG to screenshot and return the report."""
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    with open_page(url, wait_for, token) as (page, report):
        page.screenshot(path=str(screenshot), full_page=True)
    return report
