"""Demo data for `make run`: both kinds of account, every source status, drafts, and campaigns in
every state after publishing (delivering, paused, ended, settled with its unspent budget
returned). Loaded through the same resolvers as the API, so the demo obeys every rule.

The dates are fixed, so that docs/tutorial.md (run by tests/test_tutorial.py) shows the same
responses on every fresh demo, whatever the day: the current orders run from 2026 to 2075 (a
long framework agreement), the old ones ended in 2024 (EXPIRED), and the spend was reported on
days of 2026 that are past for good."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import select

from budgetline.graphiql import DemoKey
from budgetline.settings import Settings
from db.models import AccountRow, ApiKeyRow, AudienceRow
from db.session import create_engine, session_factory
from resolvers import (
    accounts,
    activity,
    api_keys,
    audiences,
    budget_sources,
    campaigns,
    change_requests,
    ids,
    spend,
)
from resolvers.campaigns import CampaignChanges
from resolvers.context import Context, Principal

PO_ACCOUNT = "Northwind Outdoor (demo)"
ORDER_ACCOUNT = "Contoso Coffee (demo)"
KEYS_FILE = "demo-keys.json"
TERM = (date(2026, 1, 1), date(2075, 12, 31))
PAST_TERM = (date(2024, 1, 1), date(2024, 12, 31))
SPRING = (date(2027, 3, 1), date(2027, 5, 31))
SUMMER = (date(2027, 6, 1), date(2027, 8, 31))
ALWAYS_ON = (date(2026, 1, 1), date(2075, 12, 31))
WINTER = (date(2026, 1, 1), date(2026, 3, 31))
NEW_YEAR = (date(2026, 1, 1), date(2026, 1, 31))


@dataclass(frozen=True)
class DemoAccount:
    name: str
    id: str
    requires_purchase_order: bool
    audiences: list[tuple[str, str]]  # (name, id)


@dataclass(frozen=True)
class Demo:
    """What a newcomer needs to start: the accounts with their IDs, and a key per role."""

    accounts: list[DemoAccount]
    keys: list[dict[str, str]]

    def graphiql_keys(self) -> list[DemoKey]:
        """The keys as the GraphiQL page offers them (one link each)."""
        return [DemoKey(k["role"], k["account"], k.get("accountId"), k["secret"]) for k in self.keys]


async def load(url: str, settings: Settings) -> Demo:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    sessions = session_factory(engine)
    keys_path = Path(settings.data_dir) / KEYS_FILE
    try:
        async with sessions() as session:
            existing = await session.scalar(select(AccountRow.id).where(AccountRow.name == PO_ACCOUNT))
            seed = Principal(api_key_id=0, name="demo seed", role="ACCOUNT_TEAM", account_id=None)
            ctx = Context(session=session, principal=seed)
            operation = activity.OPERATION.set("loadDemo")  # what the trace (R20) says made the demo's rows
            if existing is None:
                keys = await _seed(ctx)
                keys_path.parent.mkdir(parents=True, exist_ok=True)
                keys_path.write_text(json.dumps(keys, indent=2))
                os.chmod(keys_path, 0o600)
                print("demo data loaded")
            elif keys_path.exists():
                keys = json.loads(keys_path.read_text())
                print("demo data already loaded")
            else:
                keys = await _issue_keys(ctx, await _demo_accounts(ctx))
                keys_path.write_text(json.dumps(keys, indent=2))
                print("demo data already loaded; issued new demo keys")
            demo_accounts = await _describe(ctx)
            activity.OPERATION.reset(operation)
    finally:
        await engine.dispose()
    return Demo(demo_accounts, keys)


async def _describe(ctx: Context) -> list[DemoAccount]:
    described = []
    for name, pk in (await _demo_accounts(ctx)).items():
        row = await ctx.session.get(AccountRow, pk)
        assert row is not None
        found = await ctx.session.scalars(
            select(AudienceRow).where(AudienceRow.account_id == pk).order_by(AudienceRow.id)
        )
        audience_list = [(a.name, ids.encode("Audience", a.id)) for a in found]
        described.append(DemoAccount(name, ids.encode("Account", pk), row.requires_purchase_order, audience_list))
    return sorted(described, key=lambda a: a.id)


async def _demo_accounts(ctx: Context) -> dict[str, int]:
    rows = await accounts.list_all(ctx)
    return {row["name"]: row["id"] for row in rows if row["name"] in (PO_ACCOUNT, ORDER_ACCOUNT)}


async def _seed(ctx: Context) -> list[dict[str, str]]:
    term, past = TERM, PAST_TERM

    northwind = await accounts.create(ctx, name=PO_ACCOUNT, requires_purchase_order=True)
    contoso = await accounts.create(ctx, name=ORDER_ACCOUNT, requires_purchase_order=False)
    nw, co = ids.encode("Account", northwind.id), ids.encode("Account", contoso.id)

    q123 = await budget_sources.create_order(
        ctx,
        account_id=nw,
        order_number="Q-000123",
        amount=Decimal("100000.00"),
        currency="USD",
        start_date=term[0],
        end_date=term[1],
    )
    q_old = await budget_sources.create_order(
        ctx,
        account_id=nw,
        order_number="Q-000042",
        amount=Decimal("20000.00"),
        currency="USD",
        start_date=past[0],
        end_date=past[1],
    )
    q123_id = ids.encode("Order", q123.id)
    po1 = await budget_sources.create_purchase_order(
        ctx, order_id=q123_id, po_number="4500012345", amount=Decimal("40000.00")
    )
    await budget_sources.create_purchase_order(
        ctx, order_id=q123_id, po_number="4500012346", amount=Decimal("25000.00")
    )
    po_cancelled = await budget_sources.create_purchase_order(
        ctx, order_id=q123_id, po_number="4500012399", amount=Decimal("5000.00")
    )
    await budget_sources.cancel(ctx, budget_source_id=ids.encode("PurchaseOrder", po_cancelled.id))
    await budget_sources.create_purchase_order(
        ctx, order_id=ids.encode("Order", q_old.id), po_number="4500009999", amount=Decimal("20000.00")
    )

    q200 = await budget_sources.create_order(
        ctx,
        account_id=co,
        order_number="Q-000200",
        amount=Decimal("50000.00"),
        currency="EUR",
        start_date=term[0],
        end_date=term[1],
    )
    q201 = await budget_sources.create_order(
        ctx,
        account_id=co,
        order_number="Q-000201",
        amount=Decimal("15000.00"),
        currency="EUR",
        start_date=term[0],
        end_date=term[1],
    )
    # Contoso pays by order, but its finance team once sent a PO number for Q-000201: recorded,
    # never selectable in an account without POs (the tutorial's BUDGET_SOURCE_NOT_SELECTABLE).
    await budget_sources.create_purchase_order(
        ctx, order_id=ids.encode("Order", q201.id), po_number="CO-7700", amount=Decimal("5000.00")
    )
    await budget_sources.create_order(
        ctx,
        account_id=co,
        order_number="Q-000150",
        amount=Decimal("8000.00"),
        currency="EUR",
        start_date=past[0],
        end_date=past[1],
    )

    hikers_of: dict[str, str] = {}
    for account_id, source in ((nw, ids.encode("PurchaseOrder", po1.id)), (co, ids.encode("Order", q200.id))):
        hikers = await audiences.create(ctx, account_id=account_id, name="Weekend hikers")
        hikers_of[account_id] = ids.encode("Audience", hikers.id)
        await audiences.create(ctx, account_id=account_id, name="Coffee lovers 25-40")
        audience_id = ids.encode("Audience", hikers.id)
        await _campaign(ctx, account_id, "Spring launch", audience_id, source, "12500.00", SPRING, publish=True)
        await _campaign(ctx, account_id, "Summer teaser", audience_id, source, "4000.00", SUMMER, publish=False)
        await campaigns.create_draft(ctx, account_id=account_id, name="Autumn ideas", audience_id=None)
    await _after_publishing(ctx, nw, hikers_of[nw], ids.encode("PurchaseOrder", po1.id))
    keys = await _issue_keys(ctx, {PO_ACCOUNT: northwind.id, ORDER_ACCOUNT: contoso.id})
    await _account_team_side(ctx, northwind.id, q123_id, ids.encode("PurchaseOrder", po1.id))
    return keys


async def _account_team_side(ctx: Context, northwind: int, order: str, po1: str) -> None:
    """Section 8 on the demo: an amendment the account team made, and a request that waits for it."""
    await budget_sources.amend_order(
        ctx, order_id=order, amount=Decimal("110000.00"), end_date=None, note="Signed amendment #1: +10,000 for Q3"
    )
    manager = await ctx.session.scalar(
        select(ApiKeyRow).where(ApiKeyRow.account_id == northwind, ApiKeyRow.role == "CAMPAIGN_MANAGER")
    )
    assert manager is not None
    as_manager = Context(
        session=ctx.session,
        principal=Principal(api_key_id=manager.id, name=manager.name, role=manager.role, account_id=northwind),
    )
    await change_requests.request(
        as_manager,
        budget_source_id=po1,
        amount=Decimal("45000.00"),
        end_date=None,
        note="Spring launch is doing well: 5,000 more on this PO for the summer, please",
    )


async def _after_publishing(ctx: Context, account_id: str, audience_id: str, source_id: str) -> None:
    """Northwind's campaigns after publishing: delivering (with a restated day), paused, ended
    with its unspent budget pending, and settled with it returned to the PO."""

    async def published(name: str, budget: str, schedule: tuple[date, date], spent: list[tuple[str, str]]) -> str:
        cid = await _campaign(ctx, account_id, name, audience_id, source_id, budget, schedule, publish=True)
        for day, amount in spent:
            await spend.report(ctx, spend.SpendReport(cid, date.fromisoformat(day), Decimal(amount)))
        return cid

    await published(
        "Always-on search",
        "6000.00",
        ALWAYS_ON,
        [("2026-01-05", "120.00"), ("2026-01-06", "90.00"), ("2026-01-06", "95.50"), ("2026-01-07", "130.25")],
    )
    paused = await published("Holiday gifts", "3000.00", ALWAYS_ON, [("2026-01-10", "400.00")])
    await campaigns.transition(ctx, action="pause", campaign_id=paused, expected_version=None)
    winter = await published("Winter sale", "5000.00", WINTER, [("2026-02-01", "1500.00"), ("2026-02-02", "1250.00")])
    await campaigns.transition(ctx, action="end", campaign_id=winter, expected_version=None)
    new_year = await published(
        "New Year promo", "2000.00", NEW_YEAR, [("2026-01-02", "800.00"), ("2026-01-03", "700.00")]
    )
    await campaigns.transition(ctx, action="end", campaign_id=new_year, expected_version=None)
    await campaigns.settle(ctx, campaign_id=new_year)


async def _campaign(
    ctx: Context,
    account_id: str,
    name: str,
    audience_id: str,
    source_id: str,
    budget: str,
    schedule: tuple[date, date],
    *,
    publish: bool,
) -> str:
    row = await campaigns.create_draft(ctx, account_id=account_id, name=name, audience_id=audience_id)
    cid = ids.encode("Campaign", row.id)
    await campaigns.advance(ctx, campaign_id=cid, expected_version=None)
    changes = CampaignChanges(
        given=frozenset({"budget", "startDate", "endDate"}),
        budget=Decimal(budget),
        start_date=schedule[0],
        end_date=schedule[1],
    )
    await campaigns.update(ctx, campaign_id=cid, expected_version=None, changes=changes)
    await campaigns.assign_budget_source(ctx, campaign_id=cid, budget_source_id=source_id, expected_version=None)
    await campaigns.advance(ctx, campaign_id=cid, expected_version=None)
    if publish:
        await campaigns.publish(ctx, campaign_id=cid, expected_version=None)
    return cid


async def _issue_keys(ctx: Context, demo_accounts: dict[str, int]) -> list[dict[str, str]]:
    keys = []
    team = await api_keys.issue(ctx, name="demo account team", role="ACCOUNT_TEAM", account_id=None)
    keys.append({"role": "ACCOUNT_TEAM", "account": "(all accounts)", "secret": team.secret or ""})
    for name, pk in demo_accounts.items():
        for role in ("CAMPAIGN_MANAGER", "VIEWER"):
            issued = await api_keys.issue(
                ctx, name=f"demo {role.lower()} of {name}", role=role, account_id=ids.encode("Account", pk)
            )
            keys.append(
                {
                    "role": role,
                    "account": name,
                    "secret": issued.secret or "",
                    "accountId": ids.encode("Account", pk),
                }
            )
    delivery = await api_keys.issue(ctx, name="demo ad server", role="DELIVERY", account_id=None)
    keys.append({"role": "DELIVERY", "account": "(all accounts)", "secret": delivery.secret or ""})
    return keys


FIRST_QUERY = """query Dropdown($account: ID!) {
  account(id: $account) {
    name
    requiresPurchaseOrder
    budgetSources { id displayName amount unallocatedAmount draftAmount currency status selectable }
  }
}"""


def graphiql_link(base_url: str, secret: str, account_id: str) -> str:
    """GraphiQL with the first query, its variables and the key's header filled in."""
    params = {
        "q": FIRST_QUERY,
        "variables": json.dumps({"account": account_id}),
        "headers": json.dumps({"Authorization": f"Bearer {secret}"}),
    }
    return base_url + "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())


