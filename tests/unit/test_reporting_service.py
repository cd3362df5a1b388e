"""Reporting's service layer in memory: the projection table fed events, then the read API.

The read models live in :class:`FakeDatabase`, an in-memory stand-in for the
few MongoDB operations the store and the queries use (finds with equality,
``$in`` and range filters, sorts, projections; upserts with ``$set``,
``$setOnInsert``, ``$max``, ``$min``, ``$addToSet``, ``$push``; inserts that report
duplicate ids; conditional replaces). Events go through the real projection
(:class:`~services.reporting.projection.Projection`), and the FastAPI app
(``create_app`` with the fake database swapped in, lifespan not entered)
answers through ``TestClient``: neither Kafka nor MongoDB is touched. The
same behaviour on the real infrastructure is in ``tests/integration/reporting/``.
"""

from __future__ import annotations

import copy
import csv
import functools
import io
import json
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from prometheus_client import REGISTRY
from pydantic import SecretStr
from pymongo import ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError

from services.reporting.app import create_app
from services.reporting.metrics import refresh_business_gauges
from services.reporting.projection import PROJECTIONS, Projection
from services.reporting.queries import ReportingQueries
from services.reporting.settings import ReportingSettings
from services.reporting.store import Generation, LinesCache
from services.reporting.views import finance_csv
from shared import events as contract
from shared.events import CloudEvent, Payload, parse_event
from tests.support.events import CONTRACT, PROFILE, envelope
from tests.support.reporting import (
    BOARD,
    BOARD_PERIOD,
    D2,
    EXPECTED_STATEMENT,
    PERIOD,
    P,
    calculated,
    corrections,
    events,
)

ADMIN_KEY, PARTNER_KEY = "admin-key", "partner-key"

# --------------------------------------------------------------------------- the fake


_MISSING = object()


def _get(doc: Any, path: str) -> Any:
    for name in path.split("."):
        if not isinstance(doc, dict) or name not in doc:
            return _MISSING
        doc = doc[name]
    return doc


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for name in parents:
        doc = doc.setdefault(name, {})
    doc[leaf] = copy.deepcopy(value)


def _unset(doc: dict[str, Any], path: str) -> None:
    *parents, leaf = path.split(".")
    for name in parents:
        doc = doc.get(name, {})
    doc.pop(leaf, None)


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
    "$in": lambda a, b: a in b,
}


def _matches(doc: dict[str, Any], query: dict[str, Any] | None) -> bool:
    """MongoDB's matching: a condition on an array field holds when it holds for the
    array or for any of its elements."""
    for path, wanted in (query or {}).items():
        value = _get(doc, path)
        candidates = [value, *value] if isinstance(value, list) else [value]
        if isinstance(wanted, dict) and wanted and all(op.startswith("$") for op in wanted):
            if value is _MISSING or not any(
                all(_COMPARISONS[op](v, operand) for op, operand in wanted.items())
                for v in candidates
            ):
                return False
        elif wanted not in candidates:
            return False
    return True


def _changes(op: str, value: Any, known: Any, inserting: bool) -> bool:
    """Whether ``op`` sets ``value`` where ``known`` is stored."""
    if op == "$set":
        return True
    if op == "$setOnInsert":
        return inserting
    if op == "$max":
        return known is _MISSING or value > known
    if op == "$min":
        return known is _MISSING or value < known
    raise NotImplementedError(op)


def _apply(doc: dict[str, Any], update: dict[str, Any], inserting: bool) -> None:
    for op, fields in update.items():
        for path, value in fields.items():
            known = _get(doc, path)
            if op == "$addToSet":
                values = value["$each"] if isinstance(value, dict) and "$each" in value else [value]
                present = [] if known is _MISSING else known
                _set(doc, path, present + [v for v in values if v not in present])
            elif op == "$push":
                _set(doc, path, ([] if known is _MISSING else known) + [value])
            elif op == "$unset":
                _unset(doc, path)
            elif _changes(op, value, known, inserting):
                _set(doc, path, value)


