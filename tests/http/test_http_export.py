"""The export download route, against the app started with `make run`: who may download, and what they get."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from campaigns.core.audit import CLI
from campaigns.core.db import read_session, run_write
from campaigns.core.models import AuditEntry, utcnow
from campaigns.export.filters import ExportFilter
from campaigns.export.links import download_url, make_token
from campaigns.people import logins, staff
from tests.support.export_data import EXPORTED_BY_DEFAULT, load_people

pytestmark = pytest.mark.xdist_group("live")
PASSWORD = "correct horse battery staple"
LIBS = ExportFilter(campaigns=("fund-libraries",))


@pytest.fixture(scope="module")
def people(live_server):
    """Logged-in cookies and user ids: two coordinators, and an admin-organizer without the coordinator role."""
    engine = live_server.engine()
    load_people(engine)
    found = {}
    for email, roles in (
        ("coord@example.org", ["coordinator"]),
        ("coord2@example.org", ["coordinator", "organizer"]),
        ("boss@example.org", ["admin", "organizer"]),
    ):
        user = run_write(
            engine,
            lambda s, e=email, r=roles: staff.create_user(session=s, email=e, password=PASSWORD, roles=r, actor=CLI),
        )
        cookie = logins.log_in(engine=engine, email=email, password=PASSWORD, client_address="test")
        found[email.split("@")[0]] = (user.id, cookie)
    yield found
    engine.dispose()


def get(server, token, cookie=None, **kwargs):
    cookies = {logins.COOKIE_NAME: cookie} if cookie else None
    return httpx.get(f"{server.url}{download_url(token)}", cookies=cookies, follow_redirects=False, **kwargs)


def export_audits(server) -> list[dict]:
    engine = server.engine()
    try:
        with read_session(engine) as session:
            entries = session.execute(select(AuditEntry).where(AuditEntry.action == "export.signers")).scalars()
            return [{"actor": e.actor, **json.loads(e.detail)} for e in entries]
    finally:
        engine.dispose()


def test_anonymous_and_forged_cookies_are_refused_and_nothing_is_audited(live_server, people):
    user_id, cookie = people["coord"]
    token = make_token(user_id=user_id, export_filter=LIBS, fmt="csv")
    before = len(export_audits(live_server))
    for forged in (None, cookie + "x", "abc.def", cookie.rpartition(".")[0] + "." + "0" * 64):
        response = get(live_server, token, forged)
        assert response.status_code == 401 and "Log in as a coordinator" in response.text
        assert "zoe@example.org" not in response.text
    assert len(export_audits(live_server)) == before


def test_the_wrong_role_is_refused_even_with_its_own_link(live_server, people):
    user_id, cookie = people["boss"]
    response = get(live_server, make_token(user_id=user_id, export_filter=LIBS, fmt="csv"), cookie)
    assert response.status_code == 403 and "for coordinators" in response.text


def test_links_are_bound_to_their_person_their_filter_and_their_time(live_server, people):
    mine_id, my_cookie = people["coord"]
    theirs_id, _ = people["coord2"]
    other = get(live_server, make_token(user_id=theirs_id, export_filter=LIBS, fmt="csv"), my_cookie)
    assert other.status_code == 403 and "made for someone else" in other.text
    token = make_token(user_id=mine_id, export_filter=LIBS, fmt="csv")
    wider = make_token(user_id=mine_id, export_filter=ExportFilter(LIBS.campaigns, status="any"), fmt="csv")
    tampered = wider.split(".")[0] + "." + token.split(".")[1]  # a changed filter under the old signature
    assert get(live_server, tampered, my_cookie).status_code == 403
    assert get(live_server, "", my_cookie).status_code == 403
    stale = make_token(user_id=mine_id, export_filter=LIBS, fmt="csv", now=utcnow() - timedelta(hours=1))
    expired = get(live_server, stale, my_cookie)
    assert expired.status_code == 403 and "expired" in expired.text


def test_a_coordinator_downloads_a_streamed_csv_and_it_is_audited(live_server, people):
    user_id, cookie = people["coord"]
    with httpx.stream(
        "GET",
        f"{live_server.url}{download_url(make_token(user_id=user_id, export_filter=LIBS, fmt='csv'))}",
        cookies={logins.COOKIE_NAME: cookie},
    ) as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers  # streamed, not built in memory first
        body = response.read().decode("utf-8")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="rally-fund-libraries-signers-') and '.csv"' in disposition
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == EXPORTED_BY_DEFAULT == int(response.headers["x-rally-export-rows"])
    assert rows[0]["full_name"] == 'Zoë "Q" O\'Brien, Jr' and rows[0]["letters_sent"] == "2"
    last = export_audits(live_server)[-1]
    assert (last["actor"], last["rows"], last["format"], last["via"]) == ("coord@example.org", 5, "csv", "web")
    assert last["include_non_consenting"] is False


def test_json_and_xlsx_downloads(live_server, people):
    user_id, cookie = people["coord2"]
    everyone = ExportFilter(LIBS.campaigns, include_non_consenting=True, reason="Delivery to the state senate")
    as_json = get(live_server, make_token(user_id=user_id, export_filter=everyone, fmt="json"), cookie)
    assert as_json.status_code == 200 and as_json.headers["content-type"] == "application/json"
    assert json.loads(as_json.content)["total_records"] == EXPORTED_BY_DEFAULT + 1
    as_xlsx = get(live_server, make_token(user_id=user_id, export_filter=LIBS, fmt="xlsx", bom=True), cookie)
    assert as_xlsx.status_code == 200 and as_xlsx.content[:2] == b"PK"
    assert export_audits(live_server)[-2]["reason"] == "Delivery to the state senate"


SIGNERS = 1_000


def test_an_xlsx_download_when_the_servers_disk_is_full_says_so_and_leaves_nothing_behind(tmp_path):
    """The app's temporary folder (TMPDIR) on a real 64 kB filesystem: the workbook cannot be built there."""
    from campaigns.signatures.signing import sign
    from tests.support.factories import signer
    from tests.support.servers import running_app
    from tests.support.storage import mounted_tmpfs

    with mounted_tmpfs(tmp_path / "tmp", "64k") as small:
        with running_app(f"sqlite:///{tmp_path / 'rally.db'}", tmp_path, {"TMPDIR": str(small)}) as server:
            engine = server.engine()
            load_people(engine)
            for n in range(SIGNERS):  # comments that don't compress away: well past 64 kB as a zipped workbook
                person = signer(contact_consent=True, comment=hashlib.sha512(str(n).encode()).hexdigest()[:150])
                run_write(engine, lambda s, p=person: sign(session=s, campaign_slug="fund-libraries", signer=p))
            user = run_write(
                engine,
                lambda s: staff.create_user(
                    session=s, email="coord@example.org", password=PASSWORD, roles=["coordinator"], actor=CLI
                ),
            )
            cookie = logins.log_in(engine=engine, email="coord@example.org", password=PASSWORD, client_address="test")
            engine.dispose()
            before = len(export_audits(server))
            response = get(server, make_token(user_id=user.id, export_filter=LIBS, fmt="xlsx"), cookie)
            assert response.status_code == 507 and "no room to build the Excel file" in response.text
            assert "Download CSV or JSON instead" in response.text and str(small) not in response.text
            assert list(small.iterdir()) == [] and len(export_audits(server)) == before
            log = server.log_path.read_text()
            assert f"could not build an XLSX export in {small}: the disk is full" in log and "Traceback" not in log
            csv_download = get(server, make_token(user_id=user.id, export_filter=LIBS, fmt="csv"), cookie)
            assert (
                csv_download.status_code == 200 and csv_download.text.count("\r\n") == SIGNERS + EXPORTED_BY_DEFAULT + 1
            )
