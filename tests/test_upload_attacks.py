"""Bad input and attacks on uploads: each refused with a clear message, nothing written, logged."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
from collections.abc import Iterator
from datetime import timedelta

import httpx
import psycopg2
import pytest
from uploading import audit_rows, bearer, geojson, good, live_rows, token, upload, wait_for_job

from ingest.db import transaction
from server.cli import main
from server.deployment import Deployment

ENTITY_BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE kml [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
]>
<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>&c;</name>
<Point><coordinates>-1.15,52.95</coordinates></Point></Placemark></kml>
"""


pytestmark = pytest.mark.usefixtures("worker")


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in members.items():
            z.writestr(name, content)
    return buffer.getvalue()


def jobs_of(deployment: Deployment, token_id: str) -> int:
    with transaction(deployment.database_url) as cur:
        cur.execute("SELECT count(*) FROM upload_job WHERE token_id = %s", (token_id,))
        return cur.fetchone()[0]


def assert_refused(
    response: httpx.Response, status: int, deployment: Deployment, token_id: str | None, words: str
) -> None:
    """Refused with this status and a message saying why; nothing kept; audited if we know who."""
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]
    with transaction(deployment.database_url) as cur:
        cur.execute("SELECT folder FROM upload_job")
        queued = {row[0] for row in cur.fetchall()}
    kept = {str(p) for p in deployment.settings.uploads_folder.iterdir()}
    assert kept <= queued
    if token_id is not None:
        assert jobs_of(deployment, token_id) == 0
        action, _, detail = audit_rows(deployment.database_url, token_id)[-1]
        assert action == "upload-refused" and detail["status"] == status


def assert_upload_refused(
    deployment: Deployment,
    client: httpx.Client,
    name: str,
    content: bytes,
    status: int,
    words: str,
    source: str = "spec-north-roadworks",
) -> None:
    """An upload with a fresh token of spec-north's, refused as assert_refused checks."""
    token_id, secret = token(deployment)
    response = upload(client, secret, name, content, source)
    assert_refused(response, status, deployment, token_id, words)


