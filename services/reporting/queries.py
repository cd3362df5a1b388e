"""The read side: what the read API asks of the read models, as plain values.

Every query reads the active generation through ``store.py``
(:class:`~services.reporting.store.Generation`); where a rule decides the
answer, ``domain.py`` computes it from what was read here. Lookups go by
``_id`` wherever the answer allows (:meth:`Generation.find_by_ids`): a query
of ``deals``, ``period_totals`` or ``payouts`` by partner is not served from
an index on every server (``store.py`` says which), so those read documents
by ``_id`` instead. Stored payouts are read with ``store.decode_payout``.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

from services.reporting.domain import (
    MDF_FIGURES,
    SATISFACTION_WEIGHT,
    Change,
    Health,
    HealthFacts,
    Inquiry,
    MdfFigures,
    PeriodPayment,
    PeriodTotals,
    Satisfaction,
    Statement,
    SurveyAnswer,
    adjusted_totals,
    answered_between,
    average_rating,
    health_period,
    in_period,
    inquiries_known,
    known_lines,
    last_close,
    last_deal_candidates,
    lines_by_period,
    mdf_position,
    mdf_totals,
    money,
    open_inquiries,
    period_bounds,
    period_of,
    period_payments,
    period_totals,
    satisfaction,
    satisfaction_window,
    statement,
    statement_changes,
    survey_answer,
    utc_text,
)
from services.reporting.history import bucket_id, day_of, days, in_order
from services.reporting.store import (
    Database,
    Document,
    Generation,
    LinesCache,
    decode_adjustments,
    decode_history,
    decode_inquiries,
    decode_mdf,
    decode_payout,
    generation_state,
    line_revisions,
    received_adjustments,
    settlement_key,
    stated_revisions,
)
from shared.commands import NotFound
from shared.settlement import from_document

#: Deals' documents looked up at once while looking for a partner's last closed deal.
LAST_DEAL_LOOKUPS = 8

Ranking = Literal["revenue", "commission", "attainment", "nps"]


@dataclass(frozen=True, slots=True)
class StatementChanges:
    """A statement as known at an instant (``then``), as it is (``now``), and the changes
    received in between, whose deltas add up to ``now.payout_total − then.payout_total``."""

    then: Statement
    now: Statement
    changes: list[Change]


#: What a statement reads, each one lookup by the partner's id.
STATEMENT_SOURCES = (
    "partners",
    "lines",
    "partner_payouts",
    "partner_adjustments",
    "partner_inquiries",
)
#: A settlement's payout to one partner, and the partner's name.
SettlementRow = tuple[dict[str, Any], str | None]


class UnknownPartner(NotFound):
    def __init__(self, partner_id: str) -> None:
        super().__init__(f"unknown partner {partner_id}")


def partner_settlements(doc: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """A partner's ``partner_payouts`` document as its payouts, oldest first."""
    payouts = [decode_payout(p) for p in (doc or {}).get("settlements", {}).values()]
    return sorted(payouts, key=lambda d: (d["settled_at"], d["settlement_id"]))


@dataclass(frozen=True)
class PartnerPayouts:
    settlements: list[dict[str, Any]]
    periods: list[PeriodPayment]


@dataclass(frozen=True)
class PartnerHealth:
    period: str
    health: Health


@dataclass(frozen=True)
class ScoredPartner:
    """A partner's id, its current ``view`` (name, tier, region, …) and its health score."""

    partner_id: str
    view: dict[str, Any]
    health: PartnerHealth


@dataclass(frozen=True)
class PartnersAtRisk:
    """How many active partners were scored, and those at risk, worst first."""

    scored: int
    partners: list[ScoredPartner]


