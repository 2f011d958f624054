"""Test harness: a real PostgreSQL (embedded, or DATABASE_URL's server), migrated once into a
template database; every test gets a fresh database cloned from it, dropped afterwards. A
thread of its own clones them ahead and drops them behind (`Databases`), so no test waits for
either (some 170 ms a test, a tenth of the suite)."""

from __future__ import annotations

import asyncio
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import event

from budgetline.app import create_app
from budgetline.keys import create_api_key
from db import embedded, migrate
from db.session import async_url, with_database
from tests import pooler
from tests.helpers import Api, stop_process

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA_DIR = ROOT / ".budgetline-test"
TEMPLATE = f"bl_template_{os.getpid()}"
# A document the planner fails on unexpectedly answers 500 in tests (in production: logged at
# ERROR, and graphql-core answers), so no test passes on a silent hand-over.
os.environ.setdefault("BUDGETLINE_PLANNER_STRICT", "true")


# CI (.ci/run sets BUDGETLINE_CI=1) installs everything the suite needs, so a skipped test there
# means a check silently did not run: the session fails. The one exception is what no package
# registry this project may use provides (Docker Compose v2 is not in Debian 12); the test
# checks the compose file's structure itself and says so in its skip reason.
CI_CANNOT_PROVIDE = ("Docker Compose is not installed",)
_skipped_in_ci: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if os.environ.get("BUDGETLINE_CI") == "1" and report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if not reason.removeprefix("Skipped: ").startswith(CI_CANNOT_PROVIDE):
            _skipped_in_ci.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped_in_ci:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _skipped_in_ci:
        terminalreporter.section("skipped in CI (BUDGETLINE_CI=1): every check must run")
        for line in _skipped_in_ci:
            terminalreporter.write_line(line)


def plain_url(url: str) -> str:
    """asyncpg.connect wants postgresql://."""
    return async_url(url).replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """The maintenance URL of the PostgreSQL server every test uses (tests/pooler.py puts
    PgBouncer in front of it for the apps, when BUDGETLINE_TEST_POOLER=pgbouncer)."""
    if os.environ.get("DATABASE_URL"):
        url = with_database(os.environ["DATABASE_URL"], "postgres")
        if os.environ.get("BUDGETLINE_TEST_POOLER") == "pgbouncer":
            pooler.ACTIVE = pooler.PgBouncer(url)
        try:
            yield url
        finally:
            if pooler.ACTIVE is not None:
                pooler.ACTIVE.stop()
                pooler.ACTIVE = None
        return
    if os.environ.get("BUDGETLINE_TEST_POOLER"):
        raise RuntimeError("BUDGETLINE_TEST_POOLER needs DATABASE_URL (a TCP server for PgBouncer to reach)")
    server = embedded.start(TEST_DATA_DIR)
    try:
        yield server.url
    finally:
        server.stop()


async def admin(server: str, sql: str) -> None:
    conn = await asyncpg.connect(plain_url(server))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


