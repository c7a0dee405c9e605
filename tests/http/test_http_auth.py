"""Log-in and log-out routes, against the app started with `make run`."""

from __future__ import annotations

import asyncio
import html
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import delete, select

from campaigns.core.audit import CLI
from campaigns.core.db import read_session, run_write
from campaigns.core.models import LoginAttempt
from campaigns.people import logins, passwords
from campaigns.people import staff as accounts  # "staff" is the fixture below
from campaigns.web.middleware import StripIdentityHeadersMiddleware

pytestmark = pytest.mark.xdist_group("live")
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def staff(live_server):
    engine = live_server.engine()
    run_write(
        engine,
        lambda s: accounts.create_user(
            session=s, email="org@example.org", password=PASSWORD, roles=["organizer"], actor=CLI
        ),
    )
    yield engine
    engine.dispose()


def post_login(server, *, origin="self", email="org@example.org", password=PASSWORD, next_="/"):
    headers = {}
    if origin == "self":
        headers["Origin"] = server.url
    elif origin:
        headers["Origin"] = origin
    return httpx.post(
        f"{server.url}/auth/login",
        data={"email": email, "password": password, "next": next_},
        headers=headers,
        follow_redirects=False,
    )


def test_login_page_is_a_plain_form(live_server):
    page = httpx.get(f"{live_server.url}/auth/login")
    assert page.status_code == 200 and 'action="/auth/login"' in page.text and 'type="password"' in page.text
    assert page.headers["cache-control"] == "no-store"


def test_login_answers_303_with_an_httponly_samesite_cookie(live_server, staff):
    response = post_login(live_server, next_="/?campaign=x")
    assert response.status_code == 303 and response.headers["location"] == "/?campaign=x"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{logins.COOKIE_NAME}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http here; Secure is added when served over https
    value = response.cookies[logins.COOKIE_NAME]
    actor = run_write(staff, lambda s: logins.identify(session=s, cookie_value=value))
    assert actor.email == "org@example.org"


@pytest.mark.parametrize("origin", ["https://evil.example", "null", None])
def test_login_from_another_origin_or_none_is_refused(live_server, staff, origin):
    response = post_login(live_server, origin=origin)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert "must be sent from this site" in response.text


def test_wrong_password_shows_a_generic_message_and_keeps_the_email(live_server, staff):
    response = post_login(live_server, password="wrong password entirely", next_="/overview?tab=1")
    assert response.status_code == 401 and "set-cookie" not in response.headers
    assert "match an active account" in response.text and 'role="alert"' in response.text
    assert 'value="org@example.org"' in response.text  # the email stays; the password does not
    assert 'name="password" type="password" autocomplete="current-password" required autofocus' in response.text
    assert 'name="next" value="/overview?tab=1"' in response.text  # and where to go once it works


def test_a_typed_email_comes_back_escaped(live_server, staff):
    typed = '"><script>alert(1)</script>@example.org'
    response = post_login(live_server, email=typed, password="wrong password entirely")
    assert response.status_code == 401
    assert "<script>alert(1)" not in response.text
    assert 'value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;@example.org"' in response.text


OPEN_REDIRECTS = [
    "//evil.example/x",
    "https://evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
    "/\t/evil.example",  # browsers drop tabs and newlines: "//evil.example"
    "/\n/evil.example",
    "/\r\n/evil.example",
    " //evil.example",
    "http:/evil.example",
    "evil.example",
    "/" + "a" * 2001,
]


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_next_never_leaves_the_site(live_server, staff, target):
    response = post_login(live_server, next_=target)
    assert response.status_code == 303 and response.headers["location"] == "/"


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_the_login_page_never_carries_another_sites_next(live_server, target):
    page = httpx.get(f"{live_server.url}/auth/login", params={"next": target})
    assert page.status_code == 200 and 'name="next" value="/"' in page.text
    assert "That page is for Rally staff" not in page.text  # a refused next is no staff page


def test_a_staff_page_without_a_log_in_goes_to_the_log_in_and_back(live_server, staff):
    pages = (("/overview", ""), ("/editor", "edit=save-our-libraries&tab=x"), ("/export", ""), ("/account/", ""))
    for path, query in pages:
        answer = httpx.get(f"{live_server.url}{path}", params=query or None, follow_redirects=False)
        assert answer.status_code == 303, path
        back = path + (f"?{query}" if query else "")
        assert answer.headers["location"] == "/auth/login?next=" + quote(back, safe="/")
        form = httpx.get(f"{live_server.url}{answer.headers['location']}")
        assert f'name="next" value="{html.escape(back)}"' in form.text
        assert "That page is for Rally staff: log in, and you go straight back to it." in form.text
        logged_in = post_login(live_server, next_=back)
        assert logged_in.status_code == 303 and logged_in.headers["location"] == back
        again = httpx.get(f"{live_server.url}{path.rstrip('/')}", params=query or None, cookies=logged_in.cookies)
        assert again.status_code == 200 and "<noscript>" in again.text  # Streamlit's page, served


