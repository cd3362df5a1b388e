"""The event contract: the CloudEvents 1.0 envelope and one model per event type.

The contract is written out in docs/rules/events.md.

Every Kafka message value is a CloudEvent in structured JSON mode. Money is a
``Decimal`` in Python and a JSON string on the wire; a float is rejected, never
rounded. Payload models accept fields beyond those the contract fixes (they are
kept), so producers can add information without breaking consumers.

Reading: :func:`parse_event` turns message bytes into a typed :class:`CloudEvent`
or raises :class:`InvalidEvent` whose ``reason`` says which of the contract's four
kinds of bad input it is and whose message names the offending field.

Writing: :func:`new_event` wraps a payload in an envelope (type, subject and
topic follow from the payload); :meth:`CloudEvent.to_bytes` serialises it.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Any, ClassVar, Generic, Literal, Self, TypeVar, cast

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import from_json, to_json

from shared import topics
from shared.currencies import ISO_4217

# --------------------------------------------------------------------------- scalars

#: A plain decimal such as ``"1234.50"`` or ``"-3"``: money and rates as JSON carries them.
DECIMAL_PATTERN = r"^-?\d+(\.\d+)?$"
_DECIMAL_TEXT = re.compile(DECIMAL_PATTERN)


def _decimal_from_text(value: object, what: str) -> Decimal:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{what} must be a finite decimal")
        return value
    if isinstance(value, bool | float | int):
        raise ValueError(
            f'{what} must be a JSON string holding a decimal such as "1234.50", '
            f"not a {type(value).__name__}"
        )
    if not isinstance(value, str):
        raise ValueError(f'{what} must be a string holding a decimal such as "1234.50"')
    text = value.strip()
    if not _DECIMAL_TEXT.match(text):
        raise ValueError(f'{what} must be a plain decimal such as "1234.50", got {value!r}')
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already excludes these
        raise ValueError(f"{what} is not a decimal: {value!r}") from exc


#: The largest magnitude money may have (docs/rules/events.md, "Bounds"): anything beyond
#: a quadrillion in any currency is a broken producer, not a deal.
MONEY_LIMIT = Decimal("1000000000000000")


def _money(value: object) -> Decimal:
    amount = _decimal_from_text(value, "money")
    if abs(amount) >= MONEY_LIMIT:
        raise ValueError(f"money must be less than {MONEY_LIMIT:,} in magnitude, got {value!r}")
    return amount


def _rate(value: object) -> Decimal:
    rate = _decimal_from_text(value, "rate")
    if not Decimal(0) <= rate <= Decimal(1):
        raise ValueError(f"rate must be between 0 and 1, got {value!r}")
    return rate


_MONEY_SCHEMA = {
    "type": "string",
    "pattern": _DECIMAL_TEXT.pattern,
    "maxLength": 40,
    "description": 'A decimal amount as a string, e.g. "1234.50"; never a JSON number; '
    "less than 10^15 in magnitude.",
}

#: An amount of money: ``Decimal`` in Python, a decimal string in JSON.
Money = Annotated[
    Decimal,
    BeforeValidator(_money),
    PlainSerializer(str, return_type=str, when_used="always"),
    WithJsonSchema(_MONEY_SCHEMA),
]
#: Money that cannot be negative (deal amounts, bracket thresholds, caps, targets).
NonNegativeMoney = Annotated[Money, Field(ge=0)]

#: A rate in [0, 1] such as a commission bracket's: a decimal string in JSON.
Rate = Annotated[
    Decimal,
    BeforeValidator(_rate),
    PlainSerializer(str, return_type=str, when_used="always"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^(0(\.\d+)?|1(\.0+)?)$",
            "description": 'A rate between 0 and 1 as a decimal string, e.g. "0.12".',
        }
    ),
]


def _fx_rate(value: object) -> Decimal:
    rate = _decimal_from_text(value, "rate")
    if rate <= 0:
        raise ValueError(f"an exchange rate must be above 0, got {value!r}")
    return rate


#: An exchange rate: what one unit of one currency is worth in another, a positive
#: decimal string in JSON.
FxRate = Annotated[
    Decimal,
    BeforeValidator(_fx_rate),
    PlainSerializer(str, return_type=str, when_used="always"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": _DECIMAL_TEXT.pattern,
            "description": 'A positive decimal as a string, e.g. "1.0850"; never a JSON number.',
        }
    ),
]


def _currency(value: object) -> str:
    if not isinstance(value, str) or value not in ISO_4217:
        raise ValueError(f"currency must be an ISO 4217 code such as USD or EUR, got {value!r}")
    return value


#: An ISO 4217 currency code.
Currency = Annotated[
    str,
    BeforeValidator(_currency),
    WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217 code"}),
]

#: A commission period: a year (``2026``), a quarter (``2026-Q4``) or a month (``2026-11``).
PERIOD_PATTERN = r"^[1-9]\d{3}(-Q[1-4]|-(0[1-9]|1[0-2]))?$"  # years 1000-9999
PeriodLabel = Annotated[str, Field(pattern=PERIOD_PATTERN)]

#: Bounds of every string and list of the contract (docs/rules/events.md, "Bounds"):
#: an event beyond them is dead-lettered as invalid_data naming the field and the limit.
SHORT_MAX = 500
TEXT_MAX = 5000
LIST_MAX = 100
ID_LIST_MAX = 1000

#: Identifiers, names, customers, product lines: short text, required.
NonEmpty = Annotated[str, Field(min_length=1, max_length=SHORT_MAX)]
#: Short text that may be empty or absent.
Short = Annotated[str, Field(max_length=SHORT_MAX)]
#: Free text people write (reasons, notes, messages), required.
FreeText = Annotated[str, Field(min_length=1, max_length=TEXT_MAX)]
#: Free text that may be empty or absent (comments, feedback).
OptionalText = Annotated[str, Field(max_length=TEXT_MAX)]


class PartnerStatus(StrEnum):
    """Where a partner stands in its lifecycle, as partners.v1's events move it:
    PartnerApplied, PartnerApproved or PartnerRejected, PartnerSigned, PartnerTerminated."""

    APPLIED = "applied"
    APPROVED = "approved"
    REJECTED = "rejected"
    ACTIVE = "active"
    TERMINATED = "terminated"


class Tier(StrEnum):
    REGISTERED = "registered"
    SILVER = "silver"
    GOLD = "gold"
    PLATINUM = "platinum"


class PlanPeriod(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class CommissionStatus(StrEnum):
    """A deal's commission status (first match wins, in this order; docs/rules/commissions.md)."""

    NO_CONTRACT = "no_contract"
    TERMINATED = "terminated"
    #: No rate converts the deal's currency into the contract's yet (docs/rules/fx.md).
    FX_PENDING = "fx_pending"
    #: Never produced any more (deals in another currency are converted); kept so that
    #: events recorded before conversion existed still read.
    CURRENCY_MISMATCH = "currency_mismatch"
    CLAWED_BACK = "clawed_back"
    COMMISSIONABLE = "commissionable"


