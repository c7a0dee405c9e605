"""The Paper signatures page under AppTest: a coordinator checks a file, imports its good rows, gets the report."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from campaigns.core.db import read_session
from campaigns.core.models import AuditEntry, Signature
from tests.app import test_app_staff
from tests.app.test_app_staff import refused
from tests.unit.test_paper import HEADER, campaign_at
from tests.unit.test_supporters import assert_counts_match_signatures

staff_app = test_app_staff.staff_app  # the logged-in AppTest fixture

pytestmark = pytest.mark.apptest
FILE = (
    HEADER
    + "Ada,ada@example.org,ca,2026-03-01,yes\n"
    + "Bob,bob@example.org,New York,2026-03-02,no\n"
    + "Ada again,ADA@example.org,TX,2026-03-03,no\n"
    + "Lucy,lucy@example.org,Narnia,2026-03-01,no\n"
).encode()


def button(at, label: str):
    [found] = [b for b in at.button if b.label.startswith(label)]
    return found


def test_coordinator_checks_then_imports_a_file_and_can_download_both_reports(staff_app, engine):
    as_person, open_page = staff_app
    campaign = campaign_at(engine, "paper-page")
    as_person(("coordinator",), email="coord@example.org")
    at = open_page("paper")
    assert not at.exception and at.title[0].value == "Paper signatures"
    at.file_uploader[0].set_value(("paper.csv", FILE, "text/csv"))
    at.run()
    button(at, "Check the file").click()
    at.run()
    assert not at.exception
    assert any("4 rows: 2 to import, 1 duplicate, 1 error." in m.value for m in at.markdown)
    problems = at.dataframe[0].value
    assert list(problems["line"]) == [4, 5] and list(problems["outcome"]) == ["duplicate", "error"]
    with read_session(engine) as session:
        assert session.execute(select(Signature)).first() is None  # the check writes nothing
    button(at, "Import the 2 rows").click()
    at.run()
    assert not at.exception
    assert [s.value for s in at.success] == ["Imported paper\\.csv: 4 rows: 2 imported, 1 duplicate, 1 error."]
    assert [b.proto.label for b in at.get("download_button")] == ["Download the import report (CSV)"]
    with read_session(engine) as session:
        stored = session.execute(select(Signature.full_name, Signature.source)).all()
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "signatures_imported")).scalar_one()
    assert sorted(stored) == [("Ada", "paper"), ("Bob", "paper")]
    assert entry.actor == "coord@example.org" and json.loads(entry.detail)["imported"] == 2
    assert assert_counts_match_signatures(engine, campaign.id) == 2


def test_a_file_that_cannot_be_read_gets_one_clear_message_and_no_import_button(staff_app, engine):
    as_person, open_page = staff_app
    campaign_at(engine, "paper-bad")
    as_person(("organizer",))
    at = open_page("paper")
    at.file_uploader[0].set_value(("paper.csv", b"name|email|region\nA|a@example.org|CA\n", "text/csv"))
    at.run()
    button(at, "Check the file").click()
    at.run()
    assert not at.exception
    assert next(e.value for e in at.error).startswith("The file has a single column")
    assert not [b for b in at.button if b.label.startswith("Import")]


def test_a_file_mixing_encodings_is_refused_on_the_page_naming_the_line(staff_app, engine):
    as_person, open_page = staff_app
    campaign_at(engine, "paper-mixed")
    as_person(("coordinator",))
    at = open_page("paper")
    data = FILE + b"Ren\xe9e,renee@example.org,NY,2026-03-02,no\n"
    at.file_uploader[0].set_value(("paper.csv", data.replace(b"Ada,", "Adà,".encode()), "text/csv"))
    at.run()
    button(at, "Check the file").click()
    at.run()
    assert not at.exception
    assert next(e.value for e in at.error).startswith('Line 6 of the file is not UTF-8 text ("Ren\ufffde,')
    assert not [b for b in at.button if b.label.startswith("Import")]


def test_without_an_open_or_closed_campaign_the_page_says_so(staff_app, engine):
    as_person, open_page = staff_app
    as_person(("coordinator",))
    at = open_page("paper")
    assert not at.exception and not refused(at)
    assert [i.value for i in at.info] == ["No published or closed campaign yet: paper signatures go into one of those."]
