"""The import boundaries of docs/architecture.md, executable.

- a service never imports another service;
- the portal reaches the services over their public HTTP APIs only: no Kafka, no
  MongoDB, no service's code;
- ``shared`` imports no service;
- a ``domain.py`` imports no I/O library (Kafka, MongoDB, HTTP, sockets, files, the clock's owners);
- the store boundary: only a service's ``store.py``, its wiring (``app.py``) and
  reporting's ``rebuild.py`` (a command-line tool that wires its own client)
  import the MongoDB driver or ``shared.mongo``. Handlers, the projection,
  commands, queries, views and routes reach the database through ``store.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists())
IO_LIBRARIES = {
    "aiokafka", "faststream", "pymongo", "motor", "bson", "fastapi", "starlette", "uvicorn",
    "httpx", "requests", "socket", "asyncio", "subprocess", "prometheus_client", "shared.messaging",
    "shared.mongo", "shared.infra", "shared.observability", "shared.access",
}  # fmt: skip


#: The MongoDB driver and the project's module around it.
STORE_LIBRARIES = {"pymongo", "bson", "motor", "shared.mongo"}
#: The modules of a service that may import them (relative to ``services/<name>/``).
STORE_MODULES = {"store.py", "app.py"}
#: Besides: reporting's rebuild, a command-line tool that opens its own client.
STORE_TOOLS = {"services/reporting/rebuild.py"}


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_there_are_five_services_and_the_portal() -> None:
    assert SERVICES == [
        "enablement",
        "incentives",
        "notifications",
        "onboarding",
        "portal",
        "reporting",
    ]


def test_the_portal_talks_to_the_services_over_http_only() -> None:
    forbidden = {
        "aiokafka",
        "faststream",
        "pymongo",
        "motor",
        "bson",
        "shared.mongo",
        "shared.messaging",
        "shared.outbox",
        "shared.consuming",
        "shared.infra",
    }
    for path in (ROOT / "services" / "portal").rglob("*.py"):
        bad = {n for n in imports_of(path) for f in forbidden if _under(n, f)}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("service", SERVICES)
def test_services_do_not_import_each_other(service: str) -> None:
    others = [f"services.{s}" for s in SERVICES if s != service]
    for path in (ROOT / "services" / service).rglob("*.py"):
        bad = {n for n in imports_of(path) for o in others if _under(n, o)}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_shared_imports_no_service() -> None:
    for path in (ROOT / "shared").rglob("*.py"):
        bad = {n for n in imports_of(path) if _under(n, "services")}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_domain_modules_import_no_io() -> None:
    for path in (ROOT / "services").glob("*/domain.py"):
        bad = {n for n in imports_of(path) for lib in IO_LIBRARIES if _under(n, lib)}
        assert not bad, f"{path.relative_to(ROOT)} imports I/O: {sorted(bad)}"


@pytest.mark.parametrize("service", SERVICES)
def test_only_the_store_and_the_wiring_see_the_database(service: str) -> None:
    folder = ROOT / "services" / service
    checked = 0
    for path in sorted(folder.rglob("*.py")):
        name = str(path.relative_to(ROOT))
        if str(path.relative_to(folder)) in STORE_MODULES or name in STORE_TOOLS:
            continue
        checked += 1
        bad = {n for n in imports_of(path) for lib in STORE_LIBRARIES if _under(n, lib)}
        assert not bad, f"{name} imports {sorted(bad)}: read and write through store.py"
    expected = {"handlers.py", "commands.py", "queries.py", "views.py", "projection.py"}
    present = {p.name for p in folder.glob("*.py")} & expected
    assert present, f"{service}: nothing checked"
    assert checked > len(present)


def test_the_checker_sees_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import pymongo\nfrom services.reporting import app\nfrom . import x\n")
    assert imports_of(sample) == {"pymongo", "services.reporting", "services.reporting.app"}
