"""The address links are built on (``sharing/links.py``, hosts from ``core/hosts.py``), each channel's share link,
and the emails built during a request: on the request's own address when its host is allowed, else the default."""

from __future__ import annotations

import html
from collections.abc import Iterator
from email import message_from_string, policy
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from campaigns.core.db import read_session, run_write
from campaigns.core.hosts import parse_allowed_hosts, request_origin
from campaigns.core.models import OutboxMessage
from campaigns.core.settings import SettingsError, load_settings, override_settings
from campaigns.people import supporter_links
from campaigns.sharing import buttons, links
from campaigns.signatures import confirmation
from campaigns.signatures.signing import sign
from tests.support.factories import make_campaign, signer


@pytest.fixture
def request_seen() -> Iterator[list[tuple[str | None, str | None]]]:
    """Pretend a page is answering a request: set ``seen[0]`` to (browser URL, Host header)."""
    seen: list[tuple[str | None, str | None]] = [(None, None)]
    links.read_requests_with(lambda: seen[0])
    try:
        yield seen
    finally:
        links.read_requests_with(None)


@pytest.fixture(autouse=True)
def no_serving_port(monkeypatch) -> Iterator[None]:
    monkeypatch.delenv(links.PORT_VARIABLE, raising=False)
    links.serve_on_port(None)
    yield
    links.serve_on_port(None)


# --- the rule -------------------------------------------------------------------------------------------------


def test_without_a_public_url_or_a_request_links_go_to_localhost_on_the_default_port():
    assert links.public_base() == "http://localhost:8501"
    assert links.share_url("rivers") == "http://localhost:8501/?campaign=rivers"


def test_the_default_address_follows_the_port_rally_serves_on(monkeypatch):
    monkeypatch.setenv(links.PORT_VARIABLE, "8600")  # make run PORT=8600, make demo PORT=8600
    assert links.public_base() == "http://localhost:8600"
    links.serve_on_port(8612)  # the port the app's listening socket has (web/lifespan.py)
    assert links.public_base() == "http://localhost:8612"


@pytest.mark.parametrize(
    ("url", "host", "expected"),
    [
        ("http://localhost:8600/", "localhost:8600", "http://localhost:8600"),
        ("http://127.0.0.1:8611/dashboard", None, "http://127.0.0.1:8611"),  # the page's path is not the address
        ("https://LOCALHOST/", None, "https://localhost"),
        ("http://[::1]:8501/", None, "http://[::1]:8501"),
        (None, "localhost:9000", "http://localhost:9000"),  # no URL from the browser: its Host, over http
        ("http://evil.example/", "localhost:8600", "http://localhost:8600"),  # the first allowed one wins
    ],
)
def test_an_allowed_request_gets_links_on_its_own_address(request_seen, url, host, expected):
    request_seen[0] = (url, host)
    assert links.public_base() == expected
    assert links.share_url("rivers", utm_source="x") == f"{expected}/?campaign=rivers&utm_source=x"


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://evil.example/", "evil.example"),
        (None, "evil.example:8501"),
        (None, "localhost.evil.example"),
        (None, "user@localhost:8501"),  # userinfo is no host
        (None, "localhost:8501/path"),
        (None, "localhost:99999"),  # no such port
        ("javascript://localhost/", None),  # only http and https
        ("ftp://localhost/", None),
        (None, ""),
    ],
)
def test_a_request_naming_another_host_gets_the_default_address(request_seen, url, host):
    request_seen[0] = (url, host)
    assert links.public_base() == "http://localhost:8501"


def test_a_configured_public_url_wins_over_any_request(request_seen):
    request_seen[0] = ("http://localhost:8600/", "localhost:8600")
    with override_settings(public_url="https://rally.example.org/"):
        assert links.public_base() == "https://rally.example.org"
        assert links.page_url("/my-data", token="abc") == "https://rally.example.org/my-data?token=abc"


def test_hosts_named_in_the_setting_and_their_subdomains_are_allowed(request_seen):
    with override_settings(allowed_hosts="rally.example.org, *.campaigns.example, 192.0.2.7"):
        for url, expected in [
            ("https://rally.example.org/", "https://rally.example.org"),
            ("https://a.campaigns.example:8443/", "https://a.campaigns.example:8443"),
            ("http://192.0.2.7:8501/", "http://192.0.2.7:8501"),
        ]:
            request_seen[0] = (url, None)
            assert links.public_base() == expected
        for url in ("https://campaigns.example/", "https://xcampaigns.example/", "http://localhost:8501/"):
            request_seen[0] = (url, None)  # *.domain is its subdomains only; the list replaces the default
            assert links.public_base() == "http://localhost:8501", url


def test_for_an_http_route_the_request_host_and_scheme_are_given(default_settings):
    assert request_origin(default_settings, host="127.0.0.1:8000", scheme="https") == "https://127.0.0.1:8000"
    assert links.base_for_request(host="evil.example", scheme="https") == "http://localhost:8501"


@pytest.mark.parametrize("value", ["*", "localhost:8501", "http://rally.example.org", "rally example", "a..b"])
def test_an_allowed_hosts_entry_that_is_no_host_is_refused_by_name(tmp_path, value):
    with pytest.raises(SettingsError, match="RALLY_ALLOWED_HOSTS") as refused:
        load_settings(environ={"RALLY_ALLOWED_HOSTS": value}, env_file=tmp_path / "none")
    assert value.split(",")[0][:20].lower() in str(refused.value.user_message)


