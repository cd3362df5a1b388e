"""The onboarding rules: partner selection and the partner lifecycle (docs/rules/scorecard.md).

Pure: no I/O and no clock. Every instant or date a rule needs (``now``,
``today``) is an argument, and every lifecycle step returns the
``shared.events`` payload to publish on ``partners.v1``.

**Scorecard.** Each criterion is scored 0–5; ``score = Σ weight × criterion / 5
× 100``, computed exactly with ``Decimal`` and rounded to one decimal
**half-up** (``77.25`` → ``77.3``), as a person rounding by hand would. The
recommendation is taken from the rounded score, so the score shown and the
recommendation always agree: ≥ 70 ``approve``, ≥ 50 ``review``, else ``reject``.

**Industry fit** (:class:`IndustryFit`). An applicant states its capabilities
(technical support, logistics, consulting, …). Each industry, matched on the
application's ``industry`` trimmed and case-insensitively, has its required
capabilities and may have its own scorecard weights (else the default weights
score it). Every required capability the applicant lacks gives one warning,
``missing_capability: <capability> (<industry> partners need …)``; warnings
are advice beside the score and never change the score or the recommendation.

**Lifecycle** (the ``status`` values the HTTP API shows)::

    applied ──approve──▶ approved ──sign──▶ active ──terminate──▶ terminated
       └──────reject───▶ rejected           │  ▲
                                            └──┘ renew, change tier

Each step is allowed from exactly one status. A step the partner's status does
not allow raises :class:`IllegalTransition` (HTTP 409); a step whose own data
breaks a rule (notice period, renewal dates, a blank reason) raises
:class:`InvalidCommand` naming the field (HTTP 422). Either way the record is
left unchanged.

**Renewal rule.** A renewal names the contract it renews, which must be the
partner's current (latest) contract. The new contract must start after the
renewed contract's *start* and end after its *end*. Overlap is allowed on
purpose: an early renewal (a renegotiated plan or tier mid-term) takes over
from its own start date, exactly as the governing contract is picked ("the
latest ``start_date``", docs/rules/commissions.md), and the strictly later
start means that rule never meets a tie between a contract and its renewal. A
gap is allowed too (a late renewal); deals closed in it have no governing
contract.

**Notice rule.** Termination takes effect no earlier than ``today +
notice_days`` (default 30) and no later than the day after the current
contract's ``end_date`` (the natural end: beyond it there is nothing left to
terminate). When the contract ends inside the notice period, the only date
allowed is ``today + notice_days``. The status becomes ``terminated`` as soon
as notice is given; deals closed before the effective date still earn
commission (docs/rules/commissions.md compares ``effective_date`` with the
deal's close date).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TypeVar

from shared.commands import Conflict, InvalidField
from shared.events import (
    Capability,
    Contract,
    ContractRenewed,
    PartnerApplied,
    PartnerApproved,
    PartnerRejected,
    PartnerSigned,
    PartnerStatus,
    PartnerTerminated,
    PartnerTierChanged,
    Recommendation,
    Scorecard,
    Tier,
)

# --------------------------------------------------------------------------- errors


class IllegalTransition(Conflict):
    """The partner's current status does not allow this step (HTTP 409 with the reason)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidCommand(InvalidField):
    """The step's own data breaks a rule; ``field`` names it (HTTP 422 naming the field,
    placed in the request by the command side: ``body.<field>``, say)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__((field,), reason)
        self.field = field
        self.reason = reason


class InvalidWeights(ValueError):
    """Scorecard weights that are not non-negative decimals summing to 1.

    ``weight`` names the offending weight, or is ``None`` when only the sum is
    wrong (the message then lists every weight with its value).
    """

    def __init__(self, weight: str | None, reason: str) -> None:
        super().__init__(reason)
        self.weight = weight
        self.reason = reason


# --------------------------------------------------------------------------- scorecard

#: The five criteria, in the order docs/rules/scorecard.md lists them.
CRITERIA: tuple[str, ...] = ("customer_base", "sales_network", "expertise", "track_record", "fit")

#: The top mark of a criterion.
MAX_CRITERION = 5
#: A score at or above this recommends ``approve``.
APPROVE_THRESHOLD = Decimal(70)
#: A score at or above this (and below :data:`APPROVE_THRESHOLD`) recommends ``review``.
REVIEW_THRESHOLD = Decimal(50)

_ONE_DECIMAL = Decimal("0.1")


def _weight_value(name: str, value: object) -> Decimal:
    """A weight given in configuration or a request: a Decimal, an int, a decimal string or a float.

    A float is read through its shortest representation (``0.1`` → ``Decimal("0.1")``),
    i.e. the number as it was written, not its binary approximation.
    """
    if isinstance(value, bool):
        raise InvalidWeights(name, f"weight {name!r} must be a number, got {value!r}")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            raise InvalidWeights(
                name, f"weight {name!r} must be a decimal such as 0.25, got {value!r}"
            ) from None
    raise InvalidWeights(name, f"weight {name!r} must be a number, got {type(value).__name__}")


@dataclass(frozen=True)
class ScorecardWeights:
    """How much each criterion counts: non-negative decimals that sum to exactly 1.

    Checked on construction; a bad set raises :class:`InvalidWeights` naming the weight.
    """

    customer_base: Decimal
    sales_network: Decimal
    expertise: Decimal
    track_record: Decimal
    fit: Decimal

    def __post_init__(self) -> None:
        total = Decimal(0)
        for name in CRITERIA:
            value: object = getattr(self, name)
            if not isinstance(value, Decimal):
                raise InvalidWeights(
                    name, f"weight {name!r} must be a Decimal, got {type(value).__name__}"
                )
            if not value.is_finite():
                raise InvalidWeights(name, f"weight {name!r} must be a finite number, got {value}")
            if value < 0:
                raise InvalidWeights(name, f"weight {name!r} must not be negative, got {value}")
            total += value
        if total != 1:
            listing = ", ".join(f"{name}={getattr(self, name)}" for name in CRITERIA)
            raise InvalidWeights(None, f"weights must sum to 1, got {total} ({listing})")

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> ScorecardWeights:
        """Weights from configuration or a request body: all five names, nothing else."""
        for name in values:
            if name not in CRITERIA:
                raise InvalidWeights(
                    name, f"unknown weight {name!r}; the criteria are {', '.join(CRITERIA)}"
                )
        for name in CRITERIA:
            if name not in values:
                raise InvalidWeights(name, f"weight {name!r} is missing")
        parsed = {name: _weight_value(name, values[name]) for name in CRITERIA}
        return cls(**parsed)

    def as_dict(self) -> dict[str, Decimal]:
        """Criterion name → weight, in :data:`CRITERIA` order (for "the weights used")."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: The default weights: 0.25, 0.20, 0.25, 0.20, 0.10.
