"""Every example of the README runs unchanged against a fresh demo and answers what the README
says, like the tutorial's requests (tests/test_tutorial.py): its GraphQL operations (the ones in
code blocks and the ones written inline, `account { ... }`), with the demo's IDs as their
variables, and its curl commands against a real server. Subscriptions are validated only (their
events are tests/test_subscriptions.py's), and the front-end code is tests/test_frontend.py's."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
from graphql import OperationDefinitionNode, OperationType, parse

from budgetline import demo
from budgetline.settings import Settings
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def inline_account_queries() -> list[str]:
    """`account { ... }` written in the README's prose, as the query a reader would send."""
    found = []
    for code in re.findall(r"`(account \{.*?\})`", README, re.S):
        body = " ".join(code.split())
        if body.count("{") == body.count("}"):
            found.append("query($account: ID!) { " + body.replace("account {", "account(id: $account) {", 1) + " }")
    return found


async def test_every_readme_operation_runs_on_a_fresh_demo(database_url: str, tmp_path: Path, api: Any) -> None:
    loaded = await demo.load(database_url, Settings(database_url=database_url, data_dir=tmp_path))
    team = next(k["secret"] for k in loaded.keys if k["role"] == "ACCOUNT_TEAM")
    northwind = loaded.accounts[0]
    orders = await api.gql(
        "query($id: ID!) { account(id: $id) { orders { id orderNumber } } }", {"id": northwind.id}, team
    )
    variables = {
        "account": northwind.id,
        "order": next(o["id"] for o in orders["account"]["orders"] if o["orderNumber"] == "Q-000123"),
    }
    operations = blocks("graphql") + inline_account_queries()
    assert len(operations) >= 6, operations
    ran = 0
    for text in operations:
        [operation] = [d for d in parse(text).definitions if isinstance(d, OperationDefinitionNode)]
        if operation.operation == OperationType.SUBSCRIPTION:
            continue
        wanted = {v.variable.name.value: variables[v.variable.name.value] for v in operation.variable_definitions}
        response = await api.post(text, wanted, team)
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, (text, body)
        for answer in body["data"].values():  # a mutation's answer is its object, not a user error
            assert not (isinstance(answer, dict) and "code" in answer), (text, answer)
        ran += 1
    assert ran >= 5


async def test_the_readme_curl_examples_answer_on_a_fresh_demo(
    database_url: str, tmp_path: Path, live_servers: Any
) -> None:
    loaded = await demo.load(database_url, Settings(database_url=database_url, data_dir=tmp_path))
    team = next(k["secret"] for k in loaded.keys if k["role"] == "ACCOUNT_TEAM")
    [server] = live_servers(1)
    commands = [b for b in blocks("sh") if "curl" in b]
    assert commands
    for script in commands:
        done = await asyncio.to_thread(
            subprocess.run,
            ["bash", "-e", "-c", script.replace("http://127.0.0.1:8000", server.url)],
            env={**os.environ, "KEY": team},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, (script, done.stderr)
    for name in ("ledger.csv", "ledger-30-days.csv"):  # the demo's entries, dated the day it was loaded
        rows = list(csv.reader(io.StringIO((tmp_path / name).read_text())))
        assert rows[0][-1] == "currency" and len(rows) > 2, (name, rows[:3])
    async with httpx.AsyncClient() as client:
        assert (await client.get(server.url + "/healthz")).status_code == 200
