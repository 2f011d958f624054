"""docs/compose/compose.yaml, the reference topology of docs/deploy.md: its structure, its
settings (valid for Budgetline) and its connection arithmetic. `docker compose config` checks it
too where Docker Compose is installed."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from budgetline.settings import Settings
from tests.conftest import ROOT

COMPOSE = ROOT / "docs" / "compose" / "compose.yaml"


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # type: ignore[no-any-return]


def pgbouncer_ini() -> configparser.ConfigParser:
    ini = configparser.ConfigParser(comment_prefixes=(";",))
    ini.read(COMPOSE.parent / "pgbouncer" / "pgbouncer.ini")
    return ini


def test_the_topology_is_postgres_pgbouncer_a_migration_and_two_replicas() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "pgbouncer", "migrate", "api-1", "api-2"}
    for name, service in services.items():
        context = service.get("build", {}).get("context")
        if context:
            assert (COMPOSE.parent / context / "Dockerfile").exists(), name
    migrate = services["migrate"]
    assert migrate["command"] == ["budgetline", "migrate"]
    assert urlsplit(migrate["environment"]["DATABASE_URL"]).netloc.endswith("@postgres:5432")
    for name in ("api-1", "api-2"):
        api = services[name]
        env = api["environment"]
        assert urlsplit(env["DATABASE_URL"]).netloc.endswith("@pgbouncer:6432")  # requests through the pooler
        assert urlsplit(env["BUDGETLINE_DATABASE_DIRECT_URL"]).netloc.endswith("@postgres:5432")
        assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        settings = Settings(**{key.removeprefix("BUDGETLINE_").lower(): value for key, value in env.items()})
        assert settings.pooled and settings.workers == 2


def test_the_connection_arithmetic_holds() -> None:
    services = compose()["services"]
    ini = pgbouncer_ini()["pgbouncer"]
    assert ini["pool_mode"] == "transaction"
    clients = 0
    for name in ("api-1", "api-2"):
        env = services[name]["environment"]
        per_engine = int(env["BUDGETLINE_DB_POOL_SIZE"]) + int(env["BUDGETLINE_DB_MAX_OVERFLOW"])
        clients += int(env["BUDGETLINE_WORKERS"]) * 2 * per_engine  # requests' and Idempotency-Key's engines
    assert clients <= int(ini["max_client_conn"])
    command = services["postgres"]["command"]
    max_connections = int(command[command.index("-c") + 1].split("=")[1])
    # PgBouncer's server connections, plus the migration and a few for people, fit PostgreSQL's.
    assert int(ini["max_db_connections"]) + 5 <= max_connections
    user = urlsplit(services["api-1"]["environment"]["DATABASE_URL"]).username
    assert f'"{user}"' in (COMPOSE.parent / "pgbouncer" / "userlist.txt").read_text()


def test_docker_compose_accepts_it() -> None:
    docker = shutil.which("docker")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True) if docker else None
    if probe is None or probe.returncode != 0:
        pytest.skip("Docker Compose is not installed: the structure is checked by the tests above")
    done = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "--quiet"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_a_skip_fails_the_run_in_ci() -> None:
    """.ci/run sets BUDGETLINE_CI=1 and installs what the suite needs: a check that did not run
    there (a skip) fails the session; outside CI a skip stays a skip."""
    assert "BUDGETLINE_CI=1" in (ROOT / ".ci" / "run").read_text()
    probe = ROOT / "tests" / f"test_ci_probe_{os.getpid()}.py"
    probe.write_text('import pytest\n\n\ndef test_probe() -> None:\n    pytest.skip("no such tool")\n')
    try:
        runs = {
            ci: subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(probe)],
                env={**os.environ, "BUDGETLINE_CI": ci},
                capture_output=True,
                text=True,
                cwd=ROOT,
                timeout=120,
            )
            for ci in ("1", "0")
        }
    finally:
        probe.unlink()
    assert runs["1"].returncode == 1 and "no such tool" in runs["1"].stdout, runs["1"].stdout
    assert runs["0"].returncode == 0, runs["0"].stdout
