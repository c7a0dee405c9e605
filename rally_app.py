"""The ASGI entry: Streamlit's app (streamlit_app.py) plus Rally's routes and middleware.

Run it with `streamlit run rally_app.py` (what `make run` does), or with any ASGI
server: `uvicorn rally_app:app`.
"""

import streamlit as st
from starlette.middleware import Middleware

from campaigns.core.client_address import keep_tcp_peer
from campaigns.ui import navigation
from campaigns.web import api, assets, auth, download, embed, fieldkit, light, middleware, share, unsubscribe
from campaigns.web.lifespan import lifespan

keep_tcp_peer()  # Rally alone decides what X-Forwarded-For is worth (RALLY_TRUSTED_PROXIES), not the server

app = st.App(
    "streamlit_app.py",
    routes=[
        *embed.ROUTES,  # before Streamlit's pages: /embed is the static widget, not a Streamlit session
        *api.ROUTES,
        *assets.ROUTES,
        *auth.ROUTES,
        *download.ROUTES,
        *share.ROUTES,
        *fieldkit.ROUTES,
        *light.ROUTES,
        *unsubscribe.ROUTES,
    ],
    # the first runs first: identity headers are gone before anything else reads the request
    middleware=[
        Middleware(middleware.StripIdentityHeadersMiddleware),
        Middleware(middleware.WebsocketOriginMiddleware),  # before Streamlit's looser check (any port on localhost)
        Middleware(middleware.SecurityHeadersMiddleware),
        # a staff page opened without a log-in: to the log-in, and back (rather than Streamlit's "page not found")
        Middleware(middleware.StaffLoginMiddleware, paths=navigation.staff_paths()),
        Middleware(share.LinkPreviewMiddleware),  # a share link's page gets its campaign's title and preview tags
    ],
    lifespan=lifespan,
)
