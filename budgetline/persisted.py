"""Automatic persisted queries (Apollo's APQ protocol), so a production SPA can send hashes.

A client sends `extensions.persistedQuery = {version: 1, sha256Hash}` without `query`; when this
process does not know the hash yet, it answers PERSISTED_QUERY_NOT_FOUND and the client resends
hash and query once. Queries are kept per process in an LRU bounded in entries and in bytes, so
an attacker can fill it but never grow it.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from cross_web import HTTPException
from strawberry.http import GraphQLRequestData

from budgetline.limits import BoundedCache


class PersistedQueryNotFound(Exception):
    pass


class PersistedQueries:
    def __init__(self, max_entries: int = 1000, max_bytes: int = 32 * 1024 * 1024) -> None:
        self._queries: BoundedCache[str, str] = BoundedCache(max_entries, max_bytes)

    def resolve(self, data: GraphQLRequestData) -> GraphQLRequestData:
        persisted = (data.extensions or {}).get("persistedQuery")
        if persisted is None:
            return data
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            raise HTTPException(400, "persistedQuery: only version 1 is supported")
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str) or len(digest) != 64:
            raise HTTPException(400, "persistedQuery.sha256Hash must be 64 hex digits")
        if data.query is None:
            query = self._queries.get(digest)
            if query is None:
                raise PersistedQueryNotFound
            return replace(data, query=query)
        if hashlib.sha256(data.query.encode()).hexdigest() != digest:
            raise HTTPException(400, "persistedQuery.sha256Hash does not match the query")
        self._queries.put(digest, data.query, len(data.query) + len(digest))
        return data
