"""Mutations: each calls one resolver and returns its object or the user error it raised."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar, cast, get_args

import orjson
import strawberry

from resolvers import accounts, activity, alerts, api_keys, audiences, budget_sources, campaigns, change_requests, spend
from resolvers.campaigns import CampaignChanges
from resolvers.context import Context
from resolvers.errors import UserError
from schema.accounts import Account
from schema.alerts import BudgetAlert
from schema.api_keys import ApiKey
from schema.audiences import Audience
from schema.budget_sources import Order, PurchaseOrder
from schema.campaigns import Campaign, Deleted
from schema.change_requests import BudgetChangeRequest
from schema.common import Info
from schema.errors import (
    BudgetSourceError,
    CampaignLockedError,
    CampaignStateError,
    InsufficientBudgetError,
    NotFoundError,
    PermissionDeniedError,
    RequestStateError,
    SpendLimitError,
    StepIncompleteError,
    ValidationError,
    VersionConflictError,
    to_graphql,
)
from schema.inputs import (
    AcknowledgeAlertInput,
    AdvanceCampaignInput,
    AmendOrderInput,
    AmendPurchaseOrderInput,
    AssignBudgetSourceInput,
    CancelBudgetSourceInput,
    CreateAccountInput,
    CreateAudienceInput,
    CreateCampaignDraftInput,
    CreateOrderInput,
    CreatePurchaseOrderInput,
    DecideBudgetChangeRequestInput,
    DeleteCampaignDraftInput,
    EndCampaignInput,
    GoToCampaignStepInput,
    IssueApiKeyInput,
    PauseCampaignInput,
    PublishCampaignInput,
    ReportSpendInput,
    ReportSpendsInput,
    RequestBudgetChangeInput,
    ResumeCampaignInput,
    RevokeApiKeyInput,
    SettleCampaignInput,
    UpdateAccountInput,
    UpdateAlertSettingsInput,
    UpdateCampaignInput,
    WithdrawBudgetChangeRequestInput,
)

CommonErrors = ValidationError | NotFoundError | PermissionDeniedError

# Every mutation takes one `input` object; its type describes each field.
INPUT = strawberry.argument(description="The mutation's fields, in one object (see its type for each field's rules).")

CampaignResult = Annotated[
    Campaign
    | CommonErrors
    | VersionConflictError
    | CampaignLockedError
    | StepIncompleteError
    | BudgetSourceError
    | InsufficientBudgetError
    | CampaignStateError
    | SpendLimitError,
    strawberry.union(
        "CampaignResult",
        description="The campaign after the change, or the user error that refused it (nothing changed).",
    ),
]
AudienceResult = Annotated[
    Audience | CommonErrors,
    strawberry.union("AudienceResult", description="The new audience, or the user error that refused it."),
]
AccountResult = Annotated[
    Account | CommonErrors,
    strawberry.union("AccountResult", description="The account after the change, or the user error that refused it."),
]
OrderResult = Annotated[
    Order | CommonErrors | BudgetSourceError | InsufficientBudgetError,
    strawberry.union("OrderResult", description="The new or amended order, or the user error that refused it."),
]
PurchaseOrderResult = Annotated[
    PurchaseOrder | CommonErrors | BudgetSourceError | InsufficientBudgetError,
    strawberry.union(
        "PurchaseOrderResult", description="The new or amended purchase order, or the user error that refused it."
    ),
]
BudgetChangeRequestResult = Annotated[
    BudgetChangeRequest | CommonErrors | RequestStateError | BudgetSourceError | InsufficientBudgetError,
    strawberry.union(
        "BudgetChangeRequestResult",
        description="The request after the change, or the user error that refused it (an approval R18 refuses "
        "answers R18's error, and the request stays PENDING).",
    ),
]
BudgetSourceResult = Annotated[
    Order | PurchaseOrder | CommonErrors,
    strawberry.union(
        "BudgetSourceResult", description="The cancelled Order or PurchaseOrder, or the user error that refused it."
    ),
]
ApiKeyResult = Annotated[
    ApiKey | CommonErrors,
    strawberry.union("ApiKeyResult", description="The API key after the change, or the user error that refused it."),
]
BudgetAlertResult = Annotated[
    BudgetAlert | CommonErrors,
    strawberry.union(
        "BudgetAlertResult",
        description="The alert after the change, or the user error that refused it (ValidationError: a malformed ID).",
    ),
]
DeleteResult = Annotated[
    Deleted | CommonErrors | CampaignLockedError,
    strawberry.union("DeleteResult", description="The deleted draft's ID, or the user error that refused it."),
]

R = TypeVar("R")
T = TypeVar("T")


async def _run(info: Info, call: Awaitable[Any], result_union: object) -> Any:
    """What the resolver wrote, as the answer asks for it (read by the planner in the write's own
    transaction: budgetline/payloads.py), or the user error it raised (nothing was written)."""
    context = info.context
    context.payload = context.payloads(info) if context.payloads is not None else None
    try:
        return await _converted(info, call, lambda _: orjson.Fragment(_answer(context)), result_union)
    finally:
        context.payload = None


def _answer(context: Context) -> bytes:
    assert context.payload is not None and context.payload.answers, "the transaction read the answer"
    return context.payload.answers[-1]


async def _converted(info: Info, call: Awaitable[R], convert: Callable[[R], T], result_union: object) -> T:
    """The resolver's result converted, or the user error it raised (nothing was written)."""
    operation = activity.OPERATION.set(info.field_name)  # the trace names the mutation (R20)
    try:
        return convert(await call)
    except UserError as exc:
        return cast(T, _error(info, exc, result_union))
    finally:
        activity.OPERATION.reset(operation)


