"""Publishers and tokens: issued once, stored hashed, checked on every request."""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
import pytest
from uploading import (  # noqa: F401
    bearer,
    client_fixture,
    deployment_fixture,
    geojson,
    good,
    server_fixture,
    token,
    upload,
)

from ingest.db import transaction
from server.access import Role, authenticate
from server.cli import main
from server.deployment import Deployment


@pytest.fixture()
def cli_env(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", deployment.database_url)
    monkeypatch.setenv("RGIS_CONFIG_DIR", str(deployment.settings.config_dir))
    monkeypatch.setenv("RGIS_STATE_DIR", str(deployment.settings.state_dir))


def test_a_token_is_stored_only_as_a_salted_digest(deployment: Deployment) -> None:
    token_id, secret = token(deployment)
    with transaction(deployment.database_url) as cur:
        cur.execute("SELECT api_token::text FROM api_token WHERE id = %s", (token_id,))
        stored = cur.fetchone()[0]
    assert secret.startswith(f"rgis_{token_id}_")
    assert secret.rsplit("_", 1)[1] not in stored


def test_an_uploader_token_signs_in_as_its_publisher_and_sees_only_its_sources(
    deployment: Deployment, client: httpx.Client
) -> None:
    token_id, secret = token(deployment, "spec-north")
    me = client.get("/api/me", headers=bearer(secret)).json()
    assert me["token"] == token_id and me["publisher"]["id"] == "spec-north"
    assert {s["id"] for s in me["sources"]} == {"spec-north-roadworks", "spec-north-csv"}


def test_no_token_is_refused_with_401_and_www_authenticate_bearer(client: httpx.Client) -> None:
    response = client.get("/api/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert "Authorization: Bearer" in response.json()["detail"]


def test_a_wrong_secret_is_refused(deployment: Deployment, client: httpx.Client) -> None:
    token_id, _ = token(deployment)
    response = client.get("/api/me", headers=bearer(f"rgis_{token_id}_{'x' * 43}"))
    assert response.status_code == 401 and "not valid" in response.json()["detail"]


def test_a_token_that_is_not_ours_is_refused(client: httpx.Client) -> None:
    response = client.get("/api/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")


def test_an_expired_token_is_refused_on_its_next_request(
    deployment: Deployment, client: httpx.Client
) -> None:
    token_id, secret = token(deployment)
    assert client.get("/api/me", headers=bearer(secret)).status_code == 200
    with transaction(deployment.database_url) as cur:
        cur.execute("UPDATE api_token SET expires_at = now() - interval '1 s' WHERE id = %s",
                    (token_id,))  # fmt: skip
    response = client.get("/api/me", headers=bearer(secret))
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_a_revoked_token_is_refused_on_its_next_request(
    deployment: Deployment, client: httpx.Client, cli_env: None
) -> None:
    token_id, secret = token(deployment)
    assert client.get("/api/me", headers=bearer(secret)).status_code == 200
    assert main(["tokens", "revoke", token_id]) == 0
    response = client.get("/api/me", headers=bearer(secret))
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def test_tokens_create_prints_a_working_token_once(
    client: httpx.Client, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tokens", "create", "--publisher", "spec-south", "--role", "uploader"]) == 0
    secret = capsys.readouterr().out.strip()
    me = client.get("/api/me", headers=bearer(secret)).json()
    assert me["publisher"]["id"] == "spec-south" and me["role"] == "uploader"
    main(["tokens", "list", "--publisher", "spec-south"])
    assert secret.rsplit("_", 1)[1] not in capsys.readouterr().out


def test_tokens_create_refuses_an_unknown_publisher(
    cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tokens", "create", "--publisher", "nobody", "--role", "uploader"]) == 2
    assert "unknown publisher 'nobody'" in capsys.readouterr().err


def test_publishers_add_puts_a_partner_beside_the_config_publishers(
    cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["publishers", "add", "spec-fire", "--name", "Spec Fire Service (fictional)"]) == 0
    main(["publishers", "list"])
    listing = capsys.readouterr().out
    assert "spec-fire" in listing and "partner" in listing
    assert "trentvale" in listing and "config" in listing


def test_a_partner_token_authenticates_but_may_not_upload(
    deployment: Deployment, client: httpx.Client
) -> None:
    _, secret = token(deployment, "spec-north", Role.PARTNER)
    assert client.get("/api/me", headers=bearer(secret)).json()["sources"] == []
    response = upload(client, secret, "works.geojson", geojson(good(1)))
    assert response.status_code == 403 and "read-only" in response.json()["detail"]


def test_authenticate_gives_other_routes_the_principal_or_none(
    deployment: Deployment, server: str
) -> None:
    from starlette.requests import Request

    from server.access import Access

    token_id, secret = token(deployment)
    app = type("App", (), {"state": type("State", (), {"access": Access(deployment.database_url)})})

    def request(header: str | None) -> Request:
        headers = [(b"authorization", header.encode())] if header else []
        return Request({"type": "http", "headers": headers, "app": app})

    principal = authenticate(request(f"Bearer {secret}"))
    assert principal is not None and principal.token_id == token_id
    assert principal.publisher == "spec-north" and principal.role == Role.UPLOADER
    assert authenticate(request(None)) is None
    assert authenticate(request("Bearer rgis_nope_nope")) is None


def test_refusals_of_unknown_callers_are_logged(
    client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="regiongis.upload"):
        client.get("/api/me", headers=bearer("rgis_abc_def"))
    assert any("refused GET /api/me" in r.getMessage() for r in caplog.records)


def test_token_expiry_is_parsed_in_days_hours_or_never() -> None:
    from server.access.tokens import parse_expiry

    assert parse_expiry("90d") == timedelta(days=90)
    assert parse_expiry("12h") == timedelta(hours=12)
    assert parse_expiry("never") is None