@dataclass
class ProgrammeFigures:
    """The programme at a glance, for one period or for all time."""

    by_status: Counter[str] = field(default_factory=Counter)
    by_tier: Counter[str] = field(default_factory=Counter)
    revenue: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    commission: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    bonus: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    training_completions: int = 0
    certifications_awarded: int = 0
    open_mdf_requests: int = 0
    open_mdf: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    #: What MDF claims ask, what settlements reimbursed for them and what went unclaimed
    #: and was released, of the requests made in the period (a claim and a release are
    #: filed under their request, as a partner's MDF position is).
    mdf_claimed: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    mdf_reimbursed: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    mdf_released: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    average_rating: Decimal | None = None
    satisfaction: Satisfaction = field(default_factory=lambda: satisfaction(()))


class ReportingQueries:
    """The queries of the read API over the active generation of the read models.

    ``lines``: the process's cache of parsed lines, shared with the projection.
    """

    def __init__(
        self,
        database: Database,
        lines: LinesCache | None = None,
        *,
        satisfaction_weight: int = SATISFACTION_WEIGHT,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.database = database
        self.lines = LinesCache() if lines is None else lines
        self.satisfaction_weight = satisfaction_weight
        self.clock = clock

    async def active(self) -> Generation:
        return Generation(self.database, (await generation_state(self.database)).active, self.lines)

    # ----------------------------------------------------------------------- partners

    async def partner(self, partner_id: str) -> dict[str, Any]:
        """The partner 360 of one partner; :class:`UnknownPartner` if there is none."""
        generation = await self.active()
        facts = await self._facts(generation, partner_id)
        return (await self._partner_360(generation, [facts]))[0]

    async def partners(
        self, filters: Mapping[str, str | None], limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], bool]:
        """A page of partner 360s in ``_id`` order, after ``after``, whose view matches the
        ``filters`` given (``status``, ``tier``, …); and whether more follow."""
        generation = await self.active()
        query: dict[str, Any] = {f"view.{f}": v for f, v in filters.items() if v is not None}
        if after is not None:
            query["_id"] = {"$gt": after}
        found = generation["partners"].find(query).sort("_id", 1).limit(limit + 1)
        docs = [d async for d in found]
        return await self._partner_360(generation, docs[:limit]), len(docs) > limit

    async def _facts(self, generation: Generation, partner_id: str) -> Document:
        doc = await generation["partners"].find_one({"_id": partner_id})
        if doc is None:
            raise UnknownPartner(partner_id)
        return doc

    async def _partner_360(
        self, generation: Generation, docs: list[Document]
    ) -> list[dict[str, Any]]:
        """The partner 360 of each partner document, with a constant number of queries.

        Deals are counted where the totals are summed, from the partners'
        lines: each deal has one current line, in one period's totals.
        """
        ids = [d["_id"] for d in docs]
        certifications = await self._certifications(generation, ids)
        trainings = Counter(
            [
                t["partner_id"]
                async for t in generation["trainings"].find(
                    {"partner_id": {"$in": ids}}, {"partner_id": 1}
                )
            ]
        )
        totals = await self._totals_from_lines(generation, ids)
        inquiries = await generation.find_by_ids("partner_inquiries", ids)
        mdf = await generation.find_by_ids("partner_mdf", ids)
        first, last = satisfaction_window(self.clock())
        answers = await _survey_answers(generation, ids)
        return [
            {
                **_partner_view(
                    doc, certifications.get(doc["_id"], []), trainings, totals[doc["_id"]]
                ),
                "satisfaction": _satisfaction_view(
                    satisfaction(
                        a.score for a in answered_between(answers.get(doc["_id"], []), first, last)
                    )
                ),
                "open_inquiries": [
                    _open_inquiry(i)
                    for i in open_inquiries(decode_inquiries(inquiries.get(doc["_id"])))
                ],
                "mdf": [_mdf_summary(f) for f in mdf_totals(decode_mdf(mdf.get(doc["_id"])))],
            }
            for doc in docs
        ]

    async def _certifications(
        self, generation: Generation, partner_ids: list[str]
    ) -> dict[str, list[dict[str, Any]]]:
        now = utc_text(datetime.now(UTC))
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        async for c in (
            generation["certifications"]
            .find({"partner_id": {"$in": partner_ids}})
            .sort("awarded_at", 1)
        ):
            found[c["partner_id"]].append(
                {
                    "learner_id": c["learner_id"],
                    "certification_id": c["certification_id"],
                    "product_line": c["product_line"],
                    "awarded_at": c["awarded_at"],
                    "expires_at": c["expires_at"],
                    "valid": c["awarded_at"] <= now < c["expires_at"],
                }
            )
        return found

    async def _totals_from_lines(
        self, generation: Generation, partner_ids: list[str]
    ) -> dict[str, list[PeriodTotals]]:
        """Each partner's totals per period from its lines (one lookup by ``_id`` each), as
        ``period_totals`` holds them but for the target."""
        found = await generation.find_by_ids("lines", partner_ids)
        out: dict[str, list[PeriodTotals]] = {}
        for pid in partner_ids:
            lines = self.lines.current_lines(pid, line_revisions(found.get(pid)))
            out[pid] = [
                period_totals(pid, period, period_lines, None)
                for period, period_lines in lines_by_period(lines).items()
            ]
        return out

    # ----------------------------------------------------------------------- MDF

    async def mdf(self, partner_id: str) -> list[MdfFigures]:
        """The partner's MDF position, per quarter and currency (``domain.mdf_position``):
        one lookup by ``_id``; :class:`UnknownPartner` when the read models know neither
        the partner nor any MDF fact of it."""
        generation = await self.active()
        doc = await generation["partner_mdf"].find_one({"_id": partner_id})
        if doc is None and await generation["partners"].find_one({"_id": partner_id}) is None:
            raise UnknownPartner(partner_id)
        return mdf_position(decode_mdf(doc))

    # ----------------------------------------------------------------------- history

    async def history(self, partner_id: str, since: datetime, until: datetime) -> list[Document]:
        """The partner's history entries received in [``since``, ``until``), in the order
        received: the buckets of those days, read by ``_id``
        (:mod:`services.reporting.history`). :class:`UnknownPartner` when there are none
        and the read models know nothing else of the partner."""
        generation = await self.active()
        ids = [bucket_id(partner_id, day) for day in days(day_of(since), day_of(until))]
        buckets = await generation.find_by_ids("history", ids)
        entries = in_order(decode_history(buckets.values()), utc_text(since), utc_text(until))
        if not entries and await generation["partners"].find_one({"_id": partner_id}) is None:
            raise UnknownPartner(partner_id)
        return entries

    # ----------------------------------------------------------------------- statements

    async def statement(
        self, partner_id: str, period: str, as_of: datetime | None = None
    ) -> Statement:
        """The partner's statement of ``period`` (as known at ``as_of``, if given);
        :class:`UnknownPartner` when the read models know neither the partner nor a line,
        an adjustment or an inquiry of it in the period."""
        return (await self._explained(partner_id, period, None if as_of is None else [as_of]))[0]

    async def changes(self, partner_id: str, period: str, since: datetime) -> StatementChanges:
        """What changed ``period``'s statement since ``since``: the statement then and now,
        and each change received in between (``domain.statement_changes``)."""
        then, now, changes = await self._explained(partner_id, period, [since], explain=True)
        return StatementChanges(then, now, changes)

    async def _explained(
        self,
        partner_id: str,
        period: str,
        instants: list[datetime] | None,
        *,
        explain: bool = False,
    ) -> tuple[Statement, Statement, list[Change]]:
        """The statement as known at the instant given (else now), the statement now, and
        with ``explain`` the changes received since that instant."""
        generation = await self.active()
        # Five lookups by _id, independent of each other: in flight at once.
        facts, lines_doc, payouts_doc, adjustments_doc, inquiries_doc = await asyncio.gather(
            *(generation[name].find_one({"_id": partner_id}) for name in STATEMENT_SOURCES)
        )
        revisions = line_revisions(lines_doc)
        lines = self.lines.current_lines(partner_id, revisions)
        adjustments = received_adjustments(adjustments_doc)
        inquiries = decode_inquiries(inquiries_doc)
        periods = {x.period for x in lines} | {a.period for a, _, _ in adjustments}
        if facts is None and period not in periods | {x.period for x in inquiries}:
            raise UnknownPartner(partner_id)
        payouts = partner_settlements(payouts_doc)
        contracts = (facts or {}).get("contracts", [])
        now = statement(
            partner_id,
            period,
            lines,
            contracts,
            [from_document(doc) for doc in payouts],
            [a for a, _, _ in adjustments],
            inquiries,
        )
        if not instants:
            return now, now, []
        instant = utc_text(instants[0])
        stated = stated_revisions(partner_id, revisions)
        received = ((payouts_doc or {}).get("received")) or {}
        then = statement(
            partner_id,
            period,
            known_lines(stated, instant),
            contracts,
            [
                from_document(doc)
                for doc in payouts
                if received.get(settlement_key(doc["settlement_id"]), "") <= instant
            ],
            [a for a, at, _ in adjustments if at is None or at <= instant],
            inquiries_known(inquiries, instant),
        )
        changes = (
            statement_changes(stated, adjustments, period, now.currency, instant) if explain else []
        )
        return then, now, changes

    async def payouts(self, partner_id: str) -> PartnerPayouts:
        """The partner's settlements, and per period its current total (commission, target
        bonus and adjustments), paid and pending."""
        generation = await self.active()
        payouts_doc, adjustments_doc = await asyncio.gather(
            generation["partner_payouts"].find_one({"_id": partner_id}),
            generation["partner_adjustments"].find_one({"_id": partner_id}),
        )
        settlements = partner_settlements(payouts_doc)
        totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for t in (await self._totals_from_lines(generation, [partner_id]))[partner_id]:
            if t.currency:
                totals[(t.period, t.currency)] += t.payout
        for key, amount in adjusted_totals(decode_adjustments(adjustments_doc)).items():
            totals[key] += amount
        if (
            not settlements
            and not totals
            and await generation["partners"].find_one({"_id": partner_id}, {"_id": 1}) is None
        ):
            raise UnknownPartner(partner_id)
        periods = period_payments(dict(totals), [from_document(d) for d in settlements])
        return PartnerPayouts(settlements, periods)

    async def settlement(self, settlement_id: str) -> list[SettlementRow]:
        """A settlement's payouts, one per partner in partner order, each with the partner's
        name; :class:`NotFound` if it paid nobody."""
        generation = await self.active()
        docs = [
            decode_payout(d)
            async for d in generation["payouts"].find({"settlement_id": settlement_id})
        ]
        if not docs:
            raise NotFound(f"no settlement {settlement_id}")
        docs.sort(key=lambda d: d["partner_id"])
        names = {
            d["_id"]: (d.get("view") or {}).get("name")
            async for d in generation["partners"].find(
                {"_id": {"$in": [d["partner_id"] for d in docs]}}, {"view.name": 1}
            )
        }
        return [(d, names.get(d["partner_id"])) for d in docs]

    # ----------------------------------------------------------------------- leaderboard

    async def leaderboard(self, period: str, by: Ranking, limit: int) -> list[Document]:
        """The ``period_totals`` of ``period``, best first by ``by`` (then partner id);
        by attainment only partners with a target."""
        generation = await self.active()
        if by == "nps":
            return await self._nps_leaderboard(generation, period, limit)
        query: dict[str, Any] = {"period": period}
        if by == "attainment":
            query["attainment_sort"] = {"$gte": 0}
        found = (
            generation["period_totals"]
            .find(query)
            .sort([(f"{by}_sort", -1), ("partner_id", 1)])
            .limit(limit)
        )
        return [doc async for doc in found]

    async def _nps_leaderboard(
        self, generation: Generation, period: str, limit: int
    ) -> list[Document]:
        """The partners with survey answers completed in ``period``, best NPS first (then
        more answers, then partner id), as leaderboard rows. Every survey is read (a
        survey's answer is the greatest of its versions, known only once read)."""
        first, last = period_bounds(period)
        answers = await _survey_answers(generation, None)
        start, end = utc_text(_start_of(first)), utc_text(_end_of(last))
        scored = {
            pid: satisfaction(a.score for a in answered_between(found, start, end))
            for pid, found in answers.items()
        }
        ranked = sorted(
            ((pid, s) for pid, s in scored.items() if s.nps is not None),
            key=lambda item: (-(item[1].nps or 0), -item[1].responses, item[0]),
        )[:limit]
        names = {
            doc["_id"]: (doc.get("view") or {}).get("name")
            async for doc in generation["partners"].find(
                {"_id": {"$in": [pid for pid, _ in ranked]}}, {"view.name": 1}
            )
        }
        return [
            {
                "partner_id": pid,
                "name": names.get(pid),
                "nps": str(s.nps),
                "responses": s.responses,
                "currency": None,
            }
            for pid, s in ranked
        ]

    async def satisfaction(self, partner_id: str) -> dict[str, Any]:
        """A partner's customer satisfaction: over the 12 months up to now, and per
        calendar quarter of the answers' ``completed_at`` (docs/rules/satisfaction.md)."""
        generation = await self.active()
        await self._facts(generation, partner_id)
        answers = (await _survey_answers(generation, [partner_id])).get(partner_id, [])
        first, last = satisfaction_window(self.clock())
        quarters: dict[str, list[int]] = defaultdict(list)
        for answer in answers:
            quarters[period_of(date.fromisoformat(answer.completed_at[:10]), "quarter")].append(
                answer.score
            )
        return {
            "partner_id": partner_id,
            "last_12_months": _satisfaction_view(
                satisfaction(a.score for a in answered_between(answers, first, last))
            ),
            "quarters": [
                {"period": period, **_satisfaction_view(satisfaction(scores))}
                for period, scores in sorted(quarters.items(), reverse=True)
            ],
        }

    # ----------------------------------------------------------------------- health

    async def health(self, partner_id: str, moment: datetime) -> PartnerHealth:
        """The partner's health score as of ``moment`` (docs/rules/health-score.md)."""
        generation = await self.active()
        partner = await self._facts(generation, partner_id)
        facts = (await self._health_facts(generation, [partner], moment))[partner_id]
        last_deal = await self._last_closed_deal(generation, partner_id, moment)
        return PartnerHealth(facts.period, facts.score(last_deal, moment))

    async def partners_at_risk(self, moment: datetime, limit: int) -> PartnersAtRisk:
        """The active partners whose health score as of ``moment`` puts them at risk, worst
        first (then by partner id), at most ``limit``; and how many active partners were
        scored (docs/rules/health-score.md, "Partners at risk").

        The same score as :meth:`health` gives each, from a number of queries that does
        not grow with the partners': the active partners' documents, then their
        current periods' totals, valid certifications and feedback (one query each),
        then, for the partners the other three factors leave below the line, their lines
        and their deals' documents, a round of lookups by ``_id`` per chunk of
        candidates (:meth:`_last_closed_deals`). Activity only adds points: a partner
        the other factors keep above the line is not at risk whatever its last deal, and
        its deals are not looked up.
        """
        generation = await self.active()
        docs = [
            doc
            async for doc in generation["partners"].find(
                {"view.status": "active"}, {"view": 1, "contracts": 1}
            )
        ]
        facts = await self._health_facts(generation, docs, moment)
        below = [pid for pid, f in facts.items() if f.score(None, moment).at_risk]
        last_deals = await self._last_closed_deals(generation, below, moment)
        scores = {pid: facts[pid].score(last_deals[pid], moment) for pid in below}
        worst = sorted(
            (pid for pid, score in scores.items() if score.at_risk),
            key=lambda pid: (scores[pid].score, pid),
        )[:limit]
        views = {doc["_id"]: doc.get("view") or {} for doc in docs}
        return PartnersAtRisk(
            scored=len(docs),
            partners=[
                ScoredPartner(pid, views[pid], PartnerHealth(facts[pid].period, scores[pid]))
                for pid in worst
            ],
        )

    async def _health_facts(
        self, generation: Generation, docs: list[Document], moment: datetime
    ) -> dict[str, HealthFacts]:
        """What each partner's score counts but its last deal, by partner id: the totals of
        its current period (one lookup by ``_id`` each), its certifications valid at
        ``moment`` and its feedback submitted by then (one query each for all)."""
        if not docs:
            return {}
        now = utc_text(moment)
        ids = [doc["_id"] for doc in docs]
        periods = {
            doc["_id"]: health_period(doc.get("contracts", []), moment.date()) for doc in docs
        }
        totals, valid, ratings, answers = await asyncio.gather(
            generation.find_by_ids("period_totals", [f"{pid}|{p}" for pid, p in periods.items()]),
            _valid_certifications(generation, ids, now),
            _ratings(generation, ids, now),
            _survey_answers(generation, ids),
        )
        first, last = satisfaction_window(moment)
        return {
            doc["_id"]: HealthFacts(
                contracts=doc.get("contracts", []),
                period=periods[doc["_id"]],
                attainment=_stored_attainment(totals.get(f"{doc['_id']}|{periods[doc['_id']]}")),
                valid_certifications=valid[doc["_id"]],
                ratings=ratings.get(doc["_id"], []),
                survey_scores=[
                    a.score for a in answered_between(answers.get(doc["_id"], []), first, last)
                ],
                satisfaction_weight=self.satisfaction_weight,
            )
            for doc in docs
        }

    def _deal_chunks(
        self, partner_id: str, lines_doc: Document | None, moment: datetime
    ) -> list[list[str]]:
        """The partner's candidates for its last closed deal (``domain.last_deal_candidates``,
        from its lines), in the chunks they are checked in, the latest first."""
        candidates = last_deal_candidates(
            self.lines.current_lines(partner_id, line_revisions(lines_doc)), moment
        )
        return [
            candidates[start : start + LAST_DEAL_LOOKUPS]
            for start in range(0, len(candidates), LAST_DEAL_LOOKUPS)
        ]

    async def _last_closed_deal(
        self, generation: Generation, partner_id: str, moment: datetime
    ) -> str | None:
        """``closed_at`` of the partner's latest deal closed by ``moment`` and not cancelled.

        The candidates are the deals of the partner's lines (one lookup by
        ``_id``; every closed deal has a line once incentives has computed it),
        latest first, each chunk checked against its ``deals`` documents
        (``domain.last_close``), a few lookups by ``_id`` at a time, until one
        qualifies.
        """
        lines_doc = await generation["lines"].find_one({"_id": partner_id})
        for chunk in self._deal_chunks(partner_id, lines_doc, moment):
            found = await generation.find_by_ids("deals", chunk)
            if (closed := last_close(map(found.get, chunk), moment)) is not None:
                return closed
        return None

    async def _last_closed_deals(
        self, generation: Generation, partner_ids: list[str], moment: datetime
    ) -> dict[str, str | None]:
        """:meth:`_last_closed_deal` of each partner, by partner id, in rounds: the lines of
        all (one lookup by ``_id`` each), then round *k* looks up the deals of the *k*-th
        chunk of every partner no earlier chunk decided, together. The rounds are as many
        as the longest run of chunks without a qualifying deal, whatever the number of
        partners."""
        found_lines = await generation.find_by_ids("lines", partner_ids)
        chunks = {pid: self._deal_chunks(pid, found_lines.get(pid), moment) for pid in partner_ids}
        last: dict[str, str | None] = dict.fromkeys(partner_ids)
        undecided = [pid for pid in partner_ids if chunks[pid]]
        turn = 0
        while undecided:
            found = await generation.find_by_ids(
                "deals", [deal for pid in undecided for deal in chunks[pid][turn]]
            )
            for pid in undecided:
                last[pid] = last_close(map(found.get, chunks[pid][turn]), moment)
            turn += 1
            undecided = [pid for pid in undecided if last[pid] is None and turn < len(chunks[pid])]
        return last

    # ----------------------------------------------------------------------- programme

    async def programme(self, period: str | None) -> ProgrammeFigures:
        """Partners by status and tier; revenue, commission and bonus per currency; training
        completions, certifications awarded and feedback in the period (all time: None);
        the MDF requests open now; what the MDF claims of the requests made in the
        period ask, what settlements reimbursed for them and what of those requests went
        unclaimed and was released, per currency."""
        generation = await self.active()
        figures = ProgrammeFigures()
        async for doc in generation["partners"].find({}, {"view.status": 1, "view.tier": 1}):
            view = doc.get("view", {})
            figures.by_status[view.get("status") or "applied"] += 1
            if view.get("tier"):
                figures.by_tier[view["tier"]] += 1
        async for t in generation["period_totals"].find(
            {} if period is None else {"period": period}
        ):
            currency = t.get("currency") or "?"
            figures.revenue[currency] += Decimal(t["revenue"])
            figures.commission[currency] += Decimal(t["commission"])
            figures.bonus[currency] += Decimal(t["bonus"])
        within: dict[str, Any] = {}
        if period is not None:
            first, last = period_bounds(period)
            within = {"$gte": f"{first.isoformat()}T", "$lt": f"{last.isoformat()}U"}

        def during(instant: str) -> Document:
            return {instant: within} if within else {}

        figures.training_completions = await generation["trainings"].count_documents(
            during("completed_at")
        )
        figures.certifications_awarded = await generation["certifications"].count_documents(
            during("awarded_at")
        )
        async for m in generation["mdf"].find({"status_rank": 1}):
            if "amount" in m:
                figures.open_mdf[m["currency"]] += Decimal(m["amount"])
                figures.open_mdf_requests += 1
        async for doc in generation["partner_mdf"].find({}):
            for amount in decode_mdf(doc):
                if period is not None and not in_period(amount.requested_at, period):
                    continue
                if amount.figure == "claimed":
                    figures.mdf_claimed[amount.currency] += amount.amount
                elif amount.figure == "reimbursed":
                    figures.mdf_reimbursed[amount.currency] += amount.amount
                elif amount.figure == "released":
                    figures.mdf_released[amount.currency] += amount.amount
        figures.average_rating = average_rating(
            [f["rating"] async for f in generation["feedback"].find(during("submitted_at"))]
        )
        start = end = None
        if period is not None:
            first, last = period_bounds(period)
            start, end = utc_text(_start_of(first)), utc_text(_end_of(last))
        figures.satisfaction = satisfaction(
            a.score
            for found in (await _survey_answers(generation, None)).values()
            for a in answered_between(found, start, end)
        )
        return figures

    async def business_totals(self) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
        """Revenue and payout (commission + target bonus) per (currency, period)."""
        generation = await self.active()
        revenue: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        payout: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        async for t in generation["period_totals"].find(
            {}, {"currency": 1, "period": 1, "revenue": 1, "payout": 1}
        ):
            key = (t.get("currency") or "?", t["period"])
            revenue[key] += Decimal(t["revenue"])
            payout[key] += Decimal(t["payout"])
        return {key: (value, payout[key]) for key, value in revenue.items()}


