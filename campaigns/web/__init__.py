"""Rally's HTTP side, mounted on Streamlit's ASGI app (rally_app.py): the JSON API, the log-in routes, the export
download, the field kit's files, the light sign page, Rally's own scripts, the middleware and the start-up;
``errors`` turns a failure into each route's answer."""

__all__ = ["api", "assets", "auth", "download", "fieldkit", "lifespan", "light", "middleware"]
