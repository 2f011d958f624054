"""Keys from the command line: the first one of a fresh installation (no principal exists yet),
and listing or revoking them where the API cannot be reached."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from db.models import AccountRow, ApiKeyRow
from db.session import create_engine, session_factory
from resolvers import api_keys, ids, validation
from resolvers.errors import UserError


async def issue_api_key(url: str, *, name: str, role: str, account_id: str | None) -> tuple[str, str]:
    """A new key: (its global ID, its secret). ValueError names what is wrong with the request."""
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with session_factory(engine)() as session, session.begin():
            account_pk: int | None = None
            try:
                clean = validation.name(name, "name")
                api_keys.check_role(role, account_id is not None)
                if account_id is not None:
                    _, account_pk = ids.expect(account_id, "account", "Account")
                    if await session.get(AccountRow, account_pk) is None:
                        raise UserError(f"no account {account_id}", "account")
            except UserError as exc:
                raise ValueError(exc.message) from exc
            issued = await api_keys.insert_key(session, name=clean, role=role, account_id=account_pk)
            assert issued.secret is not None
            return ids.encode("ApiKey", issued.row.id), issued.secret
    finally:
        await engine.dispose()


async def create_api_key(url: str, *, name: str, role: str, account_id: str | None) -> str:
    """A new key's secret (tests and the benchmark take keys so)."""
    return (await issue_api_key(url, name=name, role=role, account_id=account_id))[1]


@dataclass(frozen=True)
class KeyLine:
    id: str
    name: str
    role: str
    account: str  # the account's global ID and name, or "-" for the account team and DELIVERY
    created_at: datetime
    revoked_at: datetime | None


async def list_api_keys(url: str) -> list[KeyLine]:
    """Every key, oldest first, never its secret (only its hash is stored anyway)."""
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(
                select(ApiKeyRow, AccountRow.name)
                .outerjoin(AccountRow, AccountRow.id == ApiKeyRow.account_id)
                .order_by(ApiKeyRow.id)
            )
            return [
                KeyLine(
                    id=ids.encode("ApiKey", key.id),
                    name=key.name,
                    role=key.role,
                    account=f"{ids.encode('Account', key.account_id)} ({account})" if key.account_id else "-",
                    created_at=key.created_at,
                    revoked_at=key.revoked_at,
                )
                for key, account in rows
            ]
    finally:
        await engine.dispose()


async def revoke_api_key(url: str, key_id: str) -> datetime:
    """Revoke a key by its global ID (ValueError if there is none): refused at once by every
    server process (its revocation is notified), and its subscriptions closed."""
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with session_factory(engine)() as session, session.begin():
            try:
                row = await api_keys.get_api_key(session, key_id, field="ID")
            except UserError as exc:
                raise ValueError(exc.message) from exc
            if row.revoked_at is None:
                row.revoked_at = datetime.now(UTC)
            return row.revoked_at
    finally:
        await engine.dispose()
