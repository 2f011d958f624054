"""A graphql-transport-ws client over a real WebSocket, and the app served by uvicorn in this
event loop (the same server stack as `budgetline serve`: uvicorn with the websockets library)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import free_port

PROTOCOL = "graphql-transport-ws"


@contextlib.asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """`app` on a free port of 127.0.0.1, lifespan included; yields its ws:// URL of /graphql."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, ws="websockets-sansio", lifespan="on", log_level="warning"
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # the test runner owns signals
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


class GqlSocket:
    """One graphql-transport-ws connection, as a client sees it."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    @classmethod
    async def open(cls, url: str, secret: str | None, *, init: bool = True) -> GqlSocket:
        socket = cls(await connect(url, subprotocols=[PROTOCOL]))  # type: ignore[list-item]
        if init:
            await socket.send({"type": "connection_init", "payload": {"Authorization": f"Bearer {secret}"}})
            ack = await socket.receive()
            assert ack == {"type": "connection_ack"}, ack
        return socket

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self, within: float = 10.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), within)
        assert isinstance(raw, str), "graphql-transport-ws messages are text frames"
        return json.loads(raw)  # type: ignore[no-any-return]

    async def subscribe(self, id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        await self.send({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}})

    async def closed(self, within: float = 10.0) -> tuple[int, str]:
        """(code, reason) once the server closes the socket; messages before it are kept in
        `self.before_close`."""
        self.before_close: list[str] = []
        with contextlib.suppress(ConnectionClosed):
            while True:
                self.before_close.append(str(await asyncio.wait_for(self.ws.recv(), within)))
        assert self.ws.close_code is not None
        return self.ws.close_code, self.ws.close_reason or ""

    async def close(self) -> None:
        await self.ws.close()