class Recommendation(StrEnum):
    APPROVE = "approve"
    REVIEW = "review"
    REJECT = "reject"


# --------------------------------------------------------------------------- payloads


#: The most JSON each field a producer adds beyond the contract may hold.
EXTRA_MAX_BYTES = 10_000


def _bounded_extra(value: Any) -> Any:
    size = len(to_json(value))
    if size > EXTRA_MAX_BYTES:
        raise ValueError(
            f"a field beyond the contract holds {size} bytes of JSON; "
            f"at most {EXTRA_MAX_BYTES} are kept"
        )
    return value


#: A field beyond the contract: kept as it is, within :data:`EXTRA_MAX_BYTES` of JSON.
BoundedExtra = Annotated[Any, AfterValidator(_bounded_extra)]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )
    # Validates only the fields beyond the contract, so costs nothing without them.
    __pydantic_extra__: dict[str, BoundedExtra] = Field(init=False)


class ActorKind(StrEnum):
    """What caused an event: a person signed in, an API key, or a service by itself."""

    PERSON = "person"
    KEY = "key"
    SYSTEM = "system"


class Actor(_Model):
    """Who caused an event: a person (id: their subject at the OpenID Connect issuer), an
    API key (id: the key's identifier, never the key) or the system (id: the service)."""

    kind: ActorKind
    id: NonEmpty


def _absent(value: object) -> bool:
    return value is None


class Payload(_Model):
    """The ``data`` of an event. Every payload names the partner it is about, and an event
    a person or an API key caused through a command names them as its ``actor``."""

    event_type: ClassVar[str]
    kafka_topic: ClassVar[str]

    partner_id: NonEmpty
    actor: Actor | None = Field(
        default=None,
        exclude_if=_absent,
        description="who caused the event: the person or API key whose command published it; "
        "absent when no one did (a service deciding from other events, an outside system)",
    )

    def caused_by(self, actor: Actor | None) -> Self:
        """This payload naming ``actor`` as who caused it (itself when ``actor`` is None)."""
        return self if actor is None else self.model_copy(update={"actor": actor})


class Bracket(_Model):
    """A graduated commission bracket: revenue from ``from`` upwards earns ``rate``."""

    from_: NonNegativeMoney = Field(alias="from")
    rate: Rate