def describe(demo: Demo) -> str:
    """The demo's accounts (with their IDs and audiences) and keys, as printed by the CLI."""
    lines = ["Demo accounts:"]
    for account in demo.accounts:
        kind = "pays with POs" if account.requires_purchase_order else "pays with orders (no POs)"
        lines.append(f"  {account.name:<26} id {account.id:<14} {kind}")
        lines.append("    audiences: " + ", ".join(f"{name} {aid}" for name, aid in account.audiences))
    lines.append('Demo keys (send "Authorization: Bearer <secret>"):')
    for key in demo.keys:
        lines.append(f"  {key['role']:<17} {key['account']:<26} {key['secret']}")
    return "\n".join(lines)


def welcome(demo: Demo, base_url: str) -> str:
    """What `serve --demo` prints once it listens: where to click first, then the details."""
    manager = next(k for k in demo.keys if k["role"] == "CAMPAIGN_MANAGER")
    return "\n".join(
        [
            "",
            f"Budgetline is ready: {base_url}",
            "Open this link: GraphiQL with a first query (the step-2 drop-down of "
            f"{manager['account']}) and its manager's key already in the Headers tab:",
            "  " + graphiql_link(base_url, manager["secret"], manager["accountId"]),
            "",
            describe(demo),
            "",
            "Next: docs/tutorial.md walks through the wizard with these IDs. Ctrl-C stops the server.",
            "",
        ]
    )
