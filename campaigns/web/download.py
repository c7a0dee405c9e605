"""The signer-export download: ``GET /export/download?t=<signed link>``, streamed from a database cursor.

Refused unless the request carries the staff session cookie of a coordinator *and* a link that
the Export page signed for that same person, still valid (see ``campaigns.export.links``). The
rows are counted and read inside one read transaction (``campaigns.export.snapshot.open_snapshot``) and
sent a batch at a time; the audit entry is written before the first byte leaves.
"""

from __future__ import annotations

import errno
import html
import logging
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from campaigns.core import theme
from campaigns.core.db import get_engine
from campaigns.core.errors import RallyError, StorageError
from campaigns.core.models import Role
from campaigns.export.formats import MEDIA_TYPES, check_format, disk_problem, download_chunks
from campaigns.export.links import DOWNLOAD_PATH, read_token
from campaigns.export.snapshot import file_name, open_snapshot, record_export
from campaigns.web import errors
from campaigns.web.auth import current_person

log = logging.getLogger(__name__)

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Export</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 30rem; margin: 3rem auto; padding: 0 1.25rem; }}
a {{ color: {primary}; }}</style></head>
<body><h1>Export</h1><p role="alert">{message}</p><p>{link}</p></body></html>"""


def _refuse(status: int, message: str, *, login: bool = False) -> Response:
    link = '<a href="/auth/login?next=/export">Log in</a>' if login else '<a href="/export">Back to the Export page</a>'
    body = _PAGE.format(message=html.escape(message), link=link, primary=theme.primary_hex())
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def download(request: Request) -> Response:
    try:
        engine = get_engine()
        actor = current_person(request)
    except StorageError as exc:
        return errors.html_error(exc, _refuse)
    if actor is None:
        return _refuse(401, "Log in as a coordinator to download signer exports.", login=True)
    if not actor.has(Role.coordinator):
        return _refuse(403, "Signer exports are for coordinators. Ask an admin for the coordinator role.")
    try:
        grant = read_token(request.query_params.get("t"))
    except RallyError as exc:
        return errors.html_error(exc, _refuse, refused=403)
    if grant.user_id != actor.user_id:
        return _refuse(403, "This download link was made for someone else. Make your own on the Export page.")
    stack = ExitStack()
    try:
        snapshot = stack.enter_context(open_snapshot(engine=engine, export_filter=grant.filter))
        check_format(grant.fmt, snapshot.count)
        name = file_name(snapshot.checked.filter.campaigns, grant.fmt, snapshot.taken_at.date())
        body = download_chunks(snapshot, grant.fmt, bom=grant.bom, cleanup=stack)  # XLSX: built now
        record_export(engine=engine, actor=actor, snapshot=snapshot, fmt=grant.fmt, name=name, via="web", bom=grant.bom)
    except RallyError as exc:
        stack.close()
        return errors.html_error(exc, _refuse, refused=422)
    except OSError as exc:  # the server's disk refused the XLSX workbook's temporary files
        stack.close()
        log.error("could not build an XLSX export in %s: %s (%s)", tempfile.gettempdir(), disk_problem(exc), exc)
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
        problem = "has no room to build" if full else "can't write"
        return _refuse(
            507 if full else 503,
            f"The server {problem} the Excel file right now. Nothing was downloaded. "
            "Download CSV or JSON instead (they need no room on the server), or ask whoever runs Rally "
            "to free some disk space, then try again.",
        )
    except BaseException:
        stack.close()
        raise

    def stream() -> Iterator[bytes]:
        with stack:  # the read transaction ends when the last byte is sent, or the download is abandoned
            yield from body

    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store",
        "X-Rally-Export-Rows": str(snapshot.count),
    }
    return StreamingResponse(stream(), media_type=MEDIA_TYPES[grant.fmt], headers=headers)


ROUTES = [Route(DOWNLOAD_PATH, download, methods=["GET"])]
