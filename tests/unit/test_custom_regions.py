"""Region schemes uploaded by organizers: checked, stored, and usable by campaigns, signing and counts."""

from __future__ import annotations

import json
import tracemalloc

import pytest
from sqlalchemy import select

from campaigns.catalog.listing import create_campaign
from campaigns.core import uploads
from campaigns.core.audit import Actor
from campaigns.core.db import read_session, run_write
from campaigns.core.errors import InvalidInput, UnknownRegionScheme
from campaigns.core.models import AuditEntry, CampaignCreate
from campaigns.core.settings import override_settings
from campaigns.core.uploads import UploadRowsError
from campaigns.regions import shapes
from campaigns.regions.custom import create_custom_scheme
from campaigns.regions.lookup import (
    get_custom_shapes,
    list_all_schemes,
    list_custom_schemes,
    load_custom_scheme,
    resolve_scheme,
)
from campaigns.regions.shapes import check_shapes
from campaigns.signatures.counts import rank_regions
from campaigns.signatures.signing import sign
from tests.support.factories import make_campaign, signer

ORGANIZER = Actor(user_id=None, email="organizer@example.org", roles=frozenset({"organizer"}))
REGIONS_CSV = b"code,name,population\nnorth,North Ward,1200\nsouth,South Ward,\nisle.1,The Isle,0\n"
SQUARE = [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]


def feature(code, geometry=None, *, as_id=False):
    geometry = geometry or {"type": "Polygon", "coordinates": SQUARE}
    item = {"type": "Feature", "properties": {} if as_id else {"code": code}, "geometry": geometry}
    if as_id:
        item["id"] = code
    return item


def geojson(*features) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


GEOJSON = geojson(feature("NORTH"), feature("south", {"type": "MultiPolygon", "coordinates": [SQUARE]}, as_id=True))
TOPOJSON = json.dumps(
    {
        "type": "Topology",
        "transform": {"scale": [0.001, 0.001], "translate": [0, 0]},
        "arcs": [[[0, 0], [10, 0], [0, 10]], [[0, 10], [-10, -10]]],
        "objects": {
            "outline": {"type": "GeometryCollection", "geometries": [{"type": "Polygon", "arcs": [[0, 1]]}]},
            "wards": {
                "type": "GeometryCollection",
                "geometries": [
                    {"type": "Polygon", "arcs": [[0, 1]], "id": "NORTH"},
                    {"type": "MultiPolygon", "arcs": [[[~1, ~0]]], "properties": {"code": "ISLE.1"}},
                ],
            },
        },
    }
).encode()


def create(engine, name="Riverside wards", regions=REGIONS_CSV, shapes=GEOJSON, **kwargs):
    return run_write(
        engine,
        lambda s: create_custom_scheme(
            session=s, name=name, regions_csv=regions, shapes=shapes, actor=ORGANIZER, **kwargs
        ),
    )


def shapes_refusal(engine, shapes: bytes) -> str:
    with pytest.raises(InvalidInput) as info:
        create(engine, shapes=shapes)
    assert list(info.value.errors) == ["shapes"]
    with read_session(engine) as session:
        assert list_custom_schemes(session=session) == []
    return info.value.errors["shapes"]


def test_scheme_with_geojson_is_stored_and_usable_for_signing_and_counts(engine):
    created = create(engine, region_label="Ward")
    assert (created.id, created.regions, created.with_shape, created.without_shape) == (
        "custom-riverside-wards",
        3,
        2,
        1,
    )
    campaign = make_campaign(engine, region_scheme=created.id)
    result = run_write(
        engine, lambda s: sign(session=s, campaign_slug=campaign.slug, signer=signer(region_code="North"))
    )
    assert (result.region_code, result.region_name, result.total) == ("NORTH", "North Ward", 1)
    with read_session(engine) as session:
        frame = rank_regions(session=session, campaign_id=campaign.id, scheme_id=created.id)
        scheme = resolve_scheme(session=session, scheme_id=created.id)
        shapes_text = get_custom_shapes(session=session, scheme_id=created.id)
        [entry] = session.execute(select(AuditEntry).where(AuditEntry.action == "regions.create_scheme")).scalars()
    assert frame.to_dict("records") == [{"code": "NORTH", "name": "North Ward", "count": 1}]
    assert scheme.info.region_label == "Ward" and scheme.info.shape_kind == "geojson"
    assert [(r.code, r.population, r.shape_id) for r in scheme.regions] == [
        ("NORTH", 1200, "NORTH"),
        ("SOUTH", None, "SOUTH"),
        ("ISLE.1", 0, None),
    ]
    assert shapes_text == GEOJSON.decode()
    assert json.loads(entry.detail)["scheme_id"] == created.id


