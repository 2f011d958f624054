"""Errors a user can cause and fix. Raised inside a transaction (so it rolls back);
the GraphQL layer turns each into the matching member of the mutation's result union."""

from __future__ import annotations

from decimal import Decimal


class UserError(Exception):
    code = "INVALID_INPUT"

    def __init__(self, message: str, field: str | None = None, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class InvalidInput(UserError):
    code = "INVALID_INPUT"


class Duplicate(UserError):
    code = "DUPLICATE"


class NotFound(UserError):
    code = "NOT_FOUND"


class PermissionDenied(UserError):
    code = "PERMISSION_DENIED"


class VersionConflict(UserError):
    code = "VERSION_CONFLICT"

    def __init__(self, current_version: int) -> None:
        super().__init__(
            f"expectedVersion does not match: the campaign is at version {current_version}",
            "expectedVersion",
        )
        self.current_version = current_version


class CampaignLocked(UserError):
    """CAMPAIGN_LOCKED (a locked field was touched) or NOT_A_DRAFT."""

    code = "CAMPAIGN_LOCKED"

    def __init__(self, message: str, field: str | None, locked_fields: list[str], *, code: str) -> None:
        super().__init__(message, field, code=code)
        self.locked_fields = locked_fields


class StepIncomplete(UserError):
    """STEP_INCOMPLETE or BUDGET_SOURCE_REQUIRED, with the fields still missing."""

    code = "STEP_INCOMPLETE"

    def __init__(self, message: str, missing: list[str], *, code: str = "STEP_INCOMPLETE") -> None:
        super().__init__(message, None, code=code)
        self.missing = missing


class BudgetSourceProblem(UserError):
    """BUDGET_SOURCE_NOT_SELECTABLE, PURCHASE_ORDER_REQUIRED, CURRENCY_MISMATCH, SCHEDULE_OUTSIDE_TERM."""


class InsufficientBudget(UserError):
    """INSUFFICIENT_BUDGET, or AMOUNT_BELOW_COMMITTED (R18: `unallocated` is then the floor)."""

    code = "INSUFFICIENT_BUDGET"

    def __init__(
        self, message: str, field: str | None, requested: Decimal, unallocated: Decimal, *, code: str | None = None
    ) -> None:
        super().__init__(message, field, code=code)
        self.requested = requested
        self.unallocated = unallocated


class CampaignState(UserError):
    """CAMPAIGN_NOT_LIVE (not in a state the action applies to) or CAMPAIGN_SETTLED (R11-R14)."""

    code = "CAMPAIGN_NOT_LIVE"

    def __init__(self, message: str, status: str, *, code: str = "CAMPAIGN_NOT_LIVE", field: str | None = None) -> None:
        super().__init__(message, field, code=code)
        self.status = status


class SpendLimit(UserError):
    """SPEND_EXCEEDS_BUDGET (R11) or BUDGET_BELOW_SPENT (R12); spent_amount as before the change."""

    def __init__(self, message: str, field: str, campaign_budget: Decimal, spent_amount: Decimal, *, code: str) -> None:
        super().__init__(message, field, code=code)
        self.campaign_budget = campaign_budget
        self.spent_amount = spent_amount


class RequestState(UserError):
    """REQUEST_NOT_PENDING (R19): the change request was decided or withdrawn already."""

    code = "REQUEST_NOT_PENDING"

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message, "requestId")
        self.status = status
