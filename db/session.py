"""Engine and session construction from a libpq-style URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def async_url(url: str) -> str:
    """Accept `postgresql://`, `postgres://` or `postgresql+asyncpg://` and return the asyncpg form."""
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme in ("postgresql", "postgres", "postgresql+asyncpg"):
        scheme = "postgresql+asyncpg"
    else:
        raise ValueError(f"DATABASE_URL must be a postgresql:// URL, got scheme {parts.scheme!r}")
    query = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "sslmode":  # libpq's name; asyncpg calls it ssl
            key = "ssl"
        query.append((key, value))
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def plain_url(url: str) -> str:
    """The libpq form (`postgresql://`) asyncpg.connect takes, for connections outside the engine."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
        raise ValueError(f"DATABASE_URL must be a postgresql:// URL, got scheme {parts.scheme!r}")
    return urlunsplit(("postgresql", *parts[1:]))


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or "postgres"


def connection_settings(pooler: bool) -> dict[str, str]:
    """What every connection of the app is started with. Direct, generic plans for prepared
    statements too: a planned query's statement is planned once per connection, not per request
    (its parameters only bind values; a custom plan per request cost W2 four times its execution).
    A transaction pooler passes no such setting on (PgBouncer refuses the connection), and keeps
    no prepared statement anyway."""
    settings = {"application_name": "budgetline", "timezone": "UTC"}
    if not pooler:
        settings["plan_cache_mode"] = "force_generic_plan"
    return settings


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    statement_timeout_ms: int = 5000,
    pooler: bool = False,
) -> AsyncEngine:
    """An engine for `url`. With `pooler` (a transaction-pooling PgBouncer or the like between
    us and PostgreSQL), nothing may outlive a transaction on the server connection: no cached
    prepared statement (asyncpg's and SQLAlchemy's caches off, unique names for the statements
    SQLAlchemy prepares), and the statement timeout set per transaction (`SET LOCAL`, one
    statement more per transaction) instead of once per connection."""
    server_settings = connection_settings(pooler)
    connect_args: dict[str, Any] = {"server_settings": server_settings}
    if pooler:
        connect_args |= {
            "statement_cache_size": 0,
            "prepared_statement_cache_size": 0,
            # The unnamed statement: replaced by the next one, so none is left on a server
            # connection for the pooler's next client (named ones would pile up there).
            "prepared_statement_name_func": lambda: "",
        }
    else:
        server_settings["statement_timeout"] = str(statement_timeout_ms)
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        # No ping per checkout (a round trip per request): a connection found dead raises a
        # disconnect error, which invalidates the whole pool, so the next request reconnects.
        pool_pre_ping=False,
        connect_args=connect_args,
        # A statement's parameters (amounts, names, hashes) never reach an exception's text, so
        # no log line or trace event that records one can hold them.
        hide_parameters=True,
    )
    if pooler:
        timeout = f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}"

        @event.listens_for(engine.sync_engine, "begin")
        def _per_transaction(connection: Any) -> None:
            connection.exec_driver_sql(timeout)

    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def ensure_database(url: str) -> None:
    """Create the database named in `url` if it does not exist (connecting to `postgres`)."""
    import asyncpg

    name = database_name(url)
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"unsupported database name {name!r}")
    maintenance = async_url(with_database(url, "postgres")).replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(maintenance)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


