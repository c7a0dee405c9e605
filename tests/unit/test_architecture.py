"""The layout rules of docs/architecture.md, checked on the source with ``ast``: what may import what, how big a
module may grow, what each package exposes, and that the module map in the doc is true.

Each test collects every offender before it fails, so one run lists all there is to fix.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "campaigns"
UI = PACKAGE / "ui"
ENTRY_SCRIPTS = (ROOT / "streamlit_app.py", ROOT / "rally_app.py")
DOC = ROOT / "docs" / "architecture.md"
MAX_LINES = 400
# The one page module that may open sessions (it is how every other page gets them).
SESSION_GATE = UI / "access.py"
# A page may name an engine in a type hint; everything else in SQLAlchemy or SQLModel belongs to services.
ALLOWED_SQL_IMPORTS = {"sqlalchemy.engine"}
SQL_METHODS = {"execute", "exec"}


def _check(offenders: list[str]) -> None:
    """Fail with every offender, one a line (an import of several names is reported once)."""
    offenders = list(dict.fromkeys(offenders))
    assert not offenders, f"{len(offenders)} to fix:\n" + "\n".join(offenders)


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _is_revision(path: Path) -> bool:
    """Alembic revisions: generated once per schema change, never imported, exempt from the layout rules."""
    return "versions" in path.relative_to(ROOT).parts


def _is_migration(path: Path) -> bool:
    return "migrations" in path.relative_to(PACKAGE).parts


def _package_files() -> list[Path]:
    """Every module of the domain package, Alembic revisions aside."""
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts and not _is_revision(p))


def _bench_files() -> list[Path]:
    return sorted(p for p in (ROOT / "bench").rglob("*.py") if "__pycache__" not in p.parts)


def _test_files() -> list[Path]:
    return sorted(p for p in (ROOT / "tests").rglob("*.py") if "__pycache__" not in p.parts)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_file(dotted: str) -> Path | None:
    """The file of one of this repository's modules (``campaigns.core.db`` -> campaigns/core/db.py), else None."""
    base = ROOT.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class Import:
    line: int
    module: str  # absolute, relative imports resolved
    name: str | None  # the name taken from ``module`` (``from module import name``), None for ``import module``
    alias: str  # the local name it binds
    bound: str  # what that local name refers to, dotted


def _imports(path: Path) -> list[Import]:
    """Every import in the file (top level, inside functions and ``if TYPE_CHECKING`` alike)."""
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    own = _module_name(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:  # import a.b binds a; import a.b as c binds c to a.b
                local = alias.asname or alias.name.partition(".")[0]
                found.append(Import(node.lineno, alias.name, None, local, alias.name if alias.asname else local))
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, module] if module else base)
            for alias in node.names:
                local = alias.asname or alias.name
                found.append(Import(node.lineno, module, alias.name, local, f"{module}.{alias.name}"))
    return found


def _targets(found: Import) -> Iterator[str]:
    """The dotted names an import reaches: the module, and ``module.name`` for ``from module import name``."""
    yield found.module
    if found.name is not None:
        yield f"{found.module}.{found.name}"


def _reaches(found: Import, module: str) -> bool:
    return any(t == module or t.startswith(module + ".") for t in _targets(found))


def test_only_pages_and_entry_scripts_import_streamlit():
    """The domain package runs without Streamlit (CLI, worker, HTTP routes, tests). bench/ and tests/ drive the
    app from outside and may use it."""
    files = [p for p in _package_files() if UI not in p.parents]
    files += sorted((ROOT / "scripts").glob("*.py"))
    files += [p for p in ROOT.glob("*.py") if p not in ENTRY_SCRIPTS]
    offenders = []
    for path in files:
        for found in _imports(path):
            if _reaches(found, "streamlit"):
                offenders.append(
                    f"{_rel(path)}:{found.line} imports streamlit: only campaigns/ui/ and the entry "
                    "scripts may; return data and let a page render it"
                )
            elif _reaches(found, "campaigns.ui"):
                offenders.append(
                    f"{_rel(path)}:{found.line} imports campaigns.ui (Streamlit pages): move what it "
                    "needs out of ui/ into the package that owns it"
                )
    _check(offenders)


