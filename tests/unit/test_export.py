"""Signer exports on SQLite and PostgreSQL: golden CSV and JSON, XLSX read back, filters, consent, audit, limits,
no partial files, and a consistent snapshot while people keep signing."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from campaigns.core.audit import CLI
from campaigns.core.db import read_session, run_write
from campaigns.core.errors import InvalidInput, RallyError
from campaigns.core.models import AuditEntry
from campaigns.export.filters import ExportFilter
from campaigns.export.formats import ExportRefused, chunks, export_to_file
from campaigns.export.snapshot import COLUMNS, count_matching, file_name, open_snapshot
from campaigns.signatures.signing import sign
from tests.support.export_data import EXPORTED_BY_DEFAULT, FIXED_NOW, PEOPLE, load_people
from tests.support.factories import signer
from tests.support.storage import mounted_tmpfs

GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).resolve().parents[2]
LIBS = ExportFilter(campaigns=("fund-libraries",))


def export_bytes(engine, export_filter=LIBS, fmt="csv", **options) -> bytes:
    with open_snapshot(engine=engine, export_filter=export_filter) as snapshot:
        return b"".join(chunks(snapshot, fmt, now=FIXED_NOW, **options))


def exported_names(engine, export_filter) -> list[str]:
    rows = list(csv.DictReader(io.StringIO(export_bytes(engine, export_filter).decode("utf-8"))))
    return [r["full_name"] for r in rows]


def audit_entries(engine) -> list[AuditEntry]:
    with read_session(engine) as session:
        return list(session.execute(select(AuditEntry).where(AuditEntry.action == "export.signers")).scalars())


# --- golden files ---------------------------------------------------------------------------------


def test_csv_export_matches_the_golden_file_byte_for_byte(engine):
    load_people(engine)
    assert export_bytes(engine) == (GOLDEN / "export.csv").read_bytes()


def test_csv_lines_are_the_same_in_batches_of_any_size(engine):
    """Plain batches are joined as they are, batches with a cell that needs quoting are written line by line
    (csv.writer only for those lines): the file is the golden one either way."""
    load_people(engine)
    golden = (GOLDEN / "export.csv").read_bytes()
    for size in (1, 2, 7):
        with open_snapshot(engine=engine, export_filter=LIBS, batch_rows=size) as snapshot:
            assert b"".join(chunks(snapshot, "csv", now=FIXED_NOW)) == golden, size


def test_json_export_matches_the_golden_file_and_is_osdi_shaped(engine):
    load_people(engine)
    body = export_bytes(engine, fmt="json")
    assert body == (GOLDEN / "export.json").read_bytes()
    document = json.loads(body)
    signatures = document["_embedded"]["osdi:signatures"]
    assert document["total_records"] == len(signatures) == EXPORTED_BY_DEFAULT
    assert signatures[2]["person"]["given_name"].startswith("=HYPERLINK")  # JSON is never altered


def test_csv_neutralizes_every_formula_trigger_and_nothing_else(engine):
    load_people(engine)
    rows = list(csv.reader(io.StringIO(export_bytes(engine).decode("utf-8"), newline="")))
    assert rows[0] == list(COLUMNS)
    cells = [cell for row in rows[1:] for cell in row]
    for dangerous in ("=1+1", "+44 20 7946 0958", "-5", "@SUM(A1)", "\tTabbed Name", "\rcarriage return first"):
        assert "'" + dangerous in cells and dangerous not in cells
    assert not [c for c in cells if c[:1] in set("=+-@\t\r")]
    assert 'Zoë "Q" O\'Brien, Jr' in cells and "Line one\nLine two, with a comma" in cells and "山田太郎" in cells


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+44 20", "'+44 20"),
        ("-5", "'-5"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=b", "a=b"),
        ("", ""),
        (None, None),
        (3, 3),
        (" =x", " =x"),
    ],
)
def test_the_csv_rule_is_exactly_a_leading_quote_on_trigger_characters(value, expected):
    from campaigns.export.snapshot import csv_safe_cell

    assert csv_safe_cell(value) == expected


def test_bom_is_only_there_when_asked_for(engine):
    load_people(engine)
    assert export_bytes(engine, bom=True).startswith("\ufeffcampaign,".encode())
    assert export_bytes(engine).startswith(b"campaign,")


def test_letters_sent_counts_only_rallys_emails_and_downloads_or_opens_have_their_own_column(engine):
    """Zoë: 2 emails sent, 1 failed, 1 letter downloaded, 1 opened in her mail app. José only downloaded his."""
    load_people(engine)
    rows = {r["full_name"]: r for r in csv.DictReader(io.StringIO(export_bytes(engine).decode("utf-8")))}
    assert COLUMNS[-2:] == ("letters_sent", "letters_downloaded_or_opened")
    zoe, jose = rows['Zoë "Q" O\'Brien, Jr'], rows["José García Márquez"]
    assert (zoe["letters_sent"], zoe["letters_downloaded_or_opened"]) == ("2", "2")
    assert (jose["letters_sent"], jose["letters_downloaded_or_opened"]) == ("0", "1")  # PDF and text: one letter
    assert all((r["letters_sent"], r["letters_downloaded_or_opened"]) == ("0", "0") for r in list(rows.values())[2:])


def test_the_letter_counts_are_driven_by_the_persons_letters_never_the_status_index(sqlite_engine):
    """The per-row subqueries search letter by signature_id and outreach by letter_id (the export benchmark's
    speed depends on it); the status index would walk every delivery of every person."""
    from sqlalchemy import text
    from sqlalchemy.dialects import sqlite

    from campaigns.export.filters import check_filter
    from campaigns.export.snapshot import rows_statement

    load_people(sqlite_engine)
    with read_session(sqlite_engine) as session:
        statement = rows_statement(check_filter(session=session, export_filter=LIBS), "sqlite")
        sql = str(statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
        session.execute(text("ANALYZE"))
        plan = [row[3] for row in session.execute(text("EXPLAIN QUERY PLAN " + sql))]
    letters = [step for step in plan if step.startswith("SEARCH letter")]
    outreach = [step for step in plan if step.startswith("SEARCH outreach")]
    assert len(letters) == 2 and all("(signature_id=?)" in step for step in letters), plan
    assert len(outreach) == 2 and all("(letter_id=?)" in step for step in outreach), plan
    assert not any("ix_outreach_status" in step or step.startswith("SCAN") for step in plan), plan


# --- XLSX -------------------------------------------------------------------------------------------


def test_xlsx_writes_text_as_text_never_formulas(engine, tmp_path):
    load_people(engine)
    path, rows = export_to_file(engine=engine, export_filter=LIBS, fmt="xlsx", output=tmp_path / "out.xlsx", actor=CLI)
    assert rows == EXPORTED_BY_DEFAULT
    with zipfile.ZipFile(path) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet
    book = openpyxl.load_workbook(path)
    table = [list(r) for r in book.active.iter_rows()]
    assert [c.value for c in table[0]] == list(COLUMNS)
    by_value = {c.value: c for row in table[1:] for c in row if c.value is not None}
    for dangerous in ("=1+1", "+44 20 7946 0958", "-5", "@SUM(A1)", "\tTabbed Name", "\rcarriage return first"):
        # exactly as typed (a carriage return is stored as OOXML's _x000D_ escape, which Excel reads back as
        # one), a text cell, with Excel's quote prefix
        cell = by_value[dangerous.replace("\r", "_x000D_")]
        assert cell.data_type == "s" and cell.quotePrefix
    assert by_value['Zoë "Q" O\'Brien, Jr'].data_type == "s" and not by_value['Zoë "Q" O\'Brien, Jr'].quotePrefix
    injected = PEOPLE[4]["comment"]  # sheet XML in a comment: escaped, read back unchanged
    assert injected in by_value and by_value[injected].data_type == "s"
    letters = table[1][COLUMNS.index("letters_sent")]
    assert letters.value == 2 and letters.data_type == "n"
    taken = table[1][COLUMNS.index("letters_downloaded_or_opened")]
    assert taken.value == 2 and taken.data_type == "n"


def test_xlsx_past_the_sheet_limit_is_refused_before_anything_is_written(engine, tmp_path):
    load_people(engine)
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    with pytest.raises(ExportRefused, match="holds at most 5 rows"):
        export_to_file(
            engine=engine, export_filter=LIBS, fmt="xlsx", output=tmp_path / "out.xlsx", actor=CLI, max_rows=5
        )
    assert list(tmp_path.iterdir()) == [] and audit_entries(engine) == []
    path, rows = export_to_file(
        engine=engine, export_filter=LIBS, fmt="xlsx", output=tmp_path / "out.xlsx", actor=CLI, max_rows=6
    )
    assert rows == 5 and openpyxl.load_workbook(path).active.max_row == 6  # header + 5: exactly the limit


def test_the_real_limit_is_an_excel_sheet(engine):
    from campaigns.export.formats import XLSX_MAX_ROWS, check_xlsx_rows

    assert XLSX_MAX_ROWS == 1_048_576
    check_xlsx_rows(1_048_575)
    with pytest.raises(ExportRefused, match="1,048,576 rows"):
        check_xlsx_rows(1_048_576)


# --- who is in the file -------------------------------------------------------------------------------


def test_by_default_only_counted_consenting_people_never_withdrawn_or_erased(engine):
    load_people(engine)
    names = exported_names(engine, LIBS)
    assert len(names) == EXPORTED_BY_DEFAULT
    assert not {"Quiet Person", "Pending Person", "Withdrawn Person", "", "Other Campaign"} & set(names)


def test_non_consenting_people_only_with_a_reason_which_is_audited(engine, tmp_path):
    load_people(engine)
    with pytest.raises(InvalidInput) as refused:
        count_matching(
            engine=engine,
            export_filter=ExportFilter(campaigns=("fund-libraries",), include_non_consenting=True, reason="x"),
        )
    assert "reason" in refused.value.errors
    everyone = ExportFilter(
        campaigns=("fund-libraries",), include_non_consenting=True, reason="Hand-delivery to Senator A, 2 Dec"
    )
    names = exported_names(engine, everyone)
    assert "Quiet Person" in names and "Withdrawn Person" not in names and "" not in names
    export_to_file(engine=engine, export_filter=everyone, fmt="csv", output=tmp_path, actor=CLI, now=FIXED_NOW)
    [entry] = audit_entries(engine)
    detail = json.loads(entry.detail)
    assert (entry.actor, detail["rows"], detail["format"], detail["via"]) == ("cli", 6, "csv", "cli")
    assert detail["include_non_consenting"] is True and detail["reason"] == "Hand-delivery to Senator A, 2 Dec"
    assert detail["filters"]["campaigns"] == ["fund-libraries"] and entry.campaign_id is not None


def test_region_date_and_status_filters(engine):
    load_people(engine)
    assert exported_names(engine, ExportFilter(campaigns=("fund-libraries",), regions=("us-ca",))) == [
        'Zoë "Q" O\'Brien, Jr',
        "'\tTabbed Name",  # as the CSV has it
    ]
    day = date(2026, 11, 1)  # everyone signed on 1 November (UTC); both ends of a range are included
    assert len(exported_names(engine, ExportFilter(campaigns=LIBS.campaigns, signed_from=day, signed_to=day))) == 5
    assert exported_names(engine, ExportFilter(campaigns=LIBS.campaigns, signed_from=date(2026, 11, 2))) == []
    assert exported_names(engine, ExportFilter(campaigns=LIBS.campaigns, status="pending")) == ["Pending Person"]
    assert len(exported_names(engine, ExportFilter(campaigns=LIBS.campaigns, status="any"))) == 6
    both = ExportFilter(campaigns=("fund-libraries", "fund-libraries-other"))
    assert "Other Campaign" in exported_names(engine, both)


@pytest.mark.parametrize(
    ("export_filter", "field"),
    [
        (ExportFilter(campaigns=()), "campaigns"),
        (ExportFilter(campaigns=("no-such-campaign",)), "campaigns"),
        (ExportFilter(campaigns=("fund-libraries\x00",)), "campaigns"),  # PostgreSQL can't compare NUL: not found
        (ExportFilter(campaigns=("fund-libraries",), regions=("XX-NOPE",)), "regions"),
        (
            ExportFilter(campaigns=("fund-libraries",), signed_from=date(2026, 2, 2), signed_to=date(2026, 1, 1)),
            "signed_to",
        ),
        (ExportFilter(campaigns=("fund-libraries",), status="withdrawn"), "status"),
    ],
)
def test_bad_filters_are_refused_with_the_field_to_fix(engine, export_filter, field):
    load_people(engine)
    with pytest.raises(InvalidInput) as refused:
        count_matching(engine=engine, export_filter=export_filter)
    assert field in refused.value.errors


def test_file_names_carry_the_campaign_and_the_date():
    assert file_name(("fund-libraries",), "csv", date(2026, 11, 30)) == "rally-fund-libraries-signers-2026-11-30.csv"
    many = file_name(("a", "b", "c", "d", "e"), "xlsx", date(2026, 11, 30))
    assert many == "rally-a-b-c-and-2-more-signers-2026-11-30.xlsx"


# --- files and snapshots ---------------------------------------------------------------------------------


def test_export_to_a_folder_uses_the_standard_name_and_audits_it(engine, tmp_path):
    load_people(engine)
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    path, rows = export_to_file(
        engine=engine, export_filter=LIBS, fmt="json", output=tmp_path, actor=CLI, now=FIXED_NOW
    )
    assert path == tmp_path / "rally-fund-libraries-signers-2026-11-30.json"
    assert json.loads(path.read_text("utf-8"))["total_records"] == rows == EXPORTED_BY_DEFAULT
    assert [json.loads(e.detail)["file"] for e in audit_entries(engine)] == [path.name]


def export_csv_cli(url: str, target: Path, fmt: str = "csv", **run_options) -> subprocess.CompletedProcess[str]:
    """``python -m campaigns export`` of fund-libraries to ``target`` as CSV, run as a person would."""
    command = [sys.executable, "-m", "campaigns", "export", "--campaign", "fund-libraries", "--format", fmt]
    return subprocess.run(
        [*command, "--output", str(target)],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
        **run_options,
    )


def test_a_failure_while_writing_leaves_no_file_and_no_audit_entry(engine, tmp_path):
    """The CLI run by a person, with a file-size limit that makes the disk refuse the write half-way."""
    load_people(engine)
    url = engine.url.render_as_string(hide_password=False)
    tmp_path = tmp_path / "out"  # the SQLite database lives in tmp_path itself
    tmp_path.mkdir()
    for n in range(300):  # about 60 kB of CSV: past the 16 kB limit below
        run_write(
            engine,
            lambda s, n=n: sign(
                session=s, campaign_slug="fund-libraries", signer=signer(contact_consent=True, comment="x" * 150)
            ),
        )

    def limit_file_size() -> None:
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing us
        resource.setrlimit(resource.RLIMIT_FSIZE, (16_000, 16_000))

    target = tmp_path / "out.csv"
    run = export_csv_cli(url, target, preexec_fn=limit_file_size)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.startswith(f"error: Could not write {target}") and "No file was left behind" in run.stderr
    assert list(tmp_path.iterdir()) == [] and audit_entries(engine) == []
    ok = export_csv_cli(url, target)
    assert ok.returncode == 0 and f"Exported 305 signers to {target}" in ok.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    assert [e.actor for e in audit_entries(engine)] == ["cli"]


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "json"])
def test_an_export_to_a_full_disk_says_so_and_leaves_nothing_behind(engine, tmp_path, fmt):
    """The CLI, writing into a real 16 kB filesystem that fills up (the XLSX frame's temporary files included)."""
    load_people(engine)
    for n in range(300):  # comments that don't compress away: far past 16 kB as CSV, JSON or (zipped) XLSX
        comment = hashlib.sha512(str(n).encode()).hexdigest()[:150]
        run_write(
            engine,
            lambda s, c=comment: sign(
                session=s, campaign_slug="fund-libraries", signer=signer(contact_consent=True, comment=c)
            ),
        )
    with mounted_tmpfs(tmp_path / "small", "16k") as small:
        run = export_csv_cli(engine.url.render_as_string(hide_password=False), small, fmt)
        assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
        assert run.stderr.startswith(f"error: Could not write {small / 'rally-fund-libraries-signers-'}")
        assert "the disk is full. No file was left behind." in run.stderr
        assert list(small.iterdir()) == [] and audit_entries(engine) == []
        if fmt == "xlsx":  # the same in-process: a domain error, and xlsxwriter's temporary files are gone
            with pytest.raises(RallyError, match="the disk is full") as refused:
                export_to_file(engine=engine, export_filter=LIBS, fmt="xlsx", output=small, actor=CLI)
            assert not isinstance(refused.value, InvalidInput) and list(small.iterdir()) == []


def test_an_export_while_people_keep_signing_is_one_consistent_snapshot(engine):
    load_people(engine)
    for _ in range(40):
        run_write(
            engine, lambda s: sign(session=s, campaign_slug="fund-libraries", signer=signer(contact_consent=True))
        )
    before = EXPORTED_BY_DEFAULT + 40
    stop = threading.Event()
    signed: list[int] = []
    errors: list[BaseException] = []

    def keep_signing() -> None:
        try:
            while not stop.is_set() or len(signed) < 30:
                run_write(
                    engine,
                    lambda s: sign(session=s, campaign_slug="fund-libraries", signer=signer(contact_consent=True)),
                )
                signed.append(1)
        except BaseException as exc:
            errors.append(exc)

    with open_snapshot(engine=engine, export_filter=LIBS, batch_rows=7) as snapshot:
        assert snapshot.count == before
        stream = chunks(snapshot, "csv")
        parts = [next(stream), next(stream)]  # the header and a first batch are out
        writer = threading.Thread(target=keep_signing)
        writer.start()
        while len(signed) < 30 and not errors:  # others sign while the export is half-way
            threading.Event().wait(0.01)
        parts += list(stream)
        stop.set()
        writer.join()
    assert not errors
    rows = list(csv.DictReader(io.StringIO(b"".join(parts).decode("utf-8"))))
    assert len(rows) == snapshot.count == before
    assert len({r["email"] for r in rows}) == before
    assert count_matching(engine=engine, export_filter=LIBS) == before + len(signed)


def test_names_split_at_the_first_space(engine):
    load_people(engine)
    split = {
        "José García Márquez": ("José", "García Márquez"),
        "山田太郎": ("山田太郎", ""),
        "Ada Lovelace": ("Ada", "Lovelace"),
    }
    emails = {}
    for full in split:
        person = signer(full_name=full, contact_consent=True)
        run_write(engine, lambda s, p=person: sign(session=s, campaign_slug="fund-libraries", signer=p))
        emails[person.email] = full
    rows = list(csv.DictReader(io.StringIO(export_bytes(engine).decode("utf-8"))))
    found = {emails[r["email"]]: (r["first_name"], r["last_name"]) for r in rows if r["email"] in emails}
    assert found == split
    assert all(r["full_name"] == emails[r["email"]] for r in rows if r["email"] in emails)


def test_a_download_stopped_half_way_releases_the_snapshot_and_its_reader(engine):
    """A browser that goes away mid-download closes the generator: the read-ahead thread (PostgreSQL)
    stops, the cursor closes, and the connection goes back to the pool."""
    from tests.support.export_data import load_people

    load_people(engine)
    before = threading.active_count()
    with open_snapshot(
        engine=engine, export_filter=ExportFilter(campaigns=("fund-libraries",)), batch_rows=1
    ) as snapshot:
        batches = snapshot.batches(csv_safe=True)
        first = next(batches)
        assert len(first) == 1 and len(first[0]) == len(COLUMNS)
        batches.close()
    assert threading.active_count() == before
    assert engine.pool.checkedout() == 0


def test_read_ahead_hands_a_database_error_to_the_reader_of_the_rows():
    """...and its reader thread has ended by then, so the cursor's owner may close the cursor."""
    from campaigns.export.snapshot import read_ahead

    calls = iter([[1], RuntimeError("connection lost")])

    def fetch():
        item = next(calls)
        if isinstance(item, Exception):
            raise item
        return item

    rows = read_ahead(fetch)
    assert next(rows) == [1]
    with pytest.raises(RuntimeError, match="connection lost"):
        next(rows)
    assert not any(t.name == "export-read-ahead" for t in threading.enumerate())
