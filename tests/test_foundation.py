"""The skeleton: migrations, health and readiness, the CLI, the embedded PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest

from budgetline.app import create_app
from budgetline.settings import Settings
from db import embedded, migrate
from tests import helpers
from tests.conftest import ROOT, free_port, plain_url

# Every table the migrations create: the ones a refused mutation must leave alone, and the
# idempotency bookkeeping.
TABLES = {*helpers.TABLES, "idempotency_keys", "idempotency_effects"}


async def tables(url: str) -> set[str]:
    conn = await asyncpg.connect(plain_url(url))
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    return {r["tablename"] for r in rows} - {"alembic_version"}


async def test_migrations_upgrade_to_head_and_downgrade_to_base(empty_database_url: str) -> None:
    assert await tables(empty_database_url) == set()
    await migrate.aupgrade(empty_database_url)
    assert await tables(empty_database_url) == TABLES
    import asyncio

    await asyncio.to_thread(migrate.downgrade, empty_database_url, "base")
    assert await tables(empty_database_url) == set()
    await migrate.aupgrade(empty_database_url)
    assert await tables(empty_database_url) == TABLES


async def test_healthz_and_readyz(empty_database_url: str) -> None:
    app = create_app(empty_database_url, Settings(database_url=empty_database_url))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        before = await http.get("/readyz")
        assert before.status_code == 503 and before.json()["status"] == "not migrated"
        await migrate.aupgrade(empty_database_url)
        after = await http.get("/readyz")
        assert after.status_code == 200 and after.json() == {"status": "ready", "revision": migrate.head_revision()}
    await app.state.engine.dispose()
    await app.state.guard_engine.dispose()


async def test_readyz_is_503_when_the_database_is_unreachable() -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    app = create_app(url, Settings(database_url=url))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        response = await http.get("/readyz")
        assert response.status_code == 503 and response.json()["status"] == "unavailable"
        assert (await http.get("/healthz")).status_code == 200
    await app.state.engine.dispose()
    await app.state.guard_engine.dispose()


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "budgetline.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


@pytest.mark.parametrize("role", ["ACCOUNT_TEAM", "DELIVERY"])
async def test_create_api_key_prints_a_working_secret_as_last_line(
    database_url: str, client: httpx.AsyncClient, role: str
) -> None:
    done = run_cli("create-api-key", "--role", role, "--name", "bootstrap", env={"DATABASE_URL": database_url})
    assert done.returncode == 0, done.stderr
    secret = done.stdout.strip().splitlines()[-1]
    assert secret.startswith("bl_") and len(secret) >= 43
    response = await client.post(
        "/graphql", json={"query": "{ viewer { role apiKeyName } }"}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.json() == {"data": {"viewer": {"role": role, "apiKeyName": "bootstrap"}}}
    # only a hash is stored
    conn = await asyncpg.connect(plain_url(database_url))
    stored = await conn.fetchval("SELECT secret_hash FROM api_keys")
    await conn.close()
    assert secret.encode() not in stored and len(stored) == 32


def test_create_api_key_refuses_a_customer_role_without_account(database_url: str) -> None:
    done = run_cli("create-api-key", "--role", "VIEWER", "--name", "x", env={"DATABASE_URL": database_url})
    assert done.returncode == 2 and "needs the --account" in done.stderr and "Traceback" not in done.stderr


def test_every_command_has_help() -> None:
    for command in ("serve", "migrate", "create-api-key", "demo"):
        done = run_cli(command, "--help", env={})
        assert done.returncode == 0 and "usage: budgetline" in done.stdout


def alive(pid: int) -> bool:
    """Running, not a zombie left for a parent that never reaps it."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def postgres_pid(pgdata: Path) -> int | None:
    pidfile = pgdata / "postmaster.pid"
    return int(pidfile.read_text().splitlines()[0]) if pidfile.exists() else None


async def test_embedded_server_restart_keeps_data(tmp_path: Path) -> None:
    server = embedded.start(tmp_path)
    pid = server.pid
    conn = await asyncpg.connect(plain_url(server.url))
    await conn.execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')")
    await conn.close()
    server.stop()
    assert pid is not None and not alive(pid)

    server = embedded.start(tmp_path)
    conn = await asyncpg.connect(plain_url(server.url))
    assert await conn.fetchval("SELECT v FROM kept") == "still here"
    await conn.close()
    server.stop()


