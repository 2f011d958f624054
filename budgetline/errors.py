"""How GraphQL errors reach the client: a code in `extensions`, never a stack trace, SQL or secret."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import strawberry
from graphql import ArgumentNode, GraphQLError, Node, ObjectFieldNode, Visitor, parse, visit
from starlette.requests import Request
from starlette.responses import JSONResponse
from strawberry.types import ExecutionContext

from db.session import database_busy, database_unavailable
from resolvers.errors import UserError

log = logging.getLogger("budgetline.errors")

BUSY_MESSAGE = "the database could not finish this in time (a timeout or a lost race); nothing was changed: retry"


class QuietSchema(strawberry.Schema):
    """Strawberry logs every error at ERROR with its message (a variable's value included) and
    a traceback. Here a client's error is one INFO line with its code and nothing it sent;
    a server fault is logged once, at ERROR with its traceback, by `format_error`."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        for error in errors:
            if error.path is None:
                log.info("request error %s", request_error_code(error))


def request_error_code(error: GraphQLError) -> str:
    """Errors raised before execution (they have no path): parse, validation, variable coercion."""
    message = error.message
    if message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if message.startswith(("Variable '$", "Expected value of type", "Value cannot represent")):
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"


def literal_path(error: GraphQLError) -> str | None:
    """`input.amount` for an error on a literal argument value: graphql-core names the type, not the field."""
    if not error.nodes or error.source is None or error.nodes[0].loc is None:
        return None
    return literal_paths(error.source.body).get(error.nodes[0].loc.start)


@lru_cache(maxsize=16)
def literal_paths(body: str) -> dict[int, str]:
    """Where each argument and input-field value of a document starts -> its path. One parse and
    one walk per document, however many of its values are wrong (a hundred errors on a large
    document once cost a hundred parses)."""
    paths: dict[int, str] = {}

    class Finder(Visitor):
        def __init__(self) -> None:
            super().__init__()
            self.stack: list[str] = []

        def enter(self, node: Node, *_: Any) -> None:
            if isinstance(node, (ArgumentNode, ObjectFieldNode)):
                self.stack.append(node.name.value)
                if node.value.loc is not None:
                    paths.setdefault(node.value.loc.start, ".".join(self.stack))

        def leave(self, node: Node, *_: Any) -> None:
            if isinstance(node, (ArgumentNode, ObjectFieldNode)):
                self.stack.pop()

    try:
        visit(parse(body), Finder())
    except GraphQLError:
        return {}
    return paths


def format_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    if error.path is None:
        formatted: dict[str, Any] = dict(error.formatted)
        code = request_error_code(error)
        if code == "BAD_USER_INPUT" and not error.message.startswith("Variable '$"):
            path = literal_path(error)
            if path:
                formatted["message"] = f"{path}: {error.message}"
        formatted["extensions"] = {**(error.extensions or {}), "code": code}
        return formatted
    original = error.original_error
    if isinstance(original, UserError):
        return {
            "message": original.message,
            "locations": error.formatted.get("locations"),
            "path": error.path,
            "extensions": {"code": "BAD_USER_INPUT", "field": original.field},
        }
    if original is not None and database_busy(original):
        log.warning("database busy in %s (request %s)", ".".join(map(str, error.path)), request_id)
        return {
            "message": BUSY_MESSAGE,
            "path": error.path,
            "extensions": {"code": "SERVICE_UNAVAILABLE", "requestId": request_id},
        }
    if original is not None and database_unavailable(original):
        log.warning("database unavailable in %s (request %s)", ".".join(map(str, error.path)), request_id)
        return {
            "message": "the database is unavailable; retry shortly",
            "path": error.path,
            "extensions": {"code": "SERVICE_UNAVAILABLE", "requestId": request_id},
        }
    log.error(
        "internal error in %s (request %s)",
        ".".join(str(p) for p in error.path),
        request_id,
        exc_info=(type(original), original, original.__traceback__) if original else None,
    )
    return {
        "message": f"Internal server error (request id {request_id})",
        "path": error.path,
        "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    }


GRAPHQL_RESPONSE = "application/graphql-response+json"


def response_media_type(accept: str) -> str:
    """GraphQL over HTTP: a client that accepts application/graphql-response+json (at least as
    much as application/json, by their q values) gets it, and so does one that names no JSON
    type at all; the others, and no Accept at all, get application/json. Every response of
    /graphql follows it, server-made errors included."""
    if not accept.strip():
        return "application/json"
    weights: dict[str, float] = {}
    for entry in accept.split(","):
        media, *params = (part.strip() for part in entry.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        weights[media.lower()] = max(weights.get(media.lower(), 0.0), q)
    modern = weights.get(GRAPHQL_RESPONSE, 0.0)
    legacy = max(weights.get("application/json", 0.0), weights.get("application/*", 0.0), weights.get("*/*", 0.0))
    if modern > 0 and modern >= legacy:
        return GRAPHQL_RESPONSE + "; charset=utf-8"
    if legacy > 0:
        return "application/json"
    return GRAPHQL_RESPONSE + "; charset=utf-8"


def json_error(request: Request, status: int, message: str, code: str, **headers: str) -> JSONResponse:
    """An error outside GraphQL execution (authentication, transport, idempotency, outages),
    with the request id, in the media type the client accepts, and its code counted for the
    request log and metrics."""
    request_id = request.state.request_id
    request.state.codes.append(code)
    body = {"errors": [{"message": message, "extensions": {"code": code, "requestId": request_id}}]}
    response = JSONResponse(body, status_code=status, headers={"X-Request-Id": request_id, **headers})
    response.headers["content-type"] = response_media_type(request.headers.get("accept", ""))
    return response


def unauthenticated(request: Request) -> JSONResponse:
    """401 for a request without a valid key, on every endpoint that takes one."""
    return json_error(
        request,
        401,
        "a valid API key is required: send Authorization: Bearer <secret>",
        "UNAUTHENTICATED",
        **{"WWW-Authenticate": "Bearer"},
    )


def is_request_error(errors: list[GraphQLError] | None, data: Any) -> bool:
    return bool(errors) and data is None and all(e.path is None for e in errors or [])
