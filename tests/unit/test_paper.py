"""Paper signatures: a CSV of offline signers checked row by row, imported once, counted like any signature."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from campaigns.core.audit import CLI
from campaigns.core.db import read_session, run_write
from campaigns.core.errors import CampaignNotFound, InvalidInput, RallyError
from campaigns.core.models import AuditEntry, Campaign, Signature
from campaigns.core.settings import override_settings
from campaigns.signatures import paper
from campaigns.signatures.signing import sign
from tests.support.factories import make_campaign, signer
from tests.unit.test_supporters import assert_counts_match_signatures

CREATED = datetime(2026, 1, 10, 15, 0, tzinfo=UTC)
NOW = datetime(2026, 6, 15, 9, 30, tzinfo=UTC)
HEADER = "name,email,region,signed_date,consent\n"


def campaign_at(engine, slug: str, *, region_scheme: str = "us-states", **changes) -> Campaign:
    """A published campaign created on CREATED (so paper dates between then and NOW are valid)."""
    campaign = make_campaign(engine, slug=slug, region_scheme=region_scheme)
    values = {"created_at": CREATED, **changes}
    run_write(engine, lambda s: s.execute(update(Campaign).where(Campaign.id == campaign.id).values(**values)))
    return campaign


def run_import(engine, slug: str, text: str | bytes, **kwargs) -> paper.ImportReport:
    data = text.encode() if isinstance(text, str) else text
    options = {"actor": CLI, "file_name": "signatures.csv", "now": NOW, **kwargs}
    return paper.import_signatures(engine=engine, campaign_slug=slug, data=data, **options)


def preview(engine, slug: str, text: str | bytes) -> paper.ImportReport:
    data = text.encode() if isinstance(text, str) else text
    with read_session(engine) as session:
        return paper.preview_import(session=session, campaign_slug=slug, data=data, file_name="s.csv", now=NOW)


def outcomes(report: paper.ImportReport) -> list[tuple[int, str]]:
    return [(r.line, r.outcome) for r in report.rows]


def messages(report: paper.ImportReport) -> dict[int, str]:
    return {r.line: r.message for r in report.rows}


def signatures(engine, campaign_id: int) -> list[Signature]:
    with read_session(engine) as session:
        stmt = select(Signature).where(Signature.campaign_id == campaign_id).order_by(Signature.id)
        return list(session.execute(stmt).scalars())


# --- regions ---------------------------------------------------------------------------------------


def test_region_is_a_code_a_name_or_a_us_postal_abbreviation_in_any_case(engine):
    campaign = campaign_at(engine, "regions")
    given = ["US-CA", "us-ny", "California", "NEW YORK", "tx", "Tx", "dc", "puerto rico", " wa "]
    rows = "".join(f"Person {i},p{i}@example.org,{region},2026-03-01,no\n" for i, region in enumerate(given))
    report = run_import(engine, campaign.slug, HEADER + rows)
    assert report.imported == len(given) and report.errors == 0
    assert [s.region_code for s in signatures(engine, campaign.id)] == [
        "US-CA", "US-NY", "US-CA", "US-NY", "US-TX", "US-TX", "US-DC", "US-PR", "US-WA",
    ]  # fmt: skip


def test_world_countries_by_code_or_name_ignoring_case_and_accents(engine):
    campaign = campaign_at(engine, "countries", region_scheme="world-countries")
    rows = (
        "a,a@example.org,fr,2026-03-01,no\n"
        "b,b@example.org,GERMANY,2026-03-01,no\n"
        "c,c@example.org,aland islands,2026-03-01,\n"
    )
    report = run_import(engine, campaign.slug, HEADER + rows)
    assert report.imported == 3
    assert [s.region_code for s in signatures(engine, campaign.id)] == ["FR", "DE", "AX"]


def test_unknown_region_is_an_error_that_names_it_and_the_scheme(engine):
    campaign = campaign_at(engine, "narnia")
    report = run_import(engine, campaign.slug, HEADER + "Lucy,lucy@example.org,Narnia,2026-03-01,no\n")
    assert outcomes(report) == [(2, "error")]
    assert messages(report)[2] == "Region: Unknown state “Narnia”: use a code or name from the scheme “us-states”."
    assert signatures(engine, campaign.id) == []


# --- duplicates ------------------------------------------------------------------------------------


def test_the_same_person_twice_in_one_file_is_counted_once_and_the_first_line_wins(engine):
    campaign = campaign_at(engine, "twice")
    rows = (
        "Ada,ada.lovelace@gmail.com,CA,2026-03-01,yes\n"
        "Ada L.,AdaLovelace+paper@googlemail.com,NY,2026-03-02,no\n"
        "Bob,bob@example.org,TX,2026-03-02,no\n"
    )
    report = run_import(engine, campaign.slug, HEADER + rows)
    assert outcomes(report) == [(2, "imported"), (3, "duplicate"), (4, "imported")]
    assert messages(report)[3] == "Same person (same email) as line 2 of this file: counted once."
    assert [(s.full_name, s.region_code) for s in signatures(engine, campaign.id)] == [
        ("Ada", "US-CA"),
        ("Bob", "US-TX"),
    ]
    assert assert_counts_match_signatures(engine, campaign.id) == 2


def test_a_person_who_signed_online_and_on_paper_is_counted_once(engine):
    campaign = campaign_at(engine, "both")
    run_write(engine, lambda s: sign(session=s, campaign_slug=campaign.slug, signer=signer(email="Zoe.Q@gmail.com")))
    report = run_import(engine, campaign.slug, HEADER + "Zoë,zoeq@gmail.com,CA,2026-03-01,no\n")
    assert outcomes(report) == [(2, "duplicate")]
    assert messages(report)[2] == "Already signed this campaign (online or in an earlier import): counted once."
    [only] = signatures(engine, campaign.id)
    assert only.source == "online"
    assert assert_counts_match_signatures(engine, campaign.id) == 1


def test_importing_the_same_file_again_adds_nothing(engine):
    campaign = campaign_at(engine, "again")
    rows = "".join(
        f"P{i},p{i}@example.org,{random.choice(['CA', 'NY', 'TX'])},2026-03-0{1 + i % 9},no\n" for i in range(40)
    )
    first = run_import(engine, campaign.slug, HEADER + rows + "Bad,,CA,2026-03-01,no\n")
    second = run_import(engine, campaign.slug, HEADER + rows + "Bad,,CA,2026-03-01,no\n")
    assert (first.imported, first.duplicates, first.errors) == (40, 0, 1)
    assert (second.imported, second.duplicates, second.errors) == (0, 40, 1)
    assert assert_counts_match_signatures(engine, campaign.id) == 40


# --- counts ----------------------------------------------------------------------------------------


def test_counts_per_region_and_hour_equal_a_brute_force_count_alongside_online_signers(engine):
    campaign = campaign_at(engine, "counts")
    for _ in range(5):
        run_write(engine, lambda s: sign(session=s, campaign_slug=campaign.slug, signer=signer(), now=NOW))
    rng = random.Random(7)
    rows = "".join(
        f"P{i},paper{i}@example.org,{rng.choice(['CA', 'NY', 'TX', 'Oregon'])},"
        f"{(CREATED + timedelta(days=rng.randrange(150))).date()}{rng.choice(['', 'T08:15', 'T23:59:59+02:00'])},"
        f"{rng.choice(['yes', 'no', ''])}\n"
        for i in range(250)
    )
    report = run_import(engine, campaign.slug, HEADER + rows, chunk_rows=60)
    assert report.imported + report.errors == 250
    assert assert_counts_match_signatures(engine, campaign.id) == 5 + report.imported


def test_a_failure_part_way_keeps_whole_chunks_and_a_rerun_adds_only_the_rest(engine):
    campaign = campaign_at(engine, "resume")
    rows = "".join(f"P{i},p{i}@example.org,CA,2026-03-01,no\n" for i in range(25))

    def stop_after_first_chunk(done: int, total: int) -> None:
        raise RuntimeError("connection lost")

    with pytest.raises(RuntimeError):
        run_import(engine, campaign.slug, HEADER + rows, chunk_rows=10, on_progress=stop_after_first_chunk)
    assert len(signatures(engine, campaign.id)) == 10
    assert assert_counts_match_signatures(engine, campaign.id) == 10
    again = run_import(engine, campaign.slug, HEADER + rows, chunk_rows=10)
    assert (again.imported, again.duplicates) == (15, 10)
    assert assert_counts_match_signatures(engine, campaign.id) == 25
    with read_session(engine) as session:
        details = [json.loads(d) for d in session.execute(select(AuditEntry.detail).order_by(AuditEntry.id)).scalars()]
    imports = [d for d in details if "imported" in d]
    assert [(d["imported"], d["completed"]) for d in imports] == [(10, False), (15, True)]


def test_the_dry_run_writes_nothing_and_predicts_the_import(engine):
    campaign = campaign_at(engine, "dry")
    run_write(engine, lambda s: sign(session=s, campaign_slug=campaign.slug, signer=signer(email="old@example.org")))
    text = HEADER + "A,a@example.org,CA,2026-03-01,no\nOld,old@example.org,CA,2026-03-01,no\nC,,CA,2026-03-01,no\n"
    checked = preview(engine, campaign.slug, text)
    assert outcomes(checked) == [(2, "ready"), (3, "duplicate"), (4, "error")]
    assert len(signatures(engine, campaign.id)) == 1
    done = run_import(engine, campaign.slug, text)
    assert outcomes(done) == [(2, "imported"), (3, "duplicate"), (4, "error")]


# --- what is stored --------------------------------------------------------------------------------


def test_signed_dates_consent_and_source_are_stored_in_utc(engine):
    campaign = campaign_at(engine, "stored")
    rows = (
        "Ada,ada@example.org,CA,2026-03-14,yes\n"
        "Bob,bob@example.org,CA,2026-03-14T23:30:00-05:00,TRUE\n"
        "Cy,cy@example.org,CA,2026-01-10,1\n"  # the creation day: noon is before 15:00, so creation time
        "Di,di@example.org,CA,2026-06-15,no\n"  # today: noon is after NOW (09:30), so now
        "Ed,ed@example.org,CA,2026-03-14,\n"
    )
    run_import(engine, campaign.slug, HEADER + rows, source="import")
    stored = {s.full_name: s for s in signatures(engine, campaign.id)}
    assert stored["Ada"].created_at == datetime(2026, 3, 14, 12, tzinfo=UTC)
    assert stored["Bob"].created_at == datetime(2026, 3, 15, 4, 30, tzinfo=UTC)
    assert stored["Cy"].created_at == CREATED
    assert stored["Di"].created_at == NOW
    assert {name: s.contact_consent for name, s in stored.items()} == {
        "Ada": True, "Bob": True, "Cy": True, "Di": False, "Ed": False,
    }  # fmt: skip
    assert stored["Ada"].consent_hash == campaign.consent_hash and stored["Ada"].consent_at == stored["Ada"].created_at
    assert stored["Di"].consent_hash is None and stored["Di"].consent_at is None
    assert {s.source for s in stored.values()} == {"import"}
    assert run_import(engine, "stored", HEADER + "Fi,fi@example.org,CA,2026-03-14,no\n").imported == 1
    assert signatures(engine, campaign.id)[-1].source == "paper"
    assert assert_counts_match_signatures(engine, campaign.id) == 6


@pytest.mark.parametrize(
    ("date", "message"),
    [
        ("", "Signed date: The signed date is missing (write it as YYYY-MM-DD)."),
        ("14/03/2026", "Signed date: “14/03/2026” is not a date as YYYY-MM-DD (for example 2026-03-14)."),
        ("3/14/2026", "Signed date: “3/14/2026” is not a date as YYYY-MM-DD (for example 2026-03-14)."),
        ("2026-02-30", "Signed date: “2026-02-30” is not a real date."),
        ("2026-06-16", "Signed date: 2026-06-16 is in the future."),
        ("2026-06-15T10:00", "Signed date: 2026-06-15T10:00 is in the future."),
        ("2026-01-09", "Signed date: 2026-01-09 is before the campaign was created (2026-01-10)."),
        ("2026-01-10T14:59", "Signed date: 2026-01-10T14:59 is before the campaign was created (2026-01-10)."),
    ],
)
def test_bad_signed_dates_are_errors_saying_what_is_wrong(engine, date, message):
    campaign = campaign_at(engine, "dates")
    report = run_import(engine, campaign.slug, HEADER + f"Ada,ada@example.org,CA,{date},no\n")
    assert outcomes(report) == [(2, "error")] and messages(report)[2] == message


def test_paper_signed_after_the_campaign_closed_is_refused(engine):
    campaign = campaign_at(engine, "closed", status="closed", closed_at=datetime(2026, 5, 1, 18, tzinfo=UTC))
    report = run_import(
        engine, campaign.slug, HEADER + "A,a@example.org,CA,2026-05-01,no\nB,b@example.org,CA,2026-05-02,no\n"
    )
    assert outcomes(report) == [(2, "imported"), (3, "error")]
    assert messages(report)[3] == "Signed date: 2026-05-02 is after the campaign closed (2026-05-01)."
    assert signatures(engine, campaign.id)[0].created_at == datetime(2026, 5, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(("status", "fragment"), [("draft", "is draft"), ("archived", "is archived")])
def test_draft_and_archived_campaigns_take_no_paper_signatures(engine, status, fragment):
    campaign = campaign_at(engine, f"c-{status}", status=status)
    with pytest.raises(RallyError, match=fragment):
        run_import(engine, campaign.slug, HEADER + "A,a@example.org,CA,2026-03-01,no\n")
    with pytest.raises(CampaignNotFound):
        run_import(engine, "no-such-campaign", HEADER + "A,a@example.org,CA,2026-03-01,no\n")
    with pytest.raises(CampaignNotFound):  # PostgreSQL can't even compare a NUL byte: never asked
        run_import(engine, f"{campaign.slug}\x00", HEADER + "A,a@example.org,CA,2026-03-01,no\n")


# --- bad input -------------------------------------------------------------------------------------


def file_refusal(engine, data: bytes) -> str:
    campaign = campaign_at(engine, "refused")
    with pytest.raises(InvalidInput) as info:
        run_import(engine, campaign.slug, data)
    assert list(info.value.errors) == ["file"]
    assert signatures(engine, campaign.id) == []
    return info.value.errors["file"]


def test_a_file_over_the_size_limit_is_refused_with_both_sizes(engine):
    with override_settings(max_upload_mb=1):
        message = file_refusal(engine, (HEADER + "A,a@example.org,CA,2026-03-01,no\n" * 40_000).encode())
    assert message == "The file is 1.3 MB; the limit is 1 MB."


_ROW = "A,a@example.org,CA,2026-03-01,no\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEADER + _ROW * 100_001, "The file has more than 100,000 rows;"),
        (HEADER.strip() + "," * 200 + "\n" + _ROW, "The file's header has 205 columns; at most 100 are allowed."),
        (HEADER + "A" * 10_001 + _ROW[1:], "Line 2 of the file has 10,032 characters; at most 10,000"),
    ],
    ids=["rows", "columns", "line"],
)
def test_a_file_over_the_row_column_or_line_bounds_is_refused_naming_the_limit(engine, text, message):
    assert file_refusal(engine, text.encode()).startswith(message)


def test_a_file_with_another_delimiter_is_refused_as_a_single_column(engine):
    message = file_refusal(engine, b"name|email|region|signed_date|consent\nA|a@example.org|CA|2026-03-01|no\n")
    assert message == (
        'The file has a single column (found "name|email|region|signed_date|consent"): its columns must be '
        "separated by commas, semicolons or tabs. Expected the columns name,email,region,signed_date,consent."
    )


def test_a_file_in_utf16_is_refused_asking_for_csv_utf8(engine):
    assert '"CSV UTF-8"' in file_refusal(engine, (HEADER + "Zoë,z@example.org,CA,2026-03-01,no\n").encode("utf-16"))


def test_a_utf8_file_with_one_stray_latin1_byte_is_refused_at_that_line_not_garbled(engine):
    utf8 = (HEADER + "José Müller,jose@example.org,CA,2026-03-01,no\n" * 3).encode()
    stray = b"Ren\xe9e Dupont,renee@example.org,NY,2026-03-02,no\n"  # pasted from a Latin-1 file
    message = file_refusal(engine, utf8 + stray + b"Bob,bob@example.org,TX,2026-03-02,no\n")
    assert message.startswith('Line 5 of the file is not UTF-8 text ("Ren\ufffde Dupont,renee@example.org,NY…"), ')
    assert 'though other lines are (line 2: "José Müller,jose@example.org' in message
    assert message.endswith('Retype the characters shown as "\ufffd" on line 5 and upload the file again.')


def test_missing_columns_are_named(engine):
    message = file_refusal(engine, b"name,region,signed_date,consent\nA,CA,2026-03-01,no\n")
    assert message.endswith("Missing: email.")


def test_windows_excel_files_with_semicolons_and_other_header_spellings_are_read(engine):
    campaign = campaign_at(engine, "excel")
    text = (
        "Full name;E-mail;State;Signed on;Contact consent\r\n"
        "José Müller – “Pepe”;jose@example.org;Florida;2026-03-01;Yes\r\n"
    )
    report = run_import(engine, campaign.slug, text.encode("cp1252"))
    assert report.imported == 1
    [stored] = signatures(engine, campaign.id)
    assert (stored.full_name, stored.region_code, stored.contact_consent) == ("José Müller – “Pepe”", "US-FL", True)
    tabbed = run_import(
        engine, campaign.slug, b"\xef\xbb\xbfNAME\tEMAIL\tREGION\tDATE\tCONSENT\nB\tb@example.org\tFL\t2026-03-01\tno\n"
    )
    assert tabbed.imported == 1


def test_each_bad_cell_gets_its_own_message_in_one_line_of_the_report(engine):
    campaign = campaign_at(engine, "cells")
    rows = (
        ",not-an-email,Narnia,2026-13-01,maybe\n"
        "No Email,,CA,2026-03-01,no\n"
        "Short,a@example.org,CA\n"
        "Evil\u202eeman,e@example.org,CA,2026-03-01,no\n"
    )
    report = run_import(engine, campaign.slug, HEADER + rows)
    assert outcomes(report) == [(2, "error"), (3, "error"), (4, "error"), (5, "error")]
    found = messages(report)
    assert found[2].startswith("Name: The name is missing. Email: “not-an-email”: That email address isn't valid")
    assert "Region: Unknown state “Narnia”" in found[2] and "Signed date: “2026-13-01” is not a real date." in found[2]
    assert found[2].endswith("Consent: “maybe” is not yes or no (yes, y, true, 1 / no, n, false, 0, empty).")
    assert found[3] == "Email: The email is missing: paper signatures need one, so that each person is counted once."
    assert found[4] == "The row has 3 cells, the header has 5."
    assert found[5] == "The row (name) contains text-direction control characters; please retype it."


def test_formula_looking_text_is_stored_as_typed_and_the_report_stays_text(engine):
    campaign = campaign_at(engine, "formula")
    rows = (
        '"=HYPERLINK(""http://evil.example"",""click"")",f@example.org,CA,2026-03-01,no\n'
        "+1 Cell,g@example.org,=1+2,2026-03-01,no\n"
    )
    report = run_import(engine, campaign.slug, HEADER + rows)
    assert outcomes(report) == [(2, "imported"), (3, "error")]
    [stored] = signatures(engine, campaign.id)
    assert stored.full_name == '=HYPERLINK("http://evil.example","click")'
    lines = list(csv.reader(io.StringIO(report.report_csv().decode("utf-8-sig"))))
    assert lines[0] == ["line", "outcome", "message"]
    assert lines[2] == ["3", "error", "Region: Unknown state “=1+2”: use a code or name from the scheme “us-states”."]
    assert all(cell[:1] not in "=+-@" for line in lines for cell in line)


def test_every_import_is_audited_with_who_what_and_how_many(engine):
    campaign = campaign_at(engine, "audited")
    run_import(
        engine, campaign.slug, HEADER + "A,a@example.org,CA,2026-03-01,no\nA,a@example.org,CA,2026-03-01,no\nB,,CA,,\n"
    )
    with read_session(engine) as session:
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "signatures_imported")).scalar_one()
    assert (entry.actor, entry.campaign_id) == ("cli", campaign.id)
    assert json.loads(entry.detail) == {
        "file": "signatures.csv", "source": "paper", "imported": 1, "duplicates": 1, "errors": 1, "completed": True,
    }  # fmt: skip


def test_the_sample_file_in_data_demo_imports_cleanly(engine):
    from pathlib import Path

    campaign = campaign_at(engine, "sample")
    sample = Path(__file__).resolve().parents[2] / "data" / "demo" / "paper-signatures-example.csv"
    report = run_import(engine, campaign.slug, sample.read_bytes())
    assert (report.imported, report.duplicates, report.errors) == (5, 0, 0)
    assert [s.region_code for s in signatures(engine, campaign.id)] == ["US-CA", "US-NY", "US-VA", "US-TX", "US-FL"]


def test_an_import_while_the_same_people_sign_online_counts_each_person_once(engine):
    import threading

    campaign = campaign_at(engine, "busy")
    emails = [f"p{i}@example.org" for i in range(300)]
    rows = "".join(f"P{i},{email},CA,2026-03-01,no\n" for i, email in enumerate(emails))
    failures: list[BaseException] = []

    def sign_online() -> None:
        try:
            for email in emails[::3]:  # every third paper signer also signs online, at the same time
                run_write(
                    engine,
                    lambda s, email=email: sign(
                        session=s, campaign_slug=campaign.slug, signer=signer(email=email), now=NOW
                    ),
                )
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    online = threading.Thread(target=sign_online)
    online.start()
    report = run_import(engine, campaign.slug, HEADER + rows, chunk_rows=20)
    online.join()
    assert failures == []
    assert report.imported + report.duplicates == 300 and report.errors == 0
    assert assert_counts_match_signatures(engine, campaign.id) == 300
    assert sorted(s.email for s in signatures(engine, campaign.id)) == sorted(emails)
