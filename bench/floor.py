"""The floor: a minimal Starlette + asyncpg endpoint that runs the planner's own statement for
W1, W2 and W4 (budgetline/planner.py, each planned once) and writes the bytes PostgreSQL returns,
with no GraphQL at run time: no parsing, validation, binding or executor. What Budgetline adds
on top of it is its whole request path. Run: uvicorn bench.floor:app."""

from __future__ import annotations

import hashlib
import os
from contextlib import asynccontextmanager
from functools import cache
from typing import Any

import asyncpg
import orjson
from graphql import parse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from budgetline.planner import Plan, plan_document
from db import reads
from resolvers.context import Principal
from schema import graphql_schema, schema

pool: asyncpg.Pool | None = None
keys: dict[bytes, Principal] = {}
GRAPHQL = graphql_schema(schema)


@cache
def plan(query: str) -> Plan:
    return plan_document(GRAPHQL, parse(query), None)


async def answer(conn: asyncpg.Connection, query: str, principal: Principal, variables: dict[str, Any]) -> bytes:
    """The `data` of `query` with these variables, as PostgreSQL writes it."""
    found = plan(query)
    return await found.data(conn, found.bind(GRAPHQL, principal, variables))


async def graphql(request: Request) -> Response:
    body = orjson.loads(await request.body())
    digest = hashlib.sha256(request.headers.get("authorization", "").removeprefix("Bearer ").encode()).digest()
    assert pool is not None
    async with pool.acquire() as conn:
        principal = keys.get(digest)
        if principal is None:  # like Budgetline's key cache: the key is read once
            key = await reads.api_key(conn, digest)
            if key is None:
                return Response(b'{"errors":[{"message":"unauthenticated"}]}', status_code=401)
            principal = keys[digest] = Principal(key["id"], key["name"], key["role"], key["account_id"])
        data = await answer(conn, body["query"], principal, body["variables"])
    return Response(b'{"data":' + data + b"}", media_type="application/json")


async def _nothing_to_reset(_conn: asyncpg.Connection) -> None:
    """The floor leaves no session state on a connection."""


@asynccontextmanager
async def lifespan(_: Starlette) -> Any:
    global pool
    pool = await asyncpg.create_pool(
        os.environ["FLOOR_DATABASE_URL"],
        min_size=2,
        max_size=10,
        server_settings={"timezone": "UTC", "plan_cache_mode": "force_generic_plan"},
        reset=_nothing_to_reset,  # as Budgetline's read pool: no statement when a connection goes back
    )
    yield
    await pool.close()


app = Starlette(routes=[Route("/graphql", graphql, methods=["POST"])], lifespan=lifespan)
