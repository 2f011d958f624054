"""Subscriptions over WebSocket (R17): Strawberry's graphql-transport-ws handler, plus

- authentication in `connection_init` (`{"Authorization": "Bearer <secret>"}`): a missing,
  unknown or revoked key closes the socket with 4403, too many sockets of one key with 1013;
- one Context per operation (its own session, used only while an event is read and sent);
- errors formatted as over HTTP: a code, never a stack trace, SQL or secret.

Strawberry closes a `subscribe` before `connection_ack` with 4401, a second `connection_init`
with 4429 and a socket with no `connection_init` within CONNECTION_INIT_TIMEOUT with 4408.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol, cast

import orjson
from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage, Message
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.utils.aio import aclosing

from budgetline.errors import BUSY_MESSAGE, format_error
from budgetline.events import FORBIDDEN, TRY_AGAIN_LATER, Hub, Socket
from db.session import database_busy, database_unavailable
from resolvers.api_keys import authenticate
from resolvers.context import Context, Principal
from resolvers.errors import UserError

log = logging.getLogger("budgetline.websocket")

CONNECTION_INIT_TIMEOUT = timedelta(seconds=10)
ADMISSION_TIMEOUT_S = 10.0
INTERNAL_ERROR = 1011
BAD_PAYLOAD = "subscribe: variables must be a JSON object and operationName a string, when given"
NO_INCREMENTAL = "incremental delivery (@defer, @stream) is not supported over graphql-transport-ws"


@dataclass
class SocketState:
    """What Strawberry keeps as the socket's context: the key, once connection_init proved it."""

    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    connection_params: dict[str, Any] | None = None
    principal: Principal | None = None
    socket: Socket | None = None


class SocketView(Protocol):
    hub: Hub
    sessions: Callable[[], AsyncSession]
    admission: asyncio.Semaphore


def bearer(payload: dict[str, Any]) -> str | None:
    value = payload.get("Authorization", payload.get("authorization"))
    if not isinstance(value, str):
        return None
    scheme, _, secret = value.partition(" ")
    return secret.strip() if scheme.lower() == "bearer" and secret.strip() else None


async def admit(
    view: SocketView, state: SocketState, payload: dict[str, Any], close: Callable[[int, str], Awaitable[None]]
) -> tuple[int, str] | None:
    """Who opens this socket; (close code, reason) when it may not."""
    secret = bearer(payload)
    principal = None
    if secret is not None:
        try:
            # The key's lookup waits for a request slot like any request (a flood of sockets
            # with bad keys queues here instead of crowding out the HTTP requests).
            await asyncio.wait_for(view.admission.acquire(), ADMISSION_TIMEOUT_S)
            try:
                async with view.sessions() as session:
                    principal = await authenticate(session, secret)
            finally:
                view.admission.release()
        except TimeoutError:
            return TRY_AGAIN_LATER, "the server is busy; retry shortly"
        except Exception as exc:
            if not (database_busy(exc) or database_unavailable(exc)):
                log.exception("authenticating a socket failed (socket %s)", state.request_id)
            return TRY_AGAIN_LATER, "the database is unavailable; retry shortly"
    if principal is None:
        return FORBIDDEN, 'Forbidden: connection_init needs {"Authorization": "Bearer <secret>"} with a valid key'
    try:
        await view.hub.ready()  # from here on, a revocation of this key reaches the socket
    except Exception:
        log.warning("the listening connection is not available (socket %s)", state.request_id)
        return TRY_AGAIN_LATER, "live updates are unavailable; retry shortly"
    socket = view.hub.attach(principal.api_key_id, close)
    if socket is None:
        return TRY_AGAIN_LATER, f"this API key has {view.hub.max_sockets_per_key} sockets open already"
    state.principal, state.socket = principal, socket
    return None


