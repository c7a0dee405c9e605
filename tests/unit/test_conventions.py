"""House rules checked by tests: settings documented, domain free of UI, pages free of SQL, safe HTML."""

from __future__ import annotations

import ast
import re
from dataclasses import fields
from pathlib import Path

import pytest

from campaigns.core.settings import ENV_NAMES, Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]
PY_FILES = [p for p in ROOT.rglob("*.py") if ".venv" not in p.parts and "tests" not in p.parts]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


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


def test_domain_package_does_not_import_streamlit():
    for path in (ROOT / "campaigns").rglob("*.py"):
        if "ui" in path.relative_to(ROOT / "campaigns").parts:
            continue
        assert not any(m == "streamlit" or m.startswith("streamlit.") for m in _imports(path)), path


def test_pages_build_no_queries():
    for path in (ROOT / "campaigns" / "ui").glob("*.py"):
        banned = {m for m in _imports(path) if m.startswith(("sqlmodel", "sqlalchemy")) and m != "sqlalchemy.engine"}
        assert not banned, f"{path.name} imports {banned}: pages call services, they don't query"
        source = path.read_text("utf-8")
        assert ".execute(" not in source and not re.search(r"(?<![\w.])select\(", source), path


def test_no_raw_html_anywhere():
    for path in PY_FILES:
        assert "unsafe_allow_html=True" not in path.read_text("utf-8"), path
