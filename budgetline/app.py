"""The Starlette app factory: /graphql (GraphiQL for browsers), /healthz, /readyz."""

from __future__ import annotations

import asyncio
import gc
import hmac
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import introspection_from_schema
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult as StrawberryExecutionResult

from budgetline import idempotency, observability, sweeper, tracing
from budgetline.auth import KeyCache, bearer_secret
from budgetline.errors import (
    BUSY_MESSAGE,
    QuietSchema,
    format_error,
    is_request_error,
    json_error,
    response_media_type,
    unauthenticated,
)
from budgetline.events import TRY_AGAIN_LATER, Hub
from budgetline.exports import LedgerExport
from budgetline.graphiql import ASSETS_DIR, ASSETS_PATH, DemoKey, page
from budgetline.limits import BodyLimit, Documents, PayloadTooLarge, schema_extensions
from budgetline.observability import Metrics, OperationName
from budgetline.payloads import Payloads
from budgetline.persisted import PersistedQueries, PersistedQueryNotFound
from budgetline.planner import Handover, Plan, Planner
from budgetline.settings import Settings
from budgetline.websocket import CONNECTION_INIT_TIMEOUT, SocketState, TextFrames, TransportWS
from db import migrate
from db.session import ReadPool, create_engine, database_busy, database_unavailable, session_factory
from resolvers.api_keys import authenticate, hash_secret, principal_of
from resolvers.context import Context, Principal
from schema import build_schema, graphql_schema

log = logging.getLogger("budgetline.app")
access_log = logging.getLogger("budgetline.request")

# How long a request waits for a database connection before it is told to retry (as the pool's own
# default timeout).
ADMISSION_TIMEOUT_S = 30.0


async def _close(session: AsyncSession) -> None:
    """Give the connection back; one left mid-query by a cancelled resolver is discarded instead."""
    try:
        await session.close()
    except Exception:
        log.warning("discarding a database connection left in a broken state", exc_info=True)
        await session.invalidate()


@dataclass
class Answered:
    """What the request log and metrics read of a request the planner answered alone."""

    principal: Principal
    operation: str
    user_error_codes: list[str] = field(default_factory=list)

    async def end(self) -> None:
        """Nothing to give back: its connection went back to the read pool with its answer."""


class BudgetlineGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view plus authentication, one session per request and error masking;
    subscriptions over graphql-transport-ws (budgetline/websocket.py)."""

    graphql_transport_ws_handler_class = TransportWS  # type: ignore[assignment]
    websocket_adapter_class = TextFrames

    def __init__(
        self,
        engine: AsyncEngine,
        guard_engine: AsyncEngine,
        settings: Settings,
        metrics: Metrics,
        hub: Hub,
        reads: ReadPool,
        tracer_provider: TracerProvider | None = None,
        demo_keys: Sequence[DemoKey] = (),
    ) -> None:
        # One parse and validation cache for both paths, bounded in bytes (budgetline/limits.py).
        self.documents = Documents(settings)
        traced = tracing.extensions(tracer_provider) if tracer_provider else []
        super().__init__(
            build_schema([*schema_extensions(self.documents), OperationName, *traced], schema_class=QuietSchema),
            graphql_ide="graphiql" if settings.graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=CONNECTION_INIT_TIMEOUT,
            max_subscriptions_per_connection=settings.ws_max_subscriptions,
            allowed_origins=settings.cors_origin_list,
        )
        self.hub = hub
        # Principals by key hash: no statement to authenticate in the steady state. Only with a
        # connection that hears revocations: LISTEN does not pass a transaction pooler.
        can_listen = not settings.pooled or settings.database_direct_url is not None
        self.keys = KeyCache(hub.fresh if can_listen else lambda: False)
        hub.on_revoked.append(self.keys.revoked)
        hub.on_connected.append(self.keys.clear)
        self.open_sockets = 0
        self.max_sockets = settings.ws_max_sockets
        self.tracer = tracer_provider.get_tracer("budgetline") if tracer_provider else None
        # Validation and the planner read the schema as graphql-core has it, from its SDL.
        self.documents.schema = graphql_schema(self.schema)
        self.payloads = Payloads(self.documents.schema, settings.cache_max_bytes)
        self.planner = (
            Planner(self.documents.schema, self.documents, settings.cache_max_bytes, strict=settings.planner_strict)
            if settings.planner
            else None
        )
        self.body_timeout_s = settings.body_timeout_s
        self.sessions = session_factory(engine)
        self.reads = reads
        # Requests beyond what the pool holds wait here, in a plain asyncio queue, rather than in
        # the pool's own wait (much dearer in CPU per waiter: see docs/benchmarks.md).
        self.admission = asyncio.Semaphore(settings.db_pool_size + settings.db_max_overflow)
        self.guard_engine = guard_engine
        self.metrics = metrics
        self.persisted = PersistedQueries(max_bytes=settings.cache_max_bytes)
        introspection = introspection_from_schema(self.documents.schema) if settings.introspection else None
        self.graphiql_html = page(self.graphql_ide_html, introspection=introspection, demo_keys=demo_keys)

    async def get_context(self, request: Any, response: Any = None) -> Any:
        """A WebSocket's: filled in by connection_init (HTTP requests get theirs in _execute)."""
        return SocketState()

    async def serve_websocket(self, websocket: WebSocket) -> None:
        """At most BUDGETLINE_WS_MAX_SOCKETS per process, initialised or not (one more is refused
        before the handshake completes: HTTP 403)."""
        if self.open_sockets >= self.max_sockets:
            await websocket.close(code=TRY_AGAIN_LATER)
            return
        self.open_sockets += 1
        try:
            await self.run(websocket)
        finally:
            self.open_sockets -= 1

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(self.graphiql_html)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Mounted as a Route: Starlette hands it HTTP requests only.
        started = time.perf_counter()
        request = Request(scope, receive)
        request_id = observability.request_id(request.headers.get("x-request-id", ""))
        request.state.request_id = request_id
        request.state.codes = []
        if self.tracer is not None:
            tracing.tag_request(request_id)
        response = await self._respond(request, request_id)
        response.headers["X-Request-Id"] = request_id
        if request.method == "GET":
            # A GET answer depends on the key and the media type, and figures move all the time:
            # a browser may keep it but must ask again; no shared cache may keep it at all.
            response.headers["Cache-Control"] = "private, no-cache"
            response.headers["Vary"] = "Accept, Authorization"
        await response(scope, receive, send)
        self._log_request(request, response.status_code, time.perf_counter() - started)

    def _log_request(self, request: Request, status: int, seconds: float) -> None:
        """One log line and the metrics of a request (the GraphiQL page is not counted)."""
        context: Context | None = getattr(request.state, "context", None)
        if context is None and status == 200:
            return
        operation = context.operation if context else "-"
        codes = [*request.state.codes, *(context.user_error_codes if context else [])]
        self.metrics.observe(operation, status, seconds, codes)
        if not access_log.isEnabledFor(logging.INFO):
            return
        access_log.info(
            "%s %s %s",
            request.method,
            operation,
            status,
            extra={
                "request_id": request.state.request_id,
                "method": request.method,
                "path": request.scope["path"],
                "status": status,
                "operation": operation,
                "principal": f"api-key:{context.principal.api_key_id}" if context else None,
                "duration_ms": round(seconds * 1000, 2),
                "codes": codes,
            },
        )

    async def _respond(self, request: Request, request_id: str) -> Response:
        if self._wants_graphiql(request):
            if not self.graphql_ide:
                return PlainTextResponse("Not Found", status_code=404)
            return await self.render_graphql_ide(request)
        problem = await self._read_body(request)
        if problem is not None:
            return problem
        if self.admission.locked():
            try:
                await asyncio.wait_for(self.admission.acquire(), ADMISSION_TIMEOUT_S)
            except TimeoutError:
                return json_error(request, 503, "the server is busy; retry shortly", "SERVICE_UNAVAILABLE")
        else:
            await self.admission.acquire()
        try:
            return await self._respond_with_session(request, request_id)
        finally:
            self.admission.release()

    async def _read_body(self, request: Request) -> Response | None:
        """The whole body, read (and size-checked by BodyLimit) before a request slot or a
        database connection is taken: a slow client holds nothing but its own socket."""
        try:
            await asyncio.wait_for(request.body(), self.body_timeout_s)
        except TimeoutError:
            return json_error(
                request, 408, f"the request body did not arrive within {self.body_timeout_s:g} s", "REQUEST_TIMEOUT"
            )
        except ClientDisconnect:
            log.info("client disconnected before sending its request (request %s)", request.state.request_id)
            return json_error(request, 400, "the client disconnected", "CLIENT_DISCONNECTED")
        return None

    async def _respond_with_session(self, request: Request, request_id: str) -> Response:
        session: AsyncSession | None = None
        try:
            answered = await self._answer_planned(request)
            if answered is not None:
                return answered
            # One session (one pooled connection) serves the whole request, the key lookup included.
            session = self.sessions()
            secret = bearer_secret(request)
            principal = await self._principal(session, secret) if secret else None
            if principal is None:
                return unauthenticated(request)
            key = request.headers.get(idempotency.HEADER)
            if key is not None and request.method == "POST":
                return await idempotency.perform_once(
                    self.guard_engine,
                    principal,
                    key,
                    request,
                    lambda k: self._execute(request, session, principal, request_id, k),
                )
            return await self._execute(request, session, principal, request_id, None)
        except PayloadTooLarge:
            raise
        except ClientDisconnect:
            log.info("client disconnected (request %s)", request_id)
            return json_error(request, 400, "the client disconnected", "CLIENT_DISCONNECTED")
        except Exception as exc:
            if database_busy(exc):
                log.warning("database busy (request %s): %s", request_id, type(exc).__name__)
                return json_error(request, 503, BUSY_MESSAGE, "SERVICE_UNAVAILABLE", **{"Retry-After": "1"})
            if not database_unavailable(exc):
                log.exception("unhandled error (request %s)", request_id)
                return json_error(
                    request,
                    500,
                    f"Internal server error (request id {request_id})",
                    "INTERNAL_SERVER_ERROR",
                )
            log.warning("database unavailable (request %s): %s", request_id, type(exc).__name__)
            return json_error(request, 503, "the database is unavailable; retry shortly", "SERVICE_UNAVAILABLE")
        finally:
            context = getattr(request.state, "context", None)
            try:
                if context is not None:
                    await context.end()
            finally:
                if session is not None:
                    await _close(session)

    async def _principal(self, session: AsyncSession, secret: str) -> Principal | None:
        """The key's principal: from the process's cache, else read (and kept)."""
        digest = hash_secret(secret)
        found = self.keys.get(digest)
        if found is not None:
            return found
        self.hub.start()  # the cache answers once the process listens for revocations
        generation = self.keys.generation
        found = await authenticate(session, secret)
        if found is not None:
            self.keys.put(digest, found, generation)
        return found

    async def _execute(
        self,
        request: Request,
        session: AsyncSession,
        principal: Principal,
        request_id: str,
        idempotency_key: str | None,
    ) -> Response:
        try:
            context = Context(
                session=session,
                principal=principal,
                request_id=request_id,
                idempotency_key=idempotency_key,
                payloads=self.payloads.reader,
            )
            request.state.context = context
            try:
                response = await self._planned(request, context) or await self.run(request, context=context)
            finally:
                for api_key_id in context.keys_revoked:
                    self.keys.revoked(api_key_id)
        except PersistedQueryNotFound:
            return json_error(request, 200, "PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
        except HTTPException as exc:
            if request.method == "GET" and "not allowed" in exc.reason:
                # GraphQL over HTTP: only queries travel over GET.
                return json_error(request, 405, exc.reason, "BAD_REQUEST", Allow="POST")
            if exc.reason == "Unsupported content type":  # HTTP's own code for it (Strawberry answers 400)
                return json_error(request, 415, "Unsupported content type: send application/json", "BAD_REQUEST")
            return json_error(request, exc.status_code, exc.reason, "BAD_REQUEST")
        return self._negotiate(request, response)

    async def _plain_query(self, request: Request) -> tuple[str, Any, str | None] | None:
        """(query, variables, operationName) of a plain JSON POST the planner may answer without
        Strawberry's view around it; None for any other request (GET, another media type, APQ
        extensions, a streaming Accept), which goes through the view (that runs plans too:
        execute_single). tests/test_planner.py compares headers and bytes."""
        if self.planner is None or request.method != "POST":
            return None
        headers = request.headers
        if headers.get("content-type", "").partition(";")[0].strip().lower() != "application/json":
            return None
        accept = headers.get("accept", "")
        if "multipart/mixed" in accept or "text/event-stream" in accept:
            return None
        try:
            data = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return None
        if not isinstance(data, dict) or not data.keys() <= {"query", "variables", "operationName"}:
            return None
        query, variables, operation = data.get("query"), data.get("variables"), data.get("operationName")
        if not isinstance(query, str) or not (operation is None or isinstance(operation, str)):
            return None
        if not (variables is None or isinstance(variables, dict)):
            return None  # the view says what is wrong with them
        return query, variables, operation

    async def _answer_planned(self, request: Request) -> Response | None:
        """A plain JSON POST of a planned query, answered on a connection of the read pool: the
        key (from the process's cache, else read), one statement, its bytes. None: the request
        goes the general way (no plan, no key, an Idempotency-Key, values graphql-core answers)."""
        if self.planner is None or request.headers.get(idempotency.HEADER) is not None:
            return None
        parsed = await self._plain_query(request)
        secret = bearer_secret(request)
        if parsed is None or secret is None:
            return None
        query, variables, operation = parsed
        plan = self.planner.plan(query, operation)
        if plan is None:
            return None
        digest = hash_secret(secret)
        principal = self.keys.get(digest)
        values = self._bind(request, plan, principal, variables) if principal is not None else None
        if principal is not None and values is None:
            return None  # graphql-core answers: nothing was sent
        async with self.reads.connection(ADMISSION_TIMEOUT_S) as conn:
            if principal is None:
                self.hub.start()  # the cache answers once the process listens for revocations
                generation = self.keys.generation
                principal = await principal_of(conn, secret)
                if principal is None:
                    return unauthenticated(request)
                self.keys.put(digest, principal, generation)
                values = self._bind(request, plan, principal, variables)
                if values is None:
                    return None
            assert values is not None
            data = await self._fetch(plan, query, conn, values)
        request.state.context = Answered(principal, plan.label)
        return self._negotiate(request, Response(b'{"data":' + data + b"}", media_type="application/json"))

    def _bind(self, request: Request, plan: Plan, principal: Principal, variables: Any) -> list[Any] | None:
        """The plan's parameters for this request; None when its values make graphql-core answer."""
        request.state.planned = True  # counted once: the general path does not plan it again
        try:
            return self.planner.bind(plan, principal, variables) if self.planner is not None else None
        except Handover:
            self.metrics.execution.labels("handover").inc()
            return None

    async def _planned(self, request: Request, context: Context) -> Response | None:
        """A plain JSON POST (`_plain_query`) the fast path left: its plan run on the request's
        session, with the same `process_result`, encoding and response as the view's."""
        parsed = await self._plain_query(request)
        if parsed is None:
            return None
        query, variables, operation = parsed
        result = await self._run_plan(request, context, query, operation, variables)
        if result is None:
            return None
        content = self.encode_json(await self.process_result(request, result))
        return Response(content, media_type="application/json")

    async def _fetch(self, plan: Plan, query: str, conn: Any, values: list[Any]) -> bytes:
        """The plan's `data` from PostgreSQL, within the statement timeout, in the planner's span."""
        if self.tracer is None:
            data = await plan.data(conn, values, self.reads.timeout_s)
        else:  # the planner's own span, named as Strawberry names an operation's
            name = f"GraphQL Query: {plan.name}" if plan.name else "GraphQL Query"
            attributes: dict[str, str | bool] = {"component": "graphql", "query": query, "budgetline.planned": True}
            with self.tracer.start_as_current_span(name, attributes=attributes):
                data = await plan.data(conn, values, self.reads.timeout_s)
        self.metrics.execution.labels("planned").inc()
        return data

    async def _run_plan(
        self, request: Request, context: Context, query: str, operation: str | None, variables: Any
    ) -> StrawberryExecutionResult | None:
        """The plan's result (its `data` as the JSON bytes PostgreSQL wrote), or None: no plan,
        or this request's values make graphql-core answer (an error it reports)."""
        if self.planner is None or getattr(request.state, "planned", False):
            return None
        request.state.planned = True  # counted once, whichever of the two entries ran it
        if not (variables is None or isinstance(variables, dict)):
            return None
        plan = self.planner.plan(query, operation)
        if plan is None:
            self.metrics.execution.labels("general").inc()
            return None
        try:
            values = self.planner.bind(plan, context.principal, variables)
        except Handover:
            self.metrics.execution.labels("handover").inc()
            return None
        data = await context.read(lambda conn: self._fetch(plan, query, conn, values))
        context.operation = plan.label
        return StrawberryExecutionResult(data=orjson.Fragment(data), errors=None)  # type: ignore[arg-type]

    async def execute_single(  # Strawberry's signature
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Any,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> StrawberryExecutionResult:
        """A query with a plan runs it; everything else, and any hand-over, runs here."""
        if request_data.query:
            result = await self._run_plan(
                request, context, request_data.query, request_data.operation_name, request_data.variables
            )
            if result is not None:
                return result
        return await super().execute_single(request, request_adapter, sub_response, context, root_value, request_data)

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[GraphQLRequestData]:
        # Valid JSON that starts with neither { nor [ is a scalar: no GraphQL request.
        if (
            request.method == "POST"
            and "json" in (request.content_type or "")
            and (await request.get_body()).lstrip()[:1] not in (b"{", b"[", b"")
        ):
            raise HTTPException(
                400, "the request body must be a JSON object: {query, variables?, operationName?, extensions?}"
            )
        data = await super().parse_http_body(request)
        if isinstance(data, list):
            return data
        if not isinstance(data.operation_name, (str, type(None))):
            raise HTTPException(400, "The GraphQL operation's `operationName` must be a string or null, if provided.")
        return self.persisted.resolve(data)

    @staticmethod
    def _wants_graphiql(request: Request) -> bool:
        """A browser opening /graphql: the only public page. Tools sending */* get GraphQL."""
        return (
            request.method == "GET"
            and "text/html" in request.headers.get("accept", "")
            and "query" not in request.query_params
            and "extensions" not in request.query_params
        )

    def should_render_graphql_ide(self, request: Any) -> bool:
        return False  # decided by _wants_graphiql, before authentication

    @staticmethod
    def _negotiate(request: Request, response: Response) -> Response:
        """GraphQL over HTTP: the graphql-response media type, with 4xx for request errors."""
        media_type = response_media_type(request.headers.get("accept", ""))
        if media_type != "application/json":
            response.headers["content-type"] = media_type
            if getattr(request.state, "request_error", False):
                response.status_code = 400
        return response

    async def process_result(self, request: Request, result: StrawberryExecutionResult) -> GraphQLHTTPResponse:
        response: GraphQLHTTPResponse = {"data": result.data}
        if result.errors:
            request_id = request.state.request_id
            errors = [format_error(e, request_id) for e in result.errors]
            request.state.codes.extend(e["extensions"]["code"] for e in errors)
            response["errors"] = errors  # type: ignore[typeddict-item]
            if is_request_error(result.errors, result.data):
                # Execution never started: the GraphQL spec says there is no `data` entry at all.
                request.state.request_error = True
                del response["data"]
        if result.extensions:
            response["extensions"] = result.extensions
        return response

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        # orjson.JSONDecodeError is a json.JSONDecodeError: Strawberry still answers 400 for bad JSON.
        return orjson.loads(data)


def create_app(
    database_url: str,
    settings: Settings,
    on_shutdown: list[Callable[[], Any]] | None = None,
    tracer_provider: TracerProvider | None = None,
    demo_keys: Sequence[DemoKey] = (),
) -> Starlette:
    """The app; traced when `tracer_provider` is given or OTEL_EXPORTER_OTLP_ENDPOINT is set."""
    tracer_provider = tracer_provider or tracing.provider_from_env()

    def new_engine() -> AsyncEngine:
        return create_engine(
            database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            statement_timeout_ms=settings.statement_timeout_ms,
            pooler=settings.pooled,
        )

    engine = new_engine()
    # Idempotent requests wait on each other here, never on the pool the work itself needs.
    guard_engine = new_engine()
    metrics = Metrics(engine)
    # R17: the process's one listening connection, direct (LISTEN does not pass a transaction pooler).
    hub = Hub(
        settings.database_direct_url or database_url,
        session_factory(engine),
        queue_size=settings.ws_queue_size,
        max_sockets_per_key=settings.ws_max_sockets_per_key,
    )
    # Planned reads: their own asyncpg pool, no ORM session (db/session.ReadPool).
    reads = ReadPool(
        database_url,
        pool_size=settings.db_pool_size,
        statement_timeout_ms=settings.statement_timeout_ms,
        pooler=settings.pooled,
    )
    graphql_app = BudgetlineGraphQL(engine, guard_engine, settings, metrics, hub, reads, tracer_provider, demo_keys)

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        try:
            current = await migrate.current_revision(engine)
        except Exception as exc:  # any failure to ask the database means "not ready"
            return JSONResponse({"status": "unavailable", "reason": type(exc).__name__}, status_code=503)
        head = migrate.head_revision()
        if current != head:
            return JSONResponse({"status": "not migrated", "revision": current, "head": head}, status_code=503)
        return JSONResponse({"status": "ready", "revision": current})

    async def prometheus(request: Request) -> Response:
        # Off unless a token is set; then only `Authorization: Bearer <token>` reads it.
        token = settings.metrics_token
        if not token:
            return PlainTextResponse("Not Found", status_code=404)
        if not hmac.compare_digest(bearer_secret(request) or "", token):
            return PlainTextResponse("Unauthorized", status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # Everything built so far (schema, modules, pools) lives as long as the process: keep it
        # out of the cyclic garbage collector, whose full passes over it were the p99 tail.
        gc.collect()
        gc.freeze()
        sweeping = (
            asyncio.create_task(sweeper.run_forever(engine, settings.sweep_seconds, settings.settlement_days))
            if settings.sweep_seconds > 0
            else None
        )
        try:
            yield
        finally:
            if sweeping is not None:
                sweeping.cancel()
            await hub.stop()
            await reads.close()
            await engine.dispose()
            await guard_engine.dispose()
            if app.state.untrace is not None:
                app.state.untrace()
                tracer_provider.shutdown()  # type: ignore[union-attr]  # exports what is left
            for callback in on_shutdown or []:
                callback()

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", prometheus),
            Route("/graphql", graphql_app),
            Route(
                "/exports/ledger.csv",
                LedgerExport(engine, session_factory(engine), settings.statement_timeout_ms).endpoint,
                methods=["GET"],
            ),
            WebSocketRoute("/graphql", graphql_app.serve_websocket),
            *([Mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR))] if settings.graphiql else []),
        ],
        middleware=[
            Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origin_list,
                allow_credentials=settings.cors_allow_credentials,
                allow_methods=["GET", "POST"],
                allow_headers=settings.cors_header_list,
                expose_headers=["X-Request-Id", "Idempotent-Replayed"],
                max_age=600,
            ),
        ],
        lifespan=lifespan,
    )
    app.state.untrace = tracing.instrument(app, tracer_provider) if tracer_provider else None
    app.state.engine = engine
    app.state.metrics = metrics
    app.state.graphql = graphql_app
    app.state.hub = hub
    app.state.reads = reads
    app.state.guard_engine = guard_engine
    return app


def app_from_env() -> Starlette:
    """For `uvicorn --factory` worker processes: the database comes from DATABASE_URL."""
    from budgetline.observability import configure_logging
    from budgetline.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL must be set for worker processes")
    # `serve --demo` with several workers: the keys it loaded, for the GraphiQL page.
    shown = os.environ.get(DEMO_KEYS_ENV)
    demo_keys = [DemoKey(**k) for k in json.loads(shown)] if shown else []
    return create_app(settings.database_url, settings, demo_keys=demo_keys)


# What `serve --demo` hands its worker processes: the demo keys, as JSON (see app_from_env).
DEMO_KEYS_ENV = "BUDGETLINE_SERVE_DEMO_KEYS"
