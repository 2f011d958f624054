"""Bootstrap keys from the command line (no principal exists yet on a fresh installation)."""

from __future__ import annotations

from db.session import create_engine, session_factory
from resolvers import api_keys, ids
from resolvers.errors import UserError


async def create_api_key(url: str, *, name: str, role: str, account_id: str | None) -> str:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with session_factory(engine)() as session, session.begin():
            from db.models import AccountRow

            account_pk: int | None = None
            try:
                api_keys.check_role(role, account_id is not None)
                if account_id is not None:
                    _, account_pk = ids.expect(account_id, "account", "Account")
                    if await session.get(AccountRow, account_pk) is None:
                        raise UserError(f"no account {account_id}", "account")
            except UserError as exc:
                raise ValueError(exc.message) from exc
            issued = await api_keys.insert_key(session, name=name, role=role, account_id=account_pk)
            assert issued.secret is not None
            return issued.secret
    finally:
        await engine.dispose()
