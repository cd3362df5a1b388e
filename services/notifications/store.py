"""Notifications' MongoDB persistence (docs/rules/notifications.md, "What is kept").

- ``webhooks``: one document per subscription, its secret included (the signing
  key: kept as given, shown once).
- ``deliveries``: one document per (subscription, event): the event's JSON as consumed,
  its status (``pending``, ``delivered``, ``parked``) and every attempt with its answer.
- ``queue``: one small document per delivery still to make (``pending``), with its
  line, place in line and next attempt. The delivery worker reads the whole queue at
  each pass, so it stays as small as what is waiting; the history stays in
  ``deliveries``. A queue entry is written before its delivery, and the worker
  sends only a delivery whose document says ``pending``, so a crash between the two
  writes, or a batch consumed again, neither loses nor repeats a delivery.
- ``people``: who may be emailed: people who signed in (``person:<sub>``), each
  partner's contact from its application (``contact:<partner_id>``).
- ``preferences``: per address, the kinds of email unsubscribed from.
- ``expiring``: registrations and certifications whose end is notified ahead
  (``registration:<id>``, ``certification:<partner>:<learner>:<id>``).
- ``emails`` and ``mail_queue``: one document per (fact, address) email, with the
  same split and the same order of writes as deliveries and the queue. The email's id
  is made of the fact and the address, so a fact seen again (a batch consumed
  again, the periodic job run again after a restart) is never queued twice.

Instants are ISO 8601 text in UTC (so they sort as text); queries other than by ``_id``
read every document of their collection on FerretDB, which is why only the queues are
read at every pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from services.notifications.domain import Person
from shared.mongo import Document as Document  # what the other modules handle
from shared.mongo import bulk_write_chunked, insert_new

PENDING = "pending"
DELIVERED = "delivered"
PARKED = "parked"
QUEUED = "queued"
SENT = "sent"
FAILED = "failed"


def iso(instant: datetime) -> str:
    """An instant as stored: ISO 8601 in UTC to the microsecond (text that sorts)."""
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


class Store(Protocol):
    """What notifications keeps; :class:`NotificationsStore` on MongoDB, an in-memory
    fake in the unit tests."""

    # webhooks
    async def add_webhook(self, doc: Document) -> bool: ...
    async def webhook(self, webhook_id: str) -> Document | None: ...
    async def webhooks(self) -> list[Document]: ...
    async def set_webhook_status(self, webhook_id: str, status: str) -> Document | None: ...
    async def delete_webhook(self, webhook_id: str) -> bool: ...

    # deliveries
    async def queue_deliveries(self, deliveries: Sequence[Document]) -> int: ...
    async def queue(self) -> list[Document]: ...
    async def deliveries(self, ids: Iterable[str]) -> dict[str, Document]: ...
    async def record_attempt(
        self, delivery_id: str, attempt: Document, update: Document, *, queued: Document | None
    ) -> None: ...
    async def drop_queued(self, ids: Iterable[str]) -> None: ...
    async def deliveries_of(
        self, webhook_id: str, status: str | None, limit: int, before: str | None
    ) -> list[Document]: ...
    async def parked_of(self, webhook_id: str) -> list[Document]: ...
    async def requeue(self, deliveries: Sequence[Document], now: datetime) -> None: ...

    # people
    async def put_people(self, people: Sequence[Document]) -> None: ...
    async def people(self) -> list[Person]: ...
    async def preferences(self) -> dict[str, frozenset[str]]: ...
    async def unsubscribed_of(self, address: str) -> frozenset[str]: ...
    async def set_unsubscribed(self, address: str, kinds: Iterable[str]) -> None: ...

    # expiring things
    async def put_expiring(self, docs: Sequence[Document]) -> None: ...
    async def extend_expiring(self, key: str, ends_at: datetime) -> None: ...
    async def drop_expiring(self, keys: Iterable[str]) -> None: ...
    async def ending_between(self, start: datetime, end: datetime) -> list[Document]: ...

    # emails
    async def queue_emails(self, emails: Sequence[Document]) -> int: ...
    async def mail_queue(self) -> list[Document]: ...
    async def emails_by_id(self, ids: Iterable[str]) -> dict[str, Document]: ...
    async def record_email(
        self, email_id: str, update: Document, *, queued: Document | None
    ) -> None: ...
    async def emails(
        self, partner_id: str | None, kind: str | None, audience: str | None, limit: int
    ) -> list[Document]: ...


def queue_entry(delivery: Document) -> Document:
    """The queue's document of a pending delivery."""
    return {
        "_id": delivery["_id"],
        "webhook_id": delivery["webhook_id"],
        "line": delivery["line"],
        "seq": delivery["seq"],
        "next_attempt_at": delivery["next_attempt_at"],
    }