def _error(info: Info, exc: UserError, result_union: object) -> Any:
    """A user error as its member of the result union; one outside the union would be a server
    bug: it raises."""
    error = to_graphql(exc)
    info.context.user_error_codes.append(exc.code)
    if type(error) not in get_args(get_args(result_union)[0]):
        raise TypeError(f"{type(error).__name__} is not a member of the result union") from exc
    return error


def _results(root: ReportSpendsPayload, info: Info) -> list[CampaignResult]:
    key = info.path.key  # each alias of `results` asked for its own fields, read by its own plan
    return [orjson.Fragment(a[key]) if isinstance(a, dict) else a for a in root.answers]  # type: ignore[misc]


@strawberry.type(description="results[i] answers reports[i].")
class ReportSpendsPayload:
    # Per report: the user error that refused it, or its campaign's JSON by response key of `results`.
    answers: strawberry.Private[list[Any]]
    results: list[CampaignResult] = strawberry.field(
        resolver=_results,
        description="One per report, in input order: the campaign after it, or the user error that refused it.",
    )
    accepted: int = strawberry.field(description="Reports recorded (or equal to the day's figure already).")
    refused: int = strawberry.field(description="Reports answered with a user error; nothing of theirs was written.")


async def _transition(info: Info, action: str, campaign_id: str, expected_version: int | None) -> CampaignResult:
    call = campaigns.transition(info.context, action=action, campaign_id=campaign_id, expected_version=expected_version)
    return await _run(info, call, CampaignResult)


def _report(data: ReportSpendInput) -> spend.SpendReport:
    return spend.SpendReport(campaign_id=data.campaign_id, date=data.day, amount=data.amount)


def _given(data: UpdateCampaignInput) -> frozenset[str]:
    names = {"name": "name", "audience_id": "audienceId", "budget": "budget"}
    names |= {"start_date": "startDate", "end_date": "endDate"}
    return frozenset(api for attr, api in names.items() if getattr(data, attr) is not strawberry.UNSET)


def _value(value: Any) -> Any:
    return None if value is strawberry.UNSET else value


