"""The one-click unsubscribe route (RFC 8058): ``GET /unsubscribe?t=<signed link>`` shows one button, ``POST``
(that button, or a mail client's one-click ``List-Unsubscribe=One-Click``) turns the contact consent off.

A GET never changes anything: mail scanners open every link in a message. The POST carries only the signed token
(``campaigns.updates.unsubscribe``), which is the RFC's design: no cookie, no log-in, no CSRF token, since only
the link's recipient has it. The page names the campaign only, never the signer. A tampered link is refused.
"""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from campaigns.core import theme
from campaigns.core.db import get_engine, read_session, run_write
from campaigns.core.errors import RallyError
from campaigns.core.settings import get_settings
from campaigns.updates import unsubscribe
from campaigns.web import errors

PATH = f"/{unsubscribe.PATH}"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 30rem; margin: 3rem auto; padding: 0 1.25rem; color: #1f2328; }}
button {{ margin-top: 1rem; padding: .75rem 1.25rem; font-size: 1rem; border: 0; border-radius: .5rem;
         background: {primary}; color: white; font-weight: 600; cursor: pointer; }}
.msg {{ padding: .75rem 1rem; border-radius: .5rem; background: #fdecea; color: #8a1c12; }}
.ok {{ background: #e8f5e9; color: #1b5e20; }} a {{ color: {primary}; }}
</style></head><body>
<h1>Unsubscribe</h1>{body}
<p><a href="/">← All campaigns</a></p>
</body></html>"""

BUTTON = """<p>{what}</p>
<form method="post" action="{action}">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Stop these emails</button></form>"""


def _page(status: int, body: str) -> HTMLResponse:
    page = PAGE.format(
        title=html.escape(f"Unsubscribe · {get_settings().org_name}"), body=body, primary=theme.primary_hex()
    )
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}  # the token stays out of logs
    return HTMLResponse(page, status_code=status, headers=headers)


def _refused(status: int, message: str) -> Response:
    return _page(status, f'<p class="msg" role="alert">{html.escape(message)}</p>')


# Said wherever the person is unsubscribed: the way back, through the page that proves the mailbox again.
CHANGED_MIND = '<p>Changed your mind? <a href="/my-data">Your data</a> turns these emails back on.</p>'


def _about(title: str) -> str:
    return f"updates about “{html.escape(title)}”" if title else "these updates"


def show(request: Request) -> Response:
    """The link opened: one button; nothing changes yet."""
    token = request.query_params.get("t")
    try:
        with read_session(get_engine()) as session:
            found = unsubscribe.look_up(session=session, token=token)
    except RallyError as exc:
        return errors.html_error(exc, _refused)
    if not found.subscribed:
        done = f'<p class="msg ok" role="status">You no longer get {_about(found.campaign_title)}.</p>'
        return _page(200, done + CHANGED_MIND)
    action = html.escape(f"{PATH}?{request.url.query}", quote=True)
    what = f"You get {_about(found.campaign_title)} because you signed and agreed to hear about it."
    return _page(200, BUTTON.format(what=what, action=action))


def stop(request: Request) -> Response:
    """The button, or a mail client's one-click POST: consent off (recorded with its time); again: still off."""
    token = request.query_params.get("t")
    try:
        done = run_write(get_engine(), lambda s: unsubscribe.unsubscribe(session=s, token=token))
    except RallyError as exc:
        return errors.html_error(exc, _refused)
    message = f"Done: you will get no more {_about(done.campaign_title)}. Your signature still counts."
    return _page(200, f'<p class="msg ok" role="status">{message}</p>' + CHANGED_MIND)


ROUTES = [Route(PATH, show, methods=["GET"]), Route(PATH, stop, methods=["POST"])]