def format_socket_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    """As over HTTP (budgetline/errors.py), but a user error keeps its own code (NOT_FOUND: a
    subscription has no result union to carry it), and a failure of ours is masked wherever it
    happened (over a socket it may come without a path: an event's read that failed)."""
    original = error.original_error
    if isinstance(original, UserError):
        return {
            "message": original.message,
            "path": error.path,
            "extensions": {"code": original.code, "field": original.field},
        }
    if original is not None and not isinstance(original, GraphQLError):
        if database_busy(original) or database_unavailable(original):
            return {"message": BUSY_MESSAGE, "path": error.path, "extensions": {"code": "SERVICE_UNAVAILABLE"}}
        log.error("internal error in a subscription (socket %s)", request_id, exc_info=original)
        return {
            "message": f"Internal server error (request id {request_id})",
            "path": error.path,
            "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        }
    return format_error(error, request_id)


def failure_of(errors: list[GraphQLError]) -> BaseException | None:
    """An exception of ours among a result's errors (not one the client caused)."""
    for error in errors:
        original = error.original_error
        if original is not None and not isinstance(original, (UserError, GraphQLError)):
            return original
    return None


class TextFrames(ASGIWebSocketAdapter):
    """Every message as a text frame, as graphql-transport-ws requires (browsers' clients drop
    binary ones); the view's encoder gives bytes, for HTTP."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class TransportWS(BaseGraphQLTransportWSHandler[SocketState, None]):
    view: Any  # budgetline.app.BudgetlineGraphQL

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload = message.get("payload", {})
        if payload is None:
            payload = {}
        if self.connection_init_received or self.connection_timed_out or not isinstance(payload, dict):
            await super().handle_connection_init(message)  # Strawberry's 4429 / 4400
            return
        refusal = await admit(self.view, self.context, payload, self.websocket.close)
        if refusal is not None:
            self.connection_init_received = True
            if self.connection_init_timeout_task:
                self.connection_init_timeout_task.cancel()
            log.info("socket %s refused: %d", self.context.request_id, refusal[0])
            await self.websocket.close(*refusal)
            return
        await super().handle_connection_init({"type": "connection_init", "payload": {}})

    async def shutdown(self) -> None:
        try:
            await super().shutdown()
        finally:
            if self.context.socket is not None:
                self.view.hub.detach(self.context.socket)

    async def run_operation(self, operation: Operation[SocketState, None]) -> None:
        """Strawberry's run_operation with a Context of its own and errors formatted as over HTTP.
        A failure of ours (the database went away while an event was read) closes the socket with
        1013 or 1011, so the client reconnects and reads afresh instead of staying stale."""
        state = self.context
        assert state.principal is not None, "operations start after connection_ack"
        if not isinstance(operation.variables, (dict, type(None))) or not isinstance(
            operation.operation_name, (str, type(None))
        ):
            refusal = {"message": BAD_PAYLOAD, "extensions": {"code": "BAD_REQUEST"}}
            await self._send(operation, "error", [refusal])
            return
        context = Context(
            session=self.view.sessions(), principal=state.principal, request_id=state.request_id, events=state.socket
        )
        try:
            stream = await self.schema.stream(
                operation.query,
                variable_values=operation.variables,
                context_value=context,
                root_value=None,
                operation_name=operation.operation_name,
            )
            async with aclosing(stream):
                first = True
                async for result in stream:
                    if not isinstance(result, ExecutionResult):  # @defer / @stream frames
                        refusal = {"message": NO_INCREMENTAL, "extensions": {"code": "BAD_REQUEST"}}
                        await self._send(operation, "error", [refusal])
                        return
                    errors = [format_socket_error(e, state.request_id) for e in result.errors or []]
                    failure = failure_of(result.errors or [])
                    if failure is not None:
                        busy = database_busy(failure) or database_unavailable(failure)
                        log.warning("subscription failed (socket %s): %s", state.request_id, type(failure).__name__)
                        await self._close(TRY_AGAIN_LATER if busy else INTERNAL_ERROR, "retry: the server failed")
                        return
                    if first and isinstance(result, PreExecutionError):
                        await self._send(operation, "error", errors)
                        return
                    payload: dict[str, Any] = {"data": result.data}
                    if errors:
                        payload["errors"] = errors
                    await self._send(operation, "next", payload)
                    first = False
            await self._send(operation, "complete", None)
        except GraphQLError as error:  # refused before execution (DocumentGuard: parse, size)
            await self._send(operation, "error", [format_socket_error(error, state.request_id)])
        except WebSocketDisconnected:
            self.operations.pop(operation.id, None)
        except Exception:
            log.exception("subscription failed (socket %s)", state.request_id)
            self.operations.pop(operation.id, None)
            await self._close(INTERNAL_ERROR, "internal server error")
        finally:
            await context.end()  # nothing left running for it may use a connection again
            await context.release()

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.websocket.close(code=code, reason=reason)

    @staticmethod
    async def _send(operation: Operation[SocketState, None], kind: str, payload: Any) -> None:
        message: dict[str, Any] = {"id": operation.id, "type": kind}
        if payload is not None:
            message["payload"] = payload
        await operation.send_operation_message(cast(Message, message))