class CommissionPlan(_Model):
    period: PlanPeriod
    brackets: list[Bracket] = Field(min_length=1, max_length=LIST_MAX)
    certification_bonus_rate: Rate
    registered_deal_bonus_rate: Rate
    period_cap: NonNegativeMoney | None = None
    clawback_days: int = Field(ge=0)
    target_amount: NonNegativeMoney | None = None
    target_bonus: NonNegativeMoney | None = None
    fx_rates: dict[Currency, FxRate] | None = Field(
        default=None,
        max_length=LIST_MAX,
        exclude_if=_absent,
        description="fixed exchange rates by deal currency: one unit of it in the contract's "
        "currency (docs/rules/fx.md); over any ExchangeRateSet",
    )

    @field_validator("brackets")
    @classmethod
    def _brackets_sorted_from_zero(cls, brackets: list[Bracket]) -> list[Bracket]:
        if brackets[0].from_ != 0:
            raise ValueError('the first bracket must start at "0"')
        for previous, current in pairwise(brackets):
            if current.from_ <= previous.from_:
                raise ValueError("brackets must be sorted by strictly increasing 'from'")
        return brackets


class Contract(_Model):
    contract_id: NonEmpty
    start_date: date
    end_date: date
    currency: Currency
    tier: Tier
    commission_plan: CommissionPlan

    @model_validator(mode="after")
    def _ends_after_start(self) -> Contract:
        if self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        return self


class Scorecard(_Model):
    """The five selection criteria, each scored 0–5 (docs/rules/scorecard.md)."""

    customer_base: int = Field(ge=0, le=5)
    sales_network: int = Field(ge=0, le=5)
    expertise: int = Field(ge=0, le=5)
    track_record: int = Field(ge=0, le=5)
    fit: int = Field(ge=0, le=5)


class _PartnerProfile(Payload):
    name: NonEmpty
    partner_type: NonEmpty
    region: NonEmpty
    industry: NonEmpty


class Capability(StrEnum):
    """What a partner says it can do beside selling (docs/rules/scorecard.md, "Industry
    fit")."""

    TECHNICAL_SUPPORT = "technical_support"
    IMPLEMENTATION = "implementation"
    LOGISTICS = "logistics"
    AFTER_SALES = "after_sales"
    CONSULTING = "consulting"
    TRAINING = "training"


class PartnerApplied(_PartnerProfile):
    event_type = "PartnerApplied"
    kafka_topic = topics.PARTNERS

    application_id: NonEmpty
    contact_email: NonEmpty
    scorecard: Scorecard
    score: float = Field(ge=0, le=100)
    recommendation: Recommendation
    applied_at: AwareDatetime
    capabilities: list[Capability] = Field(
        default_factory=list,
        max_length=LIST_MAX,
        description="what the applicant can do beside selling, each once, in this order "
        "of the list of capabilities",
    )
    warnings: list[Short] = Field(
        default_factory=list,
        max_length=LIST_MAX,
        description="the industry's required capabilities the applicant lacks, each "
        "'missing_capability: <capability>' (the score is unchanged by them)",
    )


class PartnerApproved(Payload):
    event_type = "PartnerApproved"
    kafka_topic = topics.PARTNERS

    application_id: NonEmpty
    approved_at: AwareDatetime


class PartnerRejected(Payload):
    event_type = "PartnerRejected"
    kafka_topic = topics.PARTNERS

    application_id: NonEmpty
    rejected_at: AwareDatetime
    reason: FreeText


class PartnerSigned(_PartnerProfile):
    event_type = "PartnerSigned"
    kafka_topic = topics.PARTNERS

    contract: Contract


class ContractRenewed(_PartnerProfile):
    event_type = "ContractRenewed"
    kafka_topic = topics.PARTNERS

    contract: Contract


class PartnerTierChanged(Payload):
    event_type = "PartnerTierChanged"
    kafka_topic = topics.PARTNERS

    tier: Tier
    effective_date: date
    reason: OptionalText | None = None


class PartnerTerminated(Payload):
    event_type = "PartnerTerminated"
    kafka_topic = topics.PARTNERS

    effective_date: date
    reason: FreeText


class DealRegistered(Payload):
    event_type = "DealRegistered"
    kafka_topic = topics.DEALS

    registration_id: NonEmpty
    deal_id: NonEmpty
    customer: NonEmpty
    product_line: NonEmpty
    expected_amount: NonNegativeMoney
    registered_at: AwareDatetime


def _optional(description: str) -> Any:
    """An optional payload field, left out of the JSON when absent."""
    return Field(default=None, exclude_if=_absent, description=description)


#: How long an extension may be, in days (docs/rules/deal-registration.md).
ExtensionDays = Annotated[int, Field(ge=1, le=90)]


class DealRegistrationApproved(Payload):
    """A registration's decision: approved. Decided automatically (``actor`` the
    incentives service) or by a channel manager (``actor`` a person or key), which stands
    over the automatic rule. Dated at the registration's own ``registered_at``."""

    event_type = "DealRegistrationApproved"
    kafka_topic = topics.DEALS

    registration_id: NonEmpty
    deal_id: NonEmpty
    approved_at: AwareDatetime
    customer: Short | None = _optional("the registration's customer")
    product_line: Short | None = _optional("the registration's product line")
    expires_at: AwareDatetime | None = _optional(
        "the end of its protection before any extension: registered_at + protection_days; "
        "each DealRegistrationExtended moves it on by its days"
    )
    reason: OptionalText | None = _optional("why, for a decision made by hand")


