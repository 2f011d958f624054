"""The floor: a minimal Starlette + asyncpg endpoint that runs the same SQL as Budgetline for
W1 and W2 and returns the same JSON, with no GraphQL at all. Run: uvicorn bench.floor:app."""

from __future__ import annotations

import hashlib
import os
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

CENT = Decimal("0.01")
pool: asyncpg.Pool | None = None


def money(value: Decimal) -> str:
    return f"{value.quantize(CENT):f}"


async def dropdown(conn: asyncpg.Connection, account_id: int) -> dict[str, Any]:
    account = await conn.fetchrow("SELECT id, requires_purchase_order FROM accounts WHERE id = $1", account_id)
    rows = await conn.fetch(
        """SELECT p.id, p.po_number, p.amount, p.allocated_amount, p.draft_amount, o.order_number, o.end_date,
                  o.cancelled_at, p.cancelled_at AS po_cancelled
           FROM purchase_orders p JOIN orders o ON o.id = p.order_id
           WHERE p.account_id = $1 ORDER BY p.id""",
        account["id"],
    )
    return {
        "account": {
            "budgetSources": [
                {
                    "displayName": f"PO {r['po_number']} (Order {r['order_number']})",
                    "amount": money(r["amount"]),
                    "unallocatedAmount": money(max(r["amount"] - r["allocated_amount"], Decimal(0))),
                    "draftAmount": money(r["draft_amount"]),
                }
                for r in rows
                if r["cancelled_at"] is None and r["po_cancelled"] is None
            ]
        }
    }


async def campaign_list(conn: asyncpg.Connection, account_id: int) -> dict[str, Any]:
    account = await conn.fetchrow("SELECT id FROM accounts WHERE id = $1", account_id)
    campaigns = await conn.fetch(
        """SELECT id, name, status, budget, purchase_order_id, audience_id FROM campaigns
           WHERE account_id = $1 ORDER BY id DESC LIMIT 51""",
        account["id"],
    )
    campaigns = campaigns[:50]
    pos = {
        r["id"]: r
        for r in await conn.fetch(
            """SELECT p.id, p.po_number, p.amount, p.allocated_amount, o.order_number
               FROM purchase_orders p JOIN orders o ON o.id = p.order_id WHERE p.id = any($1::bigint[])""",
            list({c["purchase_order_id"] for c in campaigns}),
        )
    }
    audiences = dict(
        await conn.fetch(
            "SELECT id, name FROM audiences WHERE id = any($1::bigint[])", list({c["audience_id"] for c in campaigns})
        )
    )
    edges = []
    for c in campaigns:
        po = pos[c["purchase_order_id"]]
        edges.append(
            {
                "node": {
                    "name": c["name"],
                    "status": c["status"],
                    "budget": money(c["budget"]),
                    "budgetSource": {
                        "displayName": f"PO {po['po_number']} (Order {po['order_number']})",
                        "unallocatedAmount": money(max(po["amount"] - po["allocated_amount"], Decimal(0))),
                    },
                    "audience": {"name": audiences[c["audience_id"]]},
                }
            }
        )
    return {"account": {"campaigns": {"edges": edges}}}


async def graphql(request: Request) -> Response:
    body = orjson.loads(await request.body())
    secret = request.headers.get("authorization", "").removeprefix("Bearer ")
    assert pool is not None
    async with pool.acquire() as conn:
        key = await conn.fetchrow(
            "SELECT id, account_id FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL",
            hashlib.sha256(secret.encode()).digest(),
        )
        if key is None:
            return Response(b'{"errors":[{"message":"unauthenticated"}]}', status_code=401)
        account_id = int(body["variables"]["id"])
        data = await (campaign_list if "campaigns" in body["query"] else dropdown)(conn, account_id)
    return Response(orjson.dumps({"data": data}), media_type="application/json")


@asynccontextmanager
async def lifespan(_: Starlette) -> Any:
    global pool
    pool = await asyncpg.create_pool(os.environ["FLOOR_DATABASE_URL"], min_size=2, max_size=10)
    yield
    await pool.close()


app = Starlette(routes=[Route("/graphql", graphql, methods=["POST"])], lifespan=lifespan)
