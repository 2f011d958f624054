"""Mutation input types, exactly as API.md §3 names their fields."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import strawberry

from schema.enums import CampaignStep, Role


@strawberry.input
class CreateAudienceInput:
    account_id: strawberry.ID
    name: str


@strawberry.input
class CreateCampaignDraftInput:
    account_id: strawberry.ID
    name: str
    audience_id: strawberry.ID | None = None


@strawberry.input(description="Only the fields given change; null clears a draft's audience, budget or dates.")
class UpdateCampaignInput:
    campaign_id: strawberry.ID
    expected_version: int | None = None
    name: str | None = strawberry.UNSET
    audience_id: strawberry.ID | None = strawberry.UNSET
    budget: Decimal | None = strawberry.UNSET
    start_date: date | None = strawberry.UNSET
    end_date: date | None = strawberry.UNSET


@strawberry.input
class AssignBudgetSourceInput:
    campaign_id: strawberry.ID
    budget_source_id: strawberry.ID
    expected_version: int | None = None


@strawberry.input
class AdvanceCampaignInput:
    campaign_id: strawberry.ID
    expected_version: int | None = None


@strawberry.input
class GoToCampaignStepInput:
    campaign_id: strawberry.ID
    step: CampaignStep
    expected_version: int | None = None


@strawberry.input
class PublishCampaignInput:
    campaign_id: strawberry.ID
    expected_version: int | None = None


@strawberry.input
class DeleteCampaignDraftInput:
    campaign_id: strawberry.ID


@strawberry.input
class CreateAccountInput:
    name: str
    requires_purchase_order: bool


@strawberry.input
class UpdateAccountInput:
    account_id: strawberry.ID
    name: str | None = None
    requires_purchase_order: bool | None = None


@strawberry.input
class CreateOrderInput:
    account_id: strawberry.ID
    order_number: str
    amount: Decimal
    currency: str
    start_date: date
    end_date: date


@strawberry.input
class CreatePurchaseOrderInput:
    order_id: strawberry.ID
    po_number: str
    amount: Decimal


@strawberry.input
class CancelBudgetSourceInput:
    budget_source_id: strawberry.ID


@strawberry.input
class IssueApiKeyInput:
    name: str
    role: Role
    account_id: strawberry.ID | None = None


@strawberry.input
class RevokeApiKeyInput:
    api_key_id: strawberry.ID


@strawberry.input(description="What one campaign spent on one UTC day (R11); a later report for the day replaces it.")
class ReportSpendInput:
    campaign_id: strawberry.ID
    day: date = strawberry.field(name="date", description="The UTC day; within the schedule, not after today.")
    amount: Decimal = strawberry.field(description="0 or more; 0 is a valid restatement.")


@strawberry.input
class ReportSpendsInput:
    reports: list[ReportSpendInput] = strawberry.field(description="1 to 1,000 reports, each judged on its own.")


@strawberry.input
class SettleCampaignInput:
    campaign_id: strawberry.ID


@strawberry.input
class PauseCampaignInput:
    campaign_id: strawberry.ID
    expected_version: int | None = None


@strawberry.input
class ResumeCampaignInput:
    campaign_id: strawberry.ID
    expected_version: int | None = None


@strawberry.input
class EndCampaignInput:
    campaign_id: strawberry.ID
    expected_version: int | None = None