class DealRegistrationRejected(Payload):
    """A registration's decision: rejected, with ``channel_conflict`` and the
    ``conflicting_registration_id`` when decided automatically, with the channel
    manager's reason when decided by hand."""

    event_type = "DealRegistrationRejected"
    kafka_topic = topics.DEALS

    registration_id: NonEmpty
    deal_id: NonEmpty
    rejected_at: AwareDatetime
    reason: FreeText
    customer: Short | None = _optional("the registration's customer")
    product_line: Short | None = _optional("the registration's product line")
    conflicting_registration_id: Short | None = _optional(
        "the other partner's protecting registration it conflicts with"
    )


class _ExtensionPayload(Payload):
    """What every event about an extension of a registration's protection names."""

    registration_id: NonEmpty
    extension_id: NonEmpty
    deal_id: NonEmpty
    customer: NonEmpty
    product_line: NonEmpty


class DealRegistrationExtensionRequested(_ExtensionPayload):
    """A partner (or staff) asks for a registration's protection to last ``days`` longer."""

    event_type = "DealRegistrationExtensionRequested"
    kafka_topic = topics.DEALS

    days: ExtensionDays
    reason: FreeText
    requested_at: AwareDatetime


class DealRegistrationExtended(_ExtensionPayload):
    """A channel manager granted an extension: the protection ends ``days`` later, at
    ``expires_at``."""

    event_type = "DealRegistrationExtended"
    kafka_topic = topics.DEALS

    days: ExtensionDays
    expires_at: AwareDatetime
    extended_at: AwareDatetime
    note: OptionalText | None = _optional("the channel manager's note")


class DealRegistrationExtensionRejected(_ExtensionPayload):
    """A channel manager refused an extension."""

    event_type = "DealRegistrationExtensionRejected"
    kafka_topic = topics.DEALS

    reason: FreeText
    rejected_at: AwareDatetime


class DealClosed(Payload):
    event_type = "DealClosed"
    kafka_topic = topics.DEALS

    deal_id: NonEmpty
    customer: NonEmpty
    product_line: NonEmpty
    amount: NonNegativeMoney
    currency: Currency
    closed_at: AwareDatetime


class DealCancelled(Payload):
    event_type = "DealCancelled"
    kafka_topic = topics.DEALS

    deal_id: NonEmpty
    cancelled_at: AwareDatetime
    reason: FreeText


class CustomerSurveyCompleted(Payload):
    """A customer of the partner answered a satisfaction survey (how likely they are to
    recommend, 0–10). A second event with the same ``survey_id`` corrects the first: the
    greatest (``time``, ``id``) stands (docs/rules/satisfaction.md)."""

    event_type = "CustomerSurveyCompleted"
    kafka_topic = topics.DEALS

    survey_id: NonEmpty
    customer: NonEmpty
    deal_id: NonEmpty | None = _optional("the deal the survey followed, when there is one")
    score: int = Field(ge=0, le=10, strict=True, description="0 (not at all) to 10 (certainly)")
    comment: OptionalText | None = _optional("what the customer wrote, if anything")
    completed_at: AwareDatetime


class TrainingCompleted(Payload):
    event_type = "TrainingCompleted"
    kafka_topic = topics.ENABLEMENT

    learner_id: NonEmpty
    course_id: NonEmpty
    completed_at: AwareDatetime
    score: int = Field(ge=0, le=100)


class CertificationAwarded(Payload):
    event_type = "CertificationAwarded"
    kafka_topic = topics.ENABLEMENT

    learner_id: NonEmpty
    certification_id: NonEmpty
    product_line: NonEmpty
    awarded_at: AwareDatetime
    expires_at: AwareDatetime

    @model_validator(mode="after")
    def _expires_after_award(self) -> CertificationAwarded:
        if self.expires_at <= self.awarded_at:
            raise ValueError("expires_at must be after awarded_at")
        return self


class PartnerFeedbackSubmitted(Payload):
    event_type = "PartnerFeedbackSubmitted"
    kafka_topic = topics.ENABLEMENT

    feedback_id: NonEmpty
    rating: int = Field(ge=1, le=5)
    topic_: NonEmpty = Field(alias="topic")
    text: OptionalText = ""
    submitted_at: AwareDatetime
    product_line: NonEmpty | None = _optional(
        "the product line the feedback is about, for the product teams' summary"
    )


class MdfRequested(Payload):
    event_type = "MdfRequested"
    kafka_topic = topics.ENABLEMENT

    request_id: NonEmpty
    campaign: NonEmpty
    amount: NonNegativeMoney
    currency: Currency
    requested_at: AwareDatetime


