"""How every HTTP route answers a known failure: one translation from a ``RallyError`` to a response.

The status comes from the kind of error: the database can't be reached, 503 (its detail goes to the log, never
to the client); not found, 404; any other refusal, the route's own status for it. The body comes from the kind
of route: JSON for ``/api/*``; for the browser's routes, the page of that route (its title, form and links),
which the route passes in as ``page``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from starlette.responses import JSONResponse, Response

from campaigns.core.errors import NotFound, RallyError, StorageError

log = logging.getLogger(__name__)
NO_STORE = {"Cache-Control": "no-store"}
RETRY_AFTER_SECONDS = 30  # what a client is told to wait while the database can't be reached
JSON_CODES = {503: "unavailable", 404: "not_found"}  # the JSON body's "error"; any other status: "refused"

Page = Callable[[int, str], Response]  # (status, message) -> the route's own HTML page, saying it


def status_of(exc: RallyError, *, refused: int = 400) -> int:
    """503 when the database can't be reached, 404 for what isn't there, else ``refused``."""
    if isinstance(exc, StorageError):
        return 503
    if isinstance(exc, NotFound):
        return 404
    return refused


def log_unavailable(exc: StorageError) -> None:
    """An operator has to act: the detail (a folder, a server's answer) goes to the log only."""
    log.error("database unavailable: %s", exc.detail)


def json_error(exc: RallyError, *, refused: int = 400, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The JSON API's answer to ``exc``: ``{"error": ..., "message": ...}``; while the database can't be reached,
    never cached and with ``Retry-After``."""
    status = status_of(exc, refused=refused)
    if isinstance(exc, StorageError):
        log_unavailable(exc)
        headers = {**NO_STORE, "Retry-After": str(RETRY_AFTER_SECONDS)}
    return _json(status, exc.user_message, headers)


def json_not_found(message: str, *, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The JSON API's 404 for an address with nothing behind it, in the route's own words."""
    return _json(404, message, headers)


def _json(status: int, message: str, headers: Mapping[str, str] | None) -> JSONResponse:
    body = {"error": JSON_CODES.get(status, "refused"), "message": message}
    return JSONResponse(body, status_code=status, headers=dict(headers) if headers else None)


def html_error(exc: RallyError, page: Page, *, refused: int = 400, unavailable: str | None = None) -> Response:
    """A browser route's answer to ``exc``: ``page(status, message)``. While the database can't be reached the
    message is the apology, or ``unavailable`` (the route's own words for it, e.g. to staff at the log-in)."""
    status = status_of(exc, refused=refused)
    if isinstance(exc, StorageError):
        log_unavailable(exc)
        return page(status, unavailable or exc.user_message)
    return page(status, exc.user_message)