@pytest.mark.parametrize("problem", ["missing", "wrong", "expired", "revoked"])
def test_uploads_without_a_live_token_are_refused_401(
    deployment: Deployment, client: httpx.Client, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_id, secret = token(deployment, expires=timedelta(days=1))
    if problem == "wrong":
        secret = secret[:-4] + "AAAA"
    elif problem == "expired":
        with transaction(deployment.database_url) as cur:
            cur.execute("UPDATE api_token SET expires_at = now() WHERE id = %s", (token_id,))
    elif problem == "revoked":
        monkeypatch.setenv("DATABASE_URL", deployment.database_url)
        monkeypatch.setenv("RGIS_CONFIG_DIR", str(deployment.settings.config_dir))
        main(["tokens", "revoke", token_id])
    response = upload(client, None if problem == "missing" else secret, "w.geojson",
                      geojson(good(1)))  # fmt: skip
    assert response.headers["www-authenticate"].startswith('Bearer realm="regiongis"')
    words = {"missing": "no token", "wrong": "not valid", "expired": "expired",
             "revoked": "revoked"}[problem]  # fmt: skip
    assert_refused(response, 401, deployment, None, words)
    assert jobs_of(deployment, token_id) == 0


def test_a_publisher_cannot_upload_to_another_publishers_source(
    deployment: Deployment, client: httpx.Client
) -> None:
    before = live_rows(deployment.database_url, "spec-south-roadworks")
    token_id, north = token(deployment, "spec-north")
    response = upload(client, north, "w.geojson", geojson(good(1)), "spec-south-roadworks")
    assert_refused(response, 403, deployment, token_id, "belongs to publisher spec-south")
    assert live_rows(deployment.database_url, "spec-south-roadworks") == before


def test_an_unknown_source_is_refused_with_the_publishers_own_sources(
    deployment: Deployment, client: httpx.Client
) -> None:
    content = geojson(good(1))
    words = "spec-north-roadworks"
    assert_upload_refused(deployment, client, "w.geojson", content, 400, words, source="nowhere")


@pytest.mark.parametrize("name", ["../../evil.geojson", "/tmp/evil.geojson", "C:/evil.geojson"])
def test_a_zip_whose_names_escape_its_folder_is_refused(
    deployment: Deployment, client: httpx.Client, name: str
) -> None:
    content = zipped({name: geojson(good(1))})
    assert_upload_refused(deployment, client, "w.zip", content, 422, "points outside the archive")
    assert not (deployment.settings.state_dir.parent / "evil.geojson").exists()


def test_a_zip_holding_a_symbolic_link_is_refused(
    deployment: Deployment, client: httpx.Client
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        link = zipfile.ZipInfo("works.geojson")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(link, "/etc/passwd")
    assert_upload_refused(deployment, client, "w.zip", buffer.getvalue(), 422, "symbolic link")


def test_a_zip_bomb_is_refused_from_its_directory(
    deployment: Deployment, client: httpx.Client
) -> None:
    content = zipped({"works.geojson": b" " * 7_000_000 + geojson(good(1))})
    assert len(content) < 100_000
    assert_upload_refused(deployment, client, "w.zip", content, 422, "zip bomb")


def lying_zip(real: bytes, claimed: int) -> bytes:
    """A zip whose directory says its one member is `claimed` bytes long."""
    data = bytearray(zipped({"works.geojson": real}))
    central = data.rindex(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, claimed)  # uncompressed size, central directory
    struct.pack_into("<I", data, 22, claimed)  # and in the local header
    return bytes(data)


def test_a_zip_whose_directory_lies_about_sizes_is_caught_while_extracting(
    deployment: Deployment, client: httpx.Client
) -> None:
    content = lying_zip(b" " * 5_000_000 + geojson(good(1)), claimed=1000)
    assert_upload_refused(deployment, client, "w.zip", content, 422, "do not match its directory")


def test_a_file_over_the_size_limit_is_refused_413(
    deployment: Deployment, client: httpx.Client
) -> None:
    too_big = geojson(good(1)) + b" " * deployment.settings.upload_max_bytes
    assert_upload_refused(
        deployment, client, "w.geojson", too_big, 413, "larger than this server accepts"
    )


def test_a_streamed_upload_is_cut_off_as_soon_as_it_passes_the_limit(
    deployment: Deployment, client: httpx.Client
) -> None:
    """No Content-Length to refuse early on: the stream itself is counted."""
    token_id, secret = token(deployment)
    boundary = "spec-boundary"

    def body() -> Iterator[bytes]:
        yield (f'--{boundary}\r\nContent-Disposition: form-data; name="source"\r\n\r\n'
               f"spec-north-roadworks\r\n--{boundary}\r\nContent-Disposition: form-data; "
               f'name="file"; filename="w.geojson"\r\n\r\n').encode()  # fmt: skip
        for _ in range(40):
            yield b" " * 100_000
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = bearer(secret) | {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    response = client.post("/api/uploads", headers=headers, content=body())
    assert_refused(response, 413, deployment, token_id, "larger than this server accepts")


@pytest.mark.parametrize(
    ("name", "content", "looks"),
    [
        ("works.geojson", zipped({"a.txt": b"x"}), "a zip archive"),
        ("works.gpkg", b'{"type": "FeatureCollection", "features": []}', "JSON"),
        ("works.fgb", b"ref,kind\nA,B\n", "text"),
        ("works.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
        ("works.kml", b'{"type": "FeatureCollection"}', "JSON"),
        ("works.zip", b"<kml></kml>", "XML"),
        ("works.geojson", b"SQLite format 3\x00" + b"\x00" * 100, "a GeoPackage/SQLite database"),
    ],
)
def test_a_file_whose_contents_do_not_match_its_extension_is_refused(
    deployment: Deployment, client: httpx.Client, name: str, content: bytes, looks: str
) -> None:
    assert_upload_refused(deployment, client, name, content, 415, f"the contents are {looks}")


def test_a_shapefile_part_that_is_not_a_shapefile_is_refused(
    deployment: Deployment, client: httpx.Client
) -> None:
    content = zipped({"w.shp": b"not a shapefile", "w.shx": b"", "w.dbf": b""})
    words = "w.shp: the name says Shapefile"
    assert_upload_refused(deployment, client, "w.zip", content, 415, words)


@pytest.mark.parametrize("name", ["works.exe", "works.shp", "works"])
def test_a_format_we_do_not_read_is_refused_with_the_ones_we_do(
    deployment: Deployment, client: httpx.Client, name: str
) -> None:
    assert_upload_refused(
        deployment, client, name, b"MZ\x90\x00", 415, "a Shapefile goes in a .zip"
    )


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("works.kml", ENTITY_BOMB),
        ("works.gml", ENTITY_BOMB.replace(b"kml", b"gml")),
        (
            "works.kml",
            b"<?xml version='1.0'?>\n<!--"
            + b"x" * 1_500_000
            + b"-->"
            + b'<!DOCTYPE kml SYSTEM "file:///etc/passwd"><kml/>',
        ),  # fmt: skip
        ("works.zip", zipped({"inner/works.kml": ENTITY_BOMB})),
    ],
)
def test_xml_with_a_dtd_or_entities_is_refused_before_gdal_sees_it(
    deployment: Deployment, client: httpx.Client, name: str, content: bytes
) -> None:
    assert_upload_refused(deployment, client, name, content, 422, "<!DOCTYPE> or <!ENTITY>")


@pytest.mark.parametrize(
    ("name", "content", "source", "words"),
    [
        ("works.geojson", b'{"type": "FeatureCollection", "features": [{"type": "Feat',
         "spec-north-roadworks", "works.geojson"),
        ("works.kml", b"<kml><Placemark><name>unclosed", "spec-north-roadworks", "works.kml"),
        ("works.csv", b'ref,kind\n"A,B\nC', "spec-north-csv", "has no column"),
    ],
)  # fmt: skip
def test_a_malformed_file_fails_its_job_with_the_reason_and_changes_no_live_data(
    deployment: Deployment, client: httpx.Client, name: str, content: bytes, source: str, words: str
) -> None:
    token_id, secret = token(deployment)
    before = live_rows(deployment.database_url, source)
    job = wait_for_job(client, secret, upload(client, secret, name, content, source).json()["url"])
    assert job["status"] == "failed" and words in job["message"]
    assert live_rows(deployment.database_url, source) == before
    assert audit_rows(deployment.database_url, token_id)[-1][0] == "job-failed"


def test_script_in_attribute_values_is_stored_as_plain_text(
    deployment: Deployment, client: httpx.Client
) -> None:
    _, secret = token(deployment)
    hostile = "<script>alert('x')</script>"
    features = good(1)
    features[0]["properties"]["ref"] = hostile
    job = wait_for_job(
        client, secret, upload(client, secret, "w.geojson", geojson(features)).json()["url"]
    )
    assert job["status"] == "succeeded"
    assert live_rows(deployment.database_url, "spec-north-roadworks") == [(hostile, "in-progress")]


def test_uploads_beyond_the_rate_limit_are_refused_429_with_retry_after(
    deployment: Deployment, client: httpx.Client
) -> None:
    token_id, secret = token(deployment)
    limit = deployment.settings.upload_rate_limit
    for _ in range(limit):
        upload(client, secret, "w.geojson", geojson(good(1)), dry_run="true")
    response = upload(client, secret, "w.geojson", geojson(good(1)))
    assert response.status_code == 429
    assert 0 < int(response.headers["retry-after"]) <= deployment.settings.upload_rate_window
    assert f"the limit is {limit}" in response.json()["detail"]
    # the dry runs' jobs may finish (and be audited) after the refusal
    actions = [row[0] for row in audit_rows(deployment.database_url, token_id)]
    assert "upload-rate-limited" in actions
    _, other = token(deployment)
    assert upload(client, other, "w.geojson", geojson(good(1)), dry_run="true").status_code == 202


def test_a_refused_upload_is_written_to_the_log(
    deployment: Deployment, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    token_id, secret = token(deployment)
    with caplog.at_level("WARNING", logger="regiongis.upload"):
        upload(client, secret, "w.zip", zipped({"../x.geojson": b"{}"}))
    assert any(token_id in r.getMessage() and "outside" in r.getMessage() for r in caplog.records)


def test_the_form_must_carry_exactly_one_file(deployment: Deployment, client: httpx.Client) -> None:
    token_id, secret = token(deployment)
    response = client.post(
        "/api/uploads", headers=bearer(secret), data={"source": "spec-north-roadworks"},
        files=[("file", ("a.geojson", b"{}")), ("file", ("b.geojson", b"{}"))],
    )  # fmt: skip
    assert_refused(response, 400, deployment, token_id, "exactly one file")


def test_a_file_claiming_another_publisher_is_loaded_as_the_tokens_own(
    deployment: Deployment, client: httpx.Client
) -> None:
    """Provenance comes from the token's source, never from the file: a `publisher` or `source`
    column naming a neighbour is just an unmapped attribute."""
    _, secret = token(deployment, "spec-south")
    forged = good(2, "FORGED")
    for f in forged:
        f["properties"] |= {"publisher": "spec-north", "source": "spec-north-roadworks"}
    response = upload(client, secret, "w.geojson", geojson(forged), source="spec-south-roadworks")

    job = wait_for_job(client, secret, response.json()["url"])

    assert job["status"] == "succeeded"
    with psycopg2.connect(deployment.database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT publisher, source FROM roadworks WHERE reference LIKE 'FORGED-%'"
        )
        assert cur.fetchall() == [("spec-south", "spec-south-roadworks")]