class MdfApproved(Payload):
    event_type = "MdfApproved"
    kafka_topic = topics.ENABLEMENT

    request_id: NonEmpty
    amount: NonNegativeMoney
    currency: Currency
    approved_at: AwareDatetime


class MdfRejected(Payload):
    event_type = "MdfRejected"
    kafka_topic = topics.ENABLEMENT

    request_id: NonEmpty
    rejected_at: AwareDatetime
    reason: FreeText


#: A SHA-256 digest as 64 hexadecimal digits (a piece of evidence's fingerprint).
SHA256_PATTERN = r"^[0-9a-fA-F]{64}$"
Sha256 = Annotated[str, Field(pattern=SHA256_PATTERN, description="SHA-256, 64 hex digits")]
#: An http(s) URL, kept as written.
HTTP_URL_PATTERN = r"^https?://[^\s/?#]+\S*$"
HttpUrlText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2000,
        pattern=HTTP_URL_PATTERN,
        description="an http or https URL",
        json_schema_extra={"format": "uri"},
    ),
]
#: An amount of money above zero.
PositiveMoney = Annotated[Money, Field(gt=0)]


class MdfClaimEvidence(_Model):
    """One piece of a claim's proof of performance: what it is, where it is, its digest."""

    kind: NonEmpty
    url: HttpUrlText
    sha256: Sha256


class MdfClaimSubmitted(Payload):
    """A partner claims ``amount`` of an approved MDF request, with its proof of
    performance (docs/rules/enablement.md, "Claims")."""

    event_type = "MdfClaimSubmitted"
    kafka_topic = topics.ENABLEMENT

    request_id: NonEmpty
    claim_id: NonEmpty
    amount: PositiveMoney
    currency: Currency
    activity_end: date
    evidence: list[MdfClaimEvidence] = Field(min_length=1, max_length=LIST_MAX)
    submitted_at: AwareDatetime


class MdfClaimApproved(Payload):
    """A channel manager approved a claim, all of it or ``approved_amount`` of it: what
    the partner is paid for it."""

    event_type = "MdfClaimApproved"
    kafka_topic = topics.ENABLEMENT

    request_id: NonEmpty
    claim_id: NonEmpty
    approved_amount: PositiveMoney
    currency: Currency
    approved_at: AwareDatetime


class MdfClaimRejected(Payload):
    """A channel manager rejected a claim: nothing is paid for it."""

    event_type = "MdfClaimRejected"
    kafka_topic = topics.ENABLEMENT

    request_id: NonEmpty
    claim_id: NonEmpty
    reason: FreeText
    rejected_at: AwareDatetime


#: A calendar quarter, e.g. ``2026-Q3``.
QUARTER_PATTERN = r"^[1-9]\d{3}-Q[1-4]$"
QuarterLabel = Annotated[str, Field(pattern=QUARTER_PATTERN)]


class MdfFundsReleased(Payload):
    """The claim window of an approved MDF request closed and ``amount`` of it was never
    claimed: it goes back to the budget of ``quarter``. ``amount`` is all the request has
    released so far; a claim waiting at the close that is then rejected or approved in
    part releases more, with a greater ``amount`` (docs/rules/enablement.md, "Unclaimed
    funds")."""

    event_type = "MdfFundsReleased"
    kafka_topic = topics.ENABLEMENT

    request_id: NonEmpty
    quarter: QuarterLabel
    amount: PositiveMoney
    currency: Currency
    released_at: AwareDatetime


class CommissionCalculated(Payload):
    """One revision of one deal's commission; the highest stands (docs/rules/commissions.md)."""

    event_type = "CommissionCalculated"
    kafka_topic = topics.INCENTIVES

    deal_id: NonEmpty
    period: PeriodLabel
    currency: Currency
    amount: NonNegativeMoney
    status: CommissionStatus
    base: Money
    uplift: Money
    commission: Money
    target_bonus: Money
    delta: Money
    revision: int = Field(ge=1)
    closed_at: AwareDatetime | None = None
    reason: OptionalText | None = _optional("why the status is what it is, in words")
    original_amount: NonNegativeMoney | None = _optional(
        "converted deals: the deal's amount in its own currency (``amount`` is converted)"
    )
    original_currency: Currency | None = _optional("converted deals: the deal's own currency")
    fx_rate: FxRate | None = _optional(
        "converted deals: one unit of original_currency in currency, the rate used"
    )


class CarriedAdjustment(_Model):
    period: PeriodLabel
    amount: Money


class MdfReimbursement(_Model):
    """Approved MDF claims in one currency that a payout in another currency pays apart."""

    currency: Currency
    amount: PositiveMoney
    claims: list[NonEmpty] = Field(
        min_length=1, max_length=ID_LIST_MAX, description="the ids of the claims it pays"
    )


