"""The ASGI entry: Streamlit's app (streamlit_app.py) plus Rally's routes and middleware.

Run it with `streamlit run rally_app.py` (what `make run` does), or with any ASGI
server: `uvicorn rally_app:app`.
"""

import streamlit as st
from starlette.middleware import Middleware

from campaigns.web import ROUTES, SecurityHeadersMiddleware, lifespan

app = st.App(
    "streamlit_app.py",
    routes=ROUTES,
    middleware=[Middleware(SecurityHeadersMiddleware)],
    lifespan=lifespan,
)
