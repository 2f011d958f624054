"""The first hour of a newcomer, outside the tutorial: no dead end (issue 30's findings, each
reproduced here). GraphiQL at plain /graphql gets them to a key; the CLI says what is wrong with
the database in a line; keys are listed and revoked; the ledger CSV says its currency; messages
read right; text logs name the request."""

from __future__ import annotations

import csv
import io
import logging
import re
import socket

import httpx
import pytest

from budgetline.app import create_app
from budgetline.graphiql import DemoKey
from budgetline.observability import TextFormatter
from budgetline.settings import Settings
from tests.conftest import ROOT, close_app
from tests.helpers import TODAY, Api, World, iso
from tests.test_foundation import run_cli

HTML = {"Accept": "text/html"}


@pytest.fixture
async def world(api: Api) -> World:
    return await api.world()


# --- 1: plain /graphql in a browser ----------------------------------------------------------------


async def test_plain_graphiql_holds_the_schema_and_says_how_to_get_a_key(client: httpx.AsyncClient) -> None:
    page = (await client.get("/graphql", headers=HTML)).text
    # the schema is in the page: GraphiQL asks nothing of the server before a key is given
    assert 'schema: {"__schema":' in page
    assert "budgetline create-api-key --role ACCOUNT_TEAM" in page  # no demo: how to make a key
    assert "Welcome to GraphiQL" not in page and "Headers tab" in page


async def test_with_the_demo_graphiql_offers_each_demo_key_in_one_click(database_url: str) -> None:
    keys = [
        DemoKey("CAMPAIGN_MANAGER", "Northwind Outdoor (demo)", "QWNjb3VudDox", "bl_manager"),
        DemoKey("ACCOUNT_TEAM", "(all accounts)", None, "bl_team"),
    ]
    app = create_app(database_url, Settings(database_url=database_url), demo_keys=keys)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            page = (await client.get("/graphql", headers=HTML)).text
    finally:
        await close_app(app)
    links = re.findall(r'href="(/graphql\?[^"]+)"', page)
    assert len(links) == 2 and all("headers=" in link for link in links)
    assert "Bearer%20bl_manager" in links[0] and "QWNjb3VudDox" in links[0]
    assert "Pick a demo key" in page and "create-api-key" not in page


# --- 2: the CLI and a database it cannot use ---------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_database_is_one_line_naming_it() -> None:
    port = _closed_port()
    url = f"postgresql://someone@127.0.0.1:{port}/books"
    for command in (["migrate"], ["create-api-key", "--role", "ACCOUNT_TEAM", "--name", "x"], ["check-ledger"]):
        done = run_cli(*command, env={"DATABASE_URL": url})
        assert done.returncode == 1, (command, done.stderr)
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 2, done.stderr
        assert f"127.0.0.1:{port}/books" in done.stderr and "cannot reach PostgreSQL" in done.stderr


def test_a_missing_database_is_one_line_and_debug_shows_the_traceback(database_url: str) -> None:
    missing = re.sub(r"/[^/?]+(\?|$)", r"/no_such_db_here\1", database_url, count=1)
    done = run_cli("migrate", env={"DATABASE_URL": missing})
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "no_such_db_here does not exist" in done.stderr
    debug = run_cli("--debug", "migrate", env={"DATABASE_URL": missing})
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_a_wrong_flag_shows_the_commands_own_usage() -> None:
    done = run_cli("serve", "--prot", "8001", env={})
    assert done.returncode == 2 and "usage: budgetline serve" in done.stderr and "--prot" in done.stderr


# --- 5: keys the account team can list and revoke ----------------------------------------------------