class PayoutSettled(Payload):
    event_type = "PayoutSettled"
    kafka_topic = topics.INCENTIVES

    settlement_id: NonEmpty
    period: PeriodLabel
    currency: Currency
    amount_paid: Money
    carried_adjustments: list[CarriedAdjustment] = Field(
        default_factory=list, max_length=ID_LIST_MAX
    )
    settled_at: AwareDatetime
    # Beyond the contract's required fields (optional, so other producers may omit them):
    period_amount: Money | None = Field(
        default=None,
        description="the part of amount_paid from the period's own total; "
        "absent: amount_paid minus the carried adjustments",
    )
    unrecovered: list[CarriedAdjustment] = Field(
        default_factory=list,
        max_length=ID_LIST_MAX,
        description="negative adjustments not netted in this payout (no negative payments); "
        "they stay pending against their period",
    )
    rerun: bool = Field(default=False, description="a re-run paying only the difference")
    mdf_reimbursed: Money = Field(
        default=Decimal("0.00"),
        description="approved MDF claims paid beside the commissions, in the same currency "
        "(not part of amount_paid)",
    )
    mdf_claims: list[NonEmpty] = Field(
        default_factory=list,
        max_length=ID_LIST_MAX,
        description="the ids of the MDF claims mdf_reimbursed pays",
    )
    mdf_other_currencies: list[MdfReimbursement] = Field(
        default_factory=list,
        max_length=LIST_MAX,
        description="approved MDF claims in currencies other than the payout's, paid "
        "separately: one entry per currency, by currency",
    )

    def own_amount(self) -> Decimal:
        """``period_amount``, or what it must be when a producer left it out."""
        if self.period_amount is not None:
            return self.period_amount
        return self.amount_paid - sum((a.amount for a in self.carried_adjustments), Decimal(0))


class CommissionInquiryOpened(Payload):
    """A partner (or staff for it) asks why a deal's commission is what it is."""

    event_type = "CommissionInquiryOpened"
    kafka_topic = topics.INCENTIVES

    inquiry_id: NonEmpty
    deal_id: NonEmpty
    period: PeriodLabel
    message: FreeText
    opened_at: AwareDatetime


InquiryResolution = Literal["explained", "adjusted"]


class CommissionInquiryResolved(Payload):
    """A channel manager answered an inquiry: explained, or adjusted (then a
    CommissionAdjusted, ``adjustment_id``, follows)."""

    event_type = "CommissionInquiryResolved"
    kafka_topic = topics.INCENTIVES

    inquiry_id: NonEmpty
    deal_id: NonEmpty
    period: PeriodLabel
    resolution: InquiryResolution
    note: FreeText
    resolved_at: AwareDatetime
    adjustment_id: Short | None = _optional("the adjustment made, when adjusted")


class CommissionAdjusted(Payload):
    """Money added to (or taken from) a partner's period by a channel manager: it counts
    in the period's payout total, and a settlement pays it (docs/rules/settlement.md)."""

    event_type = "CommissionAdjusted"
    kafka_topic = topics.INCENTIVES

    adjustment_id: NonEmpty
    deal_id: Short | None = _optional("the deal it is about; absent: the period as a whole")
    period: PeriodLabel
    currency: Currency
    amount: Money = Field(description="signed: negative takes money back")
    reason: FreeText
    adjusted_at: AwareDatetime
    inquiry_id: Short | None = _optional("the inquiry it resolves, if any")


PAYLOAD_TYPES: tuple[type[Payload], ...] = (
    PartnerApplied,
    PartnerApproved,
    PartnerRejected,
    PartnerSigned,
    ContractRenewed,
    PartnerTierChanged,
    PartnerTerminated,
    DealRegistered,
    DealClosed,
    DealCancelled,
    CustomerSurveyCompleted,
    DealRegistrationApproved,
    DealRegistrationRejected,
    DealRegistrationExtensionRequested,
    DealRegistrationExtended,
    DealRegistrationExtensionRejected,
    TrainingCompleted,
    CertificationAwarded,
    PartnerFeedbackSubmitted,
    MdfRequested,
    MdfApproved,
    MdfRejected,
    MdfClaimSubmitted,
    MdfClaimApproved,
    MdfClaimRejected,
    MdfFundsReleased,
    CommissionCalculated,
    PayoutSettled,
    CommissionInquiryOpened,
    CommissionInquiryResolved,
    CommissionAdjusted,
)

#: Event type name (the CloudEvent ``type``) → payload model.
PAYLOADS: dict[str, type[Payload]] = {p.event_type: p for p in PAYLOAD_TYPES}

# --------------------------------------------------------------------------- envelope

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"

#: The namespace of every id :func:`deterministic_id` makes.
_ID_NAMESPACE = uuid.UUID("6f1d0c8e-6d5e-4c83-9b0e-3f5a2b8d7c10")


