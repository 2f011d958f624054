"""R17 with real components end to end: the graphql-ws npm client (the protocol's reference
implementation) subscribes on one server process while the mutations go to another; it receives
every committed change exactly once, and nothing of the refused ones."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT
from tests.helpers import TODAY, Api, iso

NODE_DIR = ROOT / "tests" / ".node" / "ws-client"  # an npm prefix of its own, gitignored
PACKAGES = ["graphql-ws@6", "ws@8", "graphql@16"]


def install_client() -> None:
    if (NODE_DIR / "node_modules" / "graphql-ws").exists():
        return
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["npm", "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", "--silent", *PACKAGES],
        check=True,
        timeout=300,
    )


async def next_line(process: asyncio.subprocess.Process) -> dict[str, Any]:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 20)
    assert line, "the client exited early"
    return json.loads(line)  # type: ignore[no-any-return]


@pytest.mark.slow
async def test_r17_graphql_ws_client_across_two_processes(api: Api, live_servers: Any) -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the graphql-ws client test; install Node.js to run it")
    await asyncio.to_thread(install_client)
    world = await api.world(order_amount="20000.00", po_amount="10000.00")
    delivery = await api.issue_key("DELIVERY", None, "ad server")
    campaign = await world.at_review("600.00", start=TODAY - timedelta(5))
    probe = (await world.draft("probe"))["id"]
    listening, writing = live_servers(2)
    script = NODE_DIR / "subscription_client.mjs"  # beside its node_modules, so imports resolve
    shutil.copy(ROOT / "tests" / "subscription_client.mjs", script)
    ws_url = listening.url.replace("http://", "ws://") + "/graphql"
    client = await asyncio.create_subprocess_exec(
        "node", str(script), ws_url, world.viewer, world.account, stdout=asyncio.subprocess.PIPE
    )
    async with httpx.AsyncClient(base_url=writing.url, timeout=30) as http:
        other = Api(http, api.team_secret)
        try:
            assert await next_line(client) == {"connected": True}
            # A subscribe has no answer: rename the probe until its event arrives, and both
            # subscriptions (sent before it, on the same socket) listen.
            for attempt in range(50):
                await other.mutate("updateCampaign", {"campaignId": probe, "name": f"sync {attempt}"}, world.manager)
                try:
                    line = await asyncio.wait_for(next_line(client), 0.5)
                except TimeoutError:
                    continue
                assert line["sub"] == "campaigns", line
                break
            else:
                raise AssertionError("the subscription never started")
            await asyncio.sleep(0.5)
            synced = [json.loads(line) for line in await drain(client)]  # later sync events, if any

            published = await other.mutate("publishCampaign", {"campaignId": campaign}, world.manager)
            assert published["status"] == "PUBLISHED", published
            after_publish = await take(client, 3)  # the campaign, its PO and its order
            refusals = [
                await other.mutate("publishCampaign", {"campaignId": campaign}, world.manager),
                await other.mutate("updateCampaign", {"campaignId": campaign, "budget": "10000.01"}, world.manager),
                await other.mutate("updateCampaign", {"campaignId": campaign, "name": "x"}, world.viewer),
            ]
            assert [r["__typename"] for r in refusals] == [
                "CampaignLockedError",
                "InsufficientBudgetError",
                "PermissionDeniedError",
            ]
            report = {"campaignId": campaign, "date": iso(TODAY), "amount": "25.00"}
            assert (await other.mutate("reportSpend", report, delivery))["__typename"] == "Campaign"
            after_spend = await take(client, 3)  # the next events are the report's: none of the refusals
            done = await other.mutate("updateCampaign", {"campaignId": campaign, "name": "done"}, world.manager)
            assert done["name"] == "done"
            assert await asyncio.wait_for(client.wait(), 30) == 0
            assert client.stdout is not None
            rest = [json.loads(line) for line in (await client.stdout.read()).splitlines()]
        finally:
            if client.returncode is None:
                client.kill()
                await client.wait()
    assert not [e for e in synced if e.get("sub") == "sources"], synced  # renames touch no source
    events = after_publish + after_spend + [e for e in rest if e.get("sub")]
    assert not [e for e in events if e.get("errors") or e.get("error")], events
    campaigns = [e["data"]["campaignUpdated"] for e in events if e["sub"] == "campaigns"]
    assert campaigns == [
        {"id": campaign, "name": "Launch", "status": "PUBLISHED", "spentAmount": "0.00"},
        {"id": campaign, "name": "Launch", "status": "PUBLISHED", "spentAmount": "25.00"},
        {"id": campaign, "name": "done", "status": "PUBLISHED", "spentAmount": "25.00"},
    ]
    sources = [
        (e["data"]["budgetSourceUpdated"]["__typename"], e["data"]["budgetSourceUpdated"]["spentAmount"])
        for e in events
        if e["sub"] == "sources"
    ]
    # The publish and the spend report: the PO and its order once each, in that order of commits.
    assert sorted(sources[:2]) == [("Order", "0.00"), ("PurchaseOrder", "0.00")]
    assert sorted(sources[2:]) == [("Order", "25.00"), ("PurchaseOrder", "25.00")]


async def take(process: asyncio.subprocess.Process, count: int) -> list[dict[str, Any]]:
    return [await next_line(process) for _ in range(count)]


async def drain(process: asyncio.subprocess.Process) -> list[bytes]:
    """Lines already printed, without waiting for more."""
    assert process.stdout is not None
    lines = []
    while True:
        try:
            lines.append(await asyncio.wait_for(process.stdout.readline(), 0.05))
        except TimeoutError:
            return lines
