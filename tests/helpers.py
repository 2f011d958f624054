"""Black-box helpers: every call is GraphQL over HTTP, as an SPA or a partner tool sends it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from resolvers import ids

ERRORS = """
  ... on UserError {
    __typename code message field
    ... on VersionConflictError { currentVersion }
    ... on CampaignLockedError { lockedFields }
    ... on StepIncompleteError { missing }
    ... on InsufficientBudgetError { requested unallocated }
    ... on CampaignStateError { campaignStatus: status }
    ... on SpendLimitError { campaignBudget spentAmount }
  }
"""
CAMPAIGN = """
  ... on Campaign {
    __typename id name status step version budget currency startDate endDate lockedFields publishedAt
    spentAmount remainingAmount releasedAmount pausedAt endedAt endReason settledAt
    audience { id name } budgetSource { __typename id displayName } order { id } purchaseOrder { id }
  }
"""

# Mutations whose input type is not named after them (API.md section 8).
INPUT_TYPES = {
    "approveBudgetChangeRequest": "DecideBudgetChangeRequestInput",
    "declineBudgetChangeRequest": "DecideBudgetChangeRequestInput",
}

TODAY = datetime.now(UTC).date()
TERM_START = TODAY - timedelta(days=30)
TERM_END = TODAY + timedelta(days=335)


def iso(d: date) -> str:
    return d.isoformat()


async def steady(api: Api) -> None:
    """The in-process app of `api` in its steady state: listening for revocations, so the keys
    it has seen are known without a statement (budgetline/auth.KeyCache)."""
    await api.client._transport.app.state.hub.ready()  # type: ignore[attr-defined]


class Api:
    def __init__(self, client: httpx.AsyncClient, team_secret: str) -> None:
        self.client = client
        self.team_secret = team_secret

    async def post(self, query: str, variables: dict[str, Any] | None = None, key: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.team_secret}"}
        return await self.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)

    async def gql(self, query: str, variables: dict[str, Any] | None = None, key: str | None = None) -> dict[str, Any]:
        """`data` of a request that must not produce top-level errors."""
        response = await self.post(query, variables, key)
        body = response.json()
        assert response.status_code == 200, body
        assert "errors" not in body, body["errors"]
        return body["data"]  # type: ignore[no-any-return]

    async def mutate(
        self, name: str, input: dict[str, Any], key: str | None = None, select: str = "", input_type: str | None = None
    ) -> dict[str, Any]:
        """Run mutation `name(input:)` and return its result object (with __typename); the input
        type is `<Name>Input` unless given (approve and decline share DecideBudgetChangeRequestInput)."""
        input_type = input_type or INPUT_TYPES.get(name, f"{name[0].upper()}{name[1:]}Input")
        selection = f"__typename {select or CAMPAIGN} {ERRORS}"
        query = f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {selection} }} }}"
        data = await self.gql(query, {"input": input}, key)
        return data[name]  # type: ignore[no-any-return]

    # --- builders (as the account team) ---------------------------------------------------

    async def create_account(self, name: str = "Acme", requires_po: bool = True) -> str:
        result = await self.mutate(
            "createAccount", {"name": name, "requiresPurchaseOrder": requires_po}, select="... on Account { id }"
        )
        assert result["__typename"] == "Account", result
        return str(result["id"])

    async def create_order(
        self,
        account_id: str,
        number: str,
        amount: str,
        currency: str = "USD",
        start: date = TERM_START,
        end: date = TERM_END,
    ) -> str:
        result = await self.mutate(
            "createOrder",
            {
                "accountId": account_id,
                "orderNumber": number,
                "amount": amount,
                "currency": currency,
                "startDate": iso(start),
                "endDate": iso(end),
            },
            select="... on Order { id }",
        )
        assert result["__typename"] == "Order", result
        return str(result["id"])

    async def create_po(self, order_id: str, number: str, amount: str) -> str:
        result = await self.mutate(
            "createPurchaseOrder",
            {"orderId": order_id, "poNumber": number, "amount": amount},
            select="... on PurchaseOrder { id }",
        )
        assert result["__typename"] == "PurchaseOrder", result
        return str(result["id"])

    async def issue_key(self, role: str, account_id: str | None, name: str = "key") -> str:
        input: dict[str, Any] = {"name": name, "role": role}
        if account_id:
            input["accountId"] = account_id
        result = await self.mutate("issueApiKey", input, select="... on ApiKey { id secret }")
        assert result["__typename"] == "ApiKey", result
        return str(result["secret"])

    async def create_audience(self, account_id: str, name: str, key: str | None = None) -> str:
        result = await self.mutate(
            "createAudience", {"accountId": account_id, "name": name}, key, select="... on Audience { id }"
        )
        assert result["__typename"] == "Audience", result
        return str(result["id"])

    async def world(
        self,
        requires_po: bool = True,
        *,
        order_amount: str = "100000.00",
        po_amount: str = "10000.00",
        name: str = "Acme",
    ) -> World:
        account = await self.create_account(name, requires_po)
        order = await self.create_order(account, f"Q-{name}-1", order_amount)
        po = await self.create_po(order, f"PO-{name}-1", po_amount) if requires_po else None
        manager = await self.issue_key("CAMPAIGN_MANAGER", account, "manager")
        viewer = await self.issue_key("VIEWER", account, "viewer")
        audience = await self.create_audience(account, "Hikers", manager)
        return World(self, account, order, po, manager, viewer, audience)

    async def varied_worlds(self) -> tuple[World, World]:
        """Two accounts with something of every status: a PO account (a published campaign, an
        ended one, one at review, a draft without audience; an expired order with its PO, a
        cancelled PO) and an order account with a published campaign."""
        world = await self.world(order_amount="50000.00", po_amount="20000.00")
        await world.published("1250.50")
        ended = await world.published("10.00")
        await self.mutate("endCampaign", {"campaignId": ended}, select="... on Campaign { id }")
        await world.at_review("300.00", name="Planned")
        await world.draft("Idea", with_audience=False)
        expired = await self.create_order(
            world.account, "Q-OLD", "10.00", start=TODAY - timedelta(90), end=TODAY - timedelta(1)
        )
        await self.create_po(expired, "PO-OLD", "10.00")
        cancelled = await self.create_po(world.order, "PO-GONE", "100.00")
        await self.mutate("cancelBudgetSource", {"budgetSourceId": cancelled}, select="... on PurchaseOrder { id }")
        orders = await self.world(requires_po=False, name="Contoso")
        await orders.published("99.99")
        return world, orders


@dataclass
class World:
    """One account with an order (and a PO when it requires POs), keys and an audience."""

    api: Api
    account: str
    order: str
    po: str | None
    manager: str
    viewer: str
    audience: str

    @property
    def source(self) -> str:
        return self.po or self.order

    async def draft(self, name: str = "Launch", with_audience: bool = True) -> dict[str, Any]:
        input = {"accountId": self.account, "name": name}
        if with_audience:
            input["audienceId"] = self.audience
        result = await self.api.mutate("createCampaignDraft", input, self.manager)
        assert result["__typename"] == "Campaign", result
        return result

    async def at_review(
        self,
        budget: str = "100.00",
        source: str | None = None,
        name: str = "Launch",
        start: date = TODAY,
        end: date = TODAY + timedelta(days=30),
    ) -> str:
        """A draft that passed steps 1 and 2, ready to publish."""
        campaign = (await self.draft(name))["id"]
        await self.ok("advanceCampaign", {"campaignId": campaign})
        await self.ok(
            "updateCampaign",
            {
                "campaignId": campaign,
                "budget": budget,
                "startDate": iso(start),
                "endDate": iso(end),
            },
        )
        await self.ok("assignBudgetSource", {"campaignId": campaign, "budgetSourceId": source or self.source})
        await self.ok("advanceCampaign", {"campaignId": campaign})
        return str(campaign)

    async def published(
        self, budget: str = "100.00", source: str | None = None, start: date = TODAY, end: date | None = None
    ) -> str:
        campaign = await self.at_review(budget, source, start=start, end=end or TODAY + timedelta(days=30))
        await self.ok("publishCampaign", {"campaignId": campaign})
        return campaign

    async def ok(self, mutation: str, input: dict[str, Any]) -> dict[str, Any]:
        result = await self.api.mutate(mutation, input, self.manager)
        assert result["__typename"] == "Campaign", result
        return result

    async def source_amounts(self, source_id: str | None = None) -> dict[str, Any]:
        query = """query($id: ID!) { node(id: $id) { ... on BudgetSource {
            amount allocatedAmount unallocatedAmount draftAmount spentAmount pendingReleaseAmount
            status selectable } } }"""
        return (await self.api.gql(query, {"id": source_id or self.source}, self.manager))["node"]  # type: ignore[no-any-return]


TABLES = (
    "accounts",
    "api_keys",
    "orders",
    "purchase_orders",
    "audiences",
    "campaigns",
    "allocations",
    "spend_reports",
    "spend_days",
    "budget_alerts",
    "budget_change_requests",
    "amendments",
    "activity",
)


async def snapshot(db: asyncpg.Connection) -> dict[str, list[Any]]:
    """Every row of every table: compare before and after a refused mutation."""
    return {table: [tuple(r) for r in await db.fetch(f"SELECT * FROM {table} ORDER BY id")] for table in TABLES}


async def refused(
    api: Api,
    db: asyncpg.Connection,
    mutation: str,
    input: dict[str, Any],
    key: str | None,
    typename: str,
    code: str,
    select: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """Run a mutation that must fail with exactly this error and change nothing in the database."""
    before = await snapshot(db)
    result = await api.mutate(mutation, input, key, select=select)
    assert result["__typename"] == typename, result
    assert result["code"] == code, result
    assert result["message"], result
    for name, value in extra.items():
        assert result[name] == value, (name, result)
    assert await snapshot(db) == before, "a refused mutation changed the database"
    return result


def check_ledger(database_url: str) -> subprocess.CompletedProcess[str]:
    """Run `budgetline check-ledger` against the database."""
    return subprocess.run(
        [sys.executable, "-m", "budgetline.cli", "check-ledger"],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=60,
    )


def assert_ledger_reconciles(database_url: str) -> None:
    done = check_ledger(database_url)
    assert done.returncode == 0 and " 0 differences" in done.stdout, done.stdout + done.stderr


@asynccontextmanager
async def held(database_url: str, statement: str, *args: Any) -> AsyncIterator[None]:
    """`statement` run by another connection in a transaction left open until the block ends:
    the rows it locks or writes stay held, and the server's writes on them wait."""
    holder = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        async with holder.transaction():
            await holder.execute(statement, *args)
            yield
    finally:
        await holder.close()


