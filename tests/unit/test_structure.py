"""The shape of the code, executable (docs/development.md, "Shape rules").

- no function in ``services/`` or ``shared/`` is longer than 80 lines, except the
  ones named in :data:`LONG_FUNCTIONS` with their reason;
- every ``services/<name>/app.py`` is wiring only: under 120 lines, no route of its
  own (routes live in ``services/<name>/api/``);
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
MAX_FUNCTION_LINES = 80
MAX_APP_LINES = 120

#: ``path:function`` → why it stays longer than :data:`MAX_FUNCTION_LINES`
#: (the same list is in docs/development.md).
LONG_FUNCTIONS: dict[str, str] = {}

#: Names of documents that live outside the repository, and bare section numbers
#: (which point into them); built from parts so that this file does not match itself.
OUTSIDE_DOCUMENTS = re.compile(
    "|".join(["SP" + "EC", "ARCHI" + "TECTURE\\.md", "hand" + "book", "\u00a7" + r"\s*\d"])
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
    assert not routes, f"{service}/app.py declares routes; they belong in services/{service}/api/"
    assert (ROOT / "services" / service / "api").is_dir()


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
    assert not OUTSIDE_DOCUMENTS.search("see docs/rules/commissions.md")
