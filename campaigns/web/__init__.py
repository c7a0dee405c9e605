"""Rally's HTTP side, mounted on Streamlit's ASGI app (rally_app.py): the JSON API, the log-in routes, the export
download, the field kit's files, the middleware and the start-up; ``errors`` turns a failure into each route's
answer."""

__all__ = ["api", "auth", "download", "fieldkit", "lifespan", "middleware"]
