"""Validation specification: what can be repaired is repaired and recorded, what cannot be trusted
is quarantined, and every issue names the feature, the rule and what the publisher should fix."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from ingest.validate import validate
from protocols import ThemeSpec

REGION = (436000, 299000, 506000, 373000)
TODAY = pd.Timestamp("2026-11-25")


def theme(geometry_types: list[str], **field_rules) -> ThemeSpec:
    return ThemeSpec.model_validate(
        {
            "id": "spec-parcels",
            "version": "1.0",
            "title": "Spec parcels",
            "description": "For validation specifications.",
            "geometry_types": geometry_types,
            "natural_key": ["ref"],
            "fields": [
                {
                    "name": "ref",
                    "type": "text",
                    "title": "Ref",
                    "required": True,
                    **field_rules.get("ref", {}),
                },
                {"name": "size", "type": "integer", "title": "Size", **field_rules.get("size", {})},
                {"name": "start_date", "type": "date", "title": "Start"},
                {"name": "end_date", "type": "date", "title": "End"},
            ],
        }
    )


POINTS = theme(["Point"])
PARCELS = theme(["MultiPolygon"])


def frame(geoms: list, **columns) -> gpd.GeoDataFrame:
    n = len(geoms)
    data = {
        "ref": [f"R{i}" for i in range(n)],
        "size": pd.array([None] * n, dtype="Int64"),
        "start_date": pd.to_datetime(["2026-01-01"] * n),
        "end_date": pd.to_datetime([None] * n),
    }
    return gpd.GeoDataFrame(data | columns, geometry=geoms, crs=27700)


def point(x: float = 457300, y: float = 340000) -> shapely.Point:
    return shapely.Point(x, y)


def square(x: float = 457300, y: float = 340000) -> shapely.Polygon:
    return shapely.box(x, y, x + 10, y + 10)


def check(data: gpd.GeoDataFrame, spec: ThemeSpec = POINTS):
    return validate(data, spec, REGION, today=TODAY)


def only_issue(found: pd.DataFrame) -> dict:
    [issue] = found.to_dict("records")
    return issue


def test_a_valid_feature_has_no_issues() -> None:
    assert check(frame([point()]))[1].empty


def test_z_values_are_dropped_and_the_repair_recorded() -> None:
    out, found = check(frame([shapely.Point(457300, 340000, 12.5)]))
    assert not out.geometry[0].has_z
    assert (only_issue(found)["rule"], only_issue(found)["severity"]) == (
        "geometry-dimension",
        "fixed",
    )


def test_a_self_intersecting_polygon_is_repaired_with_its_reason() -> None:
    bowtie = shapely.Polygon(
        [(457300, 340000), (457310, 340010), (457310, 340000), (457300, 340010)]
    )
    out, found = check(frame([bowtie]), PARCELS)
    issue = only_issue(found)
    assert out.geometry[0].is_valid and issue["rule"] == "geometry-repaired"
    assert issue["severity"] == "fixed" and "Self-intersection" in issue["value"]


def test_a_polygon_is_promoted_where_the_protocol_wants_multipolygons() -> None:
    out, found = check(frame([square()]), PARCELS)
    assert out.geometry[0].geom_type == "MultiPolygon"
    assert only_issue(found)["message"] == "Polygon stored as MultiPolygon, as the protocol wants"


def test_a_single_part_multipoint_is_demoted_where_the_protocol_wants_points() -> None:
    out, found = check(frame([shapely.MultiPoint([point()])]))
    assert out.geometry[0] == point() and only_issue(found)["rule"] == "geometry-multi"


def test_null_and_empty_geometry_is_rejected() -> None:
    _, found = check(frame([None, shapely.Point()]))
    assert list(found["rule"]) == ["geometry-missing"] * 2
    assert set(found["severity"]) == {"error"}


def test_nan_or_infinite_coordinates_are_rejected() -> None:
    _, found = check(frame([point(float("nan"), 340000), point(float("inf"), 340000)]))
    assert list(found["rule"]) == ["geometry-coordinates"] * 2


def test_the_wrong_kind_of_geometry_is_rejected_naming_the_right_kind() -> None:
    _, found = check(frame([shapely.LineString([(457300, 340000), (457400, 340100)])]))
    assert "geometry must be Point" in only_issue(found)["message"]


def test_lon_lat_read_as_british_national_grid_says_which_crs_to_set() -> None:
    issue = only_issue(check(frame([point(-1.1505, 52.9536)]))[1])
    assert issue["rule"] == "out-of-region"
    assert (
        "look like longitude/latitude (EPSG:4326) but were read as EPSG:27700" in issue["message"]
    )
    assert "set `crs: EPSG:4326`" in issue["message"]


def test_a_feature_at_zero_zero_is_called_a_placeholder() -> None:
    assert "0,0 (a placeholder?)" in only_issue(check(frame([point(0, 0)]))[1])["message"]


def test_a_feature_far_away_says_where_it_is() -> None:
    assert (
        "(at 600000, 100000 in EPSG:27700)"
        in only_issue(check(frame([point(6e5, 1e5)]))[1])["message"]
    )


def test_numbers_outside_the_protocol_range_are_rejected() -> None:
    spec = theme(["Point"], size={"minimum": 1, "maximum": 100})
    sizes = pd.array([0, 50, 101], dtype="Int64")
    _, found = check(frame([point()] * 3, size=sizes), spec)
    assert found[["row", "rule"]].values.tolist() == [[0, "minimum"], [2, "maximum"]]


def test_text_not_matching_the_protocol_pattern_is_rejected() -> None:
    spec = theme(["Point"], ref={"pattern": "^[A-Z]{2}-[0-9]+$"})
    _, found = check(frame([point()] * 2, ref=["AB-12", "ab 12"]), spec)
    assert only_issue(found)["value"] == "ab 12" and only_issue(found)["rule"] == "pattern"


def test_text_longer_than_the_protocol_allows_is_rejected() -> None:
    spec = theme(["Point"], ref={"max_length": 4})
    _, found = check(frame([point()], ref=["TOO-LONG"]), spec)
    assert only_issue(found)["message"] == "longer than 4 characters; correct it"


def test_a_repeated_unique_value_names_the_first_feature_with_it() -> None:
    spec = theme(["Point"], size={"unique": True})
    sizes = pd.array([7, 8, 7], dtype="Int64")
    issue = only_issue(check(frame([point()] * 3, size=sizes), spec)[1])
    assert (issue["row"], issue["rule"]) == (2, "unique")
    assert issue["message"].startswith("the same size as feature 0 earlier in this file")


def test_a_repeated_natural_key_is_rejected_after_its_first_use() -> None:
    issue = only_issue(check(frame([point()] * 2, ref=["R1", "R1"]))[1])
    assert (issue["row"], issue["rule"], issue["value"]) == (1, "duplicate-key", "R1")


def test_an_end_date_before_the_start_date_is_an_error() -> None:
    ends = pd.to_datetime(["2025-12-31"])
    issue = only_issue(check(frame([point()], end_date=ends))[1])
    assert (issue["rule"], issue["severity"]) == ("date-order", "error")
    assert issue["message"] == "end_date is before start_date; correct one of them"


def test_a_date_far_in_the_future_loads_with_a_warning() -> None:
    issue = only_issue(check(frame([point()], start_date=pd.to_datetime(["2206-01-01"])))[1])
    assert (issue["rule"], issue["severity"]) == ("date-range", "warning")
