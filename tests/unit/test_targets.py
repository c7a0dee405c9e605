"""Targets: importing them from CSV (all rows or nothing), adding, listing, and who a region writes to."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from campaigns.core.audit import Actor
from campaigns.core.db import read_session, run_write
from campaigns.core.errors import InvalidInput
from campaigns.core.models import AuditEntry, Target
from campaigns.letters.targets import (
    TargetImportError,
    add_target,
    import_targets,
    list_targets,
    list_targets_for_region,
)
from tests.support.factories import make_campaign

ORGANIZER = Actor(user_id=None, email="organizer@example.org", roles=frozenset({"organizer"}))
HEADER = "region_code,name,title,email,postal_address\n"


def do_import(engine, campaign_id, text: str, encoding="utf-8"):
    data = text.encode(encoding)
    return run_write(engine, lambda s: import_targets(session=s, campaign_id=campaign_id, data=data, actor=ORGANIZER))


def import_error(engine, campaign_id, text: str) -> TargetImportError:
    with pytest.raises(TargetImportError) as info:
        do_import(engine, campaign_id, text)
    return info.value


def stored(engine, campaign_id) -> list[tuple[str | None, str, str | None]]:
    with read_session(engine) as session:
        return [(t.region_code, t.name, t.email) for t in list_targets(session=session, campaign_id=campaign_id)]


def audit_actions(engine) -> list[tuple[str, dict]]:
    with read_session(engine) as session:
        entries = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
        return [(e.action, json.loads(e.detail)) for e in entries if e.action.startswith("targets.")]


def test_import_stores_every_row_with_canonical_region_codes(engine):
    campaign = make_campaign(engine)
    result = do_import(
        engine,
        campaign.id,
        HEADER + 'us-ca,Alex Padilla,Senator,senator@padilla.example.org,"Hart Building\nWashington DC"\n'
        ",Jane Director,Director,,\n",
    )
    assert (result.count, result.replaced) == (2, 0)
    assert stored(engine, campaign.id) == [
        (None, "Jane Director", None),
        ("US-CA", "Alex Padilla", "senator@padilla.example.org"),
    ]
    with read_session(engine) as session:
        padilla = list_targets_for_region(session=session, campaign_id=campaign.id, region_code="US-CA")[0]
    assert (padilla.title, padilla.postal_address) == ("Senator", "Hart Building\nWashington DC")
    assert audit_actions(engine) == [("targets.import", {"count": 2, "replaced": 0})]


def test_latin1_semicolon_file_from_excel_is_imported(engine):
    campaign = make_campaign(engine)
    do_import(engine, campaign.id, HEADER.replace(",", ";") + "US-NY;Zoë Müller;;;\n", encoding="cp1252")
    assert stored(engine, campaign.id) == [("US-NY", "Zoë Müller", None)]


def test_one_bad_row_among_good_ones_imports_nothing_and_reports_each_problem(engine):
    campaign = make_campaign(engine)
    do_import(engine, campaign.id, HEADER + "US-CA,Kept Target,,,\n")
    error = import_error(
        engine,
        campaign.id,
        HEADER
        + "US-CA,Alex Padilla,,alex@example.org,\n"  # line 2: fine
        + "XX-YY,Nobody,,,\n"  # line 3: unknown region
        + "US-NY,Chuck,,not-an-email,\n"  # line 4: bad email
        + ",,Title only,,\n"  # line 5: no name
        + "us-ca,alex padilla,,,\n"  # line 6: same region and name as line 2
        + "US-CA,Other Person,,Alex@Example.org,\n"  # line 7: same region and email as line 2
        + "US-TX,Too,Many,,,cells\n"  # line 8: cell count
        + f"US-TX,{'x' * 201},,,\n",  # line 9: long name
    )
    assert error.report_csv().decode("utf-8") == (
        "\ufeffline,column,value,problem\r\n"
        '3,region_code,XX-YY,"""XX-YY"" is not a region code of the scheme ""US states"" (us-states). '
        'Leave it empty for a target of every signer."\r\n'
        "4,email,not-an-email,That email address isn't valid: An email address must have an @-sign.\r\n"
        "5,name,,The name is missing.\r\n"
        "6,name,alex padilla,Same region and name as line 2.\r\n"
        "7,email,Alex@Example.org,Same region and email as line 2.\r\n"
        '8,,"US-TX,Too,Many,,,cells","has 6 cells, the header has 5"\r\n'
        f"9,name,{'x' * 200}…,The name has 201 characters; at most 200 are allowed.\r\n"
    )
    assert "nothing was saved" in error.user_message
    assert stored(engine, campaign.id) == [("US-CA", "Kept Target", None)]


def test_import_replaces_the_existing_targets(engine):
    campaign = make_campaign(engine)
    other = make_campaign(engine)
    do_import(engine, campaign.id, HEADER + "US-CA,Old One,,,\nUS-NY,Old Two,,,\n")
    do_import(engine, other.id, HEADER + "US-CA,Other Campaign,,,\n")
    result = do_import(engine, campaign.id, HEADER + "US-TX,New One,,,\n")
    assert (result.count, result.replaced) == (1, 2)
    assert stored(engine, campaign.id) == [("US-TX", "New One", None)]
    assert stored(engine, other.id) == [("US-CA", "Other Campaign", None)]


def test_targets_for_region_adds_everyone_targets_and_falls_back_to_them(engine):
    campaign = make_campaign(engine)
    do_import(engine, campaign.id, HEADER + ",Governor Everyone,,,\nUS-CA,Senator Ca,,,\nUS-CA,Another Ca,,,\n")
    with read_session(engine) as session:
        california = [
            t.name for t in list_targets_for_region(session=session, campaign_id=campaign.id, region_code="us-ca")
        ]
        texas = [t.name for t in list_targets_for_region(session=session, campaign_id=campaign.id, region_code="US-TX")]
    assert california == ["Another Ca", "Senator Ca", "Governor Everyone"]
    assert texas == ["Governor Everyone"]


