"""The light sign page ``/s/<slug>`` against a running app (SQLite and PostgreSQL): plain HTML under 50 KB with no
script, the same sign service as the Streamlit form (counted once, receipts, validation, flood control,
confirmation by email), and a form token without which nothing is stored."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from campaigns.core.db import read_session, run_write
from campaigns.core.models import Campaign
from campaigns.signatures.counts import count_total
from campaigns.web.light import MAX_BODY, WRITE_LETTER
from tests.support.factories import make_campaign
from tests.support.html_head import parsed
from tests.support.mail import CollectMail, smtp_environment, wait_for_mail
from tests.support.servers import LiveServer, running_app
from tests.support.storage import (
    NO_PG_REASON,
    TEST_DATABASE_URL,
    drop_pg_database,
    fresh_pg_database,
    worker_database_name,
)

pytestmark = pytest.mark.xdist_group("live")
NASTY = "Stop the \"<script>alert(1)</script>\" & the 'quote' trick"
TOKEN = re.compile(r'name="rally_form" value="([^"]+)"')


class Form(HTMLParser):
    """The form's fields (name -> value, as a browser would send them untouched), labels and alerts."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self.ids: set[str] = set()
        self.label_for: set[str] = set()
        self.alerts: list[str] = []
        self._alert = False
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden" and "id" in a:
            self.ids.add(a["id"])
        if tag == "input" and a.get("type") in ("text", "email", "hidden"):
            self.values[a["name"]] = a.get("value", "")
        if tag == "textarea":
            self._textarea = a["name"]
            self.values[a["name"]] = ""
        if tag == "label" and "for" in a:
            self.label_for.add(a["for"])
        if a.get("role") == "alert":
            self._alert = True
            self.alerts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self._alert = False
        if tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._alert:
            self.alerts[-1] += data
        if self._textarea:
            self.values[self._textarea] += data


def form_of(page: str) -> Form:
    found = Form()
    found.feed(page)
    return found


def open_form(client: httpx.Client, url: str, slug: str, query: str = "") -> str:
    """GET the page (the cookie lands in ``client``); the form token it carries."""
    page = client.get(f"{url}/s/{slug}{query}")
    assert page.status_code == 200, page.text
    match = TOKEN.search(page.text)
    assert match, page.text
    return match.group(1)


def fields(**values: str) -> dict[str, str]:
    base = {"full_name": "Ada Lovelace", "email": "ada@example.org", "region_code": "US-CA"}
    return {**base, **values}


def stored(server: LiveServer, slug: str) -> int:
    engine = server.engine()
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT count(*) FROM signature s JOIN campaign c ON c.id = s.campaign_id WHERE c.slug = :s"),
                    {"s": slug},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def counted(server: LiveServer, campaign: Campaign) -> int:
    engine = server.engine()
    try:
        with read_session(engine) as session:
            return count_total(session=session, campaign_id=campaign.id or 0)
    finally:
        engine.dispose()


