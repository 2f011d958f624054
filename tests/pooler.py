"""PgBouncer in transaction mode in front of the test server, started by the test harness.

With BUDGETLINE_TEST_POOLER=pgbouncer (and DATABASE_URL on a TCP server), every app and server
process the tests start reaches PostgreSQL through it, as production would behind a transaction
pooler: `BUDGETLINE_DB_POOLER=transaction`, with the direct URL for migrations and for the
tests' own checks. Debian's `pgbouncer` package provides the binary (`.ci/run` installs it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from budgetline.settings import Settings

BINARY = os.environ.get("PGBOUNCER", shutil.which("pgbouncer") or "/usr/sbin/pgbouncer")


class PgBouncer:
    def __init__(self, server_url: str) -> None:
        parts = urlsplit(server_url)
        if not parts.hostname or parts.hostname.startswith("/"):
            raise RuntimeError("the PgBouncer pass needs DATABASE_URL on a TCP server (host:port)")
        self.user = parts.username or "postgres"
        self.upstream = (parts.hostname, parts.port or 5432)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.dir = Path(tempfile.mkdtemp(prefix="bl-pgbouncer-"))
        self.dir.chmod(0o777)
        ini = self.dir / "pgbouncer.ini"
        users = self.dir / "users.txt"
        users.write_text(f'"{self.user}" ""\n')
        ini.write_text(
            f"""[databases]
* = host={parts.hostname} port={parts.port or 5432} user={self.user}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {users}
pool_mode = transaction
max_client_conn = 2000
default_pool_size = 40
server_idle_timeout = 10
logfile = {self.dir / "pgbouncer.log"}
"""
        )
        for path in (ini, users):
            path.chmod(0o666)
        # PgBouncer refuses to run as root: CI is root, so it runs as nobody there.
        command = [BINARY, *(["-u", "nobody"] if os.geteuid() == 0 else []), str(ini)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        log = (self.dir / "pgbouncer.log").read_text() if (self.dir / "pgbouncer.log").exists() else ""
        raise RuntimeError(f"PgBouncer did not start: {log[-2000:]}")

    def fronts(self, direct: str) -> bool:
        """Whether `direct` is on the server this PgBouncer stands in front of."""
        parts = urlsplit(direct)
        return (parts.hostname, parts.port or 5432) == self.upstream

    def url(self, direct: str) -> str:
        """The same database, through the pooler."""
        parts = urlsplit(direct)
        return urlunsplit((parts.scheme, f"{self.user}@127.0.0.1:{self.port}", parts.path, parts.query, ""))

    def stop(self) -> None:
        from tests.helpers import stop_process

        stop_process(self.process)
        shutil.rmtree(self.dir, ignore_errors=True)


# Set for the whole session by conftest.py's `server_url` fixture when the pass asks for it.
ACTIVE: PgBouncer | None = None


def app_settings(direct: str, **overrides: Any) -> tuple[str, Settings]:
    """The URL an app under test connects with, and its settings: through the pooler in the
    PgBouncer pass, direct otherwise."""
    if ACTIVE is None or not ACTIVE.fronts(direct):
        return direct, Settings(database_url=direct, **overrides)
    pooled = ACTIVE.url(direct)
    return pooled, Settings(database_url=pooled, db_pooler="transaction", database_direct_url=direct, **overrides)


def server_env(direct: str) -> dict[str, str]:
    """The environment of a `budgetline serve` process under test."""
    if ACTIVE is None or not ACTIVE.fronts(direct):  # another server (a test's own embedded one)
        return {"DATABASE_URL": direct}
    return {
        "DATABASE_URL": ACTIVE.url(direct),
        "BUDGETLINE_DB_POOLER": "transaction",
        "BUDGETLINE_DATABASE_DIRECT_URL": direct,
    }


def own_statements(statements: list[str]) -> list[str]:
    """A request's statements without the transaction that the pooler mode adds to carry
    `SET LOCAL statement_timeout` (BEGIN, the SET LOCAL, ROLLBACK; a planned read sends the first
    two as one statement): exactly one each there, none in the direct passes, so statement-count
    tests hold the same numbers in every pass."""
    if ACTIVE is None:
        return statements

    def kinds(statement: str) -> list[str]:
        upper = " ".join(statement.upper().split())
        return [
            part
            for part in ("BEGIN", "SET LOCAL STATEMENT_TIMEOUT", "ROLLBACK")
            if upper.startswith(part) or f"; {part}" in upper
        ]

    added = [k for s in statements for k in kinds(s)]
    assert sorted(added) == ["BEGIN", "ROLLBACK", "SET LOCAL STATEMENT_TIMEOUT"], statements
    return [s for s in statements if not kinds(s)]