@strawberry.type(
    description="Writes. A user error comes back as a member of the mutation's result union, and the refused change "
    "is not made."
)
class Mutation:
    # --- CAMPAIGN_MANAGER of the account (ACCOUNT_TEAM may too) ---------------------------

    @strawberry.mutation(description="A new audience of the account; DUPLICATE for a name it has already.")
    async def create_audience(self, info: Info, input: Annotated[CreateAudienceInput, INPUT]) -> AudienceResult:
        call = audiences.create(info.context, account_id=input.account_id, name=input.name)
        return await _run(info, call, AudienceResult)

    @strawberry.mutation(description="R1: a DRAFT at step SETUP, version 1.")
    async def create_campaign_draft(
        self, info: Info, input: Annotated[CreateCampaignDraftInput, INPUT]
    ) -> CampaignResult:
        call = campaigns.create_draft(
            info.context, account_id=input.account_id, name=input.name, audience_id=input.audience_id
        )
        return await _run(info, call, CampaignResult)

    @strawberry.mutation(description="Drafts: anything. Published: name, budget and schedule (R6).")
    async def update_campaign(self, info: Info, input: Annotated[UpdateCampaignInput, INPUT]) -> CampaignResult:
        changes = CampaignChanges(
            given=_given(input),
            name=_value(input.name),
            audience_id=_value(input.audience_id),
            budget=_value(input.budget),
            start_date=_value(input.start_date),
            end_date=_value(input.end_date),
        )
        call = campaigns.update(
            info.context,
            campaign_id=input.campaign_id,
            expected_version=input.expected_version,
            changes=changes,
        )
        return await _run(info, call, CampaignResult)

    @strawberry.mutation(description="R4: a draft picks its budget source (any step).")
    async def assign_budget_source(
        self, info: Info, input: Annotated[AssignBudgetSourceInput, INPUT]
    ) -> CampaignResult:
        call = campaigns.assign_budget_source(
            info.context,
            campaign_id=input.campaign_id,
            budget_source_id=input.budget_source_id,
            expected_version=input.expected_version,
        )
        return await _run(info, call, CampaignResult)

    @strawberry.mutation(description="SETUP -> BUDGET_AND_SCHEDULE -> REVIEW (R2, R3).")
    async def advance_campaign(self, info: Info, input: Annotated[AdvanceCampaignInput, INPUT]) -> CampaignResult:
        call = campaigns.advance(info.context, campaign_id=input.campaign_id, expected_version=input.expected_version)
        return await _run(info, call, CampaignResult)

    @strawberry.mutation(description="A draft may go back to an earlier step.")
    async def go_to_campaign_step(self, info: Info, input: Annotated[GoToCampaignStepInput, INPUT]) -> CampaignResult:
        call = campaigns.go_to_step(
            info.context,
            campaign_id=input.campaign_id,
            step=input.step.value,
            expected_version=input.expected_version,
        )
        return await _run(info, call, CampaignResult)

    @strawberry.mutation(description="R5: re-checks R3 under row locks and allocates the budget.")
    async def publish_campaign(self, info: Info, input: Annotated[PublishCampaignInput, INPUT]) -> CampaignResult:
        call = campaigns.publish(info.context, campaign_id=input.campaign_id, expected_version=input.expected_version)
        return await _run(info, call, CampaignResult)

    @strawberry.mutation(description="Drafts only.")
    async def delete_campaign_draft(
        self, info: Info, input: Annotated[DeleteCampaignDraftInput, INPUT]
    ) -> DeleteResult:
        call = campaigns.delete_draft(info.context, campaign_id=input.campaign_id)
        return await _converted(info, call, lambda gid: Deleted(deleted_id=strawberry.ID(gid)), DeleteResult)

    @strawberry.mutation(description="R12: PUBLISHED -> PAUSED; keeps its allocation and locks.")
    async def pause_campaign(self, info: Info, input: Annotated[PauseCampaignInput, INPUT]) -> CampaignResult:
        return await _transition(info, "pause", input.campaign_id, input.expected_version)

    @strawberry.mutation(description="R12: PAUSED -> PUBLISHED, while its end date is today or later.")
    async def resume_campaign(self, info: Info, input: Annotated[ResumeCampaignInput, INPUT]) -> CampaignResult:
        return await _transition(info, "resume", input.campaign_id, input.expected_version)

    @strawberry.mutation(
        description="R12: PUBLISHED or PAUSED -> ENDED (endReason MANUAL); only the name stays editable."
    )
    async def end_campaign(self, info: Info, input: Annotated[EndCampaignInput, INPUT]) -> CampaignResult:
        return await _transition(info, "end", input.campaign_id, input.expected_version)

    @strawberry.mutation(
        description="R15: the account's thresholds and expiry warning; changing them raises nothing by itself."
    )
    async def update_alert_settings(
        self, info: Info, input: Annotated[UpdateAlertSettingsInput, INPUT]
    ) -> AccountResult:
        call = alerts.update_settings(
            info.context,
            account_id=input.account_id,
            thresholds=input.thresholds,
            expiry_warning_days=input.expiry_warning_days,
        )
        return await _run(info, call, AccountResult)

    @strawberry.mutation(description="Marks an alert as seen (acknowledging it again keeps the first time and key).")
    async def acknowledge_alert(self, info: Info, input: Annotated[AcknowledgeAlertInput, INPUT]) -> BudgetAlertResult:
        call = alerts.acknowledge(info.context, alert_id=input.alert_id)
        return await _run(info, call, BudgetAlertResult)

    @strawberry.mutation(
        description="R19: ask the account team for a new amount and/or end date of a source of your account; judged "
        "against R18 only when approved."
    )
    async def request_budget_change(
        self, info: Info, input: Annotated[RequestBudgetChangeInput, INPUT]
    ) -> BudgetChangeRequestResult:
        call = change_requests.request(
            info.context,
            budget_source_id=input.budget_source_id,
            amount=input.amount,
            end_date=input.end_date,
            note=input.note,
        )
        return await _run(info, call, BudgetChangeRequestResult)

    @strawberry.mutation(description="R19: withdraws a pending request of your account.")
    async def withdraw_budget_change_request(
        self, info: Info, input: Annotated[WithdrawBudgetChangeRequestInput, INPUT]
    ) -> BudgetChangeRequestResult:
        call = change_requests.withdraw(info.context, request_id=input.request_id)
        return await _run(info, call, BudgetChangeRequestResult)

    # --- DELIVERY or ACCOUNT_TEAM ------------------------------------------------------------

    @strawberry.mutation(
        description="R11: one campaign's spend on one UTC day; a later report for the day replaces it."
    )
    async def report_spend(self, info: Info, input: Annotated[ReportSpendInput, INPUT]) -> CampaignResult:
        return await _run(info, spend.report(info.context, _report(input)), CampaignResult)

    @strawberry.mutation(description="R11 in bulk: 1 to 1,000 reports, each its own transaction, in input order.")
    async def report_spends(self, info: Info, input: Annotated[ReportSpendsInput, INPUT]) -> ReportSpendsPayload:
        context = info.context
        # Each report's campaign as `results` asks for it, read in the report's own transaction.
        context.payload = context.payloads(info, "results") if context.payloads is not None else None
        operation = activity.OPERATION.set(info.field_name)
        try:
            answers = await spend.report_many(context, [_report(r) for r in input.reports])
            written = iter(context.payload.answers if context.payload is not None else [])
        finally:
            activity.OPERATION.reset(operation)
            context.payload = None
        results = [_error(info, a, CampaignResult) if isinstance(a, UserError) else next(written) for a in answers]
        refused = sum(isinstance(a, UserError) for a in answers)
        return ReportSpendsPayload(answers=results, accepted=len(answers) - refused, refused=refused)

    @strawberry.mutation(description="R14: an ENDED campaign's spend becomes final; the unspent budget goes back.")
    async def settle_campaign(self, info: Info, input: Annotated[SettleCampaignInput, INPUT]) -> CampaignResult:
        return await _run(info, campaigns.settle(info.context, campaign_id=input.campaign_id), CampaignResult)

    # --- ACCOUNT_TEAM only -------------------------------------------------------------------

    @strawberry.mutation(description="A new customer account (R8: account team only).")
    async def create_account(self, info: Info, input: Annotated[CreateAccountInput, INPUT]) -> AccountResult:
        call = accounts.create(info.context, name=input.name, requires_purchase_order=input.requires_purchase_order)
        return await _run(info, call, AccountResult)

    @strawberry.mutation(
        description="Renames an account or switches requiresPurchaseOrder; published campaigns keep their sources."
    )
    async def update_account(self, info: Info, input: Annotated[UpdateAccountInput, INPUT]) -> AccountResult:
        call = accounts.update(
            info.context,
            account_id=input.account_id,
            name=input.name,
            requires_purchase_order=input.requires_purchase_order,
        )
        return await _run(info, call, AccountResult)

    @strawberry.mutation(description="R9: any term with startDate <= endDate, past ones included.")
    async def create_order(self, info: Info, input: Annotated[CreateOrderInput, INPUT]) -> OrderResult:
        call = budget_sources.create_order(
            info.context,
            account_id=input.account_id,
            order_number=input.order_number,
            amount=input.amount,
            currency=input.currency,
            start_date=input.start_date,
            end_date=input.end_date,
        )
        return await _run(info, call, OrderResult)

    @strawberry.mutation(description="R9: the PO amounts of an order add up to at most the order's amount.")
    async def create_purchase_order(
        self, info: Info, input: Annotated[CreatePurchaseOrderInput, INPUT]
    ) -> PurchaseOrderResult:
        call = budget_sources.create_purchase_order(
            info.context, order_id=input.order_id, po_number=input.po_number, amount=input.amount
        )
        return await _run(info, call, PurchaseOrderResult)

    @strawberry.mutation(
        description="R18: a new amount and/or end date; never below what is committed, never cutting a live "
        "campaign's schedule."
    )
    async def amend_order(self, info: Info, input: Annotated[AmendOrderInput, INPUT]) -> OrderResult:
        call = budget_sources.amend_order(
            info.context, order_id=input.order_id, amount=input.amount, end_date=input.end_date, note=input.note
        )
        return await _run(info, call, OrderResult)

    @strawberry.mutation(description="R18: a new amount, within what its order's other POs leave.")
    async def amend_purchase_order(
        self, info: Info, input: Annotated[AmendPurchaseOrderInput, INPUT]
    ) -> PurchaseOrderResult:
        call = budget_sources.amend_purchase_order(
            info.context, purchase_order_id=input.purchase_order_id, amount=input.amount, note=input.note
        )
        return await _run(info, call, PurchaseOrderResult)

    @strawberry.mutation(
        description="R19: applies exactly the requested amendment (R18) in the same transaction; if R18 refuses, "
        "so does this, and the request stays PENDING."
    )
    async def approve_budget_change_request(
        self, info: Info, input: Annotated[DecideBudgetChangeRequestInput, INPUT]
    ) -> BudgetChangeRequestResult:
        call = change_requests.approve(info.context, request_id=input.request_id, note=input.note)
        return await _run(info, call, BudgetChangeRequestResult)

    @strawberry.mutation(description="R19: declines a pending request; nothing else changes.")
    async def decline_budget_change_request(
        self, info: Info, input: Annotated[DecideBudgetChangeRequestInput, INPUT]
    ) -> BudgetChangeRequestResult:
        call = change_requests.decline(info.context, request_id=input.request_id, note=input.note)
        return await _run(info, call, BudgetChangeRequestResult)

    @strawberry.mutation(description="Makes the source unselectable; published campaigns keep their budgets.")
    async def cancel_budget_source(
        self, info: Info, input: Annotated[CancelBudgetSourceInput, INPUT]
    ) -> BudgetSourceResult:
        call = budget_sources.cancel(info.context, budget_source_id=input.budget_source_id)
        return await _run(info, call, BudgetSourceResult)

    @strawberry.mutation(description="The secret is in this result only; it is stored as a hash.")
    async def issue_api_key(self, info: Info, input: Annotated[IssueApiKeyInput, INPUT]) -> ApiKeyResult:
        call = api_keys.issue(info.context, name=input.name, role=input.role.value, account_id=input.account_id)
        return await _run(info, call, ApiKeyResult)

    @strawberry.mutation(description="The key stops working at once.")
    async def revoke_api_key(self, info: Info, input: Annotated[RevokeApiKeyInput, INPUT]) -> ApiKeyResult:
        call = api_keys.revoke(info.context, api_key_id=input.api_key_id)
        return await _run(info, call, ApiKeyResult)
