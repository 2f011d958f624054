"""schema.graphql at the repository root is the live schema, and db/schema.sql what the migrations
make of a database (`make schema` regenerates both)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from graphql import Visitor, parse, print_ast, visit

from db import schema_dump
from db.session import plain_url
from schema import schema
from tests.conftest import ROOT


def sdl_without_descriptions() -> str:
    """The live SDL as the names are written in API.md: with descriptions, arguments and enum values
    print one per line, each under its description."""

    class Strip(Visitor):
        def enter(self, node: Any, *_: Any) -> Any:
            return dataclasses.replace(node, description=None) if getattr(node, "description", None) else None

    return print_ast(visit(parse(schema.as_str()), Strip()))


def test_schema_graphql_matches_the_live_schema() -> None:
    assert (ROOT / "schema.graphql").read_text().strip() == schema.as_str().strip(), "run `make schema`"


def test_schema_sql_is_what_the_migrations_make(database_url: str) -> None:
    """The test's database is a clone of one freshly migrated: its dump is db/schema.sql."""
    found = schema_dump.dump(plain_url(database_url))
    kept = schema_dump.FILE.read_text()
    assert schema_dump.comparable(found) == schema_dump.comparable(kept), "run `make schema`"
    for name in ("CREATE VIEW public.budget_sources_view", "CREATE FUNCTION public.campaigns_totals()"):
        assert name in kept


def test_every_name_of_api_md_is_in_the_schema() -> None:
    sdl = sdl_without_descriptions()
    for name in (
        "interface Node",
        "interface BudgetSource",
        "interface UserError",
        "type Viewer",
        "type Allocation",
        "union CampaignResult",
        "enum ErrorCode",
        "enum CampaignField",
        "enum BudgetSourceStatus",
        "budgetSources(includeInactive: Boolean = false)",
        "campaigns(first: Int = 20, after: String = null",
        "allocations(first: Int = 50, after: String = null)",
        "lockedFields: [CampaignField!]!",
        "type PurchaseOrder implements Node & BudgetSource",
        "type Order implements Node & BudgetSource",
        "enum CampaignStatus {\n  DRAFT\n  PUBLISHED\n  PAUSED\n  ENDED\n}",
        "enum CampaignEndReason",
        "type SpendRecord implements Node",
        "spend(first: Int = 31, after: String = null): SpendConnection!",
        "type ReportSpendsPayload",
        "type CampaignStateError implements UserError",
        "type SpendLimitError implements UserError",
        "pendingReleaseAmount: Decimal!",
        # API.md section 7
        "enum AlertKind {\n  ALLOCATION_THRESHOLD\n  SPEND_THRESHOLD\n  SOURCE_EXHAUSTED\n  EXPIRING_UNUSED_BUDGET\n"
        "  BUDGET_RETURNED\n}",
        "type BudgetAlert implements Node",
        "type BudgetAlertConnection",
        "type AlertSettings {\n  thresholds: [Int!]!\n  expiryWarningDays: Int!\n}",
        "alertSettings: AlertSettings!",
        "alerts(first: Int = 20, after: String = null, acknowledged: Boolean = null): BudgetAlertConnection!",
        "allocatedPercent: Decimal!",
        "spentPercent: Decimal!",
        "daysLeft: Int!",
        "budgetSourceUpdated(accountId: ID!): BudgetSource!",
        "campaignUpdated(accountId: ID!): Campaign!",
        "alertRaised(accountId: ID!): BudgetAlert!",
        "input UpdateAlertSettingsInput {\n  accountId: ID!\n  thresholds: [Int!] = null\n"
        "  expiryWarningDays: Int = null\n}",
        "input AcknowledgeAlertInput {\n  alertId: ID!\n}",
        "union BudgetAlertResult",
        # API.md section 8
        "enum BudgetChangeRequestStatus {\n  PENDING\n  APPROVED\n  DECLINED\n  WITHDRAWN\n}",
        "type BudgetChangeRequest implements Node",
        "type Amendment {",
        "type ActivityEntry implements Node",
        "type FieldChange {\n  field: String!\n  before: String\n  after: String\n}",
        "amendments: [Amendment!]!",
        "changeRequests(status: BudgetChangeRequestStatus = null): [BudgetChangeRequest!]!",
        "changeRequests(first: Int = 20, after: String = null, status: BudgetChangeRequestStatus = null): "
        "BudgetChangeRequestConnection!",
        "activity(first: Int = 50, after: String = null): ActivityEntryConnection!",
        "type RequestStateError implements UserError",
        "AMOUNT_BELOW_COMMITTED",
        "REQUEST_NOT_PENDING",
        "input AmendOrderInput {\n  orderId: ID!\n  amount: Decimal = null\n  endDate: Date = null\n  note: String!\n}",
        "input DecideBudgetChangeRequestInput {\n  requestId: ID!\n  note: String = null\n}",
        "union BudgetChangeRequestResult",
    ):
        assert name in sdl, name
    mutations = re.findall(r"^  (\w+)\(input: (\w+)!\): (\w+)!", sdl.split("type Mutation {")[1], re.M)
    assert {m[0] for m in mutations} == {
        "createAudience",
        "createCampaignDraft",
        "updateCampaign",
        "assignBudgetSource",
        "advanceCampaign",
        "goToCampaignStep",
        "publishCampaign",
        "deleteCampaignDraft",
        "createAccount",
        "updateAccount",
        "createOrder",
        "createPurchaseOrder",
        "cancelBudgetSource",
        "issueApiKey",
        "revokeApiKey",
        # API.md section 6
        "reportSpend",
        "reportSpends",
        "settleCampaign",
        "pauseCampaign",
        "resumeCampaign",
        "endCampaign",
        # API.md section 7
        "updateAlertSettings",
        "acknowledgeAlert",
        # API.md section 8
        "amendOrder",
        "amendPurchaseOrder",
        "approveBudgetChangeRequest",
        "declineBudgetChangeRequest",
        "requestBudgetChange",
        "withdrawBudgetChangeRequest",
    }
    assert ("approveBudgetChangeRequest", "DecideBudgetChangeRequestInput", "BudgetChangeRequestResult") in mutations
    assert ("amendOrder", "AmendOrderInput", "OrderResult") in mutations
    assert ("updateAlertSettings", "UpdateAlertSettingsInput", "AccountResult") in mutations
    assert ("acknowledgeAlert", "AcknowledgeAlertInput", "BudgetAlertResult") in mutations
