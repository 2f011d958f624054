"""GraphiQL works without a CDN: its page points at our copies, which match its SRI hashes."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx

from budgetline.graphiql import CDN_FILES


async def test_graphiql_page_loads_every_asset_from_this_server(client: httpx.AsyncClient) -> None:
    page = (await client.get("/graphql", headers={"Accept": "text/html"})).text
    assert re.findall(r'(?:src|href)="https?://', page) == []  # nothing from another host
    tags = re.findall(r'(?:src|href)="(/graphiql-assets/[^"]+)"\s+integrity="([^"]+)"', page)
    assert len(tags) == len(CDN_FILES)
    for path, integrity in tags:
        response = await client.get(path)
        assert response.status_code == 200, path
        algorithm, expected = integrity.split("-", 1)
        digest = base64.b64encode(hashlib.new(algorithm, response.content).digest()).decode()
        assert digest == expected, f"{path} does not match the page's integrity hash"
