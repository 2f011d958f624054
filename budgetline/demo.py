"""Demo data for `make run`: both kinds of account, every source status, drafts and published
campaigns. Loaded through the same resolvers as the API, so the demo obeys every rule."""

from __future__ import annotations

import json
import os
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from budgetline.settings import Settings
from db.models import AccountRow
from db.session import create_engine, session_factory
from resolvers import accounts, api_keys, audiences, budget_sources, campaigns, ids
from resolvers.campaigns import CampaignChanges
from resolvers.context import Context, Principal

PO_ACCOUNT = "Northwind Outdoor (demo)"
ORDER_ACCOUNT = "Contoso Coffee (demo)"
KEYS_FILE = "demo-keys.json"


async def load(url: str, settings: Settings, *, host: str, port: int) -> None:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    sessions = session_factory(engine)
    keys_path = Path(settings.data_dir) / KEYS_FILE
    try:
        async with sessions() as session:
            existing = await session.scalar(select(AccountRow.id).where(AccountRow.name == PO_ACCOUNT))
            seed = Principal(api_key_id=0, name="demo seed", role="ACCOUNT_TEAM", account_id=None)
            ctx = Context(session=session, principal=seed)
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
    finally:
        await engine.dispose()
    _print_welcome(keys, host, port)


async def _demo_accounts(ctx: Context) -> dict[str, int]:
    rows = await accounts.list_all(ctx)
    return {row.name: row.id for row in rows if row.name in (PO_ACCOUNT, ORDER_ACCOUNT)}


async def _seed(ctx: Context) -> list[dict[str, str]]:
    this_year = date.today().year
    term = (date(this_year, 1, 1), date(this_year + 1, 12, 31))
    past = (date(this_year - 2, 1, 1), date(this_year - 2, 12, 31))

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
    await budget_sources.create_order(
        ctx,
        account_id=co,
        order_number="Q-000201",
        amount=Decimal("15000.00"),
        currency="EUR",
        start_date=term[0],
        end_date=term[1],
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

    for account_id, source, schedule in (
        (nw, ids.encode("PurchaseOrder", po1.id), term),
        (co, ids.encode("Order", q200.id), term),
    ):
        hikers = await audiences.create(ctx, account_id=account_id, name="Weekend hikers")
        await audiences.create(ctx, account_id=account_id, name="Coffee lovers 25-40")
        audience_id = ids.encode("Audience", hikers.id)
        await _campaign(ctx, account_id, "Spring launch", audience_id, source, "12500.00", schedule, publish=True)
        await _campaign(ctx, account_id, "Summer teaser", audience_id, source, "4000.00", schedule, publish=False)
        await campaigns.create_draft(ctx, account_id=account_id, name="Autumn ideas", audience_id=None)
    return await _issue_keys(ctx, {PO_ACCOUNT: northwind.id, ORDER_ACCOUNT: contoso.id})


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
) -> None:
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
    return keys


def _print_welcome(keys: list[dict[str, str]], host: str, port: int) -> None:
    url = f"http://{host}:{port}/graphql"
    print(f"\nBudgetline is starting: open GraphiQL at {url}")
    print('Set the header {"Authorization": "Bearer <secret>"} in GraphiQL\'s Headers tab. Demo keys:')
    for key in keys:
        print(f"  {key['role']:<17} {key['account']:<28} {key['secret']}")
    account_id = next((k["accountId"] for k in keys if k["role"] == "CAMPAIGN_MANAGER"), "")
    print("\nA first query (the step-2 drop-down):")
    print(
        f'  {{ account(id: "{account_id}") {{ name requiresPurchaseOrder budgetSources '
        "{ displayName amount unallocatedAmount draftAmount currency status selectable } } }"
    )
    print()