def test_the_page_is_light_plain_html_with_its_tags_and_escapes_campaign_text(live_server):
    engine = live_server.engine()
    campaign = make_campaign(engine, slug="light-page", title=NASTY)

    def nasty_purpose(session):  # type: ignore[no-untyped-def]
        row = session.get(Campaign, campaign.id)
        row.purpose = "<img src=x onerror=alert(1)> & more"

    run_write(engine, nasty_purpose)
    engine.dispose()
    response = httpx.get(f"{live_server.url}/s/light-page?utm_source=tv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert len(response.content) < 50_000
    assert "<script" not in response.text.lower() and "<img" not in response.text
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; more" in response.text
    head = parsed(response.text)
    assert head.titles == [NASTY] and head.scripts == 0
    assert head.meta["og:title"] == head.meta["twitter:title"] == NASTY
    assert head.meta["og:image"] == f"{live_server.url}/share/light-page/preview.png"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("rally_csrf=") and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert "secure" not in cookie.lower()  # plain http here; https sets Secure
    form = form_of(response.text)
    assert form.ids and form.ids <= form.label_for  # every field has its label
    assert {"full_name", "email", "region_code", "comment"} <= form.ids
    assert form.values["utm_source"] == "tv"
    assert "Yes, the organizers of this campaign may email me" in response.text  # the exact consent wording
    assert "Comments appear publicly only after an organizer reviews them" in response.text


def test_a_sign_on_counts_once_and_a_repeat_shows_no_receipt(live_server):
    campaign = make_campaign(live_server.engine(), slug="light-sign")
    with httpx.Client() as client:
        token = open_form(client, live_server.url, "light-sign", "?utm_source=whatsapp&utm_medium=supporter")
        first = client.post(
            f"{live_server.url}/s/light-sign",
            data={**fields(), "rally_form": token, "utm_source": "whatsapp", "utm_medium": "supporter"},
        )
        assert first.status_code == 200, first.text
        assert first.headers["cache-control"] == "no-store"
        assert "Thank you, Ada Lovelace. Your name is on it." in first.text
        assert "You're the first to sign." in first.text
        assert "/my-data?receipt=" in first.text
        assert "https://wa.me/?" in first.text and "<script" not in first.text.lower()
        assert WRITE_LETTER not in first.text  # this campaign has no letter: no step to offer on the full page
        again = client.post(f"{live_server.url}/s/light-sign", data={**fields(), "rally_form": token})
        assert again.status_code == 200 and "Your name is on it." in again.text
        assert "receipt" not in again.text.lower()  # a repeat sign-on shows nothing stored
    assert stored(live_server, "light-sign") == 1 == counted(live_server, campaign)
    engine = live_server.engine()
    with engine.connect() as conn:
        utm = conn.execute(text("SELECT utm_source, utm_medium FROM signature WHERE email = 'ada@example.org'"))
        assert tuple(utm.one()) == ("whatsapp", "supporter")
    engine.dispose()


def test_mistakes_come_back_under_their_fields_with_what_was_typed(live_server):
    make_campaign(live_server.engine(), slug="light-invalid")
    with httpx.Client() as client:
        token = open_form(client, live_server.url, "light-invalid")
        typed = {"full_name": "", "email": "not-an-address", "region_code": "", "comment": "<b>Libraries</b> matter"}
        answer = client.post(f"{live_server.url}/s/light-invalid", data={**typed, "rally_form": token})
    assert answer.status_code == 422
    form = form_of(answer.text)
    assert form.values["email"] == "not-an-address" and form.values["comment"] == "<b>Libraries</b> matter"
    assert form.values["rally_form"] == token  # the form can be sent again as it is
    assert any("name" in alert for alert in form.alerts)
    assert any("email" in alert.lower() for alert in form.alerts)
    assert any("state" in alert for alert in form.alerts)
    assert 'id="email-error" role="alert"' in answer.text and 'aria-describedby="email-error"' in answer.text
    assert "<b>Libraries" not in answer.text
    assert stored(live_server, "light-invalid") == 0


def test_without_its_token_or_from_another_site_nothing_is_stored(live_server):
    make_campaign(live_server.engine(), slug="light-csrf")
    url = f"{live_server.url}/s/light-csrf"
    no_cookie = httpx.post(url, data={**fields(), "rally_form": "x" * 43})
    assert no_cookie.status_code == 403 and 'href="/s/light-csrf"' in no_cookie.text
    assert "nothing was stored" in no_cookie.text
    with httpx.Client() as client:
        token = open_form(client, live_server.url, "light-csrf")
        assert client.post(url, data=fields()).status_code == 403  # no token
        assert client.post(url, data={**fields(), "rally_form": token[:-2] + "AA"}).status_code == 403
        other = client.post(url, data={**fields(), "rally_form": token}, headers={"Origin": "https://evil.example"})
        assert other.status_code == 403
        with httpx.Client() as stranger:  # a token is good with its own cookie only
            open_form(stranger, live_server.url, "light-csrf")
            assert stranger.post(url, data={**fields(), "rally_form": token}).status_code == 403
        huge = client.post(url, data={**fields(comment="x" * (MAX_BODY + 1)), "rally_form": token})
        assert huge.status_code == 413
        assert stored(live_server, "light-csrf") == 0
        own = client.post(url, data={**fields(), "rally_form": token}, headers={"Origin": live_server.url})
        assert own.status_code == 200
    assert stored(live_server, "light-csrf") == 1


def test_closed_campaigns_refuse_and_drafts_look_unknown(live_server):
    make_campaign(live_server.engine(), slug="light-open")
    make_campaign(live_server.engine(), slug="light-closed", status="closed")
    make_campaign(live_server.engine(), slug="light-draft", status="draft")
    closed = httpx.get(f"{live_server.url}/s/light-closed")
    assert closed.status_code == 200 and "This campaign has closed" in closed.text and "<form" not in closed.text
    for slug in ("light-draft", "no-such-campaign", "Bad%20Slug"):
        page = httpx.get(f"{live_server.url}/s/{slug}")
        assert page.status_code == 404 and "There is no published campaign at that address." in page.text
        assert "light-draft" not in page.text
    with httpx.Client() as client:
        token = open_form(client, live_server.url, "light-open")  # a token is the visitor's, for any form
        refused = client.post(f"{live_server.url}/s/light-closed", data={**fields(), "rally_form": token})
        assert refused.status_code == 409 and "This campaign has closed" in refused.text
        draft = client.post(f"{live_server.url}/s/light-draft", data={**fields(), "rally_form": token})
        assert draft.status_code == 404
    assert stored(live_server, "light-closed") == 0 == stored(live_server, "light-draft")


# --------------------------------------------------------------------------- with mail and a trusted proxy


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def mail_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, CollectMail]]:
    """The app with mail to a real SMTP server, this machine as a trusted proxy and one sign-on a minute per
    address (flood control)."""
    from aiosmtpd.controller import Controller

    from tests.support.servers import free_port

    folder: Path = tmp_path_factory.mktemp("light-mail")
    if request.param == "sqlite":
        database_url = f"sqlite:///{folder / 'rally.db'}"
    else:
        if not TEST_DATABASE_URL:
            pytest.skip(NO_PG_REASON)
        database_url = fresh_pg_database(worker_database_name("rally_light"))
    handler = CollectMail()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    env = {
        **smtp_environment(controller, "Rally <rally@rally.example.org>"),
        "RALLY_TRUSTED_PROXIES": "127.0.0.1, ::1",
        "RALLY_SIGN_LIMIT_PER_MINUTE": "1",
    }
    try:
        with running_app(database_url, folder, env) as server:
            yield server, handler
    finally:
        controller.stop()
        if request.param == "postgres":
            drop_pg_database(make_url(database_url).database or "")


