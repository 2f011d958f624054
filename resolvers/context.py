"""The per-request context: who is asking, one database session, fresh DataLoaders."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from db.idempotency import mark_effect
from db.session import driver_of, guarded
from resolvers import activity
from resolvers.loaders import Loaders

log = logging.getLogger(__name__)

T = TypeVar("T")

ROLES = ("VIEWER", "CAMPAIGN_MANAGER", "ACCOUNT_TEAM", "DELIVERY")
# Keys that belong to no account and read every account: the account team, and DELIVERY (the
# ad-serving system, which may only report spend and settle).
ACCOUNTLESS_ROLES = ("ACCOUNT_TEAM", "DELIVERY")

# SQLSTATEs worth retrying the whole transaction for: serialization failure, deadlock.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
MAX_ATTEMPTS = 5

# The Context whose transact() is running in this task (and the tasks it starts, such as a
# DataLoader's batch): its reads use the session transact already holds instead of waiting
# for the lock transact holds, which would never come.
_TRANSACTING: ContextVar[Context | None] = ContextVar("budgetline_transacting", default=None)


class RequestOver(RuntimeError):
    """A read was asked for after its request had ended."""


@dataclass(frozen=True)
class Principal:
    """The authenticated API key."""

    api_key_id: int
    name: str
    role: str
    account_id: int | None  # None for the account team and DELIVERY keys

    @property
    def is_account_team(self) -> bool:
        return self.role == "ACCOUNT_TEAM"

    @property
    def actor(self) -> str:
        """How the ledger names who did something."""
        return f"api-key:{self.api_key_id} ({self.name})"

    def can_see(self, account_id: int | None) -> bool:
        return self.account_id is None or self.account_id == account_id


@dataclass
class Payload:
    """What a mutation's answer shows of what it wrote, read by `read(asyncpg connection, the
    work's result)` in the mutation's own transaction, after its work (budgetline/payloads.py):
    one answer per committed transaction, in order (JSON bytes; for reportSpends, JSON bytes by
    response key of `results`)."""

    read: Callable[[Any, Any], Awaitable[Any]]
    answers: list[Any] = field(default_factory=list)


@dataclass
class Context:
    session: AsyncSession
    principal: Principal
    request_id: str = ""
    # Set when the request carries an Idempotency-Key: every write records its effect under it.
    idempotency_key: str | None = None
    # For the request log and metrics: "<type>:<root fields>", and the user error codes returned.
    operation: str = "-"
    user_error_codes: list[str] = field(default_factory=list)
    # Secrets this request's response shows (a new API key's): never to be stored anywhere.
    secrets_shown: list[str] = field(default_factory=list)
    # Keys this request revoked: the process forgets them before it answers (other processes
    # hear the revocation's NOTIFY).
    keys_revoked: list[int] = field(default_factory=list)
    # On a WebSocket: the socket's share of the process's events (resolvers.subscriptions.EventSource).
    events: Any = None
    # How a mutation's answer is read (the app's budgetline/payloads.py: `payloads(info)`), and
    # the one the mutation being resolved asked for.
    payloads: Callable[..., Payload] | None = None
    payload: Payload | None = None
    loaders: Loaders = field(init=False)
    # One AsyncSession serves the whole request; GraphQL resolves sibling fields
    # concurrently, so every use of the session takes this lock.
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    # (SQLAlchemy connection, asyncpg connection) of the session, once driver() has asked for it.
    _driver: tuple[Any, Any] | None = field(default=None, init=False)
    # Reads sent and not yet answered (read()); end() waits for them.
    _reads: set[asyncio.Task[Any]] = field(default_factory=set, init=False)
    # Set when the request is over and its connection goes back to the pool (end()).
    _ended: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.forget()

    def forget(self) -> None:
        """Fresh DataLoaders: the next read of anything goes to the database."""
        self.loaders = Loaders(self.read)

    @asynccontextmanager
    async def driver(self) -> AsyncIterator[Any]:
        """The request's asyncpg connection itself, for the plain-SQL reads of db/reads.py:
        the same connection and transaction as the session, without the ORM. Reads use it
        through read(); writes hold the session through transact, for the whole unit."""
        if _TRANSACTING.get() is self:
            connection, driver = await driver_of(self.session)
            async with guarded(connection):
                yield driver
            return
        async with self._lock:
            if self._ended:
                raise RequestOver("this request is over: its connection is no longer its own")
            if self._driver is None:
                self._driver = await driver_of(self.session)
            connection, driver = self._driver
            async with guarded(connection):
                yield driver

    async def read(self, query: Callable[[Any], Awaitable[T]]) -> T:
        """`query(asyncpg connection)` on the request's connection (db/reads.py).

        Once sent, a read runs to its end even if its caller is cancelled (graphql-core cancels
        a field's siblings when one fails): cut short, it would leave the connection mid-protocol
        and lose it. end() waits for such reads before the connection goes back to the pool."""

        async def run() -> T:
            async with self.driver() as conn:
                return await query(conn)

        if _TRANSACTING.get() is self:
            return await run()  # inside transact: a read belongs to the transaction, and ends with it
        task = asyncio.ensure_future(run())
        self._reads.add(task)
        task.add_done_callback(self._reads.discard)
        return await asyncio.shield(task)

    async def end(self) -> None:
        """The request is over: let its reads finish, then nothing more may use its connection
        (a DataLoader batch nobody awaits any more gets RequestOver)."""
        async with self._lock:  # after whoever holds the session now
            self._ended = True
        await self._settle_reads()
        self._driver = None

    async def _settle_reads(self) -> None:
        """Wait for every read sent (read()), whatever its outcome: its caller has it, or left."""
        if self._reads:
            await asyncio.gather(*self._reads, return_exceptions=True)

    async def release(self) -> None:
        """Give the connection back and forget what was read: a subscription between two events
        holds no connection, and its next event reads afresh."""
        await self._settle_reads()
        async with self._lock:
            await self.session.close()
            self.forget()
            self._driver = None

    async def _answer(self, payload: Payload, result: Any) -> Any:
        """The payload of `result`, read in the transaction that wrote it, after its last flush."""
        await self.session.flush()
        connection, driver = await driver_of(self.session)
        async with guarded(connection):
            return await payload.read(driver, result)

    async def transact(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work` in one transaction: all of it commits, or none of it does.

        A serialization failure or deadlock reruns the whole unit a bounded number of times.
        """
        async with self._lock:
            transacting = _TRANSACTING.set(self)
            try:
                return await self._attempts(work)
            finally:
                _TRANSACTING.reset(transacting)

    async def _attempts(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """transact's body: up to MAX_ATTEMPTS transactions, the session's lock held."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if self.session.in_transaction():
                await self.session.rollback()
            activity.forget(self.session)
            answer: Any = None
            try:
                async with self.session.begin():
                    result = await work(self.session)
                    # R20: the trace of this change, in its transaction.
                    await activity.record(
                        self.session,
                        actor=self.principal.actor,
                        request_id=self.request_id,
                        operation=activity.OPERATION.get() or self.operation,
                        result=result,
                    )
                    if self.idempotency_key is not None:
                        await mark_effect(self.session, self.principal.api_key_id, self.idempotency_key)
                    if self.payload is not None:
                        answer = await self._answer(self.payload, result)
            except DBAPIError as exc:
                sqlstate = getattr(exc.orig, "sqlstate", None)
                if sqlstate in RETRYABLE_SQLSTATES and attempt < MAX_ATTEMPTS:
                    log.warning("retrying transaction after SQLSTATE %s (attempt %d)", sqlstate, attempt)
                    await asyncio.sleep(0.005 * attempt)
                    continue
                raise
            finally:
                # Triggers moved totals behind the ORM's back and loaders cached rows:
                # everything read before this write is stale now.
                self.session.expunge_all()
                self.forget()
                self._driver = None  # the transaction gave its connection back
            if self.payload is not None and answer is not None:
                self.payload.answers.append(answer)
            return result
        raise AssertionError("unreachable")
