"""uvicorn's HTTP protocol (httptools) with a bound on each request's head.

uvicorn's httptools protocol accepts headers of any size and waits for them forever: a client
sending an endless header held about one byte of memory per byte sent. Here a head (request
line and headers) over MAX_HEAD_BYTES is answered 400 and the connection closed, and a head not
complete within BUDGETLINE_BODY_TIMEOUT_S closes the connection. uvicorn has no setting for
either with httptools (its h11 protocol bounds the size, not the time), so this subclasses its
protocol class, which `uvicorn.Config(http=...)` accepts.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from budgetline.settings import get_settings

MAX_HEAD_BYTES = 64 * 1024


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_open = True  # waiting for (the rest of) a request's head
        self._head_bytes = 0
        self._heads_done = 0  # heads completed on this connection
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._head_open and self._head_timer is None:
            self._arm()
        in_head, heads_before = self._head_open, self._heads_done
        super().data_received(data)
        if not self._head_open or self.transport.is_closing():
            return
        if not in_head or self._heads_done != heads_before:
            # This chunk began in a body, or a head ended inside it: what it held was mostly body
            # (and maybe the start of the next request), not one head. The next head counts from
            # the next chunk on: a chunk is at most the event loop's read size, so the bound holds.
            return
        # Still inside one head after this chunk: all of it counts.
        self._head_bytes += len(data)
        if self._head_bytes > MAX_HEAD_BYTES:
            self._disarm()
            self.send_400_response(f"the request line and headers are over {MAX_HEAD_BYTES} bytes")

    def on_headers_complete(self) -> None:
        self._head_open = False
        self._head_bytes = 0
        self._heads_done += 1
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_open = True  # the next request on this connection starts with a head

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._head_timer = self.loop.call_later(get_settings().body_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _too_slow(self, *_: Any) -> None:
        self._head_timer = None
        if self._head_open and not self.transport.is_closing():
            self.transport.close()
