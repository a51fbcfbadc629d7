"""The upload API: a publisher's file goes in, a job comes back, the worker makes it live."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import geopandas as gpd
import httpx
import pytest
from uploading import audit_rows, bearer, geojson, good, live_rows, token, upload, wait_for_job

from server.deployment import Deployment

EASTINGS, NORTHINGS = [457000.0, 457100.0, 457200.0], [340000.0, 340050.0, 340100.0]


pytestmark = pytest.mark.usefixtures("worker")


def works(prefix: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "ref": [f"{prefix}-{i}" for i in range(3)],
            "kind": ["Resurface"] * 3,
            "state": ["Live", "Plan", "Live"],
            "starts": ["03/11/2026"] * 3,
        },
        geometry=gpd.points_from_xy(EASTINGS, NORTHINGS),
        crs=27700,
    )


def as_file(frame: gpd.GeoDataFrame, tmp_path: Path, fmt: str) -> tuple[str, bytes]:
    """The frame written the way a publisher would send it in this format."""
    if fmt == "shapefile":
        frame.to_file(tmp_path / "works.shp")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
            for part in tmp_path.glob("works.*"):
                z.write(part, f"export/{part.name}")
        return "works.zip", buffer.getvalue()
    if fmt == "csv":
        table = frame.drop(columns="geometry").assign(easting=frame.geometry.x,
                                                      northing=frame.geometry.y)  # fmt: skip
        return "works.csv", table.to_csv(index=False).encode()
    suffix, driver = {"geojson": (".geojson", "GeoJSON"), "gpkg": (".gpkg", "GPKG"),
                      "fgb": (".fgb", "FlatGeobuf"), "kml": (".kml", "KML"),
                      "gml": (".gml", "GML")}[fmt]  # fmt: skip
    path = tmp_path / f"works{suffix}"
    frame.to_file(path, driver=driver)
    return path.name, path.read_bytes()


def test_an_upload_is_answered_202_with_the_job_url(
    deployment: Deployment, client: httpx.Client
) -> None:
    _, secret = token(deployment)
    response = upload(client, secret, "works.geojson", geojson(good(2, "ACCEPT")))
    assert response.status_code == 202
    body = response.json()
    assert response.headers["location"] == body["url"]
    assert body["url"].endswith(f"/api/jobs/{body['job']}")
    wait_for_job(client, secret, body["url"])


@pytest.mark.parametrize("fmt", ["geojson", "shapefile", "gpkg", "fgb", "csv", "kml", "gml"])
def test_every_format_the_ingest_reads_goes_live_through_the_worker(
    deployment: Deployment, client: httpx.Client, tmp_path: Path, fmt: str
) -> None:
    _, secret = token(deployment)
    source = "spec-north-csv" if fmt == "csv" else "spec-north-roadworks"
    name, content = as_file(works(fmt.upper()), tmp_path, fmt)
    job = wait_for_job(client, secret, upload(client, secret, name, content, source).json()["url"])
    assert job["status"] == "succeeded", job["message"]
    assert job["summary"]["loaded"] == 3 and job["progress"] == 1
    assert [r[0] for r in live_rows(deployment.database_url, source)] == [
        f"{fmt.upper()}-{i}" for i in range(3)
    ]


def test_a_dry_run_reports_what_would_load_and_changes_nothing(
    deployment: Deployment, client: httpx.Client
) -> None:
    _, secret = token(deployment)
    wait_for_job(
        client, secret, upload(client, secret, "a.geojson", geojson(good(2, "DRY"))).json()["url"]
    )
    before = live_rows(deployment.database_url, "spec-north-roadworks")
    response = upload(client, secret, "b.geojson", geojson(good(5, "WET")), dry_run="true")
    job = wait_for_job(client, secret, response.json()["url"])
    assert job["kind"] == "check" and job["status"] == "succeeded"
    assert job["summary"]["input"] == 5 and job["summary"]["loaded"] == 5
    assert live_rows(deployment.database_url, "spec-north-roadworks") == before


def test_a_job_reports_issues_by_rule_and_links_the_ingest_report(
    deployment: Deployment, client: httpx.Client
) -> None:
    _, secret = token(deployment)
    features = good(2, "RULE")
    features[1]["properties"]["kind"] = "Teleport"
    job = wait_for_job(
        client, secret, upload(client, secret, "w.geojson", geojson(features)).json()["url"]
    )
    assert job["summary"]["quarantined"] == 1
    rule = next(r for r in job["rules"] if r["examples"][0]["value"] == "Teleport")
    assert rule["count"] == 1 and rule["fix"]
    report = client.get(job["report"], headers=bearer(secret))
    assert report.status_code == 200 and "Teleport" in report.text
    assert "default-src 'none'" in report.headers["content-security-policy"]


def test_a_job_is_visible_only_to_its_publisher(
    deployment: Deployment, client: httpx.Client
) -> None:
    _, north = token(deployment, "spec-north")
    _, south = token(deployment, "spec-south")
    url = upload(client, north, "w.geojson", geojson(good(1, "MINE"))).json()["url"]
    wait_for_job(client, north, url)
    assert client.get(url, headers=bearer(south)).status_code == 404
    assert client.get(f"{url}/report", headers=bearer(south)).status_code == 404


def test_the_upload_folder_is_emptied_once_the_job_ends(
    deployment: Deployment, client: httpx.Client
) -> None:
    _, secret = token(deployment)
    url = upload(client, secret, "w.geojson", geojson(good(1, "TIDY"))).json()["url"]
    wait_for_job(client, secret, url)
    assert list(deployment.settings.uploads_folder.iterdir()) == []


def test_who_uploaded_what_and_the_result_are_in_the_audit_log(
    deployment: Deployment, client: httpx.Client
) -> None:
    token_id, secret = token(deployment)
    response = upload(client, secret, "audited.geojson", geojson(good(2, "AUDIT")))
    wait_for_job(client, secret, response.json()["url"])
    actions = [(a, t) for a, t, _ in audit_rows(deployment.database_url, token_id)]
    assert actions == [
        ("upload", "spec-north-roadworks"),
        ("job-succeeded", "spec-north-roadworks"),
    ]
    upload_detail = audit_rows(deployment.database_url, token_id)[0][2]
    assert upload_detail["file"] == "audited.geojson" and len(upload_detail["sha256"]) == 64
