"""HTTP side of authentication: `Authorization: Bearer <secret>`."""

from __future__ import annotations

from starlette.requests import Request


def bearer_secret(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()
