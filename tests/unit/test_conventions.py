"""House rules checked by tests: settings documented and loaded, no raw HTML. The layout rules (who imports what,
module sizes, the module map) are in test_architecture.py."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from campaigns.core.settings import ENV_NAMES, Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]
PY_FILES = [p for p in ROOT.rglob("*.py") if ".venv" not in p.parts and "tests" not in p.parts]


@pytest.mark.parametrize("name", [f.name for f in fields(Settings)])
def test_every_setting_is_documented_in_readme_and_env_example(name):
    env = ENV_NAMES[name]
    readme = (ROOT / "README.md").read_text("utf-8")
    example = (ROOT / ".env.example").read_text("utf-8")
    assert f"| `{env}` |" in readme, f"{env} is missing from README's configuration table"
    assert f"\n{env}=" in example, f"{env} is missing from .env.example"


def test_env_file_is_read_and_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("RALLY_ORG_NAME=From file\nRALLY_COUNT_SHARDS=3\n")
    settings = load_settings(environ={"RALLY_COUNT_SHARDS": "4"}, env_file=env_file)
    assert (settings.org_name, settings.count_shards) == ("From file", 4)


@pytest.mark.parametrize(("env", "value"), [("RALLY_COUNT_SHARDS", "many"), ("RALLY_COUNT_SHARDS", "0")])
def test_bad_setting_is_reported_by_name(tmp_path, env, value):
    with pytest.raises(SettingsError, match=env):
        load_settings(environ={env: value}, env_file=tmp_path / "none")


def test_no_raw_html_anywhere():
    for path in PY_FILES:
        assert "unsafe_allow_html=True" not in path.read_text("utf-8"), path


def test_the_primary_colour_is_set_once_in_the_theme():
    """Routes' pages, charts, the poster and the preview image take it from core/theme.py, which reads
    .streamlit/config.toml: no module spells it out (the fallback in theme.py aside)."""
    import tomllib

    from campaigns.core import theme

    configured = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text("utf-8"))["theme"]["primaryColor"]
    assert theme.primary_hex() == configured and theme.primary_rgb() == tuple(
        int(configured[i : i + 2], 16) for i in (1, 3, 5)
    )
    spelled = [p for p in PY_FILES if p.name != "theme.py" and configured.lower() in p.read_text("utf-8").lower()]
    assert not spelled, spelled
