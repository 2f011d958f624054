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
    server_settings = {"application_name": "budgetline", "timezone": "UTC"}
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
