"""OpenTelemetry tracing: off unless OTEL_EXPORTER_OTLP_ENDPOINT is set (or a test passes a
tracer provider). One trace per request: the HTTP server span of Starlette's instrumentation
(with `budgetline.request_id`), under it the GraphQL operation (Strawberry's OpenTelemetry
extension, or the planner's span), its resolvers, and every SQL statement (asyncpg's
instrumentation).

What never goes into a span: variables (of a GET's query string or a resolver's arguments),
SQL parameters (asyncpg's instrumentation does not capture them, and the engine hides them from
exception texts), headers (the Authorization header included) and responses. The document and
the SQL text are recorded: they carry no secret (secrets are only ever in responses and
headers), but a value written inline in the document is part of it: send values as variables."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.starlette import StarletteInstrumentor
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span
from starlette.applications import Starlette
from strawberry.extensions import SchemaExtension
from strawberry.extensions.tracing import OpenTelemetryExtension

REQUEST_ID = "budgetline.request_id"
# Attributes of the HTTP span that may hold the query string (old and new semantic conventions).
_URL_ATTRIBUTES = ("http.url", "http.target", "url.full")


def provider_from_env() -> TracerProvider | None:
    """An OTLP/HTTP exporter to OTEL_EXPORTER_OTLP_ENDPOINT (the SDK reads the other OTEL_*
    variables: headers, timeout, sampler...), or None: tracing is off."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(
        resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "budgetline")})
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def instrument(app: Starlette, provider: TracerProvider) -> Callable[[], None]:
    """Trace `app`'s requests and every asyncpg statement of the process; returns the undo.

    A caller's `traceparent` is ignored unless OTEL_PROPAGATORS is set: at a public edge it
    would decide whether a request is traced (a "not sampled" flag hides it) and graft the
    request onto the caller's trace. Behind a gateway you trust, set
    OTEL_PROPAGATORS=tracecontext,baggage to join its traces."""
    propagator = propagate.get_global_textmap()
    if "OTEL_PROPAGATORS" not in os.environ:
        propagate.set_global_textmap(_NoIncomingContext())
    StarletteInstrumentor.instrument_app(app, tracer_provider=provider, server_request_hook=_without_query_string)
    instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    instrumentor.instrument(tracer_provider=provider)

    def undo() -> None:
        instrumentor.uninstrument()
        StarletteInstrumentor.uninstrument_app(app)
        propagate.set_global_textmap(propagator)

    return undo


def extensions(provider: TracerProvider) -> list[Callable[[], SchemaExtension]]:
    """Strawberry's own OpenTelemetry extension, with no resolver argument in any span."""
    return [lambda: OpenTelemetryExtension(arg_filter=_no_arguments, tracer_provider=provider)]


def tag_request(request_id: str) -> None:
    """The request ID on the request's span (a no-op when tracing is off)."""
    trace.get_current_span().set_attribute(REQUEST_ID, request_id)


class _NoIncomingContext(TextMapPropagator):
    """Extracts nothing: every request starts a trace of its own."""

    def extract(self, carrier: Any, context: Context | None = None, getter: Any = None) -> Context:
        return context if context is not None else Context()

    def inject(self, carrier: Any, context: Context | None = None, setter: Any = None) -> None:
        return None

    @property
    def fields(self) -> set[str]:
        return set()


def _no_arguments(arguments: dict[str, Any], info: Any) -> dict[str, Any]:
    return {}


def _without_query_string(span: Span, scope: dict[str, Any]) -> None:
    """A GET carries its variables in the query string: the span keeps the path only."""
    if not span.is_recording() or not scope.get("query_string"):
        return
    attributes = getattr(span, "attributes", None) or {}
    for name in _URL_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str):
            parts = urlsplit(value)
            span.set_attribute(name, urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")))
    if "url.query" in attributes:
        span.set_attribute("url.query", "")
