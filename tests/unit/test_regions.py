"""Region schemes: shipped data files and the lookups forms rely on."""

from __future__ import annotations

import csv
import itertools
import json

import pytest

from campaigns.core.errors import InvalidInput, UnknownRegionScheme
from campaigns.regions import schemes as regions


def _topojson_ids(info: regions.SchemeInfo) -> set[str]:
    path = regions.shape_path(info)
    assert path is not None and path.is_file()
    topo = json.loads(path.read_text(encoding="utf-8"))
    return {g["id"] for g in topo["objects"][info.shape_object]["geometries"] if g.get("id")}


@pytest.fixture(scope="module")
def us():
    return regions.get_scheme("us-states")


@pytest.fixture(scope="module")
def world():
    return regions.get_scheme("world-countries")


def _invalid(call, *args) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        call(*args)
    return info.value


# --- US states -------------------------------------------------------------------------------


def test_us_states_has_states_dc_and_puerto_rico(us):
    assert len(us.regions) == 52
    codes = {r.code for r in us.regions}
    assert {"US-DC", "US-PR", "US-WY"} <= codes
    california = us.get("US-CA")
    assert california.name == "California"
    assert california.population > 30_000_000
    assert california.shape_id == "06"
    assert [r.name for r in us.regions] == sorted(r.name for r in us.regions)


def test_us_states_all_have_population_and_a_shape_in_the_topojson(us):
    ids = _topojson_ids(us.info)
    assert all(r.population and r.population > 100_000 for r in us.regions)
    assert {r.shape_id for r in us.regions} <= ids


def test_zip3_ranges_are_known_states_and_do_not_overlap(us):
    with (regions.DATA_DIR / "regions" / "us-zip3.csv").open(encoding="utf-8") as f:
        rows = [(int(r["zip3_start"]), int(r["zip3_end"]), r["abbr"]) for r in csv.DictReader(f)]
    abbrs = {r.code.removeprefix("US-") for r in us.regions}
    assert all(abbr in abbrs for _, _, abbr in rows)
    assert {abbr for _, _, abbr in rows} == abbrs  # every state has at least one prefix
    rows.sort()
    for (start, end, _), (next_start, _, _) in itertools.pairwise(rows):
        assert start <= end < next_start
    # Military and territory prefixes are left out on purpose.
    covered = {p for start, end, _ in rows for p in range(start, end + 1)}
    assert not covered & {90, 95, 98, 340, 962, 966, 8, 969}


@pytest.mark.parametrize(
    ("zip_code", "expected"),
    [
        ("90210", "US-CA"),
        ("10001-1234", "US-NY"),
        (" 60601 ", "US-IL"),
        ("00901", "US-PR"),
        ("20500", "US-DC"),
        ("99501", "US-AK"),
        ("02108", "US-MA"),
    ],
)
def test_region_for_postal_code(us, zip_code, expected):
    assert us.region_for_postal_code(zip_code).code == expected


@pytest.mark.parametrize("zip_code", ["00000", "abcde", "1234", "123456", "09012", "96201"])
def test_bad_zip_codes_are_rejected_with_the_input_in_the_message(us, zip_code):
    error = _invalid(us.region_for_postal_code, zip_code)
    assert list(error.errors) == ["postal_code"]
    assert f"“{zip_code}”" in error.errors["postal_code"]


def test_unknown_zip_message_tells_what_to_do(us):
    message = _invalid(us.region_for_postal_code, "00000").errors["postal_code"]
    assert message == "We don't recognise the ZIP code “00000”. Check it, or leave it empty and pick your state."


def test_check_postal_code_mismatch_names_both_states(us):
    error = _invalid(us.check_postal_code, "10001", "US-CA")
    assert error.errors == {
        "postal_code": "ZIP code 10001 is in New York, but you picked California. Please check one of them."
    }


def test_check_postal_code_rules(us):
    assert us.check_postal_code("10001", "US-NY").code == "US-NY"
    assert us.check_postal_code("10001", None).code == "US-NY"
    assert us.check_postal_code(None, "us-tx").code == "US-TX"
    assert us.check_postal_code("  ", "US-TX").code == "US-TX"
    assert _invalid(us.check_postal_code, None, None).errors == {"region": "Please pick your state."}
    assert _invalid(us.check_postal_code, "", " ").errors == {"region": "Please pick your state."}
    both_wrong = _invalid(us.check_postal_code, "00000", "US-XX").errors
    assert set(both_wrong) == {"region", "postal_code"}


