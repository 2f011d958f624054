"""Automatic persisted queries: a production SPA sends hashes, over POST or GET."""

from __future__ import annotations

import hashlib
import json

from tests.helpers import Api

QUERY = "{ viewer { role } }"
HASH = hashlib.sha256(QUERY.encode()).hexdigest()
EXTENSIONS = {"persistedQuery": {"version": 1, "sha256Hash": HASH}}


async def test_hash_only_then_register_then_hash_only(api: Api) -> None:
    auth = {"Authorization": f"Bearer {api.team_secret}"}
    miss = await api.client.post("/graphql", json={"extensions": EXTENSIONS}, headers=auth)
    assert miss.status_code == 200
    assert miss.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    register = await api.client.post("/graphql", json={"query": QUERY, "extensions": EXTENSIONS}, headers=auth)
    assert register.json() == {"data": {"viewer": {"role": "ACCOUNT_TEAM"}}}
    hit = await api.client.post("/graphql", json={"extensions": EXTENSIONS}, headers=auth)
    assert hit.json() == {"data": {"viewer": {"role": "ACCOUNT_TEAM"}}}
    over_get = await api.client.get("/graphql", params={"extensions": json.dumps(EXTENSIONS)}, headers=auth)
    assert over_get.json() == {"data": {"viewer": {"role": "ACCOUNT_TEAM"}}}


async def test_a_hash_that_does_not_match_its_query_is_refused(api: Api) -> None:
    bad = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    response = await api.client.post(
        "/graphql", json={"query": QUERY, "extensions": bad}, headers={"Authorization": f"Bearer {api.team_secret}"}
    )
    assert response.status_code == 400 and "does not match" in response.json()["errors"][0]["message"]
    # and it was not stored under the wrong hash
    lookup = await api.client.post(
        "/graphql", json={"extensions": bad}, headers={"Authorization": f"Bearer {api.team_secret}"}
    )
    assert lookup.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
