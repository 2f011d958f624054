"""API keys: random secrets, stored only as a SHA-256 hash, revocable at once."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db import reads
from db.models import AccountRow, ApiKeyRow
from db.reads import Record
from db.session import driver_of, guarded
from resolvers import ids, validation
from resolvers.access import get_account_for_write, require_account_team
from resolvers.context import ACCOUNTLESS_ROLES, ROLES, Context, Principal
from resolvers.errors import InvalidInput, NotFound
from resolvers.pagination import Page, check_first, paginate

SECRET_PREFIX = "bl_"


@dataclass
class IssuedKey:
    row: ApiKeyRow
    secret: str | None  # shown once, on issue


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> bytes:
    # Secrets carry 256 random bits, so a plain SHA-256 is enough: no brute force can
    # find one, and a lookup by hash compares digests inside PostgreSQL's index.
    return hashlib.sha256(secret.encode()).digest()


async def authenticate(session: AsyncSession, secret: str) -> Principal | None:
    """The principal of a valid, unrevoked key; None otherwise. Read through the driver, on the
    session's own connection: no ORM work, and no transaction of its own."""
    connection, driver = await driver_of(session)
    async with guarded(connection):
        return await principal_of(driver, secret)


async def principal_of(conn: Any, secret: str) -> Principal | None:
    """authenticate, on an asyncpg connection (planned reads have no session)."""
    if not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
        return None
    digest = hash_secret(secret)
    row = await reads.api_key(conn, digest)
    if row is None or not secrets.compare_digest(row["secret_hash"], digest):
        return None
    return Principal(api_key_id=row["id"], name=row["name"], role=row["role"], account_id=row["account_id"])


async def insert_key(session: AsyncSession, *, name: str, role: str, account_id: int | None) -> IssuedKey:
    secret = new_secret()
    row = ApiKeyRow(name=name, role=role, account_id=account_id, secret_hash=hash_secret(secret))
    session.add(row)
    await session.flush()
    return IssuedKey(row=row, secret=secret)


def _article(role: str) -> str:
    """ "an ACCOUNT_TEAM key", "a VIEWER key"."""
    return "an" if role[:1] in "AEIOU" else "a"


def check_role(role: str, has_account: bool) -> None:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", "role")
    if role in ACCOUNTLESS_ROLES and has_account:
        raise InvalidInput(f"{_article(role)} {role} key belongs to no account: leave accountId out", "accountId")
    if role not in ACCOUNTLESS_ROLES and not has_account:
        raise InvalidInput(f"{_article(role)} {role} key needs the accountId it belongs to", "accountId")


async def issue(ctx: Context, *, name: str, role: str, account_id: str | None) -> IssuedKey:
    require_account_team(ctx.principal)
    clean = validation.name(name, "name")
    check_role(role, account_id is not None)

    async def work(session: AsyncSession) -> IssuedKey:
        account: AccountRow | None = None
        if account_id is not None:
            account = await get_account_for_write(session, ctx.principal, account_id)
        return await insert_key(session, name=clean, role=role, account_id=account.id if account else None)

    issued = await ctx.transact(work)
    assert issued.secret is not None
    # The response shows it once; nothing that keeps responses (idempotency) may keep it.
    ctx.secrets_shown.append(issued.secret)
    return issued


async def revoke(ctx: Context, *, api_key_id: str) -> ApiKeyRow:
    require_account_team(ctx.principal)

    async def work(session: AsyncSession) -> ApiKeyRow:
        row = await get_api_key(session, api_key_id)
        if row.revoked_at is None:
            row.revoked_at = datetime.now(UTC)
            await session.flush()
        return row

    revoked = await ctx.transact(work)
    ctx.keys_revoked.append(revoked.id)
    return revoked


async def page(ctx: Context, first: int, after: str | None) -> Page[Record]:
    """Query.apiKeys: every key, newest first, for the account team; no key sees any other's."""
    if not ctx.principal.is_account_team:
        check_first(first)
        return Page(items=[], cursors=[], has_next_page=False, count=_none)
    return await paginate(ctx.read, ApiKeyRow, {}, first, after)


async def _none() -> int:
    return 0


async def get_api_key(session: AsyncSession, api_key_id: str, field: str = "apiKeyId") -> ApiKeyRow:
    """Keys belong to the account team's business only: the caller has checked the role."""
    _, pk = ids.expect(api_key_id, field, "ApiKey")
    row = await session.get(ApiKeyRow, pk)
    if row is None:
        raise NotFound(f"no API key with this {field}", field)
    return row
