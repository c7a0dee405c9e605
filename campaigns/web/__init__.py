"""Rally's HTTP side, mounted on Streamlit's ASGI app: the JSON API and middleware (``app``), log-in routes
(``auth``) and the export download (``download``)."""