# SQLSTATEs meaning "the server cannot serve right now": connection exceptions (class 08),
# shutdown and start-up (57P01-57P03), too many connections (53300).
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database cannot be reached now (the client should retry), not a bug."""
    import asyncpg
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(exc, asyncpg.PostgresError):  # raised by the driver itself (driver_connection)
        return str(exc.sqlstate or "").startswith(_UNAVAILABLE_SQLSTATES)
    if isinstance(exc, (asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError)):
        return True
    if isinstance(exc, DBAPIError):
        sqlstate = str(getattr(exc.orig, "sqlstate", "") or "")
        return (
            exc.connection_invalidated
            or isinstance(exc, (OperationalError, InterfaceError))
            or sqlstate.startswith(_UNAVAILABLE_SQLSTATES)
        )
    return isinstance(exc, (OSError, ConnectionError, TimeoutError))


# SQLSTATEs meaning "this request waited too long or lost a race; nothing was written": a
# statement or lock timeout, a serialization failure or deadlock (once retries ran out).
_BUSY_SQLSTATES = frozenset({"57014", "55P03", "40001", "40P01"})


def database_busy(exc: BaseException) -> bool:
    """True when `exc` is a timeout or lost race inside PostgreSQL: retryable, not a bug."""
    import asyncpg
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, asyncpg.PostgresError):
        return str(exc.sqlstate or "") in _BUSY_SQLSTATES
    if isinstance(exc, DBAPIError):
        return str(getattr(exc.orig, "sqlstate", "") or "") in _BUSY_SQLSTATES
    return False


async def driver_of(session: AsyncSession) -> tuple[AsyncConnection, Any]:
    """The session's connection and, inside it, its own asyncpg connection (for db/reads.py)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return connection, raw.driver_connection


@asynccontextmanager
async def guarded(connection: AsyncConnection) -> AsyncIterator[None]:
    """Around statements sent through the driver itself, which SQLAlchemy does not see.

    A failure that may leave the connection closed or mid-protocol (a lost server, a cancelled
    request) invalidates it here, so the pool never hands it out again. An error the server
    reports in the normal way leaves it alone.
    """
    import asyncpg

    try:
        yield
    except BaseException as exc:
        if not isinstance(exc, asyncpg.PostgresError) or database_unavailable(exc):
            await connection.invalidate()
        raise


async def _nothing_to_reset(_conn: Any) -> None:
    """A planned read leaves no session state (no lock, cursor, LISTEN or SET): nothing to reset
    when its connection goes back (asyncpg's default sends a statement for it)."""


class ReadPool:
    """The connections of planned reads (budgetline/planner.py): a plain asyncpg pool beside the
    engine's, so a query answered by one statement costs no ORM session at all. Made on first use
    (in the serving event loop), `pool_size` connections at most, with the engine's settings: UTC,
    generic plans, the statement timeout (per connection; behind a transaction pooler no prepared
    statement outlives its use, and the timeout is the client's, `timeout_s`)."""

    def __init__(self, url: str, *, pool_size: int, statement_timeout_ms: int, pooler: bool) -> None:
        self.url = plain_url(url)
        self.pool_size = pool_size
        self.pooler = pooler
        self.timeout_s = statement_timeout_ms / 1000
        self.settings = connection_settings(pooler)
        if not pooler:
            self.settings["statement_timeout"] = str(statement_timeout_ms)
        self._pool: Any = None
        self._lock: Any = None
        # Given to each new connection (asyncpg's add_query_logger): tests count statements so.
        self.query_loggers: list[Any] = []

    async def _init(self, conn: Any) -> None:
        for logger in self.query_loggers:
            conn.add_query_logger(logger)

    async def pool(self) -> Any:
        import asyncio

        import asyncpg

        if self._pool is None:
            self._lock = self._lock or asyncio.Lock()
            async with self._lock:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        self.url,
                        min_size=0,
                        max_size=self.pool_size,
                        server_settings=self.settings,
                        statement_cache_size=0 if self.pooler else 100,
                        # A plan's statement runs to some KB (asyncpg keeps only those under
                        # 15 KB by default): each kept one is prepared once per connection.
                        max_cacheable_statement_size=256 * 1024,
                        max_inactive_connection_lifetime=60,
                        reset=_nothing_to_reset,
                        init=self._init,
                    )
        return self._pool

    @asynccontextmanager
    async def connection(self, timeout_s: float) -> AsyncIterator[Any]:
        """A connection for reads, taken within `timeout_s`. Behind a transaction pooler the reads
        run in a transaction of their own (a statement and its preparation must reach the same
        server connection), with the statement timeout set for it, in the same round trip."""
        pool = await self.pool()
        async with pool.acquire(timeout=timeout_s) as conn:
            if not self.pooler:
                yield conn
                return
            await conn.execute(f"BEGIN; SET LOCAL statement_timeout = {int(self.timeout_s * 1000)}")
            try:
                yield conn
            finally:
                await conn.execute("ROLLBACK")  # reads only: nothing to commit

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