DEFAULT_WEIGHTS = ScorecardWeights(
    customer_base=Decimal("0.25"),
    sales_network=Decimal("0.20"),
    expertise=Decimal("0.25"),
    track_record=Decimal("0.20"),
    fit=Decimal("0.10"),
)


def score(scorecard: Scorecard, weights: ScorecardWeights = DEFAULT_WEIGHTS) -> Decimal:
    """``Σ weight × criterion / 5 × 100``, rounded to one decimal, half-up.

    Exact decimal arithmetic; the result lies in ``[0.0, 100.0]`` and has one
    decimal place (``Decimal("77.0")``, not ``Decimal("77")``).
    """
    weighted = sum(
        (getattr(weights, name) * getattr(scorecard, name) for name in CRITERIA), Decimal(0)
    )
    raw = weighted / MAX_CRITERION * 100
    return raw.quantize(_ONE_DECIMAL, rounding=ROUND_HALF_UP)


def recommend(score: Decimal) -> Recommendation:
    """≥ 70 ``approve``, ≥ 50 ``review``, else ``reject`` (pass the rounded score)."""
    if score >= APPROVE_THRESHOLD:
        return Recommendation.APPROVE
    if score >= REVIEW_THRESHOLD:
        return Recommendation.REVIEW
    return Recommendation.REJECT


@dataclass(frozen=True)
class Assessment:
    """The outcome of an application: the score, the recommendation, the weights used,
    and the industry-fit warnings (which leave the score and recommendation as they are)."""

    score: Decimal
    recommendation: Recommendation
    weights: ScorecardWeights
    warnings: tuple[str, ...] = ()


def assess(scorecard: Scorecard, weights: ScorecardWeights = DEFAULT_WEIGHTS) -> Assessment:
    """Score a scorecard and recommend; the decision itself stays with a person."""
    points = score(scorecard, weights)
    return Assessment(score=points, recommendation=recommend(points), weights=weights)


# --------------------------------------------------------------------------- industry fit

_V = TypeVar("_V")


