"""Mutation input types, exactly as API.md §3 names their fields."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import strawberry

from schema.enums import CampaignStep, Role

CAMPAIGN_ID = "The campaign's global ID (Campaign.id)."
ACCOUNT_ID = "The account's global ID (Account.id)."
EXPECTED_VERSION = (
    "The campaign version you last read: if the campaign is at another version, VersionConflictError and nothing "
    "changes (R7). Null or left out: no check."
)
NAME = "1 to 200 characters after trimming, at least one visible; no control, bidirectional or invisible characters."


@strawberry.input(description="A new audience of an account (at most 100 per account).")
class CreateAudienceInput:
    account_id: strawberry.ID = strawberry.field(description=ACCOUNT_ID)
    name: str = strawberry.field(description=f"{NAME} Unique in the account (else DUPLICATE).")


@strawberry.input(description="A new campaign: a DRAFT at step SETUP, version 1 (R1).")
class CreateCampaignDraftInput:
    account_id: strawberry.ID = strawberry.field(description=ACCOUNT_ID)
    name: str = strawberry.field(description=NAME)
    audience_id: strawberry.ID | None = strawberry.field(
        default=None, description="An audience of the same account; may also be set later with updateCampaign."
    )


@strawberry.input(description="Only the fields given change; null clears a draft's audience, budget or dates.")
class UpdateCampaignInput:
    campaign_id: strawberry.ID = strawberry.field(description=CAMPAIGN_ID)
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION)
    name: str | None = strawberry.field(default=strawberry.UNSET, description=f"{NAME} Null is refused.")
    audience_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="An audience of the campaign's account, or null for none; locked once published (R6).",
    )
    budget: Decimal | None = strawberry.field(
        default=strawberry.UNSET,
        description="Greater than 0, or null (drafts only). Once published an increase must fit the source (R6) and "
        "it cannot go below spentAmount (R12).",
    )
    start_date: date | None = strawberry.field(
        default=strawberry.UNSET,
        description="The schedule's first day, or null (drafts only). Once published the schedule stays within the "
        "source's term and keeps every day with spend (R6).",
    )
    end_date: date | None = strawberry.field(
        default=strawberry.UNSET,
        description="The schedule's last day, inclusive, or null (drafts only); startDate <= endDate.",
    )


@strawberry.input(description="The budget source of a draft (R4); the step does not change.")
class AssignBudgetSourceInput:
    campaign_id: strawberry.ID = strawberry.field(description=CAMPAIGN_ID)
    budget_source_id: strawberry.ID = strawberry.field(
        description="An ACTIVE Order or PurchaseOrder of the campaign's account, of the kind the account uses "
        "(see Account.budgetSources)."
    )
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION)


@strawberry.input(description="The draft to move to its next wizard step (R2, R3).")
class AdvanceCampaignInput:
    campaign_id: strawberry.ID = strawberry.field(description=CAMPAIGN_ID)
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION)


@strawberry.input(description="The draft to send back to an earlier wizard step.")
class GoToCampaignStepInput:
    campaign_id: strawberry.ID = strawberry.field(description=CAMPAIGN_ID)
    step: CampaignStep = strawberry.field(
        description="The draft's current step or an earlier one; forward moves go through advanceCampaign."
    )
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION)


@strawberry.input(description="The draft at step REVIEW to publish (R5).")
class PublishCampaignInput:
    campaign_id: strawberry.ID = strawberry.field(description=CAMPAIGN_ID)
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION)


@strawberry.input(description="The draft to delete; published campaigns cannot be deleted.")
class DeleteCampaignDraftInput:
    campaign_id: strawberry.ID = strawberry.field(description=CAMPAIGN_ID)


@strawberry.input(description="A new customer account.")
class CreateAccountInput:
    name: str = strawberry.field(description=NAME)
    requires_purchase_order: bool = strawberry.field(
        description="True: its campaigns draw on purchase orders; false: on orders (R4)."
    )


@strawberry.input(description="Only the fields given (and not null) change.")
class UpdateAccountInput:
    account_id: strawberry.ID = strawberry.field(description=ACCOUNT_ID)
    name: str | None = strawberry.field(default=None, description=NAME)
    requires_purchase_order: bool | None = strawberry.field(
        default=None,
        description="The kind of budget source its campaigns use; published campaigns keep theirs, and drafts of the "
        "other kind must pick again (R3, R5).",
    )


@strawberry.input(description="A signed order (R9): any term with startDate <= endDate, past ones included.")
class CreateOrderInput:
    account_id: strawberry.ID = strawberry.field(description=ACCOUNT_ID)
    order_number: str = strawberry.field(
        description="The number printed on the contract: up to 64 letters, digits, spaces and . _ / -; unique "
        "(else DUPLICATE)."
    )
    amount: Decimal = strawberry.field(description="The order's total, greater than 0.")
    currency: str = strawberry.field(description='An ISO 4217 currency code, e.g. "USD" or "EUR".')
    start_date: date = strawberry.field(description="The first day of the term.")
    end_date: date = strawberry.field(description="The last day of the term, inclusive; on or after startDate.")


@strawberry.input(
    description="A customer's purchase order under one order (R9); it shares the order's currency and term."
)
class CreatePurchaseOrderInput:
    order_id: strawberry.ID = strawberry.field(description="The order it belongs to (Order.id); not cancelled.")
    po_number: str = strawberry.field(
        description="The customer's PO number: up to 64 letters, digits, spaces and . _ / -; unique in the account "
        "(else DUPLICATE)."
    )
    amount: Decimal = strawberry.field(
        description="Greater than 0; the order's PO amounts add up to at most its amount (else INSUFFICIENT_BUDGET)."
    )


@strawberry.input(description="The order or PO to cancel (R9); cancelling a cancelled one changes nothing.")
class CancelBudgetSourceInput:
    budget_source_id: strawberry.ID = strawberry.field(description="The Order's or PurchaseOrder's global ID.")


@strawberry.input(description="A new API key; its secret is in the result only.")
class IssueApiKeyInput:
    name: str = strawberry.field(description=f"{NAME} It names the key in ledgers (actor, reportedBy).")
    role: Role = strawberry.field(description="What the key may do.")
    account_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The key's account: required for VIEWER and CAMPAIGN_MANAGER, refused for ACCOUNT_TEAM and "
        "DELIVERY (INVALID_INPUT).",
    )


@strawberry.input(description="The API key to revoke; revoking a revoked key changes nothing.")
class RevokeApiKeyInput:
    api_key_id: strawberry.ID = strawberry.field(description="The key's global ID (ApiKey.id).")


@strawberry.input(description="What one campaign spent on one UTC day (R11); a later report for the day replaces it.")
class ReportSpendInput:
    campaign_id: strawberry.ID = strawberry.field(
        description="A PUBLISHED, PAUSED or ENDED campaign not yet settled (R11)."
    )
    day: date = strawberry.field(name="date", description="The UTC day; within the schedule, not after today.")
    amount: Decimal = strawberry.field(description="0 or more; 0 is a valid restatement.")


@strawberry.input(description="Spend reports in bulk (R11): each judged and written on its own, in input order.")
class ReportSpendsInput:
    reports: list[ReportSpendInput] = strawberry.field(description="1 to 1,000 reports, each judged on its own.")


@strawberry.input(description="The ENDED campaign to settle (R14).")
class SettleCampaignInput:
    campaign_id: strawberry.ID = strawberry.field(description=CAMPAIGN_ID)


@strawberry.input(description="The PUBLISHED campaign to pause (R12).")
class PauseCampaignInput:
    campaign_id: strawberry.ID = strawberry.field(description=CAMPAIGN_ID)
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION)


@strawberry.input(description="The PAUSED campaign to resume, while its endDate is today or later (R12).")
class ResumeCampaignInput:
    campaign_id: strawberry.ID = strawberry.field(description=CAMPAIGN_ID)
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION)


@strawberry.input(description="The PUBLISHED or PAUSED campaign to end by hand (R12).")
class EndCampaignInput:
    campaign_id: strawberry.ID = strawberry.field(description=CAMPAIGN_ID)
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION)


@strawberry.input(description="An account's alert settings (R15); a field left out keeps its value.")
class UpdateAlertSettingsInput:
    account_id: strawberry.ID = strawberry.field(description=ACCOUNT_ID)
    thresholds: list[int] | None = strawberry.field(
        default=None,
        description="Percentages from 1 to 100, at most 10, distinct (stored in ascending order); [] turns threshold "
        "alerts off. Changing them raises nothing.",
    )
    expiry_warning_days: int | None = strawberry.field(
        default=None, description="0 (off) to 365: warn when a source ends within this many days (R16)."
    )


@strawberry.input(description="Marks an alert as seen, for every key of the account.")
class AcknowledgeAlertInput:
    alert_id: strawberry.ID = strawberry.field(description="The alert's global ID (BudgetAlert.id).")


AMEND_NOTE = "Why: 1 to 1,000 characters after trimming (line breaks allowed); kept in the source's amendments."


@strawberry.input(description="R18: a new amount and/or end date of an order, by the account team.")
class AmendOrderInput:
    order_id: strawberry.ID = strawberry.field(description="The order's global ID (Order.id).")
    amount: Decimal | None = strawberry.field(
        default=None,
        description="The new total; at least its allocatedAmount and its POs' amounts (else AMOUNT_BELOW_COMMITTED).",
    )
    end_date: date | None = strawberry.field(
        default=None,
        description="The new last day of the term (its POs follow); a shorter term may not cut a live or paused "
        "campaign's schedule (SCHEDULE_OUTSIDE_TERM).",
    )
    note: str = strawberry.field(description=AMEND_NOTE)


@strawberry.input(description="R18: a new amount of a purchase order, by the account team (its term is its order's).")
class AmendPurchaseOrderInput:
    purchase_order_id: strawberry.ID = strawberry.field(description="The PO's global ID (PurchaseOrder.id).")
    amount: Decimal | None = strawberry.field(
        default=None,
        description="The new amount: at least its allocatedAmount (AMOUNT_BELOW_COMMITTED), at most what its order's "
        "other POs leave (INSUFFICIENT_BUDGET).",
    )
    note: str = strawberry.field(description=AMEND_NOTE)


@strawberry.input(description="R19: ask the account team for a new amount and/or end date (at least one of them).")
class RequestBudgetChangeInput:
    budget_source_id: strawberry.ID = strawberry.field(description="The Order or PurchaseOrder of your account.")
    amount: Decimal | None = strawberry.field(default=None, description="The new total amount you ask for.")
    end_date: date | None = strawberry.field(
        default=None, description="The new end date you ask for (on a PO: of its order's term)."
    )
    note: str = strawberry.field(description="Why: 1 to 1,000 characters after trimming, for the account team.")


@strawberry.input(description="R19: the account team approves or declines a pending change request.")
class DecideBudgetChangeRequestInput:
    request_id: strawberry.ID = strawberry.field(description="The request's global ID (BudgetChangeRequest.id).")
    note: str | None = strawberry.field(
        default=None, description="A note for the requester (at most 1,000 characters)."
    )


@strawberry.input(description="R19: withdraw your account's pending change request.")
class WithdrawBudgetChangeRequestInput:
    request_id: strawberry.ID = strawberry.field(description="The request's global ID (BudgetChangeRequest.id).")