def deterministic_id(*parts: str) -> str:
    """The CloudEvent id of the event that ``parts`` identify (its producer, what it is
    about, which change): the same parts always give the same id, so an event produced
    again after a crash is the same event, and consumers de-duplicate it."""
    return str(uuid.uuid5(_ID_NAMESPACE, "/".join(parts)))


P = TypeVar("P", bound=Payload)


class Envelope(_Model):
    """The CloudEvents 1.0 attributes of the contract, with ``data`` not yet interpreted."""

    specversion: Literal["1.0"]
    id: NonEmpty
    source: NonEmpty
    type: NonEmpty
    time: AwareDatetime
    subject: NonEmpty
    datacontenttype: Short | None = None
    data: dict[str, Any]


class CloudEvent(Envelope, Generic[P]):
    """A CloudEvent whose ``data`` is a validated payload."""

    data: P  # type: ignore[assignment]

    @model_validator(mode="after")
    def _subject_is_the_partner(self) -> CloudEvent[P]:
        if self.subject != self.data.partner_id:
            raise ValueError(
                f"subject {self.subject!r} must equal data.partner_id {self.data.partner_id!r}"
            )
        return self

    @property
    def topic(self) -> str:
        return self.data.kafka_topic

    @property
    def key(self) -> bytes:
        """The Kafka message key: the partner id, so one partner's events stay ordered."""
        return self.subject.encode()

    def to_bytes(self) -> bytes:
        """The message value: JSON, nulls in ``data`` kept (``period_cap: null`` means no cap)."""
        unset = {"datacontenttype"} if self.datacontenttype is None else None
        return self.model_dump_json(exclude=unset).encode()


_EVENT_MODELS: dict[type[Payload], type[CloudEvent[Any]]] = {}


def event_model(payload_type: type[Payload]) -> type[CloudEvent[Any]]:
    """``CloudEvent[payload_type]``, looked up once per type (pydantic works out a cache key
    at every subscription, which showed in the services' profiles)."""
    model = _EVENT_MODELS.get(payload_type)
    if model is None:
        model = _EVENT_MODELS[payload_type] = CloudEvent[payload_type]  # type: ignore[valid-type]
    return model


def new_event(
    data: P,
    *,
    source: str,
    time: datetime | None = None,
    event_id: str | None = None,
) -> CloudEvent[P]:
    """Wrap ``data`` in a CloudEvent; type, subject and topic follow from the payload."""
    model = cast("type[CloudEvent[P]]", event_model(type(data)))
    return model(
        specversion="1.0",
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=data.event_type,
        time=time or datetime.now(UTC),
        subject=data.partner_id,
        datacontenttype="application/json",
        data=data,
    )


# --------------------------------------------------------------------------- exchange rates


class ExchangeRateSet(_Model):
    """A finance system's exchange rate: one unit of ``base`` is worth ``rate`` units of
    ``quote`` from ``valid_from`` on. Published on ``rates.v1`` keyed ``BASE/QUOTE``; about
    no partner. A second event for one pair and ``valid_from`` corrects the first (the
    greatest CloudEvent (``time``, ``id``) stands; docs/rules/fx.md)."""

    event_type: ClassVar[str] = "ExchangeRateSet"
    kafka_topic: ClassVar[str] = topics.RATES

    base: Currency
    quote: Currency
    rate: FxRate
    valid_from: date
    source: NonEmpty = Field(description="where the rate comes from, e.g. the ECB fixing")

    @model_validator(mode="after")
    def _two_currencies(self) -> ExchangeRateSet:
        if self.base == self.quote:
            raise ValueError(f"quote: a rate converts one currency into another, not {self.base}")
        return self

    @property
    def pair(self) -> str:
        """``BASE/QUOTE``: the event's subject and Kafka key."""
        return f"{self.base}/{self.quote}"


class RateEvent(Envelope):
    """A CloudEvent of ExchangeRateSet: its ``subject`` is the pair, ``BASE/QUOTE``."""

    data: ExchangeRateSet  # type: ignore[assignment]

    @model_validator(mode="after")
    def _subject_is_the_pair(self) -> RateEvent:
        if self.subject != self.data.pair:
            raise ValueError(f"subject {self.subject!r} must be the pair {self.data.pair!r}")
        return self

    @property
    def topic(self) -> str:
        return topics.RATES

    @property
    def key(self) -> bytes:
        """The Kafka message key: the pair, so one pair's rates stay ordered."""
        return self.subject.encode()

    def to_bytes(self) -> bytes:
        unset = {"datacontenttype"} if self.datacontenttype is None else None
        return self.model_dump_json(exclude=unset).encode()


def new_rate_event(
    data: ExchangeRateSet,
    *,
    source: str,
    time: datetime | None = None,
    event_id: str | None = None,
) -> RateEvent:
    """Wrap a rate in a CloudEvent; its subject is the pair."""
    return RateEvent(
        specversion="1.0",
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=data.event_type,
        time=time or datetime.now(UTC),
        subject=data.pair,
        datacontenttype="application/json",
        data=data,
    )


