"""The upload page in real Chromium: sign in with a token, pick a source, send a file, read the
report; keyboard-usable, nothing fetched from elsewhere, publisher text shown as text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browser import load_page, open_page
from uploading import (  # noqa: F401
    HOSTILE,
    client_fixture,
    deployment_fixture,
    geojson,
    good,
    running_worker,
    server_fixture,
    token,
)

from server.deployment import Deployment
from server.settings import PROJECT_ROOT

ARTEFACTS = PROJECT_ROOT / "tests" / "artefacts"


@pytest.fixture(scope="module", autouse=True)
def worker(deployment: Deployment, server: str) -> Iterator[None]:
    with running_worker(deployment):
        yield


def sign_in(page, secret: str) -> None:
    page.fill("#token", secret)
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector("#upload:not([hidden])")


def test_the_page_loads_with_no_error_and_no_request_leaving_loopback(server: str) -> None:
    report = load_page(f"{server}/upload", ARTEFACTS / "upload-sign-in.png", wait_for="#token")
    assert report.console_errors == [] and report.page_errors == []
    assert report.external_requests == [] and report.failed_requests == []
    assert report.title.startswith("Upload data")


def test_a_publisher_uploads_a_file_and_reads_the_job_report(
    deployment: Deployment, server: str, tmp_path: Path
) -> None:
    _, secret = token(deployment)
    features = good(3, "PAGE")
    features[2]["properties"]["kind"] = HOSTILE  # an issue value that is markup
    path = tmp_path / "page-works.geojson"
    path.write_bytes(geojson(features))
    with open_page(f"{server}/upload", wait_for="#token") as (page, report):
        sign_in(page, secret)
        page.select_option("#source", "spec-north-roadworks")
        page.set_input_files("#file", str(path))
        page.click("#send")
        page.wait_for_selector("#job-status.succeeded", timeout=60000)
        summary = page.inner_text("#job-summary")
        shown = page.locator("#job-examples tbody td", has_text="onerror").first.inner_text()
        markup = page.locator("#job-examples tbody img").count()
        pwned = page.evaluate("window.__pwned")
        assert page.is_visible("#job-report")
        page.screenshot(path=str(ARTEFACTS / "upload-job.png"), full_page=True)
    assert "Features read\n3" in summary and "Loaded\n2" in summary and "Quarantined\n1" in summary
    assert shown == HOSTILE and markup == 0 and pwned is None
    assert report.dialogs == [] and report.page_errors == [] and report.external_requests == []


def test_a_hostile_source_title_is_shown_as_text(deployment: Deployment, server: str) -> None:
    _, secret = token(deployment)
    with open_page(f"{server}/upload", wait_for="#token") as (page, report):
        sign_in(page, secret)
        titles = page.locator("#source option").all_inner_texts()
        assert page.locator("#upload img").count() == 0
        assert page.evaluate("window.__pwned") is None
    assert any(t.startswith(HOSTILE) for t in titles) and report.dialogs == []


def test_only_the_publishers_own_sources_are_offered(deployment: Deployment, server: str) -> None:
    _, secret = token(deployment, "spec-south")
    with open_page(f"{server}/upload", wait_for="#token") as (page, _):
        sign_in(page, secret)
        offered = page.eval_on_selector_all("#source option", "os => os.map(o => o.value)")
    assert offered == ["spec-south-roadworks"]


def test_a_wrong_token_says_why_sign_in_failed(server: str) -> None:
    with open_page(f"{server}/upload", wait_for="#token") as (page, _):
        page.fill("#token", "rgis_000000000000_nope")
        page.click("#sign-in-form button[type=submit]")
        page.wait_for_selector("#sign-in-error:not(:empty)")
        message = page.inner_text("#sign-in-error")
        assert page.is_hidden("#upload")
    assert "not valid" in message


def test_the_token_is_kept_for_this_tab_only(deployment: Deployment, server: str) -> None:
    _, secret = token(deployment)
    with open_page(f"{server}/upload", wait_for="#token") as (page, _):
        sign_in(page, secret)
        stored = page.evaluate("[sessionStorage.length, localStorage.length, document.cookie]")
        page.click("#sign-out")
        after = page.evaluate("sessionStorage.length")
    assert stored == [1, 0, ""] and after == 0


def test_the_page_works_from_the_keyboard_and_labels_every_control(
    deployment: Deployment, server: str
) -> None:
    _, secret = token(deployment)
    with open_page(f"{server}/upload", wait_for="#token") as (page, _):
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "token"
        page.keyboard.type(secret)
        page.keyboard.press("Enter")
        page.wait_for_selector("#upload:not([hidden])")
        focused = page.evaluate("document.activeElement.id")
        unlabelled = page.evaluate(
            "[...document.querySelectorAll('input, select')]"
            ".filter(e => e.labels.length === 0).map(e => e.id)"
        )
    assert focused == "source" and unlabelled == []


def test_the_page_forbids_inline_script_and_other_origins(client: httpx.Client) -> None:
    policy = client.get("/upload").headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