def test_a_holder_killed_with_sigkill_does_not_keep_the_server_alive(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; from db import embedded; "
        "embedded.start(Path(sys.argv[1])); print('up', flush=True); time.sleep(120)"
    )
    child = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, cwd=ROOT, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "up"
    child.kill()  # SIGKILL: its PID stays in the handle file
    child.wait()
    pgdata = tmp_path / "pgdata"
    assert child.pid in json.loads((pgdata / embedded.HANDLE_FILE).read_text())
    pid = postgres_pid(pgdata)
    assert pid is not None and alive(pid)

    server = embedded.start(tmp_path)  # attaches to the running server, dropping the dead holder
    assert json.loads((pgdata / embedded.HANDLE_FILE).read_text()) == [os.getpid()]
    server.stop()
    assert not alive(pid)


@pytest.mark.slow
def test_serve_with_demo_runs_embedded_postgres_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    """What `make run` does, twice: the second run keeps the data and does not load the demo again."""
    port = free_port()
    env = {**os.environ, "BUDGETLINE_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    outputs: list[str] = []
    for _ in range(2):
        proc = subprocess.Popen(
            [sys.executable, "-m", "budgetline.cli", "serve", "--demo", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            pgpid = postgres_pid(tmp_path / "pgdata")
            assert pgpid is not None and alive(pgpid)
            page = httpx.get(f"http://127.0.0.1:{port}/graphql", headers={"Accept": "text/html"})
            assert page.status_code == 200 and "graphiql" in page.text.lower()
            # The printed link opens GraphiQL with the first query and the key filled in.
            link = f"http://127.0.0.1:{port}/graphql?q="
            browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
            proc_out = proc.stdout
            assert proc_out is not None
            printed = ""
            while "Ctrl-C stops the server" not in printed:  # the end of the welcome
                printed += proc_out.readline()
            url = printed[printed.index(link) :].split()[0]
            prefilled = httpx.get(url, headers=browser)
            assert prefilled.status_code == 200 and "graphiql" in prefilled.text.lower()
            assert "headers=%7B%22Authorization%22%3A%20%22Bearer%20bl_" in url
        finally:
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=30)
        outputs.append(printed + out)
        assert proc.returncode == 0, out
        assert not alive(pgpid), "Ctrl-C left PostgreSQL running"
    assert "demo data loaded" in outputs[0] and "demo data already loaded" in outputs[1]
    keys = [line for line in outputs[1].splitlines() if "bl_" in line and "CAMPAIGN_MANAGER" in line]
    assert len(keys) == 2 and all(k in outputs[0] for k in keys), outputs
    assert f"Budgetline is ready: http://127.0.0.1:{port}/graphql" in outputs[0]
    assert outputs[0].index("demo data loaded") < outputs[0].index("Budgetline is ready")
    assert "QWNjb3VudDoy" in outputs[0] and "QXVkaWVuY2U6Mw" in outputs[0]  # Contoso's IDs too


def test_a_busy_port_fails_at_once_and_says_what_to_do(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        env = {**os.environ, "BUDGETLINE_DATA_DIR": str(tmp_path)}
        env.pop("DATABASE_URL", None)
        done = subprocess.run(
            [sys.executable, "-m", "budgetline.cli", "serve", "--demo", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
    assert done.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr and "BUDGETLINE_PORT=" in done.stderr
    assert "bl_" not in done.stdout and "ready" not in done.stdout  # nothing started, nothing promised
    assert not (tmp_path / "pgdata").exists()  # not even the database


@pytest.mark.slow
async def test_serve_with_several_worker_processes(database_url: str, tmp_path: Path) -> None:
    from tests.conftest import LiveServer

    server = LiveServer(database_url, tmp_path / "workers.log", "--workers", "2")
    server.start()
    try:
        assert server.process is not None
        children = psutil.Process(server.process.pid).children()
        assert len(children) >= 2
        async with httpx.AsyncClient() as http:
            for _ in range(4):
                assert (await http.get(server.url + "/readyz")).status_code == 200
    finally:
        server.stop()
    # The workers get the parent's SIGTERM too and exit on their own; give them a bounded moment.
    _, still_running = psutil.wait_procs(children, timeout=10)
    assert not any(alive(child.pid) for child in still_running)
