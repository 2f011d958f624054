"""HTTP side of authentication: `Authorization: Bearer <secret>`."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.requests import Request

from resolvers.context import Principal


def bearer_secret(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


class KeyCache:
    """The principals of keys seen lately, by their secret's hash, so that a request in the steady
    state costs no statement to authenticate. Safe because revocation is heard at once: the
    api_keys trigger notifies `ApiKey:0:<id>` when a key is revoked, and the process's listening
    connection (budgetline/events.py) drops the key here. The cache answers only while that
    connection listens and answered lately (`fresh()`: a connection cut without a word is found
    out within seconds), is emptied when it comes back (notices may have been missed while it was
    gone), and holds an entry `TTL_S` at most. With no connection that can listen (behind a
    transaction pooler without BUDGETLINE_DATABASE_DIRECT_URL) it never answers."""

    TTL_S = 10.0
    MAX_KEYS = 10_000

    def __init__(self, fresh: Callable[[], bool]) -> None:
        self.listening = fresh
        self.entries: OrderedDict[bytes, tuple[Principal, float]] = OrderedDict()
        # Bumped by every revocation heard: a lookup that began before one keeps nothing.
        self.generation = 0

    def get(self, digest: bytes) -> Principal | None:
        if not self.listening():
            return None
        found = self.entries.get(digest)
        if found is None:
            return None
        principal, at = found
        if time.monotonic() - at > self.TTL_S:
            del self.entries[digest]
            return None
        return principal

    def put(self, digest: bytes, principal: Principal, generation: int) -> None:
        """Keep what a lookup found, unless a revocation was heard since it began."""
        if generation != self.generation or not self.listening():
            return
        self.entries[digest] = (principal, time.monotonic())
        self.entries.move_to_end(digest)
        while len(self.entries) > self.MAX_KEYS:
            self.entries.popitem(last=False)

    def revoked(self, api_key_id: int) -> None:
        self.generation += 1
        for digest in [d for d, (p, _) in self.entries.items() if p.api_key_id == api_key_id]:
            del self.entries[digest]

    def clear(self) -> None:
        self.generation += 1
        self.entries.clear()