class Databases:
    """Databases cloned from the template before the tests that take them, and dropped after
    them, by one thread with its own connection to the server (never the template's: a clone
    needs the template unused). `AHEAD` wait ready. A failure to connect or to clone reaches
    the test that takes the database; a failure to drop fails the session at its end."""

    AHEAD = 2

    def __init__(self, server_url: str, template: str) -> None:
        self.server_url = server_url
        self.template = template
        self.drop_failures: list[str] = []
        self._jobs: queue.SimpleQueue[tuple[str, str] | None] = queue.SimpleQueue()
        self._ready: queue.SimpleQueue[str | BaseException] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="test-databases", daemon=True)
        self._thread.start()
        for _ in range(self.AHEAD):
            self._clone()

    def take(self) -> str:
        """A fresh database's URL; another is cloned in its place, whatever happened to this one."""
        self._clone()
        found = self._ready.get(timeout=120)
        if isinstance(found, BaseException):
            raise RuntimeError(f"no test database: {found!r}") from found
        return with_database(self.server_url, found)

    def drop(self, url: str) -> None:
        self._jobs.put(("DROP", url.rsplit("/", 1)[1].split("?")[0]))

    def close(self) -> None:
        """Drops the databases still waiting, once every job before is done."""
        self._jobs.put(None)
        self._thread.join(timeout=120)
        if self.drop_failures:
            raise RuntimeError(f"test databases not dropped: {self.drop_failures}")

    def _clone(self) -> None:
        self._jobs.put(("CREATE", f"bl_test_{uuid.uuid4().hex[:12]}"))

    def _work(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            conn = loop.run_until_complete(asyncpg.connect(plain_url(self.server_url)))
        except Exception as error:  # every taker sees it
            while (job := self._jobs.get()) is not None:
                if job[0] == "CREATE":
                    self._ready.put(error)
            loop.close()
            return
        waiting: list[str] = []
        try:
            while (job := self._jobs.get()) is not None:
                kind, name = job
                if kind == "CREATE":
                    try:
                        loop.run_until_complete(conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
                    except Exception as error:  # the taker sees it
                        self._ready.put(error)
                        continue
                    waiting.append(name)
                    self._ready.put(name)
                    continue
                if name in waiting:
                    waiting.remove(name)
                try:
                    loop.run_until_complete(conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                except Exception as error:
                    self.drop_failures.append(f"{name}: {error!r}")
            for name in waiting:  # cloned and never taken
                loop.run_until_complete(conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            loop.run_until_complete(conn.close())
            loop.close()


@pytest.fixture(scope="session")
async def template_url(server_url: str) -> AsyncIterator[str]:
    await admin(server_url, f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
    await admin(server_url, f'CREATE DATABASE "{TEMPLATE}"')
    url = with_database(server_url, TEMPLATE)
    await migrate.aupgrade(url)
    yield url
    await admin(server_url, f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')


@pytest.fixture(scope="session")
def databases(server_url: str, template_url: str) -> Iterator[Databases]:
    pool = Databases(server_url, TEMPLATE)
    yield pool
    pool.close()


async def fresh_database(server_url: str, template: str | None) -> str:
    name = f"bl_test_{uuid.uuid4().hex[:12]}"
    clause = f' TEMPLATE "{template}"' if template else ""
    await admin(server_url, f'CREATE DATABASE "{name}"{clause}')
    return with_database(server_url, name)


@pytest.fixture
def database_url(databases: Databases) -> Iterator[str]:
    """A migrated database of this test's own."""
    url = databases.take()
    yield url
    databases.drop(url)


@pytest.fixture
async def empty_database_url(server_url: str) -> AsyncIterator[str]:
    """A database with no tables at all."""
    url = await fresh_database(server_url, None)
    yield url
    await admin(server_url, f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1].split("?")[0]}" WITH (FORCE)')


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection, to check what the API wrote (or did not)."""
    conn = await asyncpg.connect(plain_url(database_url))
    yield conn
    await conn.close()


@pytest.fixture
async def make_client(database_url: str) -> AsyncIterator[Any]:
    """Factory: an HTTP client on an app built with these settings (on this test's database)."""
    apps: list[Any] = []
    clients: list[httpx.AsyncClient] = []

    async def make(**settings: Any) -> httpx.AsyncClient:
        application = create_app(*pooler.app_settings(database_url, **settings))
        apps.append(application)
        clients.append(httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://testserver"))
        return clients[-1]

    yield make
    for http in clients:
        await http.aclose()
    for application in apps:
        await close_app(application)


async def close_app(application: Any) -> None:
    """What the app's lifespan ends (httpx's ASGI transport runs no lifespan): its listening
    connection and its pools."""
    await application.state.hub.stop()
    await application.state.reads.close()
    await application.state.engine.dispose()
    await application.state.guard_engine.dispose()


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[Any]:
    application = create_app(*pooler.app_settings(database_url))
    yield application
    await close_app(application)


class StatementCounter:
    """Every statement the app sends to PostgreSQL: SQLAlchemy's (cursor events) and those sent
    through the driver itself (db/reads.py; BEGIN and ROLLBACK too), via asyncpg's query logger."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)

    def driver_query(self, record: Any) -> None:
        self.statements.append(record.query)

    def attach(self, dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(self.driver_query)

    @property
    def count(self) -> int:
        return len(self.statements)

    def reset(self) -> None:
        self.statements.clear()

    async def settle(self) -> None:
        """asyncpg calls query loggers from the event loop soon after each query: let them run."""
        for _ in range(3):
            await asyncio.sleep(0)


def watch(app: Any, counter: StatementCounter) -> None:
    """Count every statement of `app`: its engine's and its read pool's (planned queries)."""
    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", counter)
    event.listen(engine, "checkout", counter.attach)
    app.state.reads.query_loggers.append(counter.driver_query)


def unwatch(app: Any, counter: StatementCounter) -> None:
    engine = app.state.engine.sync_engine
    event.remove(engine, "before_cursor_execute", counter)
    event.remove(engine, "checkout", counter.attach)
    app.state.reads.query_loggers.remove(counter.driver_query)


@pytest.fixture
def sql_counter(app: Any) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    watch(app, counter)
    yield counter
    unwatch(app, counter)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def api(client: httpx.AsyncClient, database_url: str) -> Api:
    team_secret = await create_api_key(database_url, name="test team", role="ACCOUNT_TEAM", account_id=None)
    return Api(client, team_secret)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """`budgetline serve` in a process of its own, on a free port of 127.0.0.1."""

    def __init__(self, database_url: str, log_path: Path, *extra_args: str, env: dict[str, str] | None = None) -> None:
        self.database_url = database_url
        self.extra_args = extra_args
        self.env = env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        env = {**os.environ, **pooler.server_env(self.database_url), "BUDGETLINE_LOG_LEVEL": "WARNING", **self.env}
        self.log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "budgetline.cli", "serve", "--port", str(self.port), *self.extra_args],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become ready")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        self.log.close()


@pytest.fixture
def live_servers(database_url: str, tmp_path: Path) -> Iterator[Any]:
    """Factory: start N real server processes on this test's database."""
    started: list[LiveServer] = []

    def start(count: int = 1, **env: str) -> list[LiveServer]:
        servers = [LiveServer(database_url, tmp_path / f"server-{len(started) + i}.log", env=env) for i in range(count)]
        for server in servers:
            server.start()
            started.append(server)
        return servers

    yield start
    for server in started:
        server.stop()
