"""Log-in and log-out over plain HTTP (Streamlit cannot set cookies, so these are st.App routes).

``GET /auth/login`` serves a small HTML form; ``POST /auth/login`` checks the request comes
from our own origin, verifies the password, and answers 303 to ``next`` (a path on this site:
``safe_next``) with an HttpOnly, SameSite=Lax session cookie (Secure over HTTPS); a refused
log-in shows the form again (401, or 429 over the limits) with the email kept. ``POST
/auth/logout`` ends the session everywhere.
Blocking work runs in Starlette's thread pool (these are plain functions).
"""

from __future__ import annotations

import html
from urllib.parse import urlsplit

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from campaigns.core import theme
from campaigns.core.audit import Actor
from campaigns.core.client_address import client_address
from campaigns.core.db import get_engine, read_session, run_write
from campaigns.core.errors import RallyError, StorageError
from campaigns.core.settings import get_settings
from campaigns.people import logins, password_links, passwords
from campaigns.web import errors

MESSAGES = {
    "failed": logins.LoginFailed().user_message,
    "throttled": logins.LoginThrottled().user_message,
    "origin": "The log-in form must be sent from this site. Open the log-in page again and retry.",
    "unavailable": "Rally can't reach its database right now, so nobody can log in. This is not about your "
    "password: please try again in a few minutes.",
    "out": "You are logged out.",
    "password-set": "Your new password is set, and you were logged out everywhere. Log in with it now.",
}
OK_MESSAGES = {"out", "password-set"}

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 26rem; margin: 3rem auto; padding: 0 1.25rem; color: #1f2328; }}
h1 {{ font-size: 1.6rem; }} label {{ display: block; margin-top: 1rem; font-weight: 600; }}
input {{ width: 100%; box-sizing: border-box; padding: .65rem; font-size: 1rem; margin-top: .35rem;
        border: 1px solid #b8bcc2; border-radius: .5rem; }}
button {{ margin-top: 1.5rem; width: 100%; padding: .75rem; font-size: 1rem; border: 0; border-radius: .5rem;
         background: {primary}; color: white; font-weight: 600; cursor: pointer; }}
.msg {{ padding: .75rem 1rem; border-radius: .5rem; background: #fdecea; color: #8a1c12; margin-top: 1rem; }}
.ok {{ background: #e8f5e9; color: #1b5e20; }} a {{ color: {primary}; }}
</style></head><body>
<h1>{title}</h1>{message}{body}
<p><a href="/">← Back to the campaigns</a></p>
</body></html>"""

LOGIN_FORM = """<form method="post" action="/auth/login">
<input type="hidden" name="next" value="{next}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" value="{email}" maxlength="320"
 required{focus_email}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required{focus_password}>
<button type="submit">Log in</button></form>
<p>Rally accounts are for organizers, coordinators and admins. Supporters don't need one to sign.</p>"""

LOGOUT_FORM = """<form method="post" action="/auth/logout"><button type="submit">Log out</button></form>"""


LINK_FORM = """<form method="post" action="/auth/set-password">
<input type="hidden" name="token" value="{token}">
<p>Choose a new password for <strong>{email}</strong>: {rule}. Saving it logs you out everywhere.</p>
<label for="password">New password</label>
<input id="password" name="password" type="password" autocomplete="new-password" minlength="{minimum}" required>
<label for="confirm">New password again</label>
<input id="confirm" name="confirm" type="password" autocomplete="new-password" minlength="{minimum}" required>
<button type="submit">Set password</button></form>"""


def _page(
    title: str,
    body: str,
    message_key: str | None = None,
    status_code: int = 200,
    *,
    message_text: str | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    message = ""
    if message_key in MESSAGES or message_text:
        css = "msg ok" if message_key in OK_MESSAGES else "msg"
        text = message_text or MESSAGES[message_key or ""]
        message = f'<p class="{css}" role="alert">{html.escape(text)}</p>'
    page = PAGE.format(
        title=html.escape(f"{title} · {get_settings().org_name}"),
        message=message,
        body=body,
        primary=theme.primary_hex(),
    )
    return HTMLResponse(page, status_code=status_code, headers={"Cache-Control": "no-store", **(headers or {})})


def _failed(exc: RallyError, title: str, body: str = "", *, headers: dict[str, str] | None = None) -> Response:
    """A refused request's page: the message above ``body`` (the form again, or nothing). While the database
    can't be reached, staff are told it is not their password."""

    def page(status: int, message: str) -> Response:
        return _page(title, body, status_code=status, message_text=message, headers=headers)

    return errors.html_error(exc, page, unavailable=MESSAGES["unavailable"])


NEXT_MAX = 2000  # a page's path and query; anything longer is no address of ours


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a path on this site ("/overview?x=1"), else "/" (never an open redirect).

    Refused: anything not starting with exactly one "/" ("//host" and "/\\host" name another host to a browser),
    a scheme or host, and any control character or space (browsers drop tabs and newlines from addresses, so
    "/\t/evil.example" would become "//evil.example")."""
    if not value or len(value) > NEXT_MAX or not value.startswith("/") or value[1:2] in ("/", "\\"):
        return "/"
    if "\\" in value or any(ch.isspace() or not ch.isprintable() for ch in value):
        return "/"
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else "/"


def login_form(next_path: str = "/", email: str = "") -> str:
    """The log-in form, going on to ``next_path`` (checked by ``safe_next``), with ``email`` filled in when a
    log-in failed (escaped: it is what someone typed), and the cursor in the field to fill next."""
    return LOGIN_FORM.format(
        next=html.escape(safe_next(next_path), quote=True),
        email=html.escape(email[:320], quote=True),
        focus_email="" if email else " autofocus",
        focus_password=" autofocus" if email else "",
    )


def is_own_origin(origin: str | None, *, scheme: str, host: str) -> bool:
    """Whether a browser's ``Origin`` is Rally's own: the configured public URL's origin, or the address the
    request itself was sent to (``scheme`` http or https, and its ``Host``). The one rule for the log-in form
    and for Streamlit's websocket (``middleware.WebsocketOriginMiddleware``)."""
    if not origin or not host:
        return False
    public = urlsplit(get_settings().public_url)
    own = {f"{scheme}://{host}"}
    if public.scheme and public.netloc:
        own.add(f"{public.scheme}://{public.netloc}")
    return origin in own


def same_origin(request: Request) -> bool:
    """A strict Origin check (or Referer, for the rare browser that sends no Origin)."""
    origin = request.headers.get("origin")
    if origin is None:
        referer = urlsplit(request.headers.get("referer", ""))
        origin = f"{referer.scheme}://{referer.netloc}" if referer.scheme and referer.netloc else None
    return is_own_origin(origin, scheme=request.url.scheme, host=request.headers.get("host", ""))


def _client(request: Request) -> str:
    forwarded = ", ".join(request.headers.getlist("x-forwarded-for")) or None
    return client_address(request.client.host if request.client else None, forwarded)


def current_person(request: Request) -> Actor | None:
    """Who sent ``request``: the staff session its cookie names, checked against the database (None without one)."""
    cookie = request.cookies.get(logins.COOKIE_NAME)
    return run_write(get_engine(), lambda s: logins.identify(session=s, cookie_value=cookie)) if cookie else None


def login_page(request: Request) -> Response:
    key = request.query_params.get("m")
    try:
        actor = current_person(request)
    except StorageError as exc:
        return _failed(exc, "Log in", login_form())
    if actor is not None:  # already logged in (another tab did it): on to where they were going
        who = f"<p>You are logged in as <strong>{html.escape(actor.email)}</strong>.</p>"
        onward = html.escape(safe_next(request.query_params.get("next")), quote=True)
        return _page("Log in", who + f'<p><a href="{onward}">Go to Rally</a></p>' + LOGOUT_FORM, key)
    wanted = request.query_params.get("next") or "/"
    why = "" if key or safe_next(wanted) == "/" else SENT_HERE  # a staff page sent them: say so
    return _page("Log in", why + login_form(wanted), key)


SENT_HERE = '<p class="msg ok" role="status">That page is for Rally staff: log in, and you go straight back to it.</p>'


async def login(request: Request) -> Response:
    form = await request.form()
    target = safe_next(str(form.get("next") or "/"))
    email, password = str(form.get("email") or ""), str(form.get("password") or "")
    if not same_origin(request):
        return _page("Log in", login_form(target), "origin", 403)
    try:
        cookie = await to_thread.run_sync(
            lambda: logins.log_in(
                engine=get_engine(),
                email=email,
                password=password,
                client_address=_client(request),
                user_agent=request.headers.get("user-agent", ""),
            )
        )
    except logins.LoginThrottled:  # the form again, the email kept: the limits count attempts, not pages
        return _page("Log in", login_form(target, email.strip()), "throttled", 429)
    except StorageError as exc:  # not a wrong password: say so
        return _failed(exc, "Log in", login_form(target, email.strip()))
    except RallyError:
        return _page("Log in", login_form(target, email.strip()), "failed", 401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        logins.COOKIE_NAME,
        cookie,
        max_age=get_settings().session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https" or get_settings().public_url.startswith("https://"),
        path="/",
    )
    return response


def logout_page(request: Request) -> HTMLResponse:
    return _page("Log out", LOGOUT_FORM)


async def logout(request: Request) -> Response:
    if not same_origin(request):
        return _page("Log out", LOGOUT_FORM, "origin", 403)
    cookie = request.cookies.get(logins.COOKIE_NAME)
    try:
        await to_thread.run_sync(
            lambda: run_write(get_engine(), lambda s: logins.end_session(session=s, cookie_value=cookie))
        )
    except StorageError as exc:  # the session stays in the database; this browser forgets it at least
        response = _failed(exc, "Log out", LOGOUT_FORM)
        response.delete_cookie(logins.COOKIE_NAME, path="/", httponly=True, samesite="lax")
        return response
    response = RedirectResponse("/auth/login?m=out", status_code=303)
    response.delete_cookie(logins.COOKIE_NAME, path="/", httponly=True, samesite="lax")
    return response


# --- set-password links (campaigns/people/password_links.py) ---------------------------------------------

_NO_REFERRER = {"Referrer-Policy": "no-referrer"}  # the token is in this page's address: never pass it on


def _set_password_form(token: str, email: str) -> str:
    return LINK_FORM.format(
        token=html.escape(token, quote=True),
        email=html.escape(email),
        rule=html.escape(passwords.PASSWORD_RULE),
        minimum=passwords.PASSWORD_MIN,
    )


def set_password_page(request: Request) -> Response:
    """Only shows the form: the link is used by the POST (a mail scanner opening it spends nothing)."""
    token = request.query_params.get("token", "")[:200]
    try:
        with read_session(get_engine()) as session:
            email = password_links.check_link(session=session, token=token)
    except password_links.LinkRefused as exc:
        return _failed(exc, "Set your password", headers=_NO_REFERRER)
    return _page("Set your password", _set_password_form(token, email), headers=_NO_REFERRER)


async def set_password(request: Request) -> Response:
    form = await request.form()
    token = str(form.get("token") or "")[:200]
    password, confirm = str(form.get("password") or ""), str(form.get("confirm") or "")

    def again(message: str, status_code: int) -> Response:
        try:
            with read_session(get_engine()) as session:
                email = password_links.check_link(session=session, token=token)
        except password_links.LinkRefused as exc:
            return _failed(exc, "Set your password", headers=_NO_REFERRER)
        body = _set_password_form(token, email)
        return _page("Set your password", body, message_text=message, status_code=status_code, headers=_NO_REFERRER)

    if not same_origin(request):
        return await to_thread.run_sync(lambda: again(MESSAGES["origin"], 403))
    if password != confirm:
        return await to_thread.run_sync(lambda: again("The two passwords differ. Type the same one twice.", 400))
    try:
        await to_thread.run_sync(lambda: password_links.use_link(engine=get_engine(), token=token, password=password))
    except password_links.LinkRefused as exc:
        return _failed(exc, "Set your password", headers=_NO_REFERRER)
    except RallyError as exc:  # the new password isn't good enough: the link still works
        problem, status = exc.user_message, errors.status_of(exc)
        return await to_thread.run_sync(lambda: again(problem, status))
    response = RedirectResponse("/auth/login?m=password-set", status_code=303)
    response.delete_cookie(logins.COOKIE_NAME, path="/", httponly=True, samesite="lax")
    return response


ROUTES = [
    Route("/auth/login", login_page, methods=["GET"]),
    Route("/auth/login", login, methods=["POST"]),
    Route("/auth/logout", logout_page, methods=["GET"]),
    Route("/auth/logout", logout, methods=["POST"]),
    Route(password_links.PATH, set_password_page, methods=["GET"]),
    Route(password_links.PATH, set_password, methods=["POST"]),
]
