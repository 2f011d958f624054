"""UserError types: what a user can fix, returned as members of result unions."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from resolvers import errors
from schema.enums import BudgetChangeRequestStatus, CampaignField, CampaignStatus, ErrorCode


@strawberry.interface(
    description="A problem the user can fix, returned as a member of a mutation's result union; nothing was changed."
)
class UserError:
    code: ErrorCode = strawberry.field(description="What went wrong: a stable value to switch on.")
    message: str = strawberry.field(description="What went wrong and how to fix it, in English, for people.")
    field: str | None = strawberry.field(description="The input field at fault, as named in the input type.")


@strawberry.type(description="INVALID_INPUT or DUPLICATE.")
class ValidationError(UserError):
    pass


@strawberry.type(
    description="NOT_FOUND: nothing with that ID, or it belongs to another account (R8: the same answer, so IDs "
    "reveal nothing)."
)
class NotFoundError(UserError):
    pass


@strawberry.type(description="PERMISSION_DENIED: the API key's role may not do this (R8).")
class PermissionDeniedError(UserError):
    pass


@strawberry.type(description="VERSION_CONFLICT: the campaign changed since the version you sent (R7).")
class VersionConflictError(UserError):
    current_version: int = strawberry.field(
        description="The campaign's version now: read the campaign again, then retry with it as expectedVersion."
    )


@strawberry.type(description="CAMPAIGN_LOCKED or NOT_A_DRAFT.")
class CampaignLockedError(UserError):
    locked_fields: list[CampaignField] = strawberry.field(
        description="The campaign's locked fields, as in Campaign.lockedFields."
    )


@strawberry.type(description="STEP_INCOMPLETE or BUDGET_SOURCE_REQUIRED, with the fields still missing.")
class StepIncompleteError(UserError):
    missing: list[CampaignField] = strawberry.field(
        description="The fields still to fill in; may be empty when the move itself is refused (advancing from "
        "REVIEW, for one)."
    )


@strawberry.type(
    description="BUDGET_SOURCE_NOT_SELECTABLE, PURCHASE_ORDER_REQUIRED, CURRENCY_MISMATCH or SCHEDULE_OUTSIDE_TERM."
)
class BudgetSourceError(UserError):
    pass


@strawberry.type(
    description="INSUFFICIENT_BUDGET: the amount exceeds what is unallocated in the source or its order (R3, R5, R6), "
    "or what the order has left for POs (R9, R18). AMOUNT_BELOW_COMMITTED: an amended amount below what the source "
    "has committed (R18): unallocated is then that floor."
)
class InsufficientBudgetError(UserError):
    requested: Decimal = strawberry.field(
        description="The amount asked for: the campaign's budget, a budget increase, a new PO's amount, or an "
        "amended amount."
    )
    unallocated: Decimal = strawberry.field(
        description="What was free: the unallocated amount of the source or order that fell short, or the order's "
        "amount not yet covered by (other) POs; for AMOUNT_BELOW_COMMITTED, the committed floor."
    )


@strawberry.type(description="CAMPAIGN_NOT_LIVE or CAMPAIGN_SETTLED: the campaign is not in a state this applies to.")
class CampaignStateError(UserError):
    status: CampaignStatus = strawberry.field(description="The campaign's status now.")


@strawberry.type(
    description="SPEND_EXCEEDS_BUDGET or BUDGET_BELOW_SPENT; spentAmount as it was before the refused change."
)
class SpendLimitError(UserError):
    campaign_budget: Decimal = strawberry.field(description="The campaign's budget, not the refused new one.")
    spent_amount: Decimal = strawberry.field(description="The campaign's spentAmount before the refused change.")


@strawberry.type(description="REQUEST_NOT_PENDING: the change request was decided or withdrawn already (R19).")
class RequestStateError(UserError):
    status: BudgetChangeRequestStatus = strawberry.field(description="The request's status now.")


def to_graphql(exc: errors.UserError) -> UserError:
    code, message, field = ErrorCode(exc.code), exc.message, exc.field
    if isinstance(exc, errors.VersionConflict):
        return VersionConflictError(code=code, message=message, field=field, current_version=exc.current_version)
    if isinstance(exc, errors.CampaignLocked):
        locked = [CampaignField(f) for f in exc.locked_fields]
        return CampaignLockedError(code=code, message=message, field=field, locked_fields=locked)
    if isinstance(exc, errors.StepIncomplete):
        missing = [CampaignField(f) for f in exc.missing]
        return StepIncompleteError(code=code, message=message, field=field, missing=missing)
    if isinstance(exc, errors.InsufficientBudget):
        return InsufficientBudgetError(
            code=code, message=message, field=field, requested=exc.requested, unallocated=exc.unallocated
        )
    if isinstance(exc, errors.CampaignState):
        return CampaignStateError(code=code, message=message, field=field, status=CampaignStatus(exc.status))
    if isinstance(exc, errors.SpendLimit):
        return SpendLimitError(
            code=code, message=message, field=field, campaign_budget=exc.campaign_budget, spent_amount=exc.spent_amount
        )
    if isinstance(exc, errors.RequestState):
        return RequestStateError(code=code, message=message, field=field, status=BudgetChangeRequestStatus(exc.status))
    kind: type[UserError] = ValidationError
    if isinstance(exc, errors.BudgetSourceProblem):
        kind = BudgetSourceError
    elif isinstance(exc, errors.NotFound):
        kind = NotFoundError
    elif isinstance(exc, errors.PermissionDenied):
        kind = PermissionDeniedError
    return kind(code=code, message=message, field=field)
