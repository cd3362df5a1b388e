from __future__ import annotations

import json
from pathlib import Path

from shared.events import PAYLOADS
from shared.schemas import SCHEMA_DIR, drift, write


def test_committed_schemas_match_the_models() -> None:
    stale = drift()
    assert stale == [], f"docs/events is stale for {stale}: run `make schemas` and commit"


def test_a_changed_schema_is_detected(tmp_path: Path) -> None:
    write(tmp_path)
    assert drift(tmp_path) == []
    (tmp_path / "DealClosed.schema.json").write_text("{}\n")
    (tmp_path / "Retired.schema.json").write_text("{}\n")
    assert drift(tmp_path) == ["DealClosed.schema.json", "Retired.schema.json"]


def test_schemas_say_money_is_a_string() -> None:
    schema = json.loads((SCHEMA_DIR / "DealClosed.schema.json").read_text())
    deal = schema["$defs"]["DealClosed"]["properties"]
    assert deal["amount"]["type"] == "string"
    assert schema["properties"]["type"]["const"] == "DealClosed"
    assert len(list(SCHEMA_DIR.glob("*.schema.json"))) == len(PAYLOADS) + 1, "and ExchangeRateSet"