def test_past_the_flood_limit_the_service_holds_the_signature_and_says_the_same(mail_server):
    server, _ = mail_server
    campaign = make_campaign(server.engine(), slug="light-flood")
    proxy = {"X-Forwarded-For": "203.0.113.9"}
    with httpx.Client() as client:
        token = open_form(client, server.url, "light-flood")
        answers = [
            client.post(
                f"{server.url}/s/light-flood",
                data={**fields(email=f"ada{n}@example.org"), "rally_form": token},
                headers=proxy,
            )
            for n in range(2)
        ]
    assert [a.status_code for a in answers] == [200, 200]
    assert all("Your name is on it." in a.text for a in answers)  # flagged ones are never told
    assert stored(server, "light-flood") == 2 and counted(server, campaign) == 1
    engine = server.engine()
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT status, client_address FROM signature ORDER BY id")).all()
    engine.dispose()
    assert [tuple(r) for r in rows[-2:]] == [("counted", "203.0.113.9"), ("flagged", "203.0.113.9")]


def test_a_campaign_asking_for_confirmation_mails_the_link_and_says_check_your_inbox(mail_server):
    server, handler = mail_server
    campaign = make_campaign(server.engine(), slug="light-confirm", require_confirmation=True)
    before = len(handler.envelopes)
    with httpx.Client() as client:
        token = open_form(client, server.url, "light-confirm")
        answer = client.post(
            f"{server.url}/s/light-confirm", data={**fields(email="grace@example.org"), "rally_form": token}
        )
    assert answer.status_code == 200
    assert "One last step: check your inbox." in answer.text and "it counts once you open it" in answer.text
    envelopes = wait_for_mail(handler, before + 1)
    mail = envelopes[-1]
    assert mail.rcpt_tos == ["grace@example.org"]
    assert f"{server.url}/confirm?" in mail.content.decode("utf-8", "replace").replace("=\r\n", "")
    assert stored(server, "light-confirm") == 1 and counted(server, campaign) == 0