def test_allowed_hosts_are_read_in_any_case_and_spacing():
    assert parse_allowed_hosts(" Rally.Example.ORG ,, ::1 , [2001:db8::1] ") == (
        "rally.example.org",
        "::1",
        "2001:db8::1",
    )


@pytest.mark.parametrize("value", ["rally.example.org", "ftp://rally.example.org", "https://", "https://x?a=1"])
def test_a_public_url_that_is_no_web_address_is_refused(tmp_path, value):
    with pytest.raises(SettingsError, match="RALLY_PUBLIC_URL"):
        load_settings(environ={"RALLY_PUBLIC_URL": value}, env_file=tmp_path / "none")


# --- share links by channel ----------------------------------------------------------------------------------

TITLE = 'Save the river & sea: 100% "now" #1'
SHARED = {ch: f"https://rally.example.org/?campaign=rivers&utm_source={ch}&utm_medium=supporter" for ch in (
    "email", "whatsapp", "telegram", "x", "bluesky", "copy", "native")}  # fmt: skip


def _query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def test_every_channel_has_its_intent_url_with_its_own_utm_source():
    targets = links.share_targets("rivers", TITLE, medium="supporter", base="https://rally.example.org")
    by = {t.channel: t for t in targets}
    assert [t.channel for t in targets] == ["email", "whatsapp", "telegram", "x", "bluesky", "copy", "native"]
    assert by["email"].url.startswith("mailto:?") and _query(by["email"].url) == {
        "subject": TITLE,
        "body": f"{TITLE}\n\n{SHARED['email']}",
    }
    assert by["whatsapp"].url.startswith("https://wa.me/?")
    assert _query(by["whatsapp"].url) == {"text": f"{TITLE} {SHARED['whatsapp']}"}
    assert by["telegram"].url.startswith("https://t.me/share/url?")
    assert _query(by["telegram"].url) == {"url": SHARED["telegram"], "text": TITLE}
    assert by["x"].url.startswith("https://x.com/intent/post?")
    assert _query(by["x"].url) == {"text": TITLE, "url": SHARED["x"]}
    assert by["bluesky"].url.startswith("https://bsky.app/intent/compose?")
    assert _query(by["bluesky"].url) == {"text": f"{TITLE} {SHARED['bluesky']}"}
    assert (by["copy"].url, by["native"].url) == (SHARED["copy"], SHARED["native"])


def test_intent_urls_encode_every_special_character():
    url = links.intent_url("email", text=TITLE, url="https://r.example/?campaign=a&utm_source=email")
    assert " " not in url and "+" not in url and '"' not in url and "#" not in url.partition("?")[2]
    assert "%20" in url  # spaces as %20: mail apps show a "+" literally
    with pytest.raises(ValueError, match="no share channel"):
        links.intent_url("myspace", text="t", url="u")


def test_the_share_box_escapes_the_title_and_the_link():
    title = '"><script>alert(1)</script>'
    box = buttons.share_box_html(copy_url='https://r.example/?campaign=a&x="', native_url="n", title=title, key="a b")
    assert "<script>alert" not in box and html.escape(title, quote=True) in box
    assert 'value="https://r.example/?campaign=a&amp;x=&quot;"' in box
    assert f'<script src="{buttons.SCRIPT_PATH}?v=' in box and 'id="rally-share-a-b"' in box
    assert box.count("<script") == 1  # the site's own file, nothing inline


# --- emails built during a request ---------------------------------------------------------------------------


def _mail_bodies(engine) -> list[str]:
    with read_session(engine) as session:
        raw = session.execute(select(OutboxMessage.message).order_by(OutboxMessage.id)).scalars().all()
    return [message_from_string(m, policy=policy.default).get_body().get_content() for m in raw]


@pytest.mark.parametrize(
    ("host", "expected"), [("localhost:8600", "http://localhost:8600"), ("evil.example", "http://localhost:8501")]
)
def test_confirmation_and_my_data_emails_use_the_requests_address_only_for_allowed_hosts(
    engine, request_seen, host, expected
):
    """A forged Host cannot put another site in a link emailed to someone else (host-header poisoning)."""
    make_campaign(engine, slug="rivers", require_confirmation=True)
    request_seen[0] = (None, host)
    run_write(engine, lambda s: sign(session=s, campaign_slug="rivers", signer=signer(email="rosa@example.org")))
    supporter_links.send_link(engine=engine, email="rosa@example.org")
    confirm_mail, data_mail = _mail_bodies(engine)
    assert f"{expected}/confirm?token=" in confirm_mail and "evil" not in confirm_mail
    assert f"{expected}/my-data?token=" in data_mail and "evil" not in data_mail


def test_the_already_signed_email_and_the_receipt_are_on_the_requests_address(engine, request_seen):
    make_campaign(engine, slug="rivers", require_confirmation=True)
    request_seen[0] = ("http://127.0.0.1:8611/", None)

    def again() -> object:
        return run_write(
            engine, lambda s: sign(session=s, campaign_slug="rivers", signer=signer(email="ada@example.org"))
        )

    first = again()
    [confirm_mail] = _mail_bodies(engine)
    token = confirm_mail.split("/confirm?token=", 1)[1].split()[0]
    run_write(engine, lambda s: confirmation.confirm(session=s, token=token))
    again()
    already = _mail_bodies(engine)[-1]
    assert "already signed" in already
    assert "http://127.0.0.1:8611/my-data" in already and "http://127.0.0.1:8611/?campaign=rivers" in already
    assert supporter_links.receipt_url(first.receipt_token).startswith("http://127.0.0.1:8611/my-data?receipt=")
