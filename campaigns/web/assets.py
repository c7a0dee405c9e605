"""Rally's own scripts, served from this site (the pages' Content-Security-Policy loads scripts from 'self' only):
the share buttons' (``sharing/buttons.py``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from campaigns.sharing import buttons

# The page names the script with its version (?v=...), so a browser may keep it: a new version is a new address.
CACHE = "public, max-age=86400"


def share_script(request: Request) -> Response:
    return Response(buttons.script_text(), media_type="text/javascript", headers={"Cache-Control": CACHE})


ROUTES = [Route(buttons.SCRIPT_PATH, share_script, methods=["GET", "HEAD"])]