def test_signing_refuses_a_region_outside_the_custom_scheme(engine):
    created = create(engine)
    campaign = make_campaign(engine, region_scheme=created.id)
    with pytest.raises(InvalidInput) as info:
        run_write(engine, lambda s: sign(session=s, campaign_slug=campaign.slug, signer=signer(region_code="US-CA")))
    assert "region" in info.value.errors


def test_topojson_is_accepted_and_the_object_with_the_regions_is_used(engine):
    created = create(engine, shapes=TOPOJSON)
    assert (created.with_shape, created.without_shape) == (2, 1)
    with read_session(engine) as session:
        scheme = load_custom_scheme(session=session, scheme_id=created.id.upper())
        assert get_custom_shapes(session=session, scheme_id=created.id) == TOPOJSON.decode()
    assert (scheme.info.shape_kind, scheme.info.shape_object) == ("topojson", "wards")
    assert {r.code for r in scheme.regions if r.shape_id} == {"NORTH", "ISLE.1"}


def test_scheme_without_shapes_is_fine(engine):
    created = create(engine, shapes=None)
    assert (created.with_shape, created.without_shape) == (0, 3)
    with read_session(engine) as session:
        assert get_custom_shapes(session=session, scheme_id=created.id) is None
        assert resolve_scheme(session=session, scheme_id=created.id).info.shape_kind is None


def test_same_name_twice_gets_a_numbered_id(engine):
    ids = [create(engine, name="Riverside Wards!").id for _ in range(3)]
    assert ids == ["custom-riverside-wards", "custom-riverside-wards-2", "custom-riverside-wards-3"]
    with read_session(engine) as session:
        listed = [info.id for info in list_all_schemes(session=session)]
    assert listed[:3] == ids and "us-states" in listed[3:]


def test_geojson_with_codes_not_in_the_csv_is_refused_listing_them(engine):
    unknown = [feature(f"X{n:02d}") for n in range(12)]
    message = shapes_refusal(engine, geojson(feature("NORTH"), *unknown))
    assert "not in the regions file: X00, X01, X02, X03, X04, X05, X06, X07, X08, X09 and 2 more." in message


def test_features_without_a_code_are_refused(engine):
    nameless = {"type": "Feature", "properties": {"name": "North"}, "geometry": feature("")["geometry"]}
    message = shapes_refusal(engine, geojson(feature("NORTH"), nameless))
    assert "Shapes without a region code (properties.code or id): number 2." in message


@pytest.mark.parametrize(
    ("geometry", "problem"),
    [
        ({"type": "Polygon", "coordinates": [[["0", "0"], [1, 0], [1, 1], [0, 0]]]}, "not pairs of numbers"),
        ({"type": "Polygon", "coordinates": "0 0, 1 1"}, "has no rings"),
        ({"type": "Point", "coordinates": [0, 0]}, 'is a "Point": only Polygon and MultiPolygon'),
        (None, "has no geometry"),
    ],
    ids=["string-coordinates", "string-instead-of-rings", "point", "null"],
)
def test_broken_geometry_is_refused(engine, geometry, problem):
    broken = feature("SOUTH")
    broken["geometry"] = geometry
    message = shapes_refusal(engine, geojson(feature("NORTH"), broken))
    assert 'Some shapes can\'t be drawn: shape 2 ("SOUTH") ' in message and problem in message


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda g: g.update(arcs=[[0, 7]]), "refers to arcs that don't exist (the file has 2)"),
        (lambda g: g.pop("arcs"), "has no arcs"),
    ],
    ids=["out-of-range", "missing"],
)
def test_topojson_with_bad_arcs_is_refused(engine, change, problem):
    topology = json.loads(TOPOJSON)
    change(topology["objects"]["wards"]["geometries"][0])
    assert problem in shapes_refusal(engine, json.dumps(topology).encode())