def test_an_expired_or_forged_log_in_goes_to_the_log_in_too(live_server, staff):
    cookie = post_login(live_server).cookies[logins.COOKIE_NAME]
    run_write(staff, lambda s: logins.end_session(session=s, cookie_value=cookie))
    for value in (cookie, cookie + "x", "nonsense"):
        answer = httpx.get(f"{live_server.url}/overview", cookies={logins.COOKIE_NAME: value}, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/auth/login?next=/overview"


def test_public_pages_need_no_log_in(live_server):
    for path in ("/", "/campaigns", "/dashboard", "/my-data", "/embed", "/overview.js", "/overviews"):
        answer = httpx.get(f"{live_server.url}{path}", follow_redirects=False)
        assert answer.status_code != 303, path


def test_logout_clears_the_cookie_and_ends_the_session(live_server, staff):
    cookie = post_login(live_server).cookies[logins.COOKIE_NAME]
    refused = httpx.post(f"{live_server.url}/auth/logout", cookies={logins.COOKIE_NAME: cookie}, follow_redirects=False)
    assert refused.status_code == 403  # no Origin: refused like a cross-site request
    response = httpx.post(
        f"{live_server.url}/auth/logout",
        cookies={logins.COOKIE_NAME: cookie},
        headers={"Origin": live_server.url},
        follow_redirects=False,
    )
    assert response.status_code == 303 and f'{logins.COOKIE_NAME}=""' in response.headers["set-cookie"]
    assert run_write(staff, lambda s: logins.identify(session=s, cookie_value=cookie)) is None


def test_identity_headers_never_reach_the_app():
    seen = {}

    async def app(scope, receive, send):
        seen["headers"] = dict(scope["headers"])

    stripped = StripIdentityHeadersMiddleware(app)
    for kind in ("http", "websocket"):
        scope = {
            "type": kind,
            "headers": [
                (b"x-forwarded-user", b"admin@example.org"),
                (b"Remote-User", b"admin"),
                (b"x-rally-role", b"admin"),
                (b"cookie", b"a=b"),
            ],
        }
        asyncio.run(stripped(scope, None, None))
        assert seen["headers"] == {b"cookie": b"a=b"}


def test_login_page_says_who_is_logged_in_and_offers_logout(live_server, staff):
    cookie = post_login(live_server).cookies[logins.COOKIE_NAME]
    page = httpx.get(f"{live_server.url}/auth/login", cookies={logins.COOKIE_NAME: cookie})
    assert "You are logged in as <strong>org@example.org</strong>" in page.text
    assert 'action="/auth/logout"' in page.text and 'type="password"' not in page.text
    onward = httpx.get(
        f"{live_server.url}/auth/login", params={"next": "/overview?x=1"}, cookies={logins.COOKIE_NAME: cookie}
    )
    assert '<a href="/overview?x=1">Go to Rally</a>' in onward.text
    elsewhere = httpx.get(
        f"{live_server.url}/auth/login", params={"next": "//evil.example"}, cookies={logins.COOKIE_NAME: cookie}
    )
    assert '<a href="/">Go to Rally</a>' in elsewhere.text
    forged = httpx.get(f"{live_server.url}/auth/login", cookies={logins.COOKIE_NAME: cookie + "x"})
    assert 'type="password"' in forged.text and "logged in as" not in forged.text


@pytest.fixture
def no_attempts(staff):
    """A test starting with no log-in attempts, whose own are removed afterwards (the module shares limits)."""
    run_write(staff, lambda s: s.execute(delete(LoginAttempt)))
    yield staff
    run_write(staff, lambda s: s.execute(delete(LoginAttempt)))


def attempt_addresses(engine):
    with read_session(engine) as session:
        return session.execute(select(LoginAttempt.client_address).order_by(LoginAttempt.id)).scalars().all()


@pytest.mark.parametrize(("host", "peer"), [("127.0.0.1", "127.0.0.1"), ("[::1]", "::1")])
def test_forwarded_for_from_an_untrusted_peer_does_not_change_the_counted_address(live_server, no_attempts, host, peer):
    # `make run` listens on "::": over IPv4 uvicorn sees ::ffff:127.0.0.1, over IPv6 ::1, which it trusts by default
    engine = no_attempts
    base = live_server.url.replace("127.0.0.1", host)
    for i in range(logins.MAX_FAILURES_PER_ADDRESS):
        response = httpx.post(
            f"{base}/auth/login",
            data={"email": f"guess{i}@example.org", "password": "wrong password here", "next": "/"},
            headers={"Origin": base, "X-Forwarded-For": f"198.51.100.{i + 1}"},
            follow_redirects=False,
        )
        assert response.status_code == 401 and "match an active account" in response.text
    assert set(attempt_addresses(engine)) == {peer}  # the TCP peer, not what the header claims
    spoofed = httpx.post(
        f"{base}/auth/login",
        data={"email": "org@example.org", "password": PASSWORD, "next": "/"},
        headers={"Origin": base, "X-Forwarded-For": "192.0.2.99", "X-Real-IP": "192.0.2.99"},
        follow_redirects=False,
    )
    assert spoofed.status_code == 429 and "set-cookie" not in spoofed.headers
    assert "Too many" in spoofed.text and 'value="org@example.org"' in spoofed.text


# --- set-password links ----------------------------------------------------------------------------


@pytest.fixture
def reset_link(live_server, no_attempts):
    """A fresh set-password link for a person of their own (made by an admin, mail off: shown once)."""
    from campaigns.core.audit import Actor
    from campaigns.people import password_links
    from tests.support.factories import make_user

    engine = no_attempts
    with read_session(engine) as session:
        number = accounts.count_users(session=session)
    person = make_user(engine, email=f"reset{number}@example.org", roles=["coordinator"])
    admin = Actor(None, "cli", frozenset({"admin"}))
    token = password_links.reset_password(engine=engine, user_id=person.id, actor=admin).url.split("token=")[1]
    return engine, person.email, token


NEW = "a brand new staff passphrase"


def post_new_password(server, token, password=NEW, confirm=None, origin="self"):
    headers = {"Origin": server.url} if origin == "self" else ({"Origin": origin} if origin else {})
    return httpx.post(
        f"{server.url}/auth/set-password",
        data={"token": token, "password": password, "confirm": password if confirm is None else confirm},
        headers=headers,
        follow_redirects=False,
    )


def can_log_in(server, email, password):
    response = post_login(server, email=email, password=password)
    return logins.COOKIE_NAME in response.cookies


def test_opening_a_set_password_link_shows_a_form_and_spends_nothing(live_server, reset_link):
    _, email, token = reset_link
    for _ in range(3):  # a mail scanner, a preview, the person
        page = httpx.get(f"{live_server.url}/auth/set-password", params={"token": token})
        assert page.status_code == 200 and 'action="/auth/set-password"' in page.text
        assert email in page.text and f"at least {passwords.PASSWORD_MIN} characters" in page.text
        assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
    response = post_new_password(live_server, token)
    assert response.status_code == 303 and response.headers["location"] == "/auth/login?m=password-set"
    assert can_log_in(live_server, email, NEW) and not can_log_in(live_server, email, PASSWORD)


def test_a_used_link_is_refused_with_a_clear_message(live_server, reset_link):
    _, email, token = reset_link
    assert post_new_password(live_server, token).status_code == 303
    again = post_new_password(live_server, token, password="yet another good passphrase")
    assert again.status_code == 400 and "already been used" in again.text
    page = httpx.get(f"{live_server.url}/auth/set-password", params={"token": token})
    assert page.status_code == 400 and "already been used" in page.text and 'type="password"' not in page.text
    assert can_log_in(live_server, email, NEW)


def test_a_tampered_link_changes_nothing(live_server, reset_link):
    _, email, token = reset_link
    response = post_new_password(live_server, token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert response.status_code == 400 and "isn&#x27;t valid" in response.text
    assert can_log_in(live_server, email, PASSWORD)


@pytest.mark.parametrize("origin", ["https://evil.example", None])
def test_set_password_from_another_origin_is_refused(live_server, reset_link, origin):
    _, email, token = reset_link
    response = post_new_password(live_server, token, origin=origin)
    assert response.status_code == 403 and "must be sent from this site" in response.text
    assert can_log_in(live_server, email, PASSWORD)
    assert post_new_password(live_server, token).status_code == 303  # the link was not spent


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        (NEW, "something else entirely", "two passwords differ"),
        ("short", None, f"at least {passwords.PASSWORD_MIN} characters"),
        ("qwerty123456", None, "most common passwords"),
    ],
)
def test_a_refused_new_password_keeps_the_form_and_the_link(live_server, reset_link, password, confirm, message):
    _, email, token = reset_link
    response = post_new_password(live_server, token, password=password, confirm=confirm)
    assert response.status_code == 400 and message in response.text and 'name="token"' in response.text
    assert post_new_password(live_server, token).status_code == 303
    assert can_log_in(live_server, email, NEW)


def test_using_a_link_ends_every_log_in_of_that_person(live_server, reset_link):
    engine, email, token = reset_link
    cookie = post_login(live_server, email=email).cookies[logins.COOKIE_NAME]
    assert post_new_password(live_server, token).status_code == 303
    assert run_write(engine, lambda s: logins.identify(session=s, cookie_value=cookie)) is None
