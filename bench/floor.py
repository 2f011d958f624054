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

from db import reads
from resolvers import budget_sources

CENT = Decimal("0.01")
pool: asyncpg.Pool | None = None


def money(value: Decimal) -> str:
    return f"{value.quantize(CENT):f}"


async def dropdown(conn: asyncpg.Connection, account_id: int) -> dict[str, Any]:
    """The drop-down with the server's own SQL (db/reads.py) and rules (resolvers/budget_sources.py):
    only the GraphQL machinery is missing, so the floor cannot drift from what the API answers."""
    account, found = await reads.account_with_sources(conn, account_id)
    assert account is not None
    sources = budget_sources.dropdown(found, account["requires_purchase_order"], include_inactive=False)
    return {
        "account": {
            "budgetSources": [
                {
                    "displayName": budget_sources.display_name(r),
                    "amount": money(r["amount"]),
                    "unallocatedAmount": money(budget_sources.unallocated(r)),
                    "draftAmount": money(r["draft_amount"]),
                }
                for r in sources
            ]
        }
    }


async def campaign_list(conn: asyncpg.Connection, account_id: int) -> dict[str, Any]:
    """W2's campaign page (50, newest first) with the server's own SQL: three statements."""
    campaigns = await reads.campaign_page(conn, "account_id", account_id, None, None, 50)
    pos = {r["id"]: r for r in await reads.purchase_orders(conn, sorted({c["purchase_order_id"] for c in campaigns}))}
    audiences = {r["id"]: r["name"] for r in await reads.audiences(conn, sorted({c["audience_id"] for c in campaigns}))}
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
                        "displayName": budget_sources.display_name(po),
                        "unallocatedAmount": money(budget_sources.unallocated(po)),
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
        key = await reads.api_key(conn, hashlib.sha256(secret.encode()).digest())
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
