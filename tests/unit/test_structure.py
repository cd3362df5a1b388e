"""The shape of the code, executable (docs/development.md, "Shape rules").

- no function in ``services/`` or ``shared/`` is longer than 80 lines, except the
  ones named in :data:`LONG_FUNCTIONS` with their reason;
- every ``services/<name>/app.py`` is wiring only: under 120 lines, no route of its
  own (routes live in ``services/<name>/api/``), exactly one top-level function,
  ``create_app``, besides imports and constants;
- every service has the same shape: ``SERVICE`` in its ``__init__.py``, a
  ``<Service>Queries`` in ``queries.py``, ``provide`` and ``Queries`` in
  ``api/dependencies.py``, ``ROUTERS`` in ``api/__init__.py``, response models
  in ``views.py``, and ``create_app`` includes the routers one way;
- the repository explains itself: no file cites a document outside it.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists())
#: The web application: pages (``pages/``) instead of an API, no store, no events.
PORTAL = "portal"
BACKENDS = [s for s in SERVICES if s != PORTAL]
MAX_FUNCTION_LINES = 80
MAX_APP_LINES = 120

#: ``path:function`` → why it stays longer than :data:`MAX_FUNCTION_LINES`
#: (the same list is in docs/development.md).
LONG_FUNCTIONS: dict[str, str] = {}

#: Names of documents that live outside the repository, and bare section numbers
#: (which point into them); built from parts so that this file does not match itself.
OUTSIDE_DOCUMENTS = re.compile(
    "|".join([r"\bSP" + r"EC\b", "ARCHI" + "TECTURE\\.md", "hand" + "book", "\u00a7" + r"\s*\d"])
)


def functions(path: Path) -> list[tuple[str, int]]:
    """``(name, lines)`` of every function and method in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        (node.name, (node.end_lineno or node.lineno) - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def test_no_function_is_longer_than_the_limit() -> None:
    too_long = {
        f"{path.relative_to(ROOT)}:{name}": lines
        for folder in ("services", "shared")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for name, lines in functions(path)
        if lines > MAX_FUNCTION_LINES
    }
    unexplained = {name: lines for name, lines in too_long.items() if name not in LONG_FUNCTIONS}
    assert not unexplained, f"functions over {MAX_FUNCTION_LINES} lines: {unexplained}"
    stale = set(LONG_FUNCTIONS) - set(too_long)
    assert not stale, f"listed as long but no longer are: {sorted(stale)}"


@pytest.mark.parametrize("service", SERVICES)
def test_app_is_wiring_only(service: str) -> None:
    app = ROOT / "services" / service / "app.py"
    source = app.read_text()
    lines = len(source.splitlines())
    assert lines <= MAX_APP_LINES, f"{service}/app.py has {lines} lines (at most {MAX_APP_LINES})"
    routes = re.findall(r"@(?:app|router)\.(?:get|post|put|patch|delete)\(", source)
    routers = "pages" if service == PORTAL else "api"
    assert not routes, (
        f"{service}/app.py declares routes; they belong in services/{service}/{routers}/"
    )
    assert (ROOT / "services" / service / routers).is_dir()


def top_level(path: Path) -> list[ast.stmt]:
    return ast.parse(path.read_text(), filename=str(path)).body


def is_constant(statement: ast.stmt) -> bool:
    """An assignment to UPPER_CASE names (``DESCRIPTION = ...``, ``X: int = ...``)."""
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AnnAssign):
        targets = [statement.target]
    else:
        return False
    return all(isinstance(t, ast.Name) and t.id.isupper() for t in targets)