class InvalidIndustryFit(ValueError):
    """An industry table that cannot be used: a blank or repeated industry, say.

    ``industry`` names the offending industry, as given.
    """

    def __init__(self, industry: str, reason: str) -> None:
        super().__init__(reason)
        self.industry = industry
        self.reason = reason


def industry_key(industry: str) -> str:
    """How an industry is matched: trimmed and case-insensitive (``" IT "`` is ``it``)."""
    return industry.strip().casefold()


def capabilities_of(values: Iterable[Capability | str]) -> tuple[Capability, ...]:
    """The capabilities stated, each once, in the order :class:`Capability` lists them.

    An unknown one raises :class:`InvalidCommand` on ``capabilities``.
    """
    stated: set[Capability] = set()
    for value in values:
        try:
            stated.add(Capability(value))
        except ValueError:
            known = ", ".join(c.value for c in Capability)
            raise InvalidCommand(
                "capabilities", f"unknown capability {value!r}; the capabilities are {known}"
            ) from None
    return tuple(c for c in Capability if c in stated)


def _listing(words: Iterable[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = list(words)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


#: What each industry needs of its partners unless configured otherwise (the
#: partner-sales playbook: IT partners give technical support, manufacturing
#: partners logistics and after-sales service, service partners consulting).
DEFAULT_REQUIRED_CAPABILITIES: Mapping[str, tuple[Capability, ...]] = {
    "it": (Capability.TECHNICAL_SUPPORT,),
    "manufacturing": (Capability.LOGISTICS, Capability.AFTER_SALES),
    "services": (Capability.CONSULTING,),
}


@dataclass(frozen=True)
class IndustryFit:
    """What each industry asks of an applicant: its required capabilities and, where it
    has them, its own scorecard weights.

    Industries are keyed by :func:`industry_key`; one not in ``required`` requires
    nothing, one not in ``weights`` is scored with the default weights. Two keys
    naming one industry (``IT`` and ``it``) raise :class:`InvalidIndustryFit`.
    """

    required: Mapping[str, tuple[Capability, ...]] = field(
        default_factory=lambda: dict(DEFAULT_REQUIRED_CAPABILITIES)
    )
    weights: Mapping[str, ScorecardWeights] = field(default_factory=dict)

    def __post_init__(self) -> None:
        required = {
            industry: _required(industry, capabilities)
            for industry, capabilities in self.required.items()
        }
        object.__setattr__(self, "required", _by_industry(required))
        object.__setattr__(self, "weights", _by_industry(self.weights))

    def required_for(self, industry: str) -> tuple[Capability, ...]:
        """The capabilities ``industry`` requires (none for an industry not configured)."""
        return self.required.get(industry_key(industry), ())

    def weights_for(self, industry: str, default: ScorecardWeights) -> ScorecardWeights:
        """The weights that score an application of ``industry``: its own, else ``default``."""
        return self.weights.get(industry_key(industry), default)

    def warnings(self, industry: str, capabilities: Iterable[Capability]) -> tuple[str, ...]:
        """One warning per capability ``industry`` requires and ``capabilities`` lacks, in
        the order the requirement lists them: ``missing_capability: logistics
        (manufacturing partners need logistics and after_sales)``."""
        required = self.required_for(industry)
        stated = set(capabilities)
        need = f"{industry.strip()} partners need {_listing(c.value for c in required)}"
        return tuple(f"missing_capability: {c.value} ({need})" for c in required if c not in stated)


def _required(industry: str, capabilities: Iterable[Capability | str]) -> tuple[Capability, ...]:
    """An industry's required capabilities, each once, in the order given."""
    required: dict[Capability, None] = {}
    for value in capabilities:
        try:
            required[Capability(value)] = None
        except ValueError:
            known = ", ".join(c.value for c in Capability)
            raise InvalidIndustryFit(
                industry, f"unknown capability {value!r}; the capabilities are {known}"
            ) from None
    return tuple(required)


def _by_industry(table: Mapping[str, _V]) -> dict[str, _V]:
    keyed: dict[str, _V] = {}
    for industry, value in table.items():
        key = industry_key(industry)
        if not key:
            raise InvalidIndustryFit(industry, "an industry must not be blank")
        if key in keyed:
            raise InvalidIndustryFit(industry, f"industry {key!r} is given twice")
        keyed[key] = value
    return keyed


#: The default industry fit: :data:`DEFAULT_REQUIRED_CAPABILITIES`, no industry weights.
DEFAULT_INDUSTRY_FIT = IndustryFit()


# --------------------------------------------------------------------------- lifecycle


#: Days of notice a termination needs unless configured otherwise.
DEFAULT_NOTICE_DAYS = 30

# How each status reads in a refusal: "partner P-1 is <...>".
_STANDING = {
    PartnerStatus.APPLIED: "an applicant awaiting a decision",
    PartnerStatus.APPROVED: "approved but has not signed a contract",
    PartnerStatus.REJECTED: "rejected",
    PartnerStatus.ACTIVE: "active under a contract",
    PartnerStatus.TERMINATED: "terminated",
}


def _not_blank(value: str, field_name: str) -> str:
    if not value.strip():
        raise InvalidCommand(field_name, "must not be blank")
    return value


def _aware(instant: datetime, field_name: str) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise InvalidCommand(field_name, "must be a timestamp with a UTC offset")
    return instant


@dataclass(frozen=True)
class PartnerProfile:
    """Who is applying: the company's profile as given in the application.

    ``capabilities`` are kept each once, in the order :class:`Capability` lists them.
    """

    name: str
    partner_type: str
    region: str
    industry: str
    contact_email: str
    capabilities: tuple[Capability, ...] = ()

    def __post_init__(self) -> None:
        for name in ("name", "partner_type", "region", "industry", "contact_email"):
            _not_blank(getattr(self, name), name)
        object.__setattr__(self, "capabilities", capabilities_of(self.capabilities))
        local, at, domain = self.contact_email.strip().partition("@")
        if (
            not (at and local and domain)
            or "@" in domain
            or any(c.isspace() for c in local + domain)
        ):
            raise InvalidCommand(
                "contact_email", f"is not an e-mail address: {self.contact_email!r}"
            )


@dataclass(frozen=True)
class Termination:
    """Notice given to a partner: from ``effective_date`` on, the partner is terminated."""

    effective_date: date
    reason: str
    noticed_on: date


def termination_window(
    contract: Contract, today: date, notice_days: int = DEFAULT_NOTICE_DAYS
) -> tuple[date, date]:
    """The first and last effective dates a termination given ``today`` may have.

    From ``today + notice_days`` to the day after the contract's (inclusive)
    ``end_date``; when the contract ends inside the notice period, only
    ``today + notice_days``.
    """
    if notice_days < 0:
        raise InvalidCommand("notice_days", f"must not be negative, got {notice_days}")
    earliest = today + timedelta(days=notice_days)
    natural_end = contract.end_date + timedelta(days=1)
    return earliest, max(earliest, natural_end)


@dataclass
class PartnerRecord:
    """One partner from application to termination: the aggregate the onboarding service keeps.

    Create it with :meth:`apply`; each other method performs one lifecycle step,
    changes the record, and returns the payload to publish. A refused step
    raises and leaves the record as it was.
    """

    partner_id: str
    application_id: str
    profile: PartnerProfile
    scorecard: Scorecard
    assessment: Assessment
    applied_at: datetime
    status: PartnerStatus = PartnerStatus.APPLIED
    decided_at: datetime | None = None
    rejection_reason: str | None = None
    #: The signed contract first, then each renewal, in order; the last one is current.
    contracts: list[Contract] = field(default_factory=list)
    tier: Tier | None = None
    termination: Termination | None = None

    # ------------------------------------------------------------------ creation

    @classmethod
    def apply(
        cls,
        *,
        partner_id: str,
        application_id: str,
        profile: PartnerProfile,
        scorecard: Scorecard,
        applied_at: datetime,
        weights: ScorecardWeights = DEFAULT_WEIGHTS,
        industry_fit: IndustryFit = DEFAULT_INDUSTRY_FIT,
    ) -> tuple[PartnerRecord, PartnerApplied]:
        """A new application, scored: the record (status ``applied``) and its PartnerApplied.

        ``weights`` score an industry without weights of its own in ``industry_fit``,
        which also gives the warnings for the required capabilities the profile lacks.
        The partner id is given now because every event, PartnerApplied too, is
        keyed by it (docs/rules/events.md); it becomes the partner's id on approval.
        """
        _not_blank(partner_id, "partner_id")
        _not_blank(application_id, "application_id")
        _aware(applied_at, "applied_at")
        industry = profile.industry
        scored = assess(scorecard, industry_fit.weights_for(industry, weights))
        warnings = industry_fit.warnings(industry, profile.capabilities)
        assessment = replace(scored, warnings=warnings)
        record = cls(
            partner_id=partner_id,
            application_id=application_id,
            profile=profile,
            scorecard=scorecard,
            assessment=assessment,
            applied_at=applied_at,
        )
        applied = PartnerApplied(
            partner_id=partner_id,
            application_id=application_id,
            name=profile.name,
            partner_type=profile.partner_type,
            region=profile.region,
            industry=profile.industry,
            contact_email=profile.contact_email,
            scorecard=scorecard,
            score=float(assessment.score),
            recommendation=assessment.recommendation,
            applied_at=applied_at,
            capabilities=list(profile.capabilities),
            warnings=list(assessment.warnings),
        )
        return record, applied

    # ------------------------------------------------------------------ queries

    @property
    def current_contract(self) -> Contract | None:
        """The latest contract (signed or renewal), or ``None`` before signing."""
        return self.contracts[-1] if self.contracts else None

    def _contract_in_force(self) -> Contract:
        contract = self.current_contract
        if contract is None:  # pragma: no cover - an active partner always has one
            raise IllegalTransition(f"partner {self.partner_id} has no contract")
        return contract

    # ------------------------------------------------------------------ the steps

    def _require(self, allowed: PartnerStatus, step: str, only: str) -> None:
        """Refuse ``step`` unless the partner is ``allowed``; ``only`` says who may take it."""
        if self.status is allowed:
            return
        if self.status is PartnerStatus.TERMINATED and self.termination is not None:
            standing = f"terminated (effective {self.termination.effective_date.isoformat()})"
        else:
            standing = _STANDING[self.status]
        raise IllegalTransition(f"cannot {step}: partner {self.partner_id} is {standing}; {only}")

    def approve(self, *, now: datetime) -> PartnerApproved:
        """applied → approved. The partner may now sign a contract."""
        if self.status is PartnerStatus.APPROVED:
            raise IllegalTransition(
                f"application {self.application_id} is already approved (partner {self.partner_id})"
            )
        self._require(
            PartnerStatus.APPLIED,
            f"approve application {self.application_id}",
            "only an application awaiting a decision can be approved",
        )
        _aware(now, "approved_at")
        approved = PartnerApproved(
            partner_id=self.partner_id, application_id=self.application_id, approved_at=now
        )
        self.status = PartnerStatus.APPROVED
        self.decided_at = now
        return approved

    def reject(self, *, reason: str, now: datetime) -> PartnerRejected:
        """applied → rejected, with the reason given to the applicant. Final."""
        if self.status is PartnerStatus.REJECTED:
            raise IllegalTransition(
                f"application {self.application_id} is already rejected (partner {self.partner_id})"
            )
        self._require(
            PartnerStatus.APPLIED,
            f"reject application {self.application_id}",
            "only an application awaiting a decision can be rejected",
        )
        _not_blank(reason, "reason")
        _aware(now, "rejected_at")
        rejected = PartnerRejected(
            partner_id=self.partner_id,
            application_id=self.application_id,
            rejected_at=now,
            reason=reason,
        )
        self.status = PartnerStatus.REJECTED
        self.decided_at = now
        self.rejection_reason = reason
        return rejected

    def sign(self, contract: Contract) -> PartnerSigned:
        """approved → active: the first contract; its tier becomes the partner's tier."""
        if self.status is PartnerStatus.ACTIVE:
            current = self._contract_in_force()
            raise IllegalTransition(
                f"cannot sign contract {contract.contract_id}: partner {self.partner_id} "
                f"is already active under contract {current.contract_id}; renew it instead"
            )
        self._require(
            PartnerStatus.APPROVED,
            f"sign contract {contract.contract_id}",
            "only an approved partner can sign a contract",
        )
        signed = PartnerSigned(
            partner_id=self.partner_id,
            name=self.profile.name,
            partner_type=self.profile.partner_type,
            region=self.profile.region,
            industry=self.profile.industry,
            contract=contract.model_copy(deep=True),
        )
        self.contracts.append(signed.contract)
        self.tier = contract.tier
        self.status = PartnerStatus.ACTIVE
        return signed

    def renew(self, *, renewed_contract_id: str, contract: Contract) -> ContractRenewed:
        """active → active: ``contract`` follows the current contract ``renewed_contract_id``.

        The new contract starts after the renewed one starts and ends after it
        ends (overlaps and gaps allowed, see the module's renewal rule); its tier
        becomes the partner's tier. The payload also carries
        ``renewed_contract_id``.
        """
        self._require(
            PartnerStatus.ACTIVE,
            f"renew contract {renewed_contract_id}",
            "only an active partner's contract can be renewed",
        )
        known = {c.contract_id: c for c in self.contracts}
        renewed = known.get(renewed_contract_id)
        if renewed is None:
            raise IllegalTransition(
                f"cannot renew contract {renewed_contract_id}: partner {self.partner_id} "
                f"has no such contract (its contracts: {', '.join(known)})"
            )
        current = self._contract_in_force()
        if renewed is not current:
            raise IllegalTransition(
                f"cannot renew contract {renewed_contract_id}: it was already followed by "
                f"a later contract; the current contract of partner {self.partner_id} "
                f"is {current.contract_id}"
            )
        if contract.contract_id in known:
            raise IllegalTransition(
                f"cannot renew with contract {contract.contract_id}: partner "
                f"{self.partner_id} already has a contract with that id"
            )
        if contract.start_date <= renewed.start_date:
            raise InvalidCommand(
                "start_date",
                f"a renewal must start after the renewed contract {renewed.contract_id} "
                f"starts ({renewed.start_date.isoformat()}), got {contract.start_date.isoformat()}",
            )
        if contract.end_date <= renewed.end_date:
            raise InvalidCommand(
                "end_date",
                f"a renewal must end after the renewed contract {renewed.contract_id} "
                f"ends ({renewed.end_date.isoformat()}), got {contract.end_date.isoformat()}",
            )
        renewal = ContractRenewed(
            partner_id=self.partner_id,
            name=self.profile.name,
            partner_type=self.profile.partner_type,
            region=self.profile.region,
            industry=self.profile.industry,
            contract=contract.model_copy(deep=True),
            renewed_contract_id=renewed_contract_id,
        )
        self.contracts.append(renewal.contract)
        self.tier = contract.tier
        return renewal

    def change_tier(
        self, *, tier: Tier, effective_date: date, reason: str | None = None
    ) -> PartnerTierChanged:
        """active → active with another tier, from a date within the current contract."""
        self._require(
            PartnerStatus.ACTIVE,
            f"change the tier to {tier.value}",
            "only an active partner's tier can change",
        )
        if tier is self.tier:
            raise IllegalTransition(
                f"cannot change the tier to {tier.value}: partner {self.partner_id} "
                f"is already {tier.value}"
            )
        contract = self._contract_in_force()
        if not contract.start_date <= effective_date <= contract.end_date:
            raise InvalidCommand(
                "effective_date",
                f"must fall within the current contract {contract.contract_id} "
                f"({contract.start_date.isoformat()} to {contract.end_date.isoformat()}), "
                f"got {effective_date.isoformat()}",
            )
        if reason is not None:
            _not_blank(reason, "reason")
        changed = PartnerTierChanged(
            partner_id=self.partner_id, tier=tier, effective_date=effective_date, reason=reason
        )
        self.tier = tier
        return changed

    def terminate(
        self,
        *,
        reason: str,
        effective_date: date,
        today: date,
        notice_days: int = DEFAULT_NOTICE_DAYS,
    ) -> PartnerTerminated:
        """active → terminated, giving notice ``today`` (see the module's notice rule)."""
        self._require(PartnerStatus.ACTIVE, "terminate", "only an active partner can be terminated")
        _not_blank(reason, "reason")
        contract = self._contract_in_force()
        earliest, latest = termination_window(contract, today, notice_days)
        if effective_date < earliest:
            raise InvalidCommand(
                "effective_date",
                f"must be on or after {earliest.isoformat()} ({notice_days} days' notice "
                f"from {today.isoformat()}), got {effective_date.isoformat()}",
            )
        if effective_date > latest:
            ends = contract.end_date.isoformat()
            bound = (
                f"the day after contract {contract.contract_id} ends ({ends})"
                if latest > earliest
                else f"the end of the notice period, as contract {contract.contract_id} "
                f"ends before it ({ends})"
            )
            raise InvalidCommand(
                "effective_date",
                f"must be on or before {latest.isoformat()}, {bound}, "
                f"got {effective_date.isoformat()}",
            )
        terminated = PartnerTerminated(
            partner_id=self.partner_id, effective_date=effective_date, reason=reason
        )
        self.status = PartnerStatus.TERMINATED
        self.termination = Termination(
            effective_date=effective_date, reason=reason, noticed_on=today
        )
        return terminated