def _projected(doc: dict[str, Any], projection: dict[str, Any] | None) -> dict[str, Any]:
    if not projection:
        return copy.deepcopy(doc)
    included = [path for path, shown in projection.items() if shown]
    if not included:
        out = copy.deepcopy(doc)
        for path in projection:
            _unset(out, path)
        return out
    out = {"_id": doc["_id"]}
    for path in included:
        value = _get(doc, path)
        if value is not _MISSING:
            _set(out, path, value)
    return out


def _value_at(path: str, doc: dict[str, Any]) -> Any:
    """The sort key of a document that has a value at ``path``: that value."""
    return _get(doc, path)


class FakeCursor:
    def __init__(self, docs: list[dict[str, Any]], projection: dict[str, Any] | None) -> None:
        self._docs = docs
        self._projection = projection
        self._limit: int | None = None

    def sort(self, key: Any, direction: int = 1) -> FakeCursor:
        """By each key in turn; missing and null values first, as MongoDB sorts them."""
        keys = [(key, direction)] if isinstance(key, str) else list(key)
        for path, order in reversed(keys):  # stable sorts, the last key first
            absent = [d for d in self._docs if _get(d, path) in (_MISSING, None)]
            present = [d for d in self._docs if _get(d, path) not in (_MISSING, None)]
            present.sort(key=functools.partial(_value_at, path), reverse=order < 0)
            self._docs = absent + present if order > 0 else present + absent
        return self

    def limit(self, count: int) -> FakeCursor:
        self._limit = count
        return self

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        for doc in self._docs[: self._limit]:
            yield _projected(doc, self._projection)