def unexpected_in_app(path: Path) -> list[str]:
    """What ``app.py`` holds besides its docstring, imports, constants and ``create_app``."""
    found = []
    for statement in top_level(path):
        if isinstance(statement, ast.Import | ast.ImportFrom) or is_constant(statement):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # the docstring
        if isinstance(statement, ast.FunctionDef) and statement.name == "create_app":
            continue
        found.append(
            f"line {statement.lineno}: {type(statement).__name__} "
            f"{getattr(statement, 'name', '')}".rstrip()
        )
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_app_defines_create_app_and_nothing_else(service: str) -> None:
    app = ROOT / "services" / service / "app.py"
    functions_defined = [
        s.name for s in top_level(app) if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    assert functions_defined == ["create_app"], f"{service}/app.py: {functions_defined}"
    assert unexpected_in_app(app) == [], f"{service}/app.py holds more than wiring"
    assert "for router in ROUTERS:\n        app.include_router(router)" in app.read_text()


def names_defined(path: Path) -> set[str]:
    """The classes, functions and constants ``path`` defines at its top level."""
    names: set[str] = set()
    for statement in top_level(path):
        if isinstance(statement, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(statement.name)
        elif isinstance(statement, ast.Assign):
            names.update(t.id for t in statement.targets if isinstance(t, ast.Name))
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            names.add(statement.target.id)
    return names


@pytest.mark.parametrize("service", BACKENDS)
def test_every_service_has_the_same_shape(service: str) -> None:
    folder = ROOT / "services" / service
    for module in (
        "__main__.py",
        "app.py",
        "settings.py",
        "domain.py",
        "store.py",
        "queries.py",
        "views.py",
        "api/__init__.py",
        "api/dependencies.py",
    ):
        assert (folder / module).is_file(), f"services/{service}/{module} is missing"
    assert "SERVICE" in names_defined(folder / "__init__.py")
    assert f"{service.capitalize()}Queries" in names_defined(folder / "queries.py")
    assert {"provide", "Queries"} <= names_defined(folder / "api" / "dependencies.py")
    assert "ROUTERS" in names_defined(folder / "api" / "__init__.py")


def test_the_portal_has_the_shape_of_a_web_application() -> None:
    folder = ROOT / "services" / PORTAL
    for module in (
        "__main__.py",
        "app.py",
        "settings.py",
        "pages/__init__.py",
        "pages/dependencies.py",
        "templates/base.html",
        "static/portal.css",
    ):
        assert (folder / module).is_file(), f"services/{PORTAL}/{module} is missing"
    assert "SERVICE" in names_defined(folder / "__init__.py")
    assert "ROUTERS" in names_defined(folder / "pages" / "__init__.py")
    for absent in ("domain.py", "store.py", "handlers.py"):
        assert not (folder / absent).exists(), f"the portal holds no {absent}: it keeps no data"


def tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [ROOT / name for name in listed if (ROOT / name).is_file()]


def test_no_file_cites_a_document_outside_the_repository() -> None:
    citing = []
    for path in tracked_files():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE_DOCUMENTS.search(line):
                citing.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not citing, "\n".join(citing[:40])


def test_the_checks_see_what_they_look_for(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n" + "    x = 1\n" * 90 + "\n\nasync def g():\n    pass\n")
    assert functions(sample) == [("f", 91), ("g", 2)]
    assert OUTSIDE_DOCUMENTS.search("see " + "SP" + "EC")
    assert OUTSIDE_DOCUMENTS.search("\u00a7" + "6 registration"), "a bare section number"
    assert OUTSIDE_DOCUMENTS.search("the " + "SP" + "EC.md")
    assert not OUTSIDE_DOCUMENTS.search("see docs/rules/commissions.md")
    assert not OUTSIDE_DOCUMENTS.search("SP" + "ECIAL DAMAGES"), "a word that merely starts so"
    app = tmp_path / "app.py"
    app.write_text(
        '"""Wiring."""\nimport x\nROUTERS = ()\nlog = 1\n\n\n'
        "def create_app():\n    pass\n\n\nasync def refresh():\n    pass\n"
    )
    assert unexpected_in_app(app) == ["line 4: Assign", "line 11: AsyncFunctionDef refresh"]
