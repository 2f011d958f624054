"""The docs agree with the code: every GraphQL example validates against the schema, every error
code is explained, every link stays inside the repository, and the first hour reads as written.
(docs/tutorial.md is run request by request by tests/test_tutorial.py.)"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from graphql import parse, validate

from schema import graphql_schema, schema
from tests.conftest import ROOT

GRAPHQL = graphql_schema(schema)  # graphql-core's schema, from Strawberry's public SDL

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_every_graphql_example_validates() -> None:
    count = 0
    for page in DOCS:
        for block in re.findall(r"```graphql\n(.*?)```", page.read_text(), re.S):
            assert validate(GRAPHQL, parse(block)) == [], (page.name, block)
            count += 1
    assert count >= 30


def test_the_curl_examples_validate() -> None:
    queries = re.findall(r'"query":"(.*?)",\s*\n', (ROOT / "docs" / "http.md").read_text())
    assert len(queries) == 5
    for query in queries:
        assert validate(GRAPHQL, parse(query)) == [], query


def top_level_codes() -> set[str]:
    """Every `extensions.code` the server sets: json_error's code argument, `"code": ...` in a
    dict, and what request_error_code returns."""
    codes: set[str] = set()
    for path in (ROOT / "budgetline").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "json_error" and len(node.args) >= 4:
                argument = node.args[3]
                if isinstance(argument, ast.Constant):
                    codes.add(argument.value)
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "code" and isinstance(value, ast.Constant):
                        codes.add(value.value)
            if isinstance(node, ast.FunctionDef) and node.name == "request_error_code":
                codes |= {
                    r.value.value
                    for r in ast.walk(node)
                    if isinstance(r, ast.Return) and isinstance(r.value, ast.Constant)
                }
    return codes


def test_errors_page_lists_every_code() -> None:
    page = (ROOT / "docs" / "errors.md").read_text()
    listed = set(re.findall(r"^\| `([A-Z_]+)` \|", page, re.M))
    error_codes = set(GRAPHQL.get_type("ErrorCode").values)  # type: ignore[union-attr]
    found = top_level_codes()
    assert {"UNAUTHENTICATED", "BAD_REQUEST", "PAYLOAD_TOO_LARGE", "SERVICE_UNAVAILABLE"} <= found  # the scan works
    assert error_codes - listed == set(), "ErrorCode values missing from docs/errors.md"
    assert found - listed == set(), "top-level codes missing from docs/errors.md"
    assert listed - error_codes - found == set(), "docs/errors.md lists codes the server never sets"


def markdown_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / name for name in listed]


def test_no_link_leaves_the_repository() -> None:
    pages = markdown_files()
    assert ROOT / "docs" / "concepts.md" in pages
    for page in pages:
        for target in LINK.findall(page.read_text()):
            assert not re.match(r"^[a-z]+:|^//", target), f"{page.relative_to(ROOT)} links outside: {target}"
            path = (page.parent / target.split("#")[0]).resolve()
            assert path.is_relative_to(ROOT), f"{page.relative_to(ROOT)} links outside the repository: {target}"
            assert path.exists(), f"{page.relative_to(ROOT)} links to a missing file: {target}"


def test_the_readme_s_promises_hold() -> None:
    readme = (ROOT / "README.md").read_text()
    for page in re.findall(r"\]\((docs/[a-z]+\.md)\)", readme):
        assert (ROOT / page).exists(), page
    expected = {f"docs/{name}.md" for name in ("concepts", "tutorial", "errors", "configuration", "deploy", "security")}
    assert expected <= set(re.findall(r"\]\((docs/[a-z]+\.md)\)", readme))
    make = (ROOT / "Makefile").read_text()
    assert "\nreset:" in make and ".budgetline " in make


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "budgetline.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def test_the_cli_explains_itself() -> None:
    top = run_cli("--help")
    assert top.returncode == 0
    for command in ("serve", "migrate", "create-api-key", "demo", "check-ledger", "sweep"):
        assert command in top.stdout
        done = run_cli(command, "--help")
        assert done.returncode == 0 and "usage: budgetline" in done.stdout
        description = done.stdout.split("\n\n")[1]
        assert len(description) > 40, (command, description)  # a sentence, not just the usage line
    serve = run_cli("serve", "--help").stdout
    assert "BUDGETLINE_PORT; default 8000" in serve and "BUDGETLINE_HOST; default 127.0.0.1" in serve
    key = " ".join(run_cli("create-api-key", "--help").stdout.split())
    assert "{ accounts { id name } }" in key and "ACCOUNT_ID" in key
    version = run_cli("--version")
    assert version.returncode == 0 and re.match(r"budgetline \d+\.\d+", version.stdout)


def test_every_setting_is_documented() -> None:
    from budgetline.settings import Settings

    page = (ROOT / "docs" / "configuration.md").read_text()
    named = set(re.findall(r"`((?:BUDGETLINE_)?[A-Z_]+)`", page))
    expected = {
        "DATABASE_URL" if name == "database_url" else f"BUDGETLINE_{name.upper()}" for name in Settings.model_fields
    }
    assert expected - named == set(), "settings missing from docs/configuration.md"