def _sql_calls(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr in SQL_METHODS:
            yield node.lineno, f".{node.func.attr}("
        elif isinstance(node.func, ast.Name) and node.func.id == "select":
            yield node.lineno, "select("


def test_pages_only_orchestrate():
    """A page reads widgets, calls services, renders: no SQL, and sessions only through ``campaigns.ui.access``."""
    offenders = []
    for path in sorted(p for p in UI.rglob("*.py") if "__pycache__" not in p.parts):
        for found in _imports(path):
            if found.module.startswith(("sqlmodel", "sqlalchemy")) and found.module not in ALLOWED_SQL_IMPORTS:
                offenders.append(
                    f"{_rel(path)}:{found.line} imports {found.module}: pages call services, they don't "
                    "query (only sqlalchemy.engine, for type hints)"
                )
            if path != SESSION_GATE and _reaches(found, "campaigns.core.db"):
                offenders.append(
                    f"{_rel(path)}:{found.line} imports campaigns.core.db: get sessions and writes "
                    "through campaigns.ui.access"
                )
        for line, call in _sql_calls(ast.parse(path.read_text("utf-8"))):
            offenders.append(f"{_rel(path)}:{line} calls {call}: build the query in a service and call that")
    _check(offenders)


def _module_aliases(path: Path) -> dict[str, str]:
    """Local names bound to one of this repository's modules (``from campaigns.regions import schemes``)."""
    return {
        found.alias: found.bound
        for found in _imports(path)
        if found.bound.partition(".")[0] in ("campaigns", "bench") and _module_file(found.bound) is not None
    }


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


def test_no_underscore_name_crosses_a_module_boundary():
    """``_name`` is private to its module: no ``from x import _y`` (relative imports included), no import of a
    ``_module``, and no ``module._y`` on one of our modules. Dunder names (``__version__``) are public."""
    offenders = []
    for path in [*_package_files(), *ENTRY_SCRIPTS, *_bench_files(), *_test_files()]:
        own = _module_name(path)
        for found in _imports(path):
            private = [part for part in found.module.split(".") if _is_private(part)]
            if found.name is not None and _is_private(found.name):
                private.append(found.name)
            if private:
                what = f"{found.module}.{found.name}" if found.name else found.module
                offenders.append(
                    f"{_rel(path)}:{found.line} imports {what}: make {private[-1]} public (or move it "
                    "to the one module that uses it)"
                )
        aliases = _module_aliases(path)
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not (isinstance(node, ast.Attribute) and _is_private(node.attr)):
                continue
            head = _dotted(node.value)
            if head is None or head.partition(".")[0] not in aliases:
                continue
            first, _, rest = head.partition(".")
            module = ".".join(filter(None, [aliases[first], rest]))
            if module != own and _module_file(module) is not None:
                offenders.append(
                    f"{_rel(path)}:{node.lineno} uses {module}.{node.attr}: make {node.attr} public "
                    "(or move it to the one module that uses it)"
                )
    _check(offenders)


def test_no_module_is_a_hub():
    offenders = []
    for path in _package_files():
        if _is_migration(path):
            continue
        lines = len(path.read_text("utf-8").splitlines())
        if lines > MAX_LINES:
            offenders.append(f"{_rel(path)} has {lines} lines (at most {MAX_LINES}): split it by purpose")
    _check(offenders)


def _subpackages() -> list[Path]:
    """The capability packages: every folder directly under campaigns/ that holds Python modules."""
    return sorted(d for d in PACKAGE.iterdir() if d.is_dir() and d.name != "__pycache__" and any(d.rglob("*.py")))


def _submodules(package: Path) -> set[str]:
    """A package's modules and subpackages, by name (``__init__`` aside)."""
    names = {p.stem for p in package.glob("*.py") if p.name != "__init__.py"}
    return names | {d.name for d in package.iterdir() if (d / "__init__.py").is_file()}


def _declared_all(init: Path) -> list[str] | None:
    """The names in a top-level ``__all__ = [...]`` (a literal list or tuple of strings), None if there is none."""
    for node in ast.parse(init.read_text("utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            value = ast.literal_eval(node.value)  # a computed __all__ raises here: the rule wants a plain list
            assert isinstance(value, list | tuple), f"{_rel(init)}: __all__ must be a list of submodule names"
            return [str(v) for v in value]
    return None


def _exposed() -> dict[str, set[str] | None]:
    """Each capability package's ``__all__`` (None where it has none), by dotted package name."""
    exposed: dict[str, set[str] | None] = {}
    for package in _subpackages():
        init = package / "__init__.py"
        declared = _declared_all(init) if init.is_file() else None
        exposed[_module_name(init)] = None if declared is None else set(declared)
    return exposed


def test_every_package_says_what_it_owns_and_exposes():
    offenders = []
    for package in _subpackages():
        init = package / "__init__.py"
        where = _rel(init)
        if not init.is_file():
            offenders.append(f"{_rel(package)}/ has no __init__.py: add one with a docstring and __all__")
            continue
        tree = ast.parse(init.read_text("utf-8"))
        if not (ast.get_docstring(tree) or "").strip():
            offenders.append(f"{where} has no docstring: say in 2-3 lines what the package owns")
        eager = [
            node.lineno
            for node in tree.body
            if isinstance(node, ast.Import | ast.ImportFrom)
            and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")
        ]
        if eager:
            offenders.append(
                f"{where}:{eager[0]} imports at load: list submodules in __all__ instead (eager imports "
                "in __init__ make import cycles)"
            )
        declared = _declared_all(init)
        if declared is None:
            offenders.append(f"{where} has no __all__: list the submodules other packages may import")
            continue
        missing = sorted(set(declared) - _submodules(package))
        if missing:
            offenders.append(f"{where}: __all__ names {missing}, which are not submodules of {_rel(package)}/")
        if package.name == "core":
            unlisted = sorted(_submodules(package) - set(declared) - {"migrations"})
            if unlisted:
                offenders.append(
                    f"{where}: __all__ leaves out {unlisted}: core is the foundation, it lists every module"
                )
    _check(offenders)


def test_packages_import_each_other_only_through_what_they_expose():
    """``from campaigns.signatures.counts import x`` in campaigns/dashboard/live.py is fine only if ``counts`` is
    in ``campaigns/signatures/__init__.py``'s ``__all__``. Imports within one package are free."""
    exposed = _exposed()
    offenders = []
    needed: dict[str, set[str]] = {}  # packages without __all__ -> the submodules others import from them
    for path in _package_files():
        own = _module_name(path)
        for found in _imports(path):
            package = next((p for p in exposed if found.module == p or found.module.startswith(p + ".")), None)
            if package is None or own == package or own.startswith(package + "."):
                continue
            if found.module == package:  # from campaigns.signatures import counts
                submodule = found.name or ""
                if submodule not in _submodules(PACKAGE.joinpath(*package.split(".")[1:])):
                    offenders.append(
                        f"{_rel(path)}:{found.line} imports {submodule or package} from the package "
                        f"{package}: import it from the submodule that defines it"
                    )
                    continue
            else:
                submodule = found.module.removeprefix(package + ".").partition(".")[0]
            listed = exposed[package]
            if listed is None:
                needed.setdefault(package, set()).add(submodule)
            elif submodule not in listed:
                offenders.append(
                    f"{_rel(path)}:{found.line} imports {package}.{submodule}, which {package} does "
                    f"not expose: add {submodule!r} to its __all__, or use what it exposes"
                )
    for package, submodules in sorted(needed.items()):
        init = _rel(PACKAGE.joinpath(*package.split(".")[1:], "__init__.py"))
        offenders.append(
            f"{init} has no __all__, yet other packages import {sorted(submodules)}: list those "
            "(and any other submodule meant for them) in __all__"
        )
    _check(offenders)


MAP_LINE = re.compile(r"^(?P<indent> *)(?P<entry>\S+)")
ENTRY = re.compile(r"[\w.-]+(/|\.py)")  # a module (name.py) or a package or folder (name/)


def _map_entries() -> list[str]:
    """The paths in docs/architecture.md's module map: the fenced block that begins with ``campaigns/`` or lists
    it at the top level. Entries nest by two spaces; ``name/`` is a package (or folder), its children follow."""
    text = DOC.read_text("utf-8")
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M):
        if re.search(r"^campaigns/(\s|$)", block, flags=re.M):
            break
    else:
        raise AssertionError(f"{_rel(DOC)} has no module map: a fenced block with a top-level 'campaigns/' line")
    entries: list[str] = []
    stack: list[str] = []
    for number, line in enumerate(block.splitlines(), 1):
        match = MAP_LINE.match(line)
        if not match:
            continue
        indent, entry = len(match["indent"]), match["entry"]
        if not ENTRY.fullmatch(entry):
            continue  # a description that wrapped onto its own line
        if indent % 2 or indent // 2 > len(stack):
            raise AssertionError(
                f"{_rel(DOC)} module map, line {number} ({line.strip()!r}): indent entries by two spaces under "
                "their package"
            )
        stack = stack[: indent // 2]
        path = "/".join([*stack, entry.rstrip("/")])
        entries.append(path + ("/" if entry.endswith("/") else ""))
        if entry.endswith("/"):
            stack.append(entry.rstrip("/"))
    return entries


def test_module_map_in_docs_is_true():
    """docs/architecture.md's map names every module of campaigns/ (Alembic revisions aside), and nothing else."""
    entries = _map_entries()
    offenders = [
        f"{_rel(DOC)} names {entry}, which does not exist: update the module map"
        for entry in entries
        if not (ROOT / entry.rstrip("/")).exists()
    ]
    mapped = {e.rstrip("/") + "/__init__.py" if e.endswith("/") else e for e in entries}
    offenders += [
        f"{_rel(path)} is not in {_rel(DOC)}'s module map: add it, one line saying what it does"
        for path in _package_files()
        if _rel(path) not in mapped
    ]
    _check(offenders)


def test_every_type_ignore_says_why():
    """A ``# type: ignore[code]`` names what it silences and ends with the reason: ``  # why``."""
    pattern = re.compile(r"#\s*type:\s*ignore(?P<code>\[[^\]]*\])?(?P<rest>.*)$")
    offenders = []
    for path in _package_files():
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            found = pattern.search(line)
            if found and (not found.group("code") or not re.match(r"\s+#\s*\S", found.group("rest"))):
                offenders.append(f"{_rel(path)}:{number}: name the error code and say why after it (`  # why`)")
    _check(offenders)