def test_invalid_json_is_refused_with_its_line(engine):
    message = shapes_refusal(engine, b'{"type": "FeatureCollection",\n "features": [\n  {"type": "Feature",}\n]}')
    assert message == (
        "The shapes file is not valid JSON: Expecting property name enclosed in double quotes (line 3, column 22)."
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (geojson(), "The GeoJSON FeatureCollection has no features."),
        (b'{"type": "Feature"}', 'it is a "Feature"'),
        (b"[1, 2]", "it is something else"),
    ],
)
def test_empty_or_other_json_is_refused(engine, data, message):
    assert message in shapes_refusal(engine, data)


def test_shapes_over_the_size_limit_are_refused(engine):
    with override_settings(max_upload_mb=1):
        message = shapes_refusal(engine, b" " * int(1.1 * 1024 * 1024) + GEOJSON)
    assert message == "The shapes file is 1.1 MB; the limit is 1 MB."


SIMPLIFY = (
    "A map may have at most 20,000 shapes and draw at most 500,000 points: simplify the shapes "
    "(for example with mapshaper's -simplify) and export them again."
)


@pytest.mark.parametrize(
    ("number", "where", "message"),
    [
        (b"1" * 5_000, "coordinate", 'a number of 5,000 characters ("11111111111111111111…"); at most 40 are allowed.'),
        (b"1" * 400, "coordinate", 'a number of 400 characters ("11111111111111111111…"); at most 40 are allowed.'),
        (
            b"-1" + b"0" * 39,
            "coordinate",
            'a number of 41 characters ("-1000000000000000000…"); at most 40 are allowed.',
        ),
        (b"1e999", "coordinate", 'a number too large to use ("1e999"): numbers must be finite.'),
        (b"NaN", "coordinate", 'has "NaN", which JSON does not allow: numbers must be finite.'),
        (b"-Infinity", "property", 'has "-Infinity", which JSON does not allow: numbers must be finite.'),
        (b"1e999", "property", 'a number too large to use ("1e999"): numbers must be finite.'),
    ],
    ids=["5000-digits", "400-digits", "41-chars", "overflow", "nan", "infinity-property", "overflow-property"],
)
def test_numbers_too_long_or_not_finite_are_refused_plainly_anywhere_in_the_file(engine, number, where, message):
    """Python's json module raised ValueError (over 4,300 digits) or reading the number as a float raised
    OverflowError; NaN, Infinity and 1e999 (read as infinity) are not JSON a browser can read."""
    south = feature("SOUTH", {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, "HERE"]]]})
    south["properties"]["area"] = "HERE" if where == "property" else 1
    south["geometry"]["coordinates"][0][3][1] = "HERE" if where == "coordinate" else 0
    data = geojson(feature("NORTH"), south).replace(b'"HERE"', number)
    assert shapes_refusal(engine, data) == "The shapes file " + (
        message if message.startswith("has") else "has " + message
    )


def test_numbers_up_to_40_characters_are_read():
    long = "-1.2345678901234567890123456789012345e-10"[:40]
    data = geojson(feature("NORTH", {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}))
    assert check_shapes(data.replace(b"[1, 1]", f"[{long}, 1{'0' * 39}]".encode()), frozenset({"NORTH"})).codes == {
        "NORTH"
    }


def test_json_nested_deeper_than_20_levels_is_refused_before_it_is_parsed(engine):
    deep = feature("NORTH")
    deep["properties"]["nested"] = json.loads("[" * 16 + "]" * 16)  # 4 levels above it: 20 in all
    assert check_shapes(geojson(deep), frozenset({"NORTH"})).codes == {"NORTH"}
    deep["properties"]["nested"] = json.loads("[" * 17 + "]" * 17)
    assert shapes_refusal(engine, geojson(deep)) == (
        "The shapes file nests lists and objects more than 20 deep, the most allowed."
    )
    assert shapes_refusal(engine, b"[" * 100_000 + b"]" * 100_000) == (
        "The shapes file nests lists and objects more than 20 deep, the most allowed."
    )


