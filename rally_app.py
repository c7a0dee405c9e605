"""The ASGI entry: Streamlit's app (streamlit_app.py) plus Rally's routes and middleware.

Run it with `streamlit run rally_app.py` (what `make run` does), or with any ASGI
server: `uvicorn rally_app:app`.
"""

import streamlit as st
from starlette.middleware import Middleware

from campaigns.core.client_address import keep_tcp_peer
from campaigns.web.app import (
    ROUTES,
    SecurityHeadersMiddleware,
    StripIdentityHeadersMiddleware,
    WebsocketOriginMiddleware,
    lifespan,
)
from campaigns.web.auth import ROUTES as AUTH_ROUTES
from campaigns.web.download import ROUTES as EXPORT_ROUTES

keep_tcp_peer()  # Rally alone decides what X-Forwarded-For is worth (RALLY_TRUSTED_PROXIES), not the server

app = st.App(
    "streamlit_app.py",
    routes=[*ROUTES, *AUTH_ROUTES, *EXPORT_ROUTES],
    # the first runs first: identity headers are gone before anything else reads the request
    middleware=[
        Middleware(StripIdentityHeadersMiddleware),
        Middleware(WebsocketOriginMiddleware),  # before Streamlit's looser check (any port on localhost)
        Middleware(SecurityHeadersMiddleware),
    ],
    lifespan=lifespan,
)