def campaigns_locked(database_url: str) -> AbstractAsyncContextManager[None]:
    """Every campaign row held FOR UPDATE: a write on a campaign waits on the lock, past any
    statement timeout shorter than the block."""
    return held(database_url, "SELECT 1 FROM campaigns FOR UPDATE")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 10 s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def pk(global_id: str | None) -> int:
    """The primary key inside a global ID."""
    decoded = ids.decode(global_id or "")
    assert decoded is not None, global_id
    return decoded[1]


async def due_campaigns(db: asyncpg.Connection, world: World, count: int) -> None:
    """`count` published campaigns (with their publish entries) whose schedule ended yesterday."""
    account, order, audience, po = (pk(x) for x in (world.account, world.order, world.audience, world.po))
    await db.execute(
        """WITH c AS (
             INSERT INTO campaigns (account_id, name, status, step, version, audience_id, budget, start_date,
                                    end_date, order_id, purchase_order_id, published_at)
             SELECT $1, 'due ' || g, 'PUBLISHED', 'REVIEW', 2, $2, 1.00, $3, $4, $5, $6, now()
               FROM generate_series(1, $7) g
             RETURNING id)
           INSERT INTO allocations (account_id, campaign_id, order_id, purchase_order_id, delta, reason, actor)
           SELECT $1, id, $5, $6, 1.00, 'publish', 'storm' FROM c""",
        account,
        audience,
        TODAY - timedelta(10),
        TODAY - timedelta(1),
        order,
        po,
        count,
    )