def _partner_view(
    doc: Document,
    certifications: list[dict[str, Any]],
    trainings: Mapping[str, int],
    periods: list[PeriodTotals],
) -> dict[str, Any]:
    """A partner's view, enablement and totals over every period."""
    view = doc.get("view", {})
    pid = doc["_id"]
    return {
        "partner_id": pid,
        "name": view.get("name"),
        "status": view.get("status"),
        "partner_type": view.get("partner_type"),
        "region": view.get("region"),
        "industry": view.get("industry"),
        "tier": view.get("tier"),
        "contract": view.get("contract"),
        "capabilities": view.get("capabilities", []),
        "certifications": certifications,
        "trainings_completed": trainings.get(pid, 0),
        "deals_closed": sum(t.deals for t in periods),
        "revenue_total": money(sum((t.revenue for t in periods), Decimal(0))),
        "commission_total": money(sum((t.commission for t in periods), Decimal(0))),
        "bonus_total": money(sum((t.bonus for t in periods), Decimal(0))),
    }


def _mdf_summary(figures: MdfFigures) -> dict[str, Any]:
    """A partner's MDF figures in one currency over every quarter, as the partner 360
    lists them."""
    return {
        "currency": figures.currency,
        **{name: money(getattr(figures, name)) for name in MDF_FIGURES},
    }


