"""The app's pages under Streamlit's AppTest, in this process, on the test database."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from campaigns.core import settings as settings_module
from campaigns.core.settings import Settings

ENTRY_SCRIPT = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")


def point_app_at(engine: Engine, base: Settings, **changes: object) -> Settings:
    """Settings for pages run in this process: ``base`` on the test database, plus ``changes``.

    Public reads are cached per database URL for a few seconds, by design: an earlier test's are forgotten.
    """
    from campaigns.ui import reads

    url = engine.url.render_as_string(hide_password=False)
    settings = replace(base, database_url=url, **changes)  # type: ignore[arg-type]
    settings_module.use_settings(settings)
    reads.forget_public_reads()
    return settings


def run_with_query(at: Any, **query: str) -> Any:
    """Run an AppTest as if opened at ``?key=value&...``."""
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def open_app(**query: str) -> Any:
    """The real entry script (``streamlit_app.py``) under AppTest, opened at ``?key=value&...``."""
    from streamlit.testing.v1 import AppTest

    return run_with_query(AppTest.from_file(ENTRY_SCRIPT, default_timeout=30), **query)
