"""Limits that keep one request from tipping the server over: GraphQL document limits as
Strawberry extensions (factories, so each request gets fresh ones) and a request body limit."""

from __future__ import annotations

import json
from collections.abc import Callable

from graphql import ASTValidationRule
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

from budgetline.settings import Settings


def validation_rules(settings: Settings) -> list[type[ASTValidationRule]]:
    """The server's own rules, on top of the specification's: depth, aliases, introspection."""
    rules = [
        *QueryDepthLimiter(max_depth=settings.max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    if not settings.introspection:
        rules.extend(DisableIntrospection().validation_rules)
    return rules


def schema_extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    # The limiters make a new validation rule class each time they are built; build them once,
    # so every request validates with the same rules and ValidationCache can hit.
    rules = validation_rules(settings)
    return [
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: AddValidationRules(rules),
        # Parsing and validating the same document again is wasted work: cache both (shared LRUs).
        lambda: ParserCache(maxsize=1000),
        lambda: ValidationCache(maxsize=1000),
    ]


class BodyLimit:
    """413 for a request body over `max_bytes`, whether it announces its length or streams."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise PayloadTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except PayloadTooLarge:
            await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        body = json.dumps(
            {
                "errors": [
                    {
                        "message": f"the request body is larger than {self.max_bytes} bytes",
                        "extensions": {"code": "PAYLOAD_TOO_LARGE"},
                    }
                ]
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


class PayloadTooLarge(Exception):
    """Raised from `receive` when a streamed body passes the limit; the app must let it through."""
