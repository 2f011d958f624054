from __future__ import annotations

from enum import Enum
from typing import cast

import strawberry


def described(value: str, description: str) -> str:
    """An enum member's value with its GraphQL description. `@strawberry.enum` turns the
    `strawberry.enum_value` back into `value`, so the member's `.value` is the str it is typed as."""
    return cast(str, strawberry.enum_value(value, description=description))


@strawberry.enum(description="What an API key may do (R8); every key has exactly one role.")
class Role(Enum):
    VIEWER = described("VIEWER", "Reads its own account; every mutation is PERMISSION_DENIED.")
    CAMPAIGN_MANAGER = described(
        "CAMPAIGN_MANAGER",
        "Reads its own account and runs its audiences and campaigns: the wizard, publish, pause, resume and end.",
    )
    ACCOUNT_TEAM = described(
        "ACCOUNT_TEAM",
        "The vendor's account team (no account): reads every account, manages accounts, orders, POs and API keys, "
        "and may do what the other roles do.",
    )
    DELIVERY = described(
        "DELIVERY",
        "The ad-serving system's key (no account): reads every account and may only call reportSpend, reportSpends "
        "and settleCampaign.",
    )


@strawberry.enum(description="Whether a budget source can still be selected; evaluated at read time (UTC).")
class BudgetSourceStatus(Enum):
    ACTIVE = described("ACTIVE", "Neither cancelled nor expired: selectable if it is of the kind its account uses.")
    EXPIRED = described("EXPIRED", "Not cancelled, but its endDate is before today (UTC); no longer selectable.")
    CANCELLED = described(
        "CANCELLED",
        "Cancelled by the account team (a PO also when its order is); no longer selectable, and published campaigns "
        "keep their budgets (R9).",
    )


@strawberry.enum(description="Where a campaign is in its life: DRAFT, then PUBLISHED, PAUSED and ENDED (R5, R12).")
class CampaignStatus(Enum):
    DRAFT = described("DRAFT", "Being built in the wizard: everything can change and nothing is allocated.")
    PUBLISHED = described(
        "PUBLISHED", "Live: its budget is allocated from its source; audience and budget source are locked (R5, R6)."
    )
    PAUSED = described(
        "PAUSED", "Paused by pauseCampaign: keeps its allocation and locks; resumeCampaign makes it PUBLISHED (R12)."
    )
    ENDED = described(
        "ENDED",
        "Ended by endCampaign or by its schedule (R12, R13): only its name can change, and settlement returns what "
        "it did not spend (R14).",
    )


@strawberry.enum(description="Why a campaign ended.")
class CampaignEndReason(Enum):
    MANUAL = described("MANUAL", "endCampaign ended it (R12).")
    SCHEDULE = described("SCHEDULE", "Budgetline ended it itself once its endDate was before today, UTC (R13).")


@strawberry.enum(description="The wizard step of a draft; a published campaign reports REVIEW.")
class CampaignStep(Enum):
    SETUP = described("SETUP", "Step 1: name and audience; advanceCampaign checks R2.")
    BUDGET_AND_SCHEDULE = described(
        "BUDGET_AND_SCHEDULE", "Step 2: budget, schedule and budget source; advanceCampaign checks R3."
    )
    REVIEW = described("REVIEW", "Step 3: the last look; the next move is publishCampaign (R5).")


@strawberry.enum(description="A campaign field, as listed by lockedFields and missing.")
class CampaignField(Enum):
    NAME = described("NAME", "The campaign's name.")
    AUDIENCE = described("AUDIENCE", "The campaign's audience (audienceId).")
    BUDGET = described("BUDGET", "The campaign's budget.")
    SCHEDULE = described("SCHEDULE", "The campaign's schedule: startDate and endDate.")
    BUDGET_SOURCE = described("BUDGET_SOURCE", "The campaign's budget source (budgetSourceId).")