# --------------------------------------------------------------------------- reading


class InvalidReason(StrEnum):
    """The kinds of bad input the contract names; each dead-letters with its reason."""

    NOT_JSON = "not_json"
    NOT_CLOUDEVENT = "not_cloudevent"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_DATA = "invalid_data"


class InvalidEvent(ValueError):
    """A message that is not a valid event of the contract: a permanent failure."""

    def __init__(self, reason: InvalidReason, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message


def describe_errors(error: ValidationError, prefix: str = "") -> str:
    """One line naming each bad field, e.g. ``data.amount: money must be a JSON string …``."""
    parts = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"])
        where = f"{prefix}{location}" if location else prefix.rstrip(".") or "event"
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def parse_event(raw: bytes | str, *, topic: str | None = None) -> CloudEvent[Payload]:
    """Validate a message value as an event of the contract.

    With ``topic``, an event of a known type that does not belong on that topic
    is refused as ``unknown_type`` there. Raises :class:`InvalidEvent`.
    """
    document = _json_object(raw)
    kind = document.get("type")
    payload_type = PAYLOADS.get(kind) if isinstance(kind, str) else None
    if payload_type is not None and (topic is None or payload_type.kafka_topic == topic):
        # One validation of the whole event; the envelope alone only to say what was wrong.
        try:
            return event_model(payload_type).model_validate(document)
        except ValidationError as exc:
            _envelope(document)
            raise InvalidEvent(InvalidReason.INVALID_DATA, describe_errors(exc)) from exc
    envelope = _envelope(document)
    if payload_type is None:
        raise InvalidEvent(
            InvalidReason.UNKNOWN_TYPE, f"type: unknown event type {envelope.type!r}"
        )
    raise InvalidEvent(
        InvalidReason.UNKNOWN_TYPE,
        f"type: {envelope.type} belongs on {payload_type.kafka_topic}, not on {topic}",
    )


def parse_rate_event(raw: bytes | str) -> RateEvent:
    """Validate a message value of ``rates.v1`` as an ExchangeRateSet event; raises
    :class:`InvalidEvent` naming what is wrong (any other type is ``unknown_type``)."""
    document = _json_object(raw)
    if document.get("type") != ExchangeRateSet.event_type:
        envelope = _envelope(document)
        raise InvalidEvent(
            InvalidReason.UNKNOWN_TYPE,
            f"type: {envelope.type!r} is not an event of {topics.RATES} (ExchangeRateSet)",
        )
    try:
        return RateEvent.model_validate(document)
    except ValidationError as exc:
        _envelope(document)
        raise InvalidEvent(InvalidReason.INVALID_DATA, describe_errors(exc)) from exc


def _json_object(raw: bytes | str) -> dict[str, Any]:
    """A message value as the JSON object a CloudEvent is; :class:`InvalidEvent` if not."""
    try:
        document = from_json(raw)
    except ValueError as exc:
        raise InvalidEvent(InvalidReason.NOT_JSON, f"the message is not JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise InvalidEvent(
            InvalidReason.NOT_CLOUDEVENT,
            f"a CloudEvent is a JSON object, got {type(document).__name__}",
        )
    return document


def _envelope(document: dict[str, Any]) -> Envelope:
    """The CloudEvents attributes, or :class:`InvalidEvent` (``not_cloudevent``) naming the bad."""
    try:
        return Envelope.model_validate(document)
    except ValidationError as exc:
        raise InvalidEvent(InvalidReason.NOT_CLOUDEVENT, describe_errors(exc)) from exc


def rate_event_json_schema() -> dict[str, Any]:
    """The JSON Schema of a whole ExchangeRateSet CloudEvent."""
    schema = RateEvent.model_json_schema(mode="validation")
    schema["title"] = ExchangeRateSet.event_type
    schema["properties"]["type"] = {"const": ExchangeRateSet.event_type, "type": "string"}
    schema["description"] = (
        f"A CloudEvents 1.0 event (structured JSON mode) of type {ExchangeRateSet.event_type}, "
        f"published on the Kafka topic {topics.RATES} with the pair BASE/QUOTE as key. "
        "`subject` equals `data.base + '/' + data.quote`."
    )
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def event_json_schema(payload_type: type[Payload]) -> dict[str, Any]:
    """The JSON Schema of a whole CloudEvent of one type, for producers to validate against."""
    model = CloudEvent[payload_type]  # type: ignore[valid-type]
    schema = model.model_json_schema(mode="validation")
    schema["title"] = payload_type.event_type
    schema["properties"]["type"] = {"const": payload_type.event_type, "type": "string"}
    schema["description"] = (
        f"A CloudEvents 1.0 event (structured JSON mode) of type {payload_type.event_type}, "
        f"published on the Kafka topic {payload_type.kafka_topic} with the partner id as key. "
        "`subject` equals `data.partner_id`."
    )
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
