"""UserError types: what a user can fix, returned as members of result unions."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from resolvers import errors
from schema.enums import CampaignField, CampaignStatus, ErrorCode


@strawberry.interface
class UserError:
    code: ErrorCode
    message: str
    field: str | None = strawberry.field(description="The input field at fault, as named in the input type.")


@strawberry.type(description="INVALID_INPUT or DUPLICATE.")
class ValidationError(UserError):
    pass


@strawberry.type
class NotFoundError(UserError):
    pass


@strawberry.type
class PermissionDeniedError(UserError):
    pass


@strawberry.type
class VersionConflictError(UserError):
    current_version: int


@strawberry.type(description="CAMPAIGN_LOCKED or NOT_A_DRAFT.")
class CampaignLockedError(UserError):
    locked_fields: list[CampaignField]


@strawberry.type(description="STEP_INCOMPLETE or BUDGET_SOURCE_REQUIRED, with the fields still missing.")
class StepIncompleteError(UserError):
    missing: list[CampaignField]


@strawberry.type(
    description="BUDGET_SOURCE_NOT_SELECTABLE, PURCHASE_ORDER_REQUIRED, CURRENCY_MISMATCH or SCHEDULE_OUTSIDE_TERM."
)
class BudgetSourceError(UserError):
    pass


@strawberry.type
class InsufficientBudgetError(UserError):
    requested: Decimal
    unallocated: Decimal


@strawberry.type(description="CAMPAIGN_NOT_LIVE or CAMPAIGN_SETTLED: the campaign is not in a state this applies to.")
class CampaignStateError(UserError):
    status: CampaignStatus


@strawberry.type(
    description="SPEND_EXCEEDS_BUDGET or BUDGET_BELOW_SPENT; spentAmount as it was before the refused change."
)
class SpendLimitError(UserError):
    campaign_budget: Decimal
    spent_amount: Decimal


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
    kind: type[UserError] = ValidationError
    if isinstance(exc, errors.BudgetSourceProblem):
        kind = BudgetSourceError
    elif isinstance(exc, errors.NotFound):
        kind = NotFoundError
    elif isinstance(exc, errors.PermissionDenied):
        kind = PermissionDeniedError
    return kind(code=code, message=message, field=field)
