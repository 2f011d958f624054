"""R17's fan-out across processes: PostgreSQL LISTEN/NOTIFY, one listening connection per process.

Triggers (db/migrations/versions/0006_budget_health.py) send `pg_notify(CHANNEL,
'<Type>:<account id>:<id>')` inside the transaction that changes a source, a campaign or raises an
alert, so a listener hears of a change only once it has committed, from whichever process made
it. Here one `Hub` per server process holds one unpooled connection (`BUDGETLINE_DATABASE_DIRECT_URL`:
LISTEN does not survive a transaction pooler) and hands each event to the subscriptions of that
account that want its type, through a bounded queue per subscription. A subscriber that does not
keep up has its socket closed with 1013 ("try again later"): the listener never waits for anyone.

When the listening connection is lost, the hub reconnects (with backoff) and puts RESYNC in every
queue: each subscriber then sends the current state of what it watches, so no client stays stale
on a change it missed. The same connection checks every `KEY_CHECK_SECONDS` that the keys of open
sockets are still valid (a revocation also notifies at once: `ApiKey:0:<id>`), and asks the server
a `SELECT 1` every `HEARTBEAT_SECONDS`: a connection cut without a word (a partition, a dead
proxy) is found out within `HEARTBEAT_SECONDS + HEARTBEAT_TIMEOUT_SECONDS`, and until it
answered lately the hub is not `fresh()` (the key cache, budgetline/auth.py, stops answering).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from db.session import plain_url
from resolvers.subscriptions import RESYNC, Event, Item

log = logging.getLogger("budgetline.events")

CHANNEL = "budgetline_events"
KEY_CHECK_SECONDS = 30.0
HEARTBEAT_SECONDS = 2.0
HEARTBEAT_TIMEOUT_SECONDS = 2.0
RECONNECT_FIRST_SECONDS = 0.2
RECONNECT_MAX_SECONDS = 10.0
# WebSocket close codes: 1013 "try again later" (RFC 6455), 4403 as graphql-transport-ws uses it.
TRY_AGAIN_LATER = 1013
FORBIDDEN = 4403


def parse(payload: str) -> Event | None:
    type_name, _, rest = payload.partition(":")
    account, _, pk = rest.partition(":")
    if not type_name or not account.isdigit() or not pk.isdigit():
        return None
    return Event(type_name, int(account), int(pk))


@dataclass(eq=False)
class Subscription:
    socket: Socket
    account_id: int
    type_names: frozenset[str]
    queue: asyncio.Queue[Item]

    def offer(self, item: Item) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.socket.shut(TRY_AGAIN_LATER, "subscriber too slow: events were queued beyond the limit")


@dataclass(eq=False)
class Socket:
    """One WebSocket's share of the hub: its key, its subscriptions, and how to close it."""

    hub: Hub
    api_key_id: int
    close: Callable[[int, str], Awaitable[None]]
    subscriptions: set[Subscription] = field(default_factory=set)
    closing: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def listen(self, account_id: int, type_names: frozenset[str]) -> AsyncIterator[asyncio.Queue[Item]]:
        """Events of `account_id` of these types, from the moment this returns, until exit."""
        await self.hub.ready()
        subscription = Subscription(self, account_id, type_names, asyncio.Queue(self.hub.queue_size))
        self.subscriptions.add(subscription)
        self.hub.by_account.setdefault(account_id, set()).add(subscription)
        try:
            yield subscription.queue
        finally:
            self.subscriptions.discard(subscription)
            watching = self.hub.by_account.get(account_id)
            if watching is not None:
                watching.discard(subscription)
                if not watching:
                    del self.hub.by_account[account_id]

    async def read_once(self, event: Event, read: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
        return await self.hub.read_once(event, read)

    def shut(self, code: int, reason: str) -> None:
        """Close the socket once, without waiting for it (called from the listener's callback)."""
        if self.closing is None:
            log.info("closing a subscription socket of api-key:%d: %d %s", self.api_key_id, code, reason)
            self.closing = asyncio.ensure_future(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.close(code, reason)


class Hub:
    """The process's one listening connection and the subscriptions it feeds."""

    def __init__(
        self, url: str, sessions: Callable[[], AsyncSession], *, queue_size: int, max_sockets_per_key: int
    ) -> None:
        self.url = plain_url(url)
        self.sessions = sessions
        self.queue_size = queue_size
        self.max_sockets_per_key = max_sockets_per_key
        self.by_account: dict[int, set[Subscription]] = {}
        self.by_key: dict[int, set[Socket]] = {}
        self.connected = asyncio.Event()
        # Told of every revocation heard and of every (re)connection (budgetline/auth.KeyCache).
        self.on_revoked: list[Callable[[int], None]] = []
        self.on_connected: list[Callable[[], None]] = []
        self.reconnects = 0
        self.server_pid: int | None = None  # the listening connection's backend, while it listens
        self.alive_at = 0.0  # (monotonic) when the listening connection last answered
        self._delay = RECONNECT_FIRST_SECONDS
        self._task: asyncio.Task[None] | None = None

    # --- sockets ------------------------------------------------------------------------

    def attach(self, api_key_id: int, close: Callable[[int, str], Awaitable[None]]) -> Socket | None:
        """A new socket of this key; None when the key has max_sockets_per_key open already."""
        sockets = self.by_key.setdefault(api_key_id, set())
        if len(sockets) >= self.max_sockets_per_key:
            return None
        socket = Socket(self, api_key_id, close)
        sockets.add(socket)
        return socket

    def detach(self, socket: Socket) -> None:
        sockets = self.by_key.get(socket.api_key_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self.by_key[socket.api_key_id]

    def revoked(self, api_key_id: int) -> None:
        for callback in self.on_revoked:
            callback(api_key_id)
        for socket in list(self.by_key.get(api_key_id, ())):
            socket.shut(FORBIDDEN, "the API key was revoked")

    async def read_once(self, event: Event, read: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
        """The row of an event, read once for all of this process's subscribers (in a task of its
        own, so a subscriber that leaves mid-read cancels nothing the others wait for)."""
        if event.read is None:
            event.read = asyncio.ensure_future(self._read(read))
        return await asyncio.shield(event.read)

    async def _read(self, read: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
        async with self.sessions() as session:
            return await read(session)

    # --- the listening connection ---------------------------------------------------------

    async def ready(self, timeout_s: float = 10.0) -> None:
        """Listening (started on first use): events committed from now on reach the subscribers."""
        self.start()
        await asyncio.wait_for(self.connected.wait(), timeout_s)

    def start(self) -> None:
        """Start listening, without waiting for it (the first request of a process does)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._supervise(), name="budgetline-events")

    def listening(self) -> bool:
        return self.connected.is_set()

    def fresh(self) -> bool:
        """Listening, on a connection that answered within the last heartbeat: every NOTIFY sent
        until a moment ago has been heard."""
        since = time.monotonic() - self.alive_at
        return self.listening() and since < HEARTBEAT_SECONDS + HEARTBEAT_TIMEOUT_SECONDS

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        event = parse(payload)
        if event is None:
            return
        if event.type_name == "ApiKey":
            self.revoked(event.pk)
            return
        for subscription in list(self.by_account.get(event.account_id, ())):
            if event.type_name in subscription.type_names:
                subscription.offer(event)

    async def _supervise(self) -> None:
        """Listen; when the connection fails, reconnect with backoff and resync every subscriber."""
        resync = False
        while True:
            try:
                await self._listen(resync)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("listening connection failed: %s; retrying in %.1f s", type(exc).__name__, self._delay)
            resync = True
            await asyncio.sleep(self._delay)
            self._delay = min(self._delay * 2, RECONNECT_MAX_SECONDS)

    async def _listen(self, resync: bool) -> None:
        """One listening connection's life; returns or raises when it is lost."""
        conn = await asyncpg.connect(self.url, server_settings={"application_name": "budgetline-listen"})
        lost = asyncio.Event()
        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            await conn.add_listener(CHANNEL, self._notified)
            for callback in self.on_connected:  # what was heard before may have been missed since
                callback()
            self.server_pid = conn.get_server_pid()
            self.alive_at = time.monotonic()
            self.connected.set()
            self._delay = RECONNECT_FIRST_SECONDS
            if resync:
                self.reconnects += 1
                log.warning("listening again after a lost connection: every subscriber resyncs")
                for subscriptions in list(self.by_account.values()):
                    for subscription in list(subscriptions):
                        subscription.offer(RESYNC)
                await self._check_keys(conn)
            checked_at = time.monotonic()
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), HEARTBEAT_SECONDS)
                if lost.is_set():
                    break
                # Raises (and the hub reconnects) if the connection died without a word.
                await conn.fetchval("SELECT 1", timeout=HEARTBEAT_TIMEOUT_SECONDS)
                self.alive_at = time.monotonic()
                if self.alive_at - checked_at >= KEY_CHECK_SECONDS:
                    checked_at = self.alive_at
                    await self._check_keys(conn)
        finally:
            self.connected.clear()
            with contextlib.suppress(Exception):
                await asyncio.shield(conn.close(timeout=2))

    async def _check_keys(self, conn: asyncpg.Connection) -> None:
        """The backstop for revocations whose NOTIFY was missed (a reconnect), and for keys deleted."""
        if not self.by_key:
            return
        keys = list(self.by_key)
        valid = {
            r["id"] for r in await conn.fetch("SELECT id FROM api_keys WHERE id = any($1) AND revoked_at IS NULL", keys)
        }
        for key in keys:
            if key not in valid:
                self.revoked(key)
