"""Rally's Streamlit pages, one module per page (``navigation`` says who sees which), and what they share:
``access`` (the database, who is looking), ``reads`` (cached public reads), ``widgets`` and ``errors``.
Pages only orchestrate: they read widgets, call services through ``access``, and render."""

__all__ = ["access", "navigation", "reads", "widgets"]