def _open_inquiry(inquiry: Inquiry) -> dict[str, Any]:
    """An open inquiry as the partner 360 lists it."""
    return {
        "inquiry_id": inquiry.inquiry_id,
        "deal_id": inquiry.deal_id,
        "period": inquiry.period,
        "message": inquiry.message,
        "opened_at": inquiry.opened_at,
        "actor": inquiry.actor,
    }


def _stored_attainment(totals: Document | None) -> Decimal | None:
    """The attainment a ``period_totals`` document holds (None: no target, or no totals)."""
    return Decimal(totals["attainment"]) if totals and totals.get("attainment") else None


async def _valid_certifications(
    generation: Generation, partner_ids: list[str], now: str
) -> Counter[str]:
    """How many certifications valid at ``now`` (``awarded_at ≤ now < expires_at``) each
    partner holds; one query."""
    return Counter(
        [
            c["partner_id"]
            async for c in generation["certifications"].find(
                {
                    "partner_id": {"$in": partner_ids},
                    "awarded_at": {"$lte": now},
                    "expires_at": {"$gt": now},
                },
                {"partner_id": 1},
            )
        ]
    )


async def _survey_answers(
    generation: Generation, partner_ids: list[str] | None
) -> dict[str, list[SurveyAnswer]]:
    """The survey answers as they stand, by the partner their standing version names: of
    ``partner_ids`` (one query), or of every partner (None)."""
    query: Document = {} if partner_ids is None else {"partners": {"$in": partner_ids}}
    wanted = None if partner_ids is None else set(partner_ids)
    found: dict[str, list[SurveyAnswer]] = defaultdict(list)
    async for doc in generation["surveys"].find(query):
        answer = survey_answer(doc)
        if answer is not None and (wanted is None or answer.partner_id in wanted):
            found[answer.partner_id].append(answer)
    return found


def _satisfaction_view(s: Satisfaction) -> dict[str, Any]:
    return {
        "responses": s.responses,
        "promoters": s.promoters,
        "passives": s.passives,
        "detractors": s.detractors,
        "average": None if s.average is None else str(s.average),
        "nps": None if s.nps is None else str(s.nps),
    }


def _start_of(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


def _end_of(day: date) -> datetime:
    return datetime.combine(day, datetime.max.time(), tzinfo=UTC)


async def _ratings(
    generation: Generation, partner_ids: list[str], now: str
) -> dict[str, list[int]]:
    """The ratings of the feedback each partner submitted by ``now``; one query."""
    ratings: dict[str, list[int]] = defaultdict(list)
    async for f in generation["feedback"].find(
        {"partner_id": {"$in": partner_ids}, "submitted_at": {"$lte": now}},
        {"partner_id": 1, "rating": 1},
    ):
        ratings[f["partner_id"]].append(f["rating"])
    return ratings