def mail_entry(email: Document) -> Document:
    return {"_id": email["_id"], "next_attempt_at": email["next_attempt_at"]}


class NotificationsStore:
    """:class:`Store` on MongoDB (or FerretDB)."""

    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self.webhooks_ = database["webhooks"]
        self.deliveries_ = database["deliveries"]
        self.queue_ = database["queue"]
        self.people_ = database["people"]
        self.preferences_ = database["preferences"]
        self.expiring_ = database["expiring"]
        self.emails_ = database["emails"]
        self.mail_queue_ = database["mail_queue"]

    async def create_indexes(self) -> None:
        await self.deliveries_.create_index(
            [("webhook_id", ASCENDING), ("seq", DESCENDING)], name="by_webhook"
        )
        await self.emails_.create_index([("created_at", DESCENDING)], name="by_created_at")

    # ---------------------------------------------------------------- webhooks

    async def add_webhook(self, doc: Document) -> bool:
        """Insert a subscription; False when its id is taken (a keyed command sent again)."""
        return await insert_new(self.webhooks_, [doc]) == 1

    async def webhook(self, webhook_id: str) -> Document | None:
        return await self.webhooks_.find_one({"_id": webhook_id})

    async def webhooks(self) -> list[Document]:
        return await self.webhooks_.find().sort("created_at", ASCENDING).to_list()

    async def set_webhook_status(self, webhook_id: str, status: str) -> Document | None:
        await self.webhooks_.update_one({"_id": webhook_id}, {"$set": {"status": status}})
        return await self.webhook(webhook_id)

    async def delete_webhook(self, webhook_id: str) -> bool:
        deleted = await self.webhooks_.delete_one({"_id": webhook_id})
        await self.queue_.delete_many({"webhook_id": webhook_id})
        await self.deliveries_.delete_many({"webhook_id": webhook_id})
        return deleted.deleted_count == 1

    # ---------------------------------------------------------------- deliveries

    async def queue_deliveries(self, deliveries: Sequence[Document]) -> int:
        await insert_new(self.queue_, [queue_entry(d) for d in deliveries])
        return await insert_new(self.deliveries_, deliveries)

    async def queue(self) -> list[Document]:
        return await self.queue_.find().to_list()

    async def deliveries(self, ids: Iterable[str]) -> dict[str, Document]:
        wanted = list(ids)
        if not wanted:
            return {}
        found = await self.deliveries_.find({"_id": {"$in": wanted}}).to_list()
        return {doc["_id"]: doc for doc in found}

    async def record_attempt(
        self, delivery_id: str, attempt: Document, update: Document, *, queued: Document | None
    ) -> None:
        await self.deliveries_.update_one(
            {"_id": delivery_id}, {"$set": update, "$push": {"attempts": attempt}}
        )
        if queued is None:
            await self.queue_.delete_one({"_id": delivery_id})
        else:
            await self.queue_.update_one({"_id": delivery_id}, {"$set": queued})

    async def drop_queued(self, ids: Iterable[str]) -> None:
        wanted = list(ids)
        if wanted:
            await self.queue_.delete_many({"_id": {"$in": wanted}})

    async def deliveries_of(
        self, webhook_id: str, status: str | None, limit: int, before: str | None
    ) -> list[Document]:
        query: Document = {"webhook_id": webhook_id}
        if status is not None:
            query["status"] = status
        if before is not None:
            query["seq"] = {"$lt": before}
        cursor = self.deliveries_.find(query, {"body": 0}).sort("seq", DESCENDING).limit(limit)
        return await cursor.to_list()

    async def parked_of(self, webhook_id: str) -> list[Document]:
        return await self.deliveries_.find(
            {"webhook_id": webhook_id, "status": PARKED}, {"body": 0}
        ).to_list()

    async def requeue(self, deliveries: Sequence[Document], now: datetime) -> None:
        at = iso(now)
        entries = [queue_entry({**d, "next_attempt_at": at}) for d in deliveries]
        await insert_new(self.queue_, entries)
        await bulk_write_chunked(
            self.deliveries_,
            [
                UpdateOne(
                    {"_id": d["_id"]},
                    {
                        "$set": {
                            "status": PENDING,
                            "next_attempt_at": at,
                            "first_attempt_at": None,
                            "failures": 0,
                            "replays": d.get("replays", 0) + 1,
                        }
                    },
                )
                for d in deliveries
            ],
        )

    # ---------------------------------------------------------------- people

    async def put_people(self, people: Sequence[Document]) -> None:
        await bulk_write_chunked(
            self.people_,
            [
                UpdateOne(
                    {"_id": p["_id"]},
                    {"$set": {k: v for k, v in p.items() if k != "_id"}},
                    upsert=True,
                )
                for p in people
            ],
        )

    async def people(self) -> list[Person]:
        return [
            Person(doc["address"], doc.get("partner_id"), bool(doc.get("manager")))
            for doc in await self.people_.find().sort("_id", ASCENDING).to_list()
        ]

    async def preferences(self) -> dict[str, frozenset[str]]:
        return {
            doc["_id"]: frozenset(doc.get("unsubscribed", ()))
            for doc in await self.preferences_.find().to_list()
        }

    async def unsubscribed_of(self, address: str) -> frozenset[str]:
        doc = await self.preferences_.find_one({"_id": address})
        return frozenset(doc.get("unsubscribed", ())) if doc else frozenset()

    async def set_unsubscribed(self, address: str, kinds: Iterable[str]) -> None:
        await self.preferences_.update_one(
            {"_id": address}, {"$set": {"unsubscribed": sorted(set(kinds))}}, upsert=True
        )

    # ---------------------------------------------------------------- expiring things

    async def put_expiring(self, docs: Sequence[Document]) -> None:
        await bulk_write_chunked(
            self.expiring_,
            [
                UpdateOne(
                    {"_id": d["_id"]},
                    {"$set": {k: v for k, v in d.items() if k != "_id"}},
                    upsert=True,
                )
                for d in docs
            ],
        )

    async def extend_expiring(self, key: str, ends_at: datetime) -> None:
        doc = await self.expiring_.find_one({"_id": key})
        if doc is not None and doc["ends_at"] < iso(ends_at):
            await self.expiring_.update_one({"_id": key}, {"$set": {"ends_at": iso(ends_at)}})

    async def drop_expiring(self, keys: Iterable[str]) -> None:
        wanted = list(keys)
        if wanted:
            await self.expiring_.delete_many({"_id": {"$in": wanted}})

    async def ending_between(self, start: datetime, end: datetime) -> list[Document]:
        return await self.expiring_.find(
            {"ends_at": {"$gte": iso(start), "$lte": iso(end)}}
        ).to_list()

    # ---------------------------------------------------------------- emails

    async def queue_emails(self, emails: Sequence[Document]) -> int:
        await insert_new(self.mail_queue_, [mail_entry(e) for e in emails])
        return await insert_new(self.emails_, emails)

    async def mail_queue(self) -> list[Document]:
        return await self.mail_queue_.find().to_list()

    async def emails_by_id(self, ids: Iterable[str]) -> dict[str, Document]:
        wanted = list(ids)
        if not wanted:
            return {}
        found = await self.emails_.find({"_id": {"$in": wanted}}).to_list()
        return {doc["_id"]: doc for doc in found}

    async def record_email(
        self, email_id: str, update: Document, *, queued: Document | None
    ) -> None:
        await self.emails_.update_one({"_id": email_id}, {"$set": update})
        if queued is None:
            await self.mail_queue_.delete_one({"_id": email_id})
        else:
            await self.mail_queue_.update_one({"_id": email_id}, {"$set": queued})

    async def emails(
        self, partner_id: str | None, kind: str | None, audience: str | None, limit: int
    ) -> list[Document]:
        query: dict[str, Any] = {}
        if audience is not None:
            query["audience"] = audience
        if partner_id is not None:
            query["partner_id"] = partner_id
        if kind is not None:
            query["kind"] = kind
        cursor = self.emails_.find(query, {"html": 0}).sort("created_at", DESCENDING).limit(limit)
        return await cursor.to_list()
