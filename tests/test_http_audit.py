"""GraphQL over HTTP, judged by graphql-http's own audit suite (npm) against a live server."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from collections import Counter
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.helpers import Api

NODE_DIR = ROOT / "tests" / ".node"
OTHER_MEDIA_TYPE = re.compile(r"(accepting application/json|accept application/json|accept \*/\*|accept is missing)")
PACKAGES = ["graphql-http@1", "graphql@16"]


def install_graphql_http() -> None:
    if (NODE_DIR / "node_modules" / "graphql-http").exists():
        return
    NODE_DIR.mkdir(exist_ok=True)
    subprocess.run(
        ["npm", "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", "--silent", *PACKAGES],
        check=True,
        timeout=300,
    )


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["as-sent", "modern"])
async def test_graphql_over_http_audit(api: Api, live_servers: Any, mode: str) -> None:
    """graphql-http's audit; "modern": every request asks for application/graphql-response+json
    first (Apollo Client 4's Accept)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the graphql-http audit; install Node.js to run it")
    await asyncio.to_thread(install_graphql_http)
    [server] = live_servers(1)
    # An ES module resolves packages from its own folder: run a copy that sits beside node_modules.
    script = NODE_DIR / "http_audit.mjs"
    shutil.copy(ROOT / "tests" / "http_audit.mjs", script)
    done = await asyncio.to_thread(
        subprocess.run,
        ["node", str(script), server.url + "/graphql", api.team_secret, mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    results = json.loads(done.stdout)
    by_level = Counter((r["name"].split()[0], r["status"]) for r in results)
    print("graphql-http audit:", dict(by_level))
    failed = [f"{r['name']}: {r['reason']}" for r in results if r["status"] != "ok" and not r["name"].startswith("MAY")]
    if mode == "modern":
        # Every request asked for application/graphql-response+json: the audits about what a
        # client asking for application/json (or anything, or nothing) gets cannot pass, by
        # construction; every other audit must.
        failed = [f for f in failed if not OTHER_MEDIA_TYPE.search(f.partition(":")[0])]
    assert failed == []
    assert by_level[("MUST", "ok")] >= 10 and by_level[("SHOULD", "ok")] >= (20 if mode == "as-sent" else 15)