class FakeCollection:
    """The operations of a MongoDB collection that reporting uses, in memory."""

    def __init__(self, database: FakeDatabase, name: str) -> None:
        self.database = database
        self.name = name
        self.docs: dict[Any, dict[str, Any]] = {}

    def find(
        self, query: dict[str, Any] | None = None, projection: dict[str, Any] | None = None
    ) -> FakeCursor:
        self.database.reads[self.name] += 1
        found = [d for d in self.docs.values() if _matches(d, query)]
        return FakeCursor(sorted(found, key=lambda d: str(d["_id"])), projection)

    async def find_one(
        self, query: dict[str, Any] | None = None, projection: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        async for doc in self.find(query, projection).limit(1):
            return doc
        return None

    async def count_documents(self, query: dict[str, Any]) -> int:
        self.database.reads[self.name] += 1
        return sum(1 for d in self.docs.values() if _matches(d, query))

    async def insert_many(self, docs: list[dict[str, Any]], ordered: bool = True) -> None:
        errors = []
        for index, doc in enumerate(docs):
            if doc["_id"] in self.docs:
                errors.append({"index": index, "code": 11000})
            else:
                self.docs[doc["_id"]] = copy.deepcopy(doc)
        if errors:
            raise BulkWriteError({"writeErrors": errors})

    async def update_one(
        self, query: dict[str, Any], update: dict[str, Any], upsert: bool = False
    ) -> int:
        for doc in self.docs.values():
            if _matches(doc, query):
                _apply(doc, update, inserting=False)
                return 1
        if upsert:
            doc = {"_id": query["_id"]}
            _apply(doc, update, inserting=True)
            self.docs[doc["_id"]] = doc
        return 0

    async def replace_one(
        self, query: dict[str, Any], replacement: dict[str, Any], upsert: bool = False
    ) -> int:
        for doc_id, doc in self.docs.items():
            if _matches(doc, query):
                self.docs[doc_id] = {"_id": doc_id, **copy.deepcopy(replacement)}
                return 1
        if upsert:
            self.docs[query["_id"]] = {"_id": query["_id"], **copy.deepcopy(replacement)}
        return 0

    async def bulk_write(self, operations: list[Any], ordered: bool = True) -> Any:
        matched = 0
        for op in operations:
            if isinstance(op, UpdateOne):
                update = cast(dict[str, Any], op._doc)
                matched += await self.update_one(dict(op._filter), update, upsert=bool(op._upsert))
            elif isinstance(op, ReplaceOne):
                replacement = cast(dict[str, Any], op._doc)
                matched += await self.replace_one(
                    dict(op._filter), replacement, upsert=bool(op._upsert)
                )
            else:
                raise NotImplementedError(type(op).__name__)
        return type("BulkWriteResult", (), {"matched_count": matched})()

    async def delete_one(self, query: dict[str, Any]) -> None:
        for doc_id, doc in list(self.docs.items()):
            if _matches(doc, query):
                del self.docs[doc_id]
                return

    async def drop(self) -> None:
        self.docs.clear()

    async def create_index(self, keys: Any, name: str | None = None) -> str:
        return name or "index"


class _Admin:
    async def command(self, name: str) -> dict[str, Any]:
        return {"ok": 1}  # buildInfo of MongoDB: not FerretDB


class FakeClient:
    def __init__(self) -> None:
        self.admin = _Admin()


class FakeDatabase:
    _count = 0

    def __init__(self) -> None:
        FakeDatabase._count += 1
        self.name = f"reporting_{FakeDatabase._count}"  # one write lock per fake collection
        self.client = FakeClient()
        self.collections: dict[str, FakeCollection] = {}
        #: Queries asked of each collection (a find, a find_one or a count each).
        self.reads: Counter[str] = Counter()

    def __getitem__(self, name: str) -> FakeCollection:
        if name not in self.collections:
            self.collections[name] = FakeCollection(self, name)
        return self.collections[name]

    def documents(self, collection: str) -> dict[Any, dict[str, Any]]:
        return self[f"g1_{collection}"].docs


# --------------------------------------------------------------------------- helpers


def parsed(raw: Iterable[dict[str, Any]]) -> list[CloudEvent[Payload]]:
    return [parse_event(json.dumps(event)) for event in raw]


def worked_example() -> list[dict[str, Any]]:
    """The worked example of docs/rules/commissions.md as reporting receives it, its
    leaderboard partners, and a settlement of the quarter before D-2 was clawed back."""
    paid = envelope(
        "PayoutSettled",
        {
            "partner_id": P,
            "settlement_id": f"S-{PERIOD}",
            "period": PERIOD,
            "currency": "USD",
            "amount_paid": "50600.00",
            "settled_at": "2027-01-05T00:00:00Z",
        },
        id=f"reporting-test/{P}/settled",
    )
    return [event for _, event in events()] + [paid]


async def project(
    database: FakeDatabase,
    raw: list[dict[str, Any]],
    *,
    batch: int = 1000,
    lines: LinesCache | None = None,
) -> None:
    projection = Projection(database, lines)  # type: ignore[arg-type]
    for start in range(0, len(raw), batch):
        await projection.project(parsed(raw[start : start + batch]))


async def snapshot(database: FakeDatabase) -> dict[str, list[dict[str, Any]]]:
    return await Generation(database, "g1").snapshot()  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the projection


def test_every_event_type_is_projected_but_deal_registrations() -> None:
    left_out = {
        contract.DealRegistered,
        contract.DealRegistrationApproved,
        contract.DealRegistrationRejected,
        contract.DealRegistrationExtensionRequested,
        contract.DealRegistrationExtended,
        contract.DealRegistrationExtensionRejected,
    }
    assert set(PROJECTIONS) == set(contract.PAYLOAD_TYPES) - left_out


@pytest.mark.parametrize("kept", [200_000, 0])
async def test_any_order_and_any_duplicates_give_the_same_read_models(kept: int) -> None:
    """Every write commutes: the worked example, its partner's commission inquiries and
    adjustments, in their natural order in one batch, and shuffled, a third of it
    twice, in batches of five, leave the same documents."""
    raw = worked_example() + corrections()
    natural, shuffled = FakeDatabase(), FakeDatabase()
    await project(natural, raw)
    rng = random.Random(kept)
    mixed = rng.sample(raw, len(raw)) + rng.sample(raw, len(raw) // 3)
    await project(shuffled, mixed, batch=5, lines=LinesCache(kept))
    assert await snapshot(shuffled) == await snapshot(natural)

    totals = natural.documents("period_totals")[f"{P}|{PERIOD}"]
    assert (totals["revenue"], totals["commission"], totals["payout"], totals["deals"]) == (
        "290000.00",
        "38100.00",
        "38100.00",
        4,
    )
    assert (totals["target"], totals["attainment"], totals["name"]) == (
        "300000.00",
        "0.9667",
        PROFILE["name"],
    )
    assert len(natural.documents("partner_adjustments")[P]["adjustments"]) == 3
    assert len(natural.documents("partner_inquiries")[P]["inquiries"]) == 3


async def test_the_highest_revision_stands_whatever_arrives_first() -> None:
    """A clawback (revision 2) before the deal's first revision: the clawback stands. A
    deal that a later revision moves to another period leaves no totals behind."""
    database = FakeDatabase()
    signed = envelope("PartnerSigned", {"partner_id": "P-9", **PROFILE, "contract": CONTRACT})
    rev = {
        (deal, n): calculated(
            "P-9", deal, n, period, "1000.00", status, "0", "0", amount, "0", amount, day
        )
        for deal, n, period, status, amount, day in [
            ("D-a", 1, PERIOD, "commissionable", "100.00", "2026-10-05"),
            ("D-a", 2, PERIOD, "clawed_back", "0.00", "2026-10-05"),
            ("D-b", 1, "2026-Q3", "commissionable", "50.00", "2026-09-30"),
            ("D-b", 2, PERIOD, "commissionable", "50.00", "2026-10-01"),
        ]
    }
    await project(database, [signed, rev[("D-a", 2)], rev[("D-b", 1)]])
    assert set(database.documents("period_totals")) == {"P-9|2026-Q3", f"P-9|{PERIOD}"}
    await project(database, [rev[("D-a", 1)], rev[("D-b", 2)], rev[("D-a", 1)]])
    assert set(database.documents("period_totals")) == {f"P-9|{PERIOD}"}
    totals = database.documents("period_totals")[f"P-9|{PERIOD}"]
    assert (totals["revenue"], totals["commission"], totals["deals"]) == ("1000.00", "50.00", 2)


async def test_a_partner_status_is_the_highest_reached_in_any_order() -> None:
    database = FakeDatabase()
    terminated = envelope(
        "PartnerTerminated",
        {"partner_id": "P-7", "effective_date": "2027-01-31", "reason": "notice"},
    )
    signed = envelope("PartnerSigned", {"partner_id": "P-7", **PROFILE, "contract": CONTRACT})
    tier = envelope(
        "PartnerTierChanged",
        {"partner_id": "P-7", "tier": "platinum", "effective_date": "2026-12-01"},
        time="2026-12-01T00:00:00Z",
    )
    await project(database, [terminated])
    await project(database, [tier, signed])
    view = database.documents("partners")["P-7"]["view"]
    assert (view["status"], view["tier"], view["terminated_from"]) == (
        "terminated",
        "platinum",
        "2027-01-31",
    )
    assert view["contract"] == CONTRACT


async def test_a_payout_is_kept_by_settlement_and_under_its_partner_once() -> None:
    database = FakeDatabase()
    settled = worked_example()[-1]
    await project(database, [settled, settled])
    [by_settlement] = database.documents("payouts").values()
    under_partner = database.documents("partner_payouts")[P]["settlements"]
    assert list(under_partner.values()) == [{k: v for k, v in by_settlement.items() if k != "_id"}]
    assert (by_settlement["amount_paid"], by_settlement["period_amount"]) == (
        "50600.00",
        "50600.00",
    )
    assert P not in database.documents("partners"), "a payout is no lifecycle fact"


async def test_the_read_models_answer_from_what_the_projection_wrote() -> None:
    """The queries over the projected worked example, without HTTP."""
    database = FakeDatabase()
    await project(database, worked_example())
    queries = ReportingQueries(database)  # type: ignore[arg-type]
    found = await queries.statement(P, PERIOD)
    assert [(line.deal_id, line.revision) for line in found.lines][1] == (D2, 2)
    assert found.payment is not None
    assert (found.payment.paid, found.payment.pending_adjustment) == (
        Decimal(50600),
        Decimal(-12500),
    )
    board = await queries.leaderboard(BOARD_PERIOD, "revenue", 2)
    assert [doc["partner_id"] for doc in board] == [
        "P-200",
        "P-400",
    ]


async def test_the_business_gauges_follow_the_period_totals(projected: FakeDatabase) -> None:
    await refresh_business_gauges(ReportingQueries(projected))  # type: ignore[arg-type]
    labels = {"currency": "USD", "period": PERIOD}
    assert REGISTRY.get_sample_value("partnerhub_revenue", labels) == 290000.0
    assert REGISTRY.get_sample_value("partnerhub_commission", labels) == 38100.0


# --------------------------------------------------------------------------- the read API


class Reporting:
    """The app over the projected worked example, and a client that sends a key."""

    def __init__(self, database: FakeDatabase) -> None:
        settings = ReportingSettings(
            api_keys=SecretStr(f"{ADMIN_KEY}=admin,{PARTNER_KEY}=partner:{P}"),
            api_keys_file=None,
        )
        self.client = TestClient(create_app(settings, database=database))  # type: ignore[arg-type]

    def get(self, path: str, *, key: str = ADMIN_KEY, **params: Any) -> Response:
        return self.client.get(path, params=params, headers={"Authorization": f"Bearer {key}"})

    def json(self, path: str, **params: Any) -> Any:
        answer = self.get(path, **params)
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture
async def projected() -> FakeDatabase:
    database = FakeDatabase()
    await project(database, worked_example(), batch=7)
    return database


@pytest.fixture
def reporting(projected: FakeDatabase) -> Iterator[Reporting]:
    service = Reporting(projected)
    yield service
    service.client.close()


def test_the_statement_is_the_worked_example_with_what_was_paid(reporting: Reporting) -> None:
    assert reporting.json(f"/partners/{P}/statements/{PERIOD}") == {
        **EXPECTED_STATEMENT,
        "settled": True,
        "paid": "50600.00",
        "pending_adjustment": "-12500.00",
    }


def test_the_partner_view(reporting: Reporting) -> None:
    partner = reporting.json(f"/partners/{P}")
    certification = partner.pop("certifications")
    assert partner == {
        "partner_id": P,
        "name": PROFILE["name"],
        "status": "active",
        "partner_type": PROFILE["partner_type"],
        "region": PROFILE["region"],
        "industry": PROFILE["industry"],
        "tier": "gold",
        "contract": CONTRACT,
        "trainings_completed": 2,
        "deals_closed": 4,
        "revenue_total": "290000.00",
        "commission_total": "38100.00",
        "bonus_total": "0.00",
        "open_inquiries": [],
        "mdf": [],
        "capabilities": [],
        "satisfaction": {
            "responses": 0,
            "promoters": 0,
            "passives": 0,
            "detractors": 0,
            "average": None,
            "nps": None,
        },
    }
    assert [(c["certification_id"], c["awarded_at"], c["expires_at"]) for c in certification] == [
        ("CERT-CLOUD", "2026-11-01T00:00:00.000000Z", "2027-11-01T00:00:00.000000Z")
    ]


def test_the_partners_a_page_at_a_time(reporting: Reporting) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        page = reporting.json(
            "/partners", status="active", limit=2, **({"cursor": cursor} if cursor else {})
        )
        seen += [item["partner_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted([P, *BOARD])
    assert reporting.json("/partners", region="nowhere") == {"items": [], "next_cursor": None}
    bad = reporting.get("/partners", cursor="nonsense")
    assert bad.status_code == 422
    assert [error["loc"] for error in bad.json()["detail"]] == [["query", "cursor"]]


def test_the_leaderboard(reporting: Reporting) -> None:
    board = reporting.json("/leaderboard", period=BOARD_PERIOD, by="revenue")
    ranked = sorted(BOARD.items(), key=lambda item: -float(item[1]))
    assert board == {
        "period": BOARD_PERIOD,
        "by": "revenue",
        "entries": [
            {
                "rank": n,
                "partner_id": pid,
                "name": f"Partner {pid}",
                "value": v,
                "currency": "USD",
                "responses": None,
            }
            for n, (pid, v) in enumerate(ranked, 1)
        ],
    }
    by_attainment = reporting.json("/leaderboard", period=PERIOD, by="attainment")
    assert by_attainment["entries"] == [
        {
            "rank": 1,
            "partner_id": P,
            "name": PROFILE["name"],
            "value": "0.9667",
            "currency": None,
            "responses": None,
        }
    ]
    assert reporting.json("/leaderboard", period=PERIOD, by="nps")["entries"] == [], (
        "no survey answers: nobody ranked by NPS"
    )
    assert reporting.get("/leaderboard", period="2026-Q5").status_code == 422


def test_the_health_score(reporting: Reporting) -> None:
    health = reporting.json(f"/partners/{P}/health", as_of="2026-12-16T00:00:00Z")
    # 40 × 0.9667 + 25 × (1 − 14/90) + 10 + 15 × 3/4 = 38.668 + 21.111 + 10 + 11.25
    assert health == {
        "partner_id": P,
        "as_of": "2026-12-16T00:00:00+00:00",
        "period": PERIOD,
        "score": "81.0",
        "at_risk": False,
        "factors": {
            "attainment": {"value": "0.9667", "points": "38.7", "max": 40},
            "activity": {"days_since_last_deal": 14, "points": "21.1", "max": 25},
            "certifications": {"valid": 1, "points": "10.0", "max": 20},
            "feedback": {"average_rating": "4.00", "points": "11.2", "max": 15},
            "satisfaction": {
                "responses": 0,
                "nps": None,
                "points": None,
                "max": 20,
                "others_scale": "1.00",
            },
        },
    }
    before = reporting.json(f"/partners/{P}/health", as_of="2026-10-15T00:00:00Z")
    assert before["factors"]["activity"]["days_since_last_deal"] is None
    assert before["factors"]["certifications"]["valid"] == 0


def test_payouts_and_the_finance_export(reporting: Reporting) -> None:
    payouts = reporting.json(f"/partners/{P}/payouts")
    assert payouts["periods"] == [
        {
            "period": PERIOD,
            "currency": "USD",
            "current_total": "38100.00",
            "paid": "50600.00",
            "settled": True,
            "pending_adjustment": "-12500.00",
        }
    ]
    assert payouts["pending_adjustments"] == {"USD": "-12500.00"}
    [paid] = payouts["payouts"]
    assert (paid["settlement_id"], paid["carried_adjustments"], paid["unrecovered"]) == (
        f"S-{PERIOD}",
        [],
        [],
    )
    export = reporting.get(f"/settlements/S-{PERIOD}/export.csv")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    [row] = list(csv.DictReader(io.StringIO(export.text)))
    assert row == {
        "settlement_id": f"S-{PERIOD}",
        "partner_id": P,
        "partner_name": PROFILE["name"],
        "period": PERIOD,
        "currency": "USD",
        "period_amount": "50600.00",
        "carried_adjustments": "",
        "carried_total": "0.00",
        "amount_paid": "50600.00",
        "unrecovered": "",
        "settled_at": "2027-01-05T00:00:00.000000Z",
        "mdf_reimbursed": "0.00",
    }


def test_the_programme_summary(reporting: Reporting) -> None:
    summary = reporting.json("/programme/summary", period=PERIOD)
    assert summary == {
        "period": PERIOD,
        "partners": {"total": 4, "by_status": {"active": 4}, "by_tier": {"gold": 4}},
        "revenue": {"USD": "290000.00"},
        "commission": {"USD": "38100.00"},
        "bonus": {"USD": "0.00"},
        "training_completions": 2,
        "certifications_awarded": 1,
        "open_mdf": {"requests": 0, "amount": {}},
        "mdf_claimed": {},
        "mdf_reimbursed": {},
        "mdf_released": {},
        "average_feedback_rating": "4.00",
        "satisfaction": {
            "responses": 0,
            "promoters": 0,
            "passives": 0,
            "detractors": 0,
            "average": None,
            "nps": None,
        },
    }
    everything = reporting.json("/programme/summary")
    assert everything["period"] is None
    assert everything["revenue"] == {"USD": "750000.50"}  # and the leaderboard's quarter


def test_what_is_not_there_is_404_and_a_partner_key_reads_its_own(reporting: Reporting) -> None:
    nobody = reporting.get("/partners/P-nobody")
    assert (nobody.status_code, nobody.json()) == (404, {"detail": "unknown partner P-nobody"})
    for path in ("/statements/2026-Q4", "/payouts", "/health", "/mdf"):
        assert reporting.get(f"/partners/P-nobody{path}").status_code == 404, path
    assert reporting.get(f"/partners/{P}/statements/2026-Q5").status_code == 422
    missing = reporting.get("/settlements/S-none/export.csv")
    assert (missing.status_code, missing.json()) == (404, {"detail": "no settlement S-none"})
    assert reporting.get(f"/partners/{P}", key=PARTNER_KEY).status_code == 200
    assert reporting.get("/partners/P-200", key=PARTNER_KEY).status_code == 403
    assert reporting.get("/leaderboard", key=PARTNER_KEY, period=PERIOD).status_code == 403


def test_every_route_documents_its_answer(reporting: Reporting) -> None:
    paths = reporting.client.get("/openapi.json").json()["paths"]
    reads = {
        "/partners/{partner_id}": "partners",
        "/partners": "partners",
        "/partners/{partner_id}/statements/{period}": "statements",
        "/partners/{partner_id}/payouts": "payouts",
        "/settlements/{settlement_id}/export.csv": "payouts",
        "/leaderboard": "leaderboard",
        "/partners/{partner_id}/health": "partners",
        "/partners/at-risk": "partners",
        "/programme/summary": "programme",
        "/partners/{partner_id}/mdf": "mdf",
        "/partners/{partner_id}/satisfaction": "partners",
    }
    for path, tag in reads.items():
        operation = paths[path]["get"]
        assert operation["tags"] == [tag], path
        content = operation["responses"]["200"]["content"]
        if path.endswith(".csv"):
            assert "text/csv" in content
        else:
            assert "$ref" in content["application/json"]["schema"], path


def test_the_finance_export_shows_a_partners_name_and_never_runs_it() -> None:
    payout = {
        "settlement_id": "S-1",
        "partner_id": "P-1",
        "period": "2026-Q4",
        "currency": "USD",
        "period_amount": "-10.00",
        "carried_adjustments": [],
        "amount_paid": "-10.00",
        "unrecovered": [],
        "settled_at": "2027-01-05T00:00:00.000000Z",
        "mdf_reimbursed": "0.00",
    }
    (row,) = csv.DictReader(io.StringIO(finance_csv([(payout, '=HYPERLINK("x","y")')])))
    assert row["partner_name"] == '\'=HYPERLINK("x","y")'
    assert row["amount_paid"] == "-10.00", "a negative amount stays a number"
