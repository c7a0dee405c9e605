"""AppTest fixtures: the real entry script, pointed at the test database."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine

from campaigns.core.settings import Settings
from tests.support.apptest import open_app, point_app_at


@pytest.fixture
def app(engine: Engine, default_settings: Settings) -> Any:
    """``open_app``, pointed at the test database."""
    point_app_at(engine, default_settings)
    return open_app
