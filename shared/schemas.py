"""JSON Schemas of the events, generated from the models in :mod:`shared.events`.

``python -m shared.schemas write`` (``make schemas``) writes one file per event
type into ``docs/events/``; ``python -m shared.schemas check`` exits non-zero
when the committed files differ from the models (a unit test does the same).
Teams that emit events validate theirs against these files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from shared.events import PAYLOAD_TYPES, ExchangeRateSet, event_json_schema, rate_event_json_schema

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "docs" / "events"


def rendered_schemas() -> dict[str, str]:
    """File name → JSON text, for every event type."""
    return {
        f"{payload.event_type}.schema.json": json.dumps(
            event_json_schema(payload), indent=2, sort_keys=True
        )
        + "\n"
        for payload in PAYLOAD_TYPES
    } | {
        f"{ExchangeRateSet.event_type}.schema.json": json.dumps(
            rate_event_json_schema(), indent=2, sort_keys=True
        )
        + "\n"
    }


def drift(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of the schema files that are missing, stale or no longer generated."""
    expected = rendered_schemas()
    problems = [
        name
        for name, text in expected.items()
        if not (directory / name).exists() or (directory / name).read_text() != text
    ]
    problems += [path.name for path in directory.glob("*.schema.json") if path.name not in expected]
    return sorted(problems)


def write(directory: Path = SCHEMA_DIR) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    expected = rendered_schemas()
    for path in directory.glob("*.schema.json"):
        if path.name not in expected:
            path.unlink()
    for name, text in expected.items():
        (directory / name).write_text(text)


def main(argv: list[str]) -> int:
    if argv == ["write"]:
        write()
        print(f"wrote {len(rendered_schemas())} schemas to {SCHEMA_DIR}")
        return 0
    if argv == ["check"]:
        stale = drift()
        if stale:
            print("stale event schemas (run `make schemas`): " + ", ".join(stale), file=sys.stderr)
            return 1
        return 0
    print("usage: python -m shared.schemas write|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