def test_more_than_20000_shapes_are_refused_before_any_is_checked(engine):
    many = b'{"type": "FeatureCollection", "features": [' + b", ".join([b"{}"] * 20_001) + b"]}"
    assert shapes_refusal(engine, many) == (
        f"The GeoJSON FeatureCollection has 20,001 shapes; at most 20,000 are allowed. {SIMPLIFY}"
    )
    topology = json.loads(TOPOJSON)
    topology["objects"]["wards"]["geometries"] += [0] * 19_999  # not even objects: refused by count first
    assert shapes_refusal(engine, json.dumps(topology).encode()) == (
        f'The TopoJSON object "wards" has 20,001 shapes; at most 20,000 are allowed. {SIMPLIFY}'
    )


@pytest.mark.parametrize(
    ("empty", "message"),
    [
        (b"{}", "The shapes file has more than 100,000 objects {…}, the most one file may have."),
        (b"[]", "The shapes file has more than 1,000,000 lists […], the most one file may have."),
    ],
    ids=["objects", "lists"],
)
def test_a_file_of_many_empty_objects_or_lists_is_refused_before_it_is_parsed_in_bounded_memory(
    empty, message, monkeypatch
):
    """5 MB of empty features took 600 MB to parse before being refused. Now the text is counted first:
    the memory the check takes is a small multiple of the file's size, not of the objects it would make."""
    if empty == b"[]":  # the same code counts lists: at a tenth of the bound, so the test stays quick
        monkeypatch.setattr(uploads, "MAX_JSON_LISTS", 100_000)
        message = message.replace("1,000,000", "100,000")
    data = b'{"type": "FeatureCollection", "features": [' + b",".join([empty] * 150_000) + b"]}"
    tracemalloc.start()
    try:
        with pytest.raises(InvalidInput) as info:
            check_shapes(data, frozenset({"NORTH"}))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.errors == {"shapes": f"{message} {SIMPLIFY}"}
    assert peak < 2 * len(data)  # parsing would take over 20 times the file's size in objects


def test_a_topojson_arc_drawn_many_times_counts_every_time_it_is_used(engine):
    """One 20,000-point arc used 100,000 times passed every check and froze every viewer's browser."""
    arc = [[0, 0]] + [[1, 0], [0, 1], [-1, 0]] * 333  # 1,000 points
    topology = {
        "type": "Topology",
        "arcs": [arc, [[0, 0], [0, 0]]],  # the short last arc: ~0 must count arc 0, not arc -1
        "objects": {"wards": {"type": "GeometryCollection", "geometries": [{"type": "Polygon", "id": "NORTH"}]}},
    }
    ring = topology["objects"]["wards"]["geometries"][0]
    ring["arcs"] = [[0, ~0] * 250]  # 500 uses of a 1,000-point arc: 500,000 points, the most a map may draw
    assert check_shapes(json.dumps(topology).encode(), frozenset({"NORTH"})).codes == {"NORTH"}
    ring["arcs"] = [[0, ~0] * 250, [1]]
    assert shapes_refusal(engine, json.dumps(topology).encode()) == (
        "The TopoJSON's shapes draw 500,002 points (an arc counts each time a shape uses it). " + SIMPLIFY
    )


def test_shapes_with_more_points_than_a_map_may_draw_are_refused(engine, monkeypatch):
    monkeypatch.setattr(shapes, "MAX_POINTS", 9)  # GEOJSON has 10 points, TOPOJSON's arcs 5 and draws 10
    assert shapes_refusal(engine, GEOJSON).startswith("The GeoJSON's shapes have 10 points. A map may have")
    assert shapes_refusal(engine, TOPOJSON).startswith("The TopoJSON's shapes draw 10 points (an arc counts")
    monkeypatch.setattr(shapes, "MAX_POINTS", 4)
    assert shapes_refusal(engine, TOPOJSON).startswith("The TopoJSON's arcs have 5 points. A map may have")


def test_bad_region_rows_are_all_reported_and_nothing_is_stored(engine):
    regions = (
        b"code,name,population\n"
        b"A1,Alpha,10\n"
        b",Nameless code,\n"
        b"a1,Alpha again,\n"
        b"B 2,Spaced,\n"
        b"C3,,-4\n"
        b"DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD,Long,1.5\n"
    )
    with pytest.raises(UploadRowsError) as info:
        create(engine, regions=regions, shapes=None)
    assert info.value.report_csv().decode() == (
        "\ufeffline,column,value,problem\r\n"
        "3,code,,The code is missing.\r\n"
        "4,code,a1,Same code as line 2.\r\n"
        '5,code,B 2,"A code may only contain letters A-Z, digits, ""-"", ""_"" and "".""."\r\n'
        "6,name,,The name is missing.\r\n"
        '6,population,\'-4,"The population must be a whole number of 0 or more, digits only."\r\n'
        "7,code,DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD,The code has 33 characters; at most 32 are allowed.\r\n"
        '7,population,1.5,"The population must be a whole number of 0 or more, digits only."\r\n'
    )
    with read_session(engine) as session:
        assert list_custom_schemes(session=session) == []