@pytest.mark.parametrize("postal", ["1" * 21, "100\n01", "100\x0001", "10001\u202e"])
def test_check_postal_code_rejects_long_or_control_characters(us, world, postal):
    for scheme in (us, world):
        error = _invalid(scheme.check_postal_code, postal, None)
        assert list(error.errors) == ["postal_code"]
        assert not any(c in error.errors["postal_code"] for c in "\x00\n\u202e")


def test_get_normalises_and_rejects_unknown_codes(us):
    assert us.get(" us-ca ").code == "US-CA"
    assert us.has("us-ca") and not us.has("US-XX") and not us.has("")
    error = _invalid(us.get, "US-XX")
    assert error.field == "region"
    assert "“US-XX”" in error.errors["region"]
    assert _invalid(us.get, "").errors == {"region": "Please pick your state."}


def test_search(us, world):
    assert us.search("calif")[0].code == "US-CA"
    assert us.search("CA")[0].code == "US-CA"  # USPS abbreviation matches the code's suffix
    assert [r.code for r in us.search("new")][:2] == ["US-NH", "US-NJ"]
    assert "US-AR" in {r.code for r in us.search("kansas")}  # substring after prefix matches
    assert us.search("kansas")[0].code == "US-KS"
    assert len(us.search("", limit=5)) == 5
    assert us.search("zzz") == [] and us.search("a", limit=0) == []
    assert "CI" in {r.code for r in world.search("cote")}
    assert "CI" in {r.code for r in world.search("CÔTE D’IVOIRE")}
    assert world.search("fr")[0].code == "FR"


# --- World countries -------------------------------------------------------------------------


def test_world_countries(world):
    assert len(world.regions) >= 240
    france = world.get("fr")
    assert france.name == "France" and france.population > 60_000_000 and france.shape_id == "250"
    ids = _topojson_ids(world.info)
    with_shape = [r for r in world.regions if r.shape_id]
    assert len(with_shape) >= 170
    assert all(r.shape_id in ids for r in with_shape)
    assert world.get("AQ").population is None  # empty CSV cell -> None
    assert "World Bank" in world.info.attribution and "CC BY 4.0" in world.info.attribution
    assert world.info.postal_code_label is None
    assert world.region_for_postal_code("75001") is None


def test_world_countries_without_postal_lookup_ask_for_a_country(world):
    assert world.check_postal_code("75001", "FR").code == "FR"
    error = _invalid(world.check_postal_code, "75001", None)
    assert list(error.errors) == ["region"] and "country" in error.errors["region"]


# --- UK constituencies and subdivisions ------------------------------------------------------


def test_uk_constituencies():
    uk = regions.get_scheme("uk-constituencies")
    assert len(uk.regions) == 650
    assert uk.get("e14000530").name == "Aldershot"
    assert uk.info.shape_kind == "hexjson" and regions.shape_path(uk.info).is_file()
    with (regions.DATA_DIR / "regions" / "uk-constituencies.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len({(r["q"], r["r"]) for r in rows}) == 650
    hexes = json.loads(regions.shape_path(uk.info).read_text(encoding="utf-8"))["hexes"]
    assert set(hexes) == {r.code for r in uk.regions}


def test_subdivisions():
    de = regions.get_scheme("subdivisions-de")
    assert de.get("DE-BY").name in {"Bayern", "Bavaria"}
    assert len(de.regions) == 16
    assert de.info.shapes is None and regions.shape_path(de.info) is None
    assert regions.get_scheme("Subdivisions-DE") is de
    bd = regions.get_scheme("subdivisions-bd")
    assert len({r.name for r in bd.regions}) == len(bd.regions)  # duplicate names are told apart


def test_list_schemes():
    schemes = regions.list_schemes()
    ids = [s.id for s in schemes]
    assert ids[:3] == ["us-states", "world-countries", "uk-constituencies"]
    assert len(ids) == len(set(ids)) and len(ids) > 150
    assert "subdivisions-de" in ids and "subdivisions-fr" in ids
    rest = [s.name.casefold() for s in schemes[3:]]
    assert rest[0].startswith("afghanistan")
    for info in schemes[:3]:
        assert regions.get_scheme(info.id).info == info


@pytest.mark.parametrize("scheme_id", ["nope", "subdivisions-zz", "subdivisions-", ""])
def test_unknown_scheme(scheme_id):
    with pytest.raises(UnknownRegionScheme):
        regions.get_scheme(scheme_id)
