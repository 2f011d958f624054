"""The README's GraphQL examples are valid against the live schema."""

from __future__ import annotations

import re

from graphql import parse, validate

from schema import schema
from tests.conftest import ROOT


def test_readme_graphql_blocks_validate() -> None:
    blocks = re.findall(r"```graphql\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert len(blocks) >= 8
    for block in blocks:
        assert validate(schema._schema, parse(block)) == [], block


def test_readme_curl_queries_validate() -> None:
    queries = re.findall(r'"query":"(.*?)",\s*\n', (ROOT / "README.md").read_text())
    assert len(queries) == 5
    for query in queries:
        assert validate(schema._schema, parse(query)) == [], query
