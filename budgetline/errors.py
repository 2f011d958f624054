"""How GraphQL errors reach the client: a code in `extensions`, never a stack trace, SQL or secret."""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError

from resolvers.errors import UserError

log = logging.getLogger("budgetline.errors")


def request_error_code(error: GraphQLError) -> str:
    """Errors raised before execution (they have no path): parse, validation, variable coercion."""
    message = error.message
    if message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if message.startswith("Variable '$") or "Expected value of type" in message:
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"


def format_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    if error.path is None:
        formatted = error.formatted
        formatted["extensions"] = {"code": request_error_code(error)}
        return formatted
    original = error.original_error
    if isinstance(original, UserError):
        return {
            "message": original.message,
            "locations": error.formatted.get("locations"),
            "path": error.path,
            "extensions": {"code": "BAD_USER_INPUT", "field": original.field},
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


def is_request_error(errors: list[GraphQLError] | None, data: Any) -> bool:
    return bool(errors) and data is None and all(e.path is None for e in errors or [])
