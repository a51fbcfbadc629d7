"""The protocols: every spec loads and is refused when it contradicts itself, and the JSON Schema,
the GeoPackage template and the CLI are all generated from the one spec."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pandas as pd
import pyogrio
import pytest
import shapely
import yaml

from ingest.coordinates import as_geodataframe
from ingest.harmonise import harmonise
from ingest.read import open_batches
from ingest.region import Region
from protocols import ProtocolError, Protocols, load_protocols
from protocols.jsonschema import feature_schema
from protocols.spec import PACKAGE_DIR
from protocols.template import write_template
from server.cli import main
from server.settings import DEFAULT_CONFIG_DIR

PROTOCOLS = load_protocols()
THEME_IDS = sorted(PROTOCOLS.themes)
FEATURE_CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER


@pytest.fixture()
def protocols_copy(tmp_path: Path) -> Path:
    """A writable copy of the real protocols, to break one thing in."""
    root = tmp_path / "protocols"
    for folder in ("themes", "codelists"):
        shutil.copytree(PACKAGE_DIR / folder, root / folder)
    return root


def edit_field(root: Path, theme: str, field: str, **changes: object) -> None:
    path = root / "themes" / f"{theme}.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    spec = next(f for f in doc["fields"] if f["name"] == field)
    spec.update(changes)
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")


def refusal(root: Path) -> str:
    with pytest.raises(ProtocolError) as caught:
        load_protocols(root)
    return str(caught.value)


def validator(theme_id: str) -> jsonschema.Draft202012Validator:
    schema = feature_schema(PROTOCOLS.themes[theme_id], PROTOCOLS)
    return jsonschema.Draft202012Validator(schema, format_checker=FEATURE_CHECKER)


def _json_value(value: object, field_type: str) -> object:
    if pd.isna(value):
        return None
    if field_type == "date":
        return value.date().isoformat()
    if field_type == "datetime":
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value


def _first_feature(live: Region, protocols: Protocols, theme_id: str) -> dict:
    source = next(s for s in live.sources.values() if s.theme == theme_id)
    theme = protocols.themes[theme_id]
    with open_batches(live.data_dir / source.file, source) as batches:
        raw = as_geodataframe(next(batches.frames))
    row = harmonise(raw, source, theme, protocols)[0].to_crs(4326).iloc[0]
    return {
        "type": "Feature",
        "geometry": json.loads(shapely.to_geojson(row.geometry)),
        "properties": {f.name: _json_value(row[f.name], f.type) for f in theme.fields},
    }


@pytest.fixture(scope="module")
def demo_features(demo_region: Region, protocols: Protocols) -> dict[str, dict]:
    """The first feature of each theme's first demo source, harmonised as the ingest does, as
    RFC 7946 GeoJSON."""
    return {t: _first_feature(demo_region, protocols, t) for t in THEME_IDS}


def demo_feature(features: dict[str, dict], theme_id: str) -> dict:
    return copy.deepcopy(features[theme_id])


def test_every_spec_loads_with_a_version() -> None:
    assert THEME_IDS == [
        "broadband-coverage",
        "planning-applications",
        "roadworks",
        "street-lighting",
        "water-mains",
    ]
    assert all(t.ref == f"{t.id}@{t.version}" for t in PROTOCOLS.themes.values())


def test_water_mains_are_sensitive_networked_lines_with_a_sensitive_pressure() -> None:
    mains = PROTOCOLS.themes["water-mains"]
    assert mains.access.sensitive and mains.matching.network
    assert mains.geometry_types == ["LineString"]
    assert mains.field("pressure_bar").sensitive
    assert mains.field("diameter_mm").unit == "mm"


def test_roadworks_match_as_a_network() -> None:
    assert PROTOCOLS.themes["roadworks"].matching.network


def test_a_spec_naming_an_unknown_code_list_is_refused(protocols_copy: Path) -> None:
    edit_field(protocols_copy, "roadworks", "status", codelist="works-phase")
    message = refusal(protocols_copy)
    assert "roadworks@1.0: field 'status' names unknown codelist 'works-phase'" in message


def test_a_pattern_that_does_not_compile_is_refused(protocols_copy: Path) -> None:
    edit_field(protocols_copy, "water-mains", "asset_id", pattern="^[A-Z")
    message = refusal(protocols_copy)
    assert "themes/water-mains.yaml" in message
    assert "pattern '^[A-Z' is not a regular expression" in message


def test_a_minimum_above_the_maximum_is_refused(protocols_copy: Path) -> None:
    edit_field(protocols_copy, "water-mains", "diameter_mm", minimum=500, maximum=100)
    assert "minimum 500 is greater than maximum 100" in refusal(protocols_copy)


def test_a_constraint_on_a_type_it_does_not_fit_is_refused(protocols_copy: Path) -> None:
    edit_field(protocols_copy, "roadworks", "start_date", max_length=10)
    assert "max_length does not apply to a date field" in refusal(protocols_copy)


def test_a_sensitive_field_in_the_public_popup_is_refused(protocols_copy: Path) -> None:
    edit_field(protocols_copy, "water-mains", "diameter_mm", sensitive=True)
    assert "sensitive fields cannot be styled or in the popup" in refusal(protocols_copy)


def test_every_problem_is_listed_not_just_the_first(protocols_copy: Path) -> None:
    edit_field(protocols_copy, "roadworks", "status", codelist="works-phase")
    edit_field(protocols_copy, "water-mains", "laid_year", minimum=2000, maximum=1900)
    with pytest.raises(ProtocolError) as caught:
        load_protocols(protocols_copy)
    assert len(caught.value.problems) == 2


@pytest.mark.parametrize("theme_id", THEME_IDS)
def test_json_schema_is_valid_json_schema(theme_id: str) -> None:
    schema = feature_schema(PROTOCOLS.themes[theme_id], PROTOCOLS)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["x-protocol"] == PROTOCOLS.themes[theme_id].ref


@pytest.mark.parametrize("theme_id", THEME_IDS)
def test_json_schema_accepts_a_demo_feature(demo_features: dict[str, dict], theme_id: str) -> None:
    feature = demo_feature(demo_features, theme_id)
    errors = [e.message for e in validator(theme_id).iter_errors(feature)]
    assert errors == []


@pytest.mark.parametrize("theme_id", THEME_IDS)
def test_json_schema_rejects_a_code_outside_its_list(
    demo_features: dict[str, dict], theme_id: str
) -> None:
    feature = demo_feature(demo_features, theme_id)
    code_field = PROTOCOLS.themes[theme_id].style.colour_by
    feature["properties"][code_field] = "not-a-code"
    assert not validator(theme_id).is_valid(feature)


def test_json_schema_checks_ranges_patterns_formats_and_required_fields(
    demo_features: dict[str, dict],
) -> None:
    feature = demo_feature(demo_features, "water-mains")
    mains = validator("water-mains")
    for change in (
        {"diameter_mm": 5},
        {"asset_id": "KW WM 1"},
        {"laid_year": 1999.5},
        {"material": None},
    ):
        assert not mains.is_valid({**feature, "properties": feature["properties"] | change})
    planning = demo_feature(demo_features, "planning-applications")
    for change in ({"received_date": "25/12/2025"}, {"url": "planning register"}):
        wrong = {**planning, "properties": planning["properties"] | change}
        assert not validator("planning-applications").is_valid(wrong)


def test_json_schema_refuses_a_geometry_type_outside_the_theme(
    demo_features: dict[str, dict],
) -> None:
    feature = demo_feature(demo_features, "water-mains")
    point = {"type": "Point", "coordinates": [-1.1, 52.9]}
    assert not validator("water-mains").is_valid(feature | {"geometry": point})


@pytest.mark.parametrize("theme_id", THEME_IDS)
def test_template_has_the_theme_layer_with_typed_fields(tmp_path: Path, theme_id: str) -> None:
    theme = PROTOCOLS.themes[theme_id]
    path = tmp_path / f"{theme_id}.gpkg"
    write_template(theme, PROTOCOLS, path)
    layers = dict(pyogrio.list_layers(path))
    assert set(layers) == {theme.table, "codelists", "README"}
    info = pyogrio.read_info(path, layer=theme.table)
    assert list(info["fields"]) == [f.name for f in theme.fields]
    assert info["crs"] == "EPSG:27700" and info["features"] == 0
    types = dict(zip(info["fields"], info["ogr_types"], strict=True))
    expected = {"date": "OFTDate", "integer": "OFTInteger64", "decimal": "OFTReal"}
    for f in theme.fields:
        assert types[f.name] == expected.get(f.type, "OFTString"), f.name


def test_template_geometry_type_follows_the_spec(tmp_path: Path) -> None:
    for theme_id, kind in [("water-mains", "LineString"), ("broadband-coverage", "Polygon")]:
        path = tmp_path / f"{theme_id}.gpkg"
        write_template(PROTOCOLS.themes[theme_id], PROTOCOLS, path)
        assert pyogrio.read_info(path, layer=theme_id.replace("-", "_"))["geometry_type"] == kind


def test_template_lists_code_values_and_describes_every_field(tmp_path: Path) -> None:
    theme = PROTOCOLS.themes["water-mains"]
    path = tmp_path / "mains.gpkg"
    write_template(theme, PROTOCOLS, path)
    codes = pyogrio.read_dataframe(path, layer="codelists")
    assert set(codes["code"]) == PROTOCOLS.codelists["pipe-material"].codes
    assert "Ductile iron" in set(codes["label"])
    readme = pyogrio.read_dataframe(path, layer="README")
    assert list(readme["field"]) == [f.name for f in theme.fields]
    assert readme.set_index("field").loc["diameter_mm", "unit"] == "mm"


def test_template_refuses_a_code_outside_its_list(tmp_path: Path) -> None:
    import geopandas as gpd
    from shapely.geometry import LineString

    path = tmp_path / "mains.gpkg"
    write_template(PROTOCOLS.themes["water-mains"], PROTOCOLS, path)
    columns = {f.name: [None] for f in PROTOCOLS.themes["water-mains"].fields}  # in layer order
    main_ = columns | {"asset_id": ["KW-1"], "material": ["pvc"], "diameter_mm": [110]}
    line = [LineString([(450000, 340000), (450100, 340000)])]
    good = gpd.GeoDataFrame(main_, geometry=line, crs=27700)
    pyogrio.write_dataframe(good, path, layer="water_mains", append=True)
    bad = good.assign(asset_id=["KW-2"], material=["lead"])
    with pytest.raises(Exception, match="CHECK constraint failed"):
        pyogrio.write_dataframe(bad, path, layer="water_mains", append=True)
    assert pyogrio.read_info(path, layer="water_mains")["features"] == 1


def test_template_opens_in_ogrinfo(tmp_path: Path) -> None:
    path = tmp_path / "roadworks.gpkg"
    write_template(PROTOCOLS.themes["roadworks"], PROTOCOLS, path)
    done = subprocess.run(
        ["ogrinfo", "-so", str(path), "roadworks"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "reference: String (40.0) UNIQUE NOT NULL" in done.stdout
    assert "status: String (0.0) NOT NULL, domain name=works-status" in done.stdout


def test_cli_check_reports_each_theme_version_fields_and_sources(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["protocols", "check"]) == 0
    out = capsys.readouterr().out
    assert "roadworks@1.0" in out and "water-mains@1.0" in out
    assert "all consistent" in out
    roadworks_line = next(line for line in out.splitlines() if "roadworks@1.0" in line)
    assert "6 fields" in roadworks_line and "5 sources" in roadworks_line


def test_cli_check_lists_every_problem_and_fails(
    protocols_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_field(protocols_copy, "roadworks", "status", codelist="works-phase")
    edit_field(protocols_copy, "water-mains", "asset_id", pattern="(")
    assert main(["protocols", "check", "--protocols", str(protocols_copy)]) == 1
    out = capsys.readouterr().out
    assert "2 problems" in out
    assert "unknown codelist 'works-phase'" in out and "not a regular expression" in out


def test_cli_schema_prints_the_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["protocols", "schema", "broadband-coverage"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == feature_schema(PROTOCOLS.themes["broadband-coverage"], PROTOCOLS)


def test_cli_schema_of_an_unknown_theme_names_the_known_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["protocols", "schema", "bus-stops"]) == 2
    assert "unknown theme 'bus-stops'" in capsys.readouterr().err


def test_cli_template_writes_the_geopackage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "planning.gpkg"
    assert main(["protocols", "template", "planning-applications", "-o", str(path)]) == 0
    assert "planning_applications" in capsys.readouterr().out
    assert "planning_applications" in dict(pyogrio.list_layers(path))


def test_cli_check_refuses_a_mapping_onto_a_code_not_in_the_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = shutil.copytree(DEFAULT_CONFIG_DIR, tmp_path / "config")
    mapping = config / "sources" / "trentvale-roadworks.yaml"
    doc = yaml.safe_load(mapping.read_text(encoding="utf-8"))
    doc["fields"]["status"]["values"]["LIVE"] = "under-way"
    mapping.write_text(yaml.safe_dump(doc), encoding="utf-8")
    monkeypatch.setenv("RGIS_CONFIG_DIR", str(config))
    assert main(["protocols", "check"]) == 1
    out = capsys.readouterr().out
    assert "source trentvale-roadworks: fields.status: ['under-way'] are not codes" in out