def test_a_regions_file_over_the_upload_bounds_is_refused_naming_the_limit(engine):
    too_many = b"code,name\n" + b"".join(b"R%d,Region %d\n" % (n, n) for n in range(100_001))
    with pytest.raises(InvalidInput) as info:
        create(engine, regions=too_many, shapes=None)
    assert info.value.errors == {
        "file": "The regions file has more than 100,000 rows; at most 100,000 are allowed in one file "
        "(line 100,002 is row 100,001)."
    }
    with pytest.raises(InvalidInput, match="The regions file's header has 101 columns; at most 100 are allowed"):
        create(engine, regions=b"code,name" + b",x" * 99 + b"\nA,B\n", shapes=None)
    with read_session(engine) as session:
        assert list_custom_schemes(session=session) == []


def test_scheme_name_is_required(engine):
    with pytest.raises(InvalidInput) as info:
        create(engine, name="  ", region_label="")
    assert set(info.value.errors) == {"name", "region_label"}


def test_unknown_custom_scheme_is_refused_for_campaigns_and_lookups(engine):
    with read_session(engine) as session:
        with pytest.raises(UnknownRegionScheme):
            resolve_scheme(session=session, scheme_id="custom-nowhere")
        with pytest.raises(UnknownRegionScheme):
            get_custom_shapes(session=session, scheme_id="custom-nowhere")
    campaign = CampaignCreate(slug="x", title="X", purpose="Y", goal=10, region_scheme="custom-nowhere")
    with pytest.raises(InvalidInput) as info:
        run_write(engine, lambda s: create_campaign(session=s, campaign_create=campaign))
    assert list(info.value.errors) == ["region_scheme"]


def test_shipped_schemes_resolve_without_a_database():
    assert resolve_scheme(session=None, scheme_id="US-States").info.id == "us-states"  # type: ignore[arg-type]


def test_uploaded_geojson_is_served_to_the_map_wound_for_d3_with_codes_as_ids(engine):
    """RFC 7946 outer rings run counter-clockwise; d3-geo reads that as 'the globe minus the region' and
    fills the whole chart. The map gets every outer ring clockwise and every hole counter-clockwise."""
    from campaigns.regions.geometry import ring_area
    from campaigns.regions.lookup import get_custom_map_shapes

    outer_ccw = [[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]  # RFC 7946: counter-clockwise
    hole_cw = [[0.5, 0.5], [0.5, 1.5], [1.5, 1.5], [1.5, 0.5], [0.5, 0.5]]  # RFC 7946: clockwise
    donut = {"type": "Polygon", "coordinates": [outer_ccw, hole_cw]}
    already = {"type": "MultiPolygon", "coordinates": [[list(reversed(outer_ccw))]]}  # d3 order already
    scheme_id = create(engine, shapes=geojson(feature("north", donut), feature("south", already, as_id=True))).id
    with read_session(engine) as session:
        served = json.loads(get_custom_map_shapes(session=session, scheme_id=scheme_id))
    by_id = {f["id"]: f["geometry"] for f in served["features"]}
    assert set(by_id) == {"NORTH", "SOUTH"}
    north_outer, north_hole = by_id["NORTH"]["coordinates"]
    assert ring_area(north_outer) < 0 < ring_area(north_hole)  # outer clockwise, hole counter-clockwise
    assert ring_area(by_id["SOUTH"]["coordinates"][0][0]) < 0  # left as it was


def test_looking_a_scheme_up_does_not_load_upload_parsing():
    """Signing, counting and exports resolve schemes through ``lookup``: none of them needs the upload reader."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, campaigns.regions.lookup; "
        "print([m for m in ('campaigns.core.uploads', 'campaigns.regions.custom', 'campaigns.regions.shapes') "
        "if m in sys.modules])"
    )
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert run.stdout.strip() == "[]"
