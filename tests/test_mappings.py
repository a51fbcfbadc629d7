"""Mapping specification: all a publisher's file does differently is said in its mapping YAML, and
harmonise turns it into protocol columns, or an issue naming what to fix."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from pydantic import ValidationError

from ingest.errors import ConfigError, UnreadableInput
from ingest.harmonise import harmonise
from ingest.pipeline import check_file
from ingest.region import Region, Source, load_region
from protocols import Protocols, ThemeSpec, load_protocols
from server.settings import DEFAULT_CONFIG_DIR

ASSETS = ThemeSpec.model_validate(
    {
        "id": "spec-assets",
        "version": "1.0",
        "title": "Spec assets",
        "description": "A theme with every kind of field, for mapping specifications.",
        "geometry_types": ["Point"],
        "natural_key": ["asset_id"],
        "fields": [
            {"name": "asset_id", "type": "text", "title": "Asset id", "required": True},
            {"name": "address", "type": "text", "title": "Address"},
            {"name": "lamp", "type": "code", "codelist": "lamp-type", "title": "Lamp"},
            {"name": "diameter", "type": "integer", "title": "Diameter", "unit": "mm"},
            {"name": "power", "type": "decimal", "title": "Power", "unit": "W"},
            {"name": "length", "type": "decimal", "title": "Length", "unit": "m"},
            {"name": "start_date", "type": "date", "title": "Start"},
            {"name": "seen_at", "type": "datetime", "title": "Seen at"},
            {"name": "lit", "type": "boolean", "title": "Lit"},
        ],
    }
)
NOTTINGHAM_BNG = shapely.Point(457300, 340000)
NOTTINGHAM_LONLAT = (-1.1505, 52.9536)


@pytest.fixture(scope="module")
def spec_protocols() -> Protocols:
    real = load_protocols()
    return Protocols(themes={**real.themes, ASSETS.id: ASSETS}, codelists=real.codelists)


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Region:
    return load_region(DEFAULT_CONFIG_DIR, tmp_path_factory.mktemp("data"))


def source(fields: dict, **extra) -> Source:
    doc = {"id": "spec-assets", "publisher": "trentvale", "theme": ASSETS.id, "file": "x"}
    return Source.model_validate({**doc, **extra, "fields": {"asset_id": "ID", **fields}})


def frame(**columns) -> gpd.GeoDataFrame:
    n = len(next(iter(columns.values())))
    columns.setdefault("ID", [f"A{i}" for i in range(n)])
    return gpd.GeoDataFrame(columns, geometry=[NOTTINGHAM_BNG] * n, crs=27700)


def run(src: Source, data: gpd.GeoDataFrame, protocols: Protocols):
    return harmonise(data, src, ASSETS, protocols)


def rules_by_row(found: pd.DataFrame) -> dict[int, list[str]]:
    return found.groupby("row")["rule"].agg(sorted).to_dict()


def test_a_column_name_renames(spec_protocols) -> None:
    out, found = run(source({"address": "ADDR"}), frame(ADDR=[" 1 High St "]), spec_protocols)
    assert out.loc[0, "address"] == "1 High St" and found.empty


def test_a_constant_fills_every_row(spec_protocols) -> None:
    out, _ = run(source({"address": {"value": "Depot"}}), frame(X=[1, 2]), spec_protocols)
    assert list(out["address"]) == ["Depot", "Depot"]


def test_a_default_fills_only_empty_values(spec_protocols) -> None:
    src = source({"address": {"from": "ADDR", "default": "unknown"}})
    out, _ = run(src, frame(ADDR=["Mill Lane", "  ", None]), spec_protocols)
    assert list(out["address"]) == ["Mill Lane", "unknown", "unknown"]


def test_a_default_satisfies_a_required_field(spec_protocols) -> None:
    src = source({"asset_id": {"from": "ID", "default": "UNNUMBERED"}})
    out, found = run(src, frame(ID=[None, "A7"]), spec_protocols)
    assert list(out["asset_id"]) == ["UNNUMBERED", "A7"] and found.empty


def test_code_values_map_after_trimming_and_case_folding(spec_protocols) -> None:
    src = source({"lamp": {"from": "L", "values": {"SON-T": "sodium-high-pressure"}}})
    out, found = run(src, frame(L=[" son-t ", "LED", "candle"]), spec_protocols)
    assert list(out["lamp"][:2]) == ["sodium-high-pressure", "led"]
    assert found.set_index("row").loc[2, "rule"] == "code-value"
    assert "fields.lamp.values" in found.set_index("row").loc[2, "message"]


def test_a_deprecated_code_loads_with_a_warning(spec_protocols) -> None:
    out, found = run(source({"lamp": "L"}), frame(L=["sodium-low-pressure"]), spec_protocols)
    assert out.loc[0, "lamp"] == "sodium-low-pressure"
    [issue] = found.to_dict("records")
    assert (issue["rule"], issue["severity"]) == ("deprecated-code", "warning")
    assert "lamp-type" in issue["message"]


def test_date_formats_are_tried_in_order(spec_protocols) -> None:
    src = source({"start_date": {"from": "D", "format": ["%d/%m/%Y", "%Y%m%d", "%d-%b-%Y"]}})
    out, found = run(
        src, frame(D=["03/11/2026", "20261104", "05-Nov-2026", "5th Nov"]), spec_protocols
    )
    assert [d.day for d in out["start_date"][:3]] == [3, 4, 5]
    assert "%d/%m/%Y or %Y%m%d or %d-%b-%Y" in found.set_index("row").loc[3, "message"]


def test_datetimes_are_stored_in_utc(spec_protocols) -> None:
    src = source({"seen_at": {"from": "T", "format": ["ISO8601"]}})
    out, _ = run(src, frame(T=["2026-06-01T12:00:00+01:00"]), spec_protocols)
    assert out.loc[0, "seen_at"] == pd.Timestamp("2026-06-01T11:00:00Z")


@pytest.mark.parametrize(
    ("field", "unit", "sent", "stored"),
    [("diameter", "in", "4", 102), ("power", "kW", "0.25", 250.0), ("length", "km", "1.5", 1500.0)],
)
def test_units_convert_to_the_protocol_unit(spec_protocols, field, unit, sent, stored) -> None:
    src = source({field: {"from": "V", "unit": unit}})
    out, found = run(src, frame(V=[sent]), spec_protocols)
    assert out.loc[0, field] == pytest.approx(stored) and found.empty


def test_an_unknown_unit_pair_is_refused_by_the_config_check(spec_protocols) -> None:
    src = source({"power": {"from": "V", "unit": "mm"}})
    assert src.check_against(ASSETS) == [
        "source spec-assets: field 'power': cannot convert 'mm' (length) to 'W' (power); "
        "check the `unit` in the source's mapping"
    ]
    with pytest.raises(ConfigError, match="cannot convert 'mm'"):
        run(src, frame(V=["1"]), spec_protocols)


def test_an_unknown_unit_is_named_with_the_known_ones() -> None:
    problems = source({"length": {"from": "V", "unit": "furlong"}}).check_against(ASSETS)
    assert "unknown unit 'furlong'; regiongis converts mm, cm, m, km" in problems[0]


def test_columns_concatenate_skipping_empty_ones(spec_protocols) -> None:
    src = source({"address": {"concat": ["NO", "STREET", "TOWN"], "sep": ", "}})
    data = frame(NO=["12", None], STREET=["Mill Lane", "Bridge St"], TOWN=["Newark", " "])
    out, _ = run(src, data, spec_protocols)
    assert list(out["address"]) == ["12, Mill Lane, Newark", "Bridge St"]


def test_a_split_keeps_the_chosen_part(spec_protocols) -> None:
    src = source({"start_date": {"from": "PERIOD", "split": " to ", "part": 0}})
    out, _ = run(src, frame(PERIOD=["2026-01-05 to 2026-02-01"]), spec_protocols)
    assert out.loc[0, "start_date"] == pd.Timestamp("2026-01-05")


def test_filtered_rows_are_quarantined_once_with_the_filter_as_reason(spec_protocols) -> None:
    src = source({"lamp": "L"}, where={"STATUS": {"not_in": ["draft"]}})
    data = frame(STATUS=["LIVE", " DRAFT ", "draft"], L=["led", "candle", "led"])
    _, found = run(src, data, spec_protocols)
    assert rules_by_row(found) == {1: ["filtered-out"], 2: ["filtered-out"]}
    assert "change `where` in config/sources/spec-assets.yaml" in found.loc[0, "message"]


def test_an_in_filter_leaves_out_rows_not_listed(spec_protocols) -> None:
    src = source({}, where={"STATUS": {"in": ["live"]}})
    _, found = run(src, frame(STATUS=["Live", "Closed", None]), spec_protocols)
    assert sorted(found["row"]) == [1, 2]


def test_a_mapped_column_missing_from_the_file_stops_the_run(spec_protocols) -> None:
    with pytest.raises(UnreadableInput, match="no column 'ADDR'.*config/sources/spec-assets"):
        run(source({"address": "ADDR"}), frame(X=[1]), spec_protocols)


def test_every_configured_mapping_is_still_valid() -> None:
    region = load_region(DEFAULT_CONFIG_DIR)
    assert region.check_against(load_protocols()) == []


def test_a_mapping_takes_exactly_one_origin() -> None:
    with pytest.raises(ValidationError, match="exactly one of 'from'"):
        source({"address": {"from": "A", "concat": ["B", "C"]}})


def test_lon_lat_csv_columns_mean_wgs84() -> None:
    src = source({}, csv={"lon": "LONG", "lat": "LAT"})
    assert (src.crs, src.csv.x, src.csv.y) == ("EPSG:4326", "LONG", "LAT")


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_a_csv_with_lon_lat_columns_is_read_as_wgs84(tmp_path, region, spec_protocols) -> None:
    csv = write_csv(tmp_path / "a.csv", "ID,LONG,LAT\nA1,{},{}\n".format(*NOTTINGHAM_LONLAT))
    src = source({}, csv={"lon": "LONG", "lat": "LAT"})
    checked = check_file(csv, src, region, spec_protocols)
    assert checked.sample.geometry[0].distance(NOTTINGHAM_BNG) < 200 and checked.digest.listed.empty


def test_a_csv_with_a_wkt_column_is_read(tmp_path, region, spec_protocols) -> None:
    csv = write_csv(tmp_path / "a.csv", 'ID,SHAPE\nA1,"POINT (457300 340000)"\n')
    src = source({}, csv={"wkt": "SHAPE"}, crs="EPSG:27700")
    assert check_file(csv, src, region, spec_protocols).sample.geometry[0] == NOTTINGHAM_BNG


def test_a_declared_encoding_reads_accented_names(tmp_path, region, spec_protocols) -> None:
    text = "ID,ADDR,X,Y\nA1,Rue de l'Église,457300,340000\n"
    csv = write_csv(tmp_path / "a.csv", text, encoding="cp1252")
    src = source({"address": "ADDR"}, csv={"x": "X", "y": "Y"}, crs="EPSG:27700", encoding="cp1252")
    sample = check_file(csv, src, region, spec_protocols).sample
    assert sample.loc[0, "address"] == "Rue de l'Église"


def test_a_layer_is_chosen_from_a_multi_layer_file(tmp_path, region, spec_protocols) -> None:
    path = tmp_path / "two.gpkg"
    frame(ID=["WRONG"]).to_file(path, layer="other")
    frame(ID=["RIGHT"]).to_file(path, layer="assets")
    checked = check_file(path, source({}, layer="assets"), region, spec_protocols)
    assert list(checked.sample["asset_id"]) == ["RIGHT"]


def test_a_shapefile_without_prj_takes_the_mapping_crs(tmp_path, region, spec_protocols) -> None:
    shp = tmp_path / "shp"
    shp.mkdir()
    frame(ID=["A1"]).to_file(shp / "assets.shp")
    (shp / "assets.prj").unlink()
    path = tmp_path / "assets.zip"
    with zipfile.ZipFile(path, "w") as z:
        for part in shp.iterdir():
            z.write(part, part.name)
    with pytest.raises(UnreadableInput, match="add `crs: EPSG:27700`"):
        check_file(path, source({}), region, spec_protocols)
    checked = check_file(path, source({}, crs="EPSG:27700"), region, spec_protocols)
    assert checked.sample.geometry[0] == NOTTINGHAM_BNG


def test_bng_coordinates_declared_as_wgs84_say_which_crs_to_set(
    tmp_path, region, spec_protocols
) -> None:
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"ID": "A1"},
         "geometry": {"type": "Point", "coordinates": [457300, 340000]}}]}  # fmt: skip
    path = tmp_path / "a.geojson"
    path.write_text(json.dumps(doc))
    found = check_file(path, source({}), region, spec_protocols).digest.listed
    mismatch = found.set_index("rule").loc["crs-mismatch", "message"]
    assert "look like EPSG:27700 (British National Grid)" in mismatch
    assert "set `crs: EPSG:27700` in config/sources/spec-assets.yaml" in mismatch