async def test_keys_are_created_with_their_id_listed_and_revoked_from_the_cli(database_url: str, api: Api) -> None:
    env = {"DATABASE_URL": database_url}
    made = run_cli("create-api-key", "--role", "ACCOUNT_TEAM", "--name", "ops laptop", env=env)
    assert made.returncode == 0, made.stderr
    lines = made.stdout.strip().splitlines()
    secret, key_id = lines[-1], re.search(r"with ID (\S+)", made.stdout)
    assert secret.startswith("bl_") and key_id is not None  # the secret stays alone on the last line
    listed = run_cli("list-api-keys", env=env)
    assert listed.returncode == 0 and key_id.group(1) in listed.stdout and "ops laptop" in listed.stdout
    assert "bl_" not in listed.stdout  # never a secret
    assert (await api.post("{ viewer { role } }", key=secret)).status_code == 200
    revoked = run_cli("revoke-api-key", key_id.group(1), env=env)
    assert revoked.returncode == 0, revoked.stderr
    assert (await api.post("{ viewer { role } }", key=secret)).status_code == 401
    unknown = run_cli("revoke-api-key", "not-an-id", env=env)
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr


async def test_the_account_team_lists_keys_in_the_api_and_nobody_else_does(api: Api, world: World) -> None:
    query = "{ apiKeys(first: 100) { totalCount edges { node { id name role revokedAt account { name } } } } }"
    keys = (await api.gql(query))["apiKeys"]
    names = {e["node"]["name"] for e in keys["edges"]}
    assert {"test team", "key"} <= names or len(names) >= 3, names
    assert keys["totalCount"] == len(keys["edges"])
    assert (await api.gql(query, key=world.manager))["apiKeys"] == {"totalCount": 0, "edges": []}


# --- 6: the ledger's currency -------------------------------------------------------------------------


async def test_the_ledger_csv_ends_each_row_with_the_sources_currency(api: Api, world: World) -> None:
    await world.published("120.00")
    response = await api.client.get(
        "/exports/ledger.csv",
        params={"budgetSourceId": world.source},
        headers={"Authorization": f"Bearer {world.viewer}"},
    )
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][-2:] == ["actor", "currency"] and len(rows) == 2
    assert rows[1][-1] == "USD"


# --- 7, 9: messages that read right -------------------------------------------------------------------


async def test_spend_before_a_campaign_starts_says_when_it_can_come(api: Api, world: World) -> None:
    from datetime import timedelta

    delivery = await api.issue_key("DELIVERY", None, "ads")
    start = TODAY + timedelta(days=10)
    campaign = await world.published("50.00", start=start, end=start + timedelta(days=5))
    result = await api.mutate("reportSpend", {"campaignId": campaign, "date": iso(TODAY), "amount": "1.00"}, delivery)
    assert result["code"] == "SCHEDULE_OUTSIDE_TERM"
    assert f"no spend can be reported before {start}" in result["message"]


async def test_an_account_team_key_is_an_account_team_key(api: Api, world: World) -> None:
    result = await api.mutate(
        "issueApiKey", {"name": "x", "role": "ACCOUNT_TEAM", "accountId": world.account}, select="... on ApiKey { id }"
    )
    assert result["message"].startswith("an ACCOUNT_TEAM key")


async def test_a_scalar_error_quotes_the_value_once(api: Api, world: World) -> None:
    mutation = 'mutation { updateCampaign(input: {campaignId: "Q2FtcGFpZ246MQ", budget: "100.005"}) { __typename } }'
    [error] = (await api.post(mutation, key=world.manager)).json()["errors"]
    assert "''" not in error["message"] and "100.005 is not an amount" in error["message"]


def test_text_logs_name_the_request() -> None:
    record = logging.LogRecord("budgetline.request", logging.INFO, "", 0, "%s %s %s", ("POST", "-", 401), None)
    record.request_id = "3f2a9c"
    assert TextFormatter("%(message)s").format(record) == "POST - 401 (request 3f2a9c)"


def test_the_docs_stand_on_their_own() -> None:
    concepts = (ROOT / "docs" / "concepts.md").read_text()
    assert "API.md" not in concepts
    assert "R1-R14" not in (ROOT / "docs" / "tutorial.md").read_text()
    errors = (ROOT / "docs" / "errors.md").read_text()
    assert "`first` outside 0..100" not in errors.split("| `BAD_USER_INPUT`")[0]
    readme = (ROOT / "README.md").read_text()
    assert "about ten minutes" in readme and "from=2026-11-01" not in readme