@strawberry.enum(description="Why a user error refused a mutation; stable values to switch on (R1-R14).")
class ErrorCode(Enum):
    INVALID_INPUT = described(
        "INVALID_INPUT", "ValidationError: a value is empty, too long, malformed or out of range; field names it."
    )
    NOT_FOUND = described(
        "NOT_FOUND", "NotFoundError: nothing with that ID, or it belongs to another account (R8: the same answer)."
    )
    PERMISSION_DENIED = described("PERMISSION_DENIED", "PermissionDeniedError: the key's role may not do this (R8).")
    VERSION_CONFLICT = described(
        "VERSION_CONFLICT", "VersionConflictError: expectedVersion is not the campaign's version (R7)."
    )
    CAMPAIGN_LOCKED = described(
        "CAMPAIGN_LOCKED",
        "CampaignLockedError: a locked field of a published, paused or ended campaign was to change (R6, R12).",
    )
    NOT_A_DRAFT = described(
        "NOT_A_DRAFT", "CampaignLockedError: the mutation is for drafts only and the campaign is not one (R5, R6)."
    )
    STEP_INCOMPLETE = described(
        "STEP_INCOMPLETE",
        "StepIncompleteError: the step lacks the fields listed in missing, or the move is not possible from this "
        "step (R2, R3, R5).",
    )
    BUDGET_SOURCE_REQUIRED = described(
        "BUDGET_SOURCE_REQUIRED", "StepIncompleteError: no budget source is assigned yet (R3)."
    )
    BUDGET_SOURCE_NOT_SELECTABLE = described(
        "BUDGET_SOURCE_NOT_SELECTABLE",
        "BudgetSourceError: the source is CANCELLED or EXPIRED, or is a PO in an account that uses orders (R4).",
    )
    PURCHASE_ORDER_REQUIRED = described(
        "PURCHASE_ORDER_REQUIRED", "BudgetSourceError: the account requires POs and an order was picked (R4)."
    )
    CURRENCY_MISMATCH = described(
        "CURRENCY_MISMATCH", "BudgetSourceError, reserved: a PO always has its order's currency, so none occurs today."
    )
    SCHEDULE_OUTSIDE_TERM = described(
        "SCHEDULE_OUTSIDE_TERM",
        "BudgetSourceError: a schedule outside the source's term or leaving out a day with spend (R3, R6), or a "
        "spend date outside the schedule or after today, UTC (R11).",
    )
    INSUFFICIENT_BUDGET = described(
        "INSUFFICIENT_BUDGET",
        "InsufficientBudgetError: more than is unallocated in the source or its order (R3, R5, R6), or PO amounts "
        "above their order's (R9).",
    )
    DUPLICATE = described(
        "DUPLICATE", "ValidationError: the order number, PO number or audience name exists already (R9)."
    )
    CAMPAIGN_NOT_LIVE = described(
        "CAMPAIGN_NOT_LIVE",
        "CampaignStateError: the campaign is not in a state this applies to (R11, R12, R14); status says where it is.",
    )
    CAMPAIGN_SETTLED = described(
        "CAMPAIGN_SETTLED", "CampaignStateError: the campaign is settled: its spend is final (R11, R14)."
    )
    SPEND_EXCEEDS_BUDGET = described(
        "SPEND_EXCEEDS_BUDGET", "SpendLimitError: the report would take spentAmount above the budget (R11)."
    )
    BUDGET_BELOW_SPENT = described(
        "BUDGET_BELOW_SPENT", "SpendLimitError: a published campaign's budget cannot go below its spentAmount (R12)."
    )
    AMOUNT_BELOW_COMMITTED = described(
        "AMOUNT_BELOW_COMMITTED",
        "InsufficientBudgetError: an amended amount below what is committed (R18); unallocated is that floor.",
    )
    REQUEST_NOT_PENDING = described(
        "REQUEST_NOT_PENDING",
        "RequestStateError: the change request was approved, declined or withdrawn already (R19).",
    )


@strawberry.enum(description="What a budget alert reports (R15, R16).")
class AlertKind(Enum):
    ALLOCATION_THRESHOLD = described(
        "ALLOCATION_THRESHOLD", "allocatedAmount / amount crossed one of the account's thresholds upward."
    )
    SPEND_THRESHOLD = described(
        "SPEND_THRESHOLD", "spentAmount / amount crossed one of the account's thresholds upward."
    )
    SOURCE_EXHAUSTED = described("SOURCE_EXHAUSTED", "unallocatedAmount reached 0.00.")
    EXPIRING_UNUSED_BUDGET = described(
        "EXPIRING_UNUSED_BUDGET",
        "The source ends within the account's expiryWarningDays and still has money unallocated (once per term).",
    )
    BUDGET_RETURNED = described(
        "BUDGET_RETURNED", "Settlement released a campaign's unspent budget to the source (R14)."
    )


@strawberry.enum(description="Where a change request stands (R19); it leaves PENDING once.")
class BudgetChangeRequestStatus(Enum):
    PENDING = described("PENDING", "Waiting for the account team.")
    APPROVED = described("APPROVED", "The account team applied it: see the source's amendments.")
    DECLINED = described("DECLINED", "The account team declined it; nothing changed.")
    WITHDRAWN = described("WITHDRAWN", "The customer withdrew it; nothing changed.")