def test_adding_a_target_is_checked_and_audited_and_an_import_replaces_it(engine):
    campaign = make_campaign(engine)
    target = run_write(
        engine,
        lambda s: add_target(
            session=s,
            campaign_id=campaign.id,
            region_code="us-wa",
            name=" Patty ",
            email="P@Example.org",
            actor=ORGANIZER,
        ),
    )
    assert (target.region_code, target.name) == ("US-WA", "Patty")
    with pytest.raises(InvalidInput) as info:
        run_write(
            engine,
            lambda s: add_target(
                session=s, campaign_id=campaign.id, region_code="ZZ", name="", email="nope", actor=ORGANIZER
            ),
        )
    assert set(info.value.errors) == {"region_code", "name", "email"}
    with pytest.raises(InvalidInput, match="already a target called"):
        run_write(
            engine,
            lambda s: add_target(
                session=s, campaign_id=campaign.id, region_code="US-WA", name="patty", actor=ORGANIZER
            ),
        )
    # A target leaves a campaign with an import that replaces them all: organizers remove none one by one.
    assert do_import(engine, campaign.id, HEADER + "US-OR,Ron,,,\n").replaced == 1
    assert stored(engine, campaign.id) == [("US-OR", "Ron", None)]
    assert [(action, detail.get("replaced")) for action, detail in audit_actions(engine)] == [
        ("targets.add", None),
        ("targets.import", 1),
    ]


def test_region_codes_are_checked_against_the_campaigns_own_scheme(engine):
    campaign = make_campaign(engine, region_scheme="world-countries")
    error = import_error(engine, campaign.id, HEADER + "US-CA,Someone,,,\nFR,Quelqu'un,,,\n")
    assert [(e.line, e.column) for e in error.errors] == [(2, "region_code")]
    assert "Countries of the world" in error.errors[0].message


def test_header_without_the_optional_value_columns_is_refused(engine):
    campaign = make_campaign(engine)
    with pytest.raises(InvalidInput, match="Expected the columns region_code,name,title,email,postal_address"):
        do_import(engine, campaign.id, "region_code,name\nUS-CA,Someone\n")
    with read_session(engine) as session:
        assert session.execute(select(Target)).first() is None


def test_a_file_over_the_upload_bounds_is_refused_naming_the_limit_and_nothing_changes(engine):
    campaign = make_campaign(engine)
    do_import(engine, campaign.id, HEADER + "US-CA,Kept,,,\n")
    wide = HEADER.strip() + ",x" * 200 + "\nUS-CA,Someone,,,\n"
    with pytest.raises(InvalidInput) as info:
        do_import(engine, campaign.id, wide)
    assert info.value.errors["file"].startswith("The file's header has 205 columns; at most 100 are allowed.")
    with pytest.raises(InvalidInput, match="Line 3 of the file has 10,011 characters; at most 10,000"):
        do_import(engine, campaign.id, HEADER + "US-CA,Someone,,,\nUS-NY," + "x" * 10_005 + "\n")
    assert stored(engine, campaign.id) == [("US-CA", "Kept", None)]


def test_a_file_mixing_utf8_and_windows_1252_is_refused_naming_the_line(engine):
    campaign = make_campaign(engine)
    data = (HEADER + "US-NY,Zoë Müller,,,\n").encode() + b"US-CA,Ren\xe9e,,,\n"
    with pytest.raises(InvalidInput, match=r"^Line 3 of the file is not UTF-8 text"):
        run_write(engine, lambda s: import_targets(session=s, campaign_id=campaign.id, data=data, actor=ORGANIZER))
    assert stored(engine, campaign.id) == []


def test_an_address_in_one_line_columns_is_stored_one_line_each(engine):
    campaign = make_campaign(engine)
    header = "region_code,name,title,email,address_line1,address_line2,address_line3\n"
    do_import(
        engine,
        campaign.id,
        header + 'US-OH,Jordan Ellis,Senator,,Room 201 Ohio Statehouse,1 Capitol Square,"Columbus, OH 43215"\n'
        "US-CA,No Address,Senator,,,,\n",
    )
    with read_session(engine) as session:
        addresses = {t.name: t.postal_address for t in list_targets(session=session, campaign_id=campaign.id)}
    assert addresses == {
        "Jordan Ellis": "Room 201 Ohio Statehouse\n1 Capitol Square\nColumbus, OH 43215",
        "No Address": "",
    }


def test_a_file_without_any_address_column_imports(engine):
    campaign = make_campaign(engine)
    assert do_import(engine, campaign.id, "region_code,name,title,email\nUS-CA,Someone,Senator,\n").count == 1
    with read_session(engine) as session:
        [target] = list_targets(session=session, campaign_id=campaign.id)
    assert target.postal_address == ""


def test_an_address_given_twice_or_a_line_too_long_is_refused_and_nothing_changes(engine):
    campaign = make_campaign(engine)
    header = "region_code,name,title,email,postal_address,address_line1\n"
    error = import_error(
        engine, campaign.id, header + "US-CA,Both,,,Capitol,1 Main St\nUS-NY,Long,,," + f",{'x' * 201}\n"
    )
    assert [(e.line, e.column) for e in error.errors] == [(2, "postal_address"), (3, "postal_address")]
    assert "not both" in error.errors[0].message
    assert "address line1 has 201 characters; at most 200" in error.errors[1].message
    assert stored(engine, campaign.id) == []
