"""UserError types: what a user can fix, returned as members of result unions."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from resolvers import errors
from schema.enums import CampaignField, ErrorCode


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


def to_graphql(exc: errors.UserError) -> UserError:
    base = {"code": ErrorCode(exc.code), "message": exc.message, "field": exc.field}
    if isinstance(exc, errors.VersionConflict):
        return VersionConflictError(**base, current_version=exc.current_version)
    if isinstance(exc, errors.CampaignLocked):
        return CampaignLockedError(**base, locked_fields=[CampaignField(f) for f in exc.locked_fields])
    if isinstance(exc, errors.StepIncomplete):
        return StepIncompleteError(**base, missing=[CampaignField(f) for f in exc.missing])
    if isinstance(exc, errors.InsufficientBudget):
        return InsufficientBudgetError(**base, requested=exc.requested, unallocated=exc.unallocated)
    if isinstance(exc, errors.BudgetSourceProblem):
        return BudgetSourceError(**base)
    if isinstance(exc, errors.NotFound):
        return NotFoundError(**base)
    if isinstance(exc, errors.PermissionDenied):
        return PermissionDeniedError(**base)
    return ValidationError(**base)
