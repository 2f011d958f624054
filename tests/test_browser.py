"""A real browser: GraphiQL in headless Chromium sets the header, runs the drop-down query and
shows the result. Skipped, with the reason, where Chromium or Node.js is absent."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from budgetline import demo
from budgetline.settings import Settings
from tests.conftest import ROOT
from tests.helpers import Api
from tests.test_http_audit import NODE_DIR

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
HAVE_CHROMIUM = Path(CHROMIUM).exists()
DROPDOWN = """query StepTwoDropDown {
  account(id: "%s") {
    name
    budgetSources { displayName amount unallocatedAmount draftAmount selectable }
  }
}"""


def install_playwright_core() -> None:
    if (NODE_DIR / "node_modules" / "playwright-core").exists():
        return
    NODE_DIR.mkdir(exist_ok=True)
    subprocess.run(
        ["npm", "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", "--silent", "playwright-core@1"],
        check=True,
        timeout=300,
    )


async def run_graphiql(url: str, key: str, query: str, screenshot: Path) -> Any:
    """What GraphiQL's result pane shows once the query ran (tests/graphiql_browser.mjs)."""
    if not HAVE_CHROMIUM:
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM) to run the browser test")
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to drive Chromium (playwright-core)")
    await asyncio.to_thread(install_playwright_core)
    script = NODE_DIR / "graphiql_browser.mjs"
    shutil.copy(ROOT / "tests" / "graphiql_browser.mjs", script)
    done = await asyncio.to_thread(
        subprocess.run,
        ["node", str(script), url, key, query, str(screenshot)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CHROMIUM": CHROMIUM},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    shown = json.loads(done.stdout)
    assert shown["failed"] == []  # every asset came from our server
    assert os.path.getsize(screenshot) > 10_000  # noqa: ASYNC240  # one stat of a local file
    return json.loads(shown["result"])


@pytest.mark.slow
async def test_graphiql_runs_the_dropdown_query_in_chromium(api: Api, live_servers: Any, tmp_path: Path) -> None:
    if not HAVE_CHROMIUM:  # before building the data
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM) to run the browser test")
    world = await api.world(po_amount="40000.00")
    await world.published("12500.00")
    [server] = live_servers(1)
    shown = await run_graphiql(server.url + "/graphql", world.viewer, DROPDOWN % world.account, tmp_path / "g.png")
    result = shown["data"]["account"]
    assert result["name"] == "Acme"
    assert result["budgetSources"] == [
        {
            "displayName": "PO PO-Acme-1 (Order Q-Acme-1)",
            "amount": "40000.00",
            "unallocatedAmount": "27500.00",
            "draftAmount": "0.00",
            "selectable": True,
        }
    ]


@pytest.mark.slow
async def test_the_link_make_run_prints_runs_the_first_query_on_the_demo(
    database_url: str, live_servers: Any, tmp_path: Path
) -> None:
    """The README's promise: open the printed link, press run, see the drop-down. The screenshot
    in the README is this one (BUDGETLINE_UPDATE_SCREENSHOT=1 refreshes it)."""
    if not HAVE_CHROMIUM:  # before building the data
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM) to run the browser test")
    loaded = await demo.load(database_url, Settings(database_url=database_url, data_dir=tmp_path))
    manager = next(k for k in loaded.keys if k["role"] == "CAMPAIGN_MANAGER")
    [server] = live_servers(1)
    link = demo.graphiql_link(server.url + "/graphql", manager["secret"], manager["accountId"])
    screenshot = tmp_path / "graphiql.png"
    account = (await run_graphiql(link, "-", "-", screenshot))["data"]["account"]
    assert account["name"] == "Northwind Outdoor (demo)" and account["requiresPurchaseOrder"] is True
    assert [s["displayName"] for s in account["budgetSources"]] == [
        "PO 4500012345 (Order Q-000123)",
        "PO 4500012346 (Order Q-000123)",
    ]
    if os.environ.get("BUDGETLINE_UPDATE_SCREENSHOT"):
        shutil.copy(screenshot, ROOT / "docs" / "graphiql.png")


@pytest.mark.slow
async def test_graphiql_runs_a_subscription_in_chromium(api: Api, live_servers: Any, tmp_path: Path) -> None:
    """R17: GraphiQL sends its Headers tab in connection_init; the result pane shows the events."""
    if not HAVE_CHROMIUM:
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM) to run the browser test")
    world = await api.world()
    probe = (await world.draft("probe"))["id"]
    [server] = live_servers(1)
    live = 'subscription Live { campaignUpdated(accountId: "ACCOUNT") { name status } }'
    query = live.replace("ACCOUNT", world.account)
    running = asyncio.create_task(run_graphiql(server.url + "/graphql", world.viewer, query, tmp_path / "live.png"))
    renames = 0
    while not running.done() and renames < 60:  # until the pane shows an event (this process writes)
        renames += 1
        await world.ok("updateCampaign", {"campaignId": probe, "name": f"live {renames}"})
        await asyncio.wait({running}, timeout=0.5)
    shown = await running
    assert shown["data"]["campaignUpdated"]["status"] == "DRAFT"
    assert shown["data"]["campaignUpdated"]["name"].startswith("live ")


@pytest.mark.slow
async def test_plain_graphql_in_chromium_shows_no_error_and_says_how_to_get_a_key(live_servers: Any) -> None:
    """A newcomer opens plain /graphql: no red "Error fetching schema", no UNAUTHENTICATED, and a
    visible note on getting a key (GraphiQL asks the server nothing before a key is given)."""
    if not HAVE_CHROMIUM:
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM) to run the browser test")
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to drive Chromium (playwright-core)")
    await asyncio.to_thread(install_playwright_core)
    [server] = live_servers(1)
    script = NODE_DIR / "graphiql_landing.mjs"
    shutil.copy(ROOT / "tests" / "graphiql_landing.mjs", script)
    done = await asyncio.to_thread(
        subprocess.run,
        ["node", str(script), server.url + "/graphql"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CHROMIUM": CHROMIUM},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    shown = json.loads(done.stdout)
    assert shown["noteVisible"] and "budgetline create-api-key" in shown["note"]
    assert "Error fetching schema" not in shown["body"] and "UNAUTHENTICATED" not in shown["body"]
    assert shown["posts"] == []  # no introspection request without a key
