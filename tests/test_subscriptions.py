"""R17: subscriptions over graphql-transport-ws, fed by PostgreSQL LISTEN/NOTIFY.

The subscriber talks to one app (uvicorn with the websockets library, in this event loop); the
mutations go to another app on the same database (the `api` fixture), so every event crossed
PostgreSQL's NOTIFY, as between two server processes. tests/test_subscription_client.py does the
same with real processes and the graphql-ws npm client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.exceptions import InvalidStatus

from budgetline import events
from budgetline.app import create_app
from tests import pooler
from tests.helpers import TODAY, Api, World, held, iso, pk
from tests.ws import GqlSocket, served

SOURCES = """subscription($a: ID!) { budgetSourceUpdated(accountId: $a) {
  __typename id allocatedAmount draftAmount allocatedPercent status } }"""
CAMPAIGNS = "subscription($a: ID!) { campaignUpdated(accountId: $a) { id name status version spentAmount } }"
ALERTS = (
    "subscription($a: ID!) { alertRaised(accountId: $a) { id kind threshold budgetSource { id } campaign { id } } }"
)

Serve = Callable[..., Awaitable[tuple[str, Any]]]


@pytest.fixture
async def serve(database_url: str) -> AsyncIterator[Serve]:
    """Factory: an app served on a free port with these settings; (ws URL, app)."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(**settings: Any) -> tuple[str, Any]:
            app = create_app(*pooler.app_settings(database_url, sweep_seconds=0, **settings))
            return await stack.enter_async_context(served(app)), app

        yield start


@pytest.fixture
async def world(api: Api) -> World:
    return await api.world(order_amount="20000.00", po_amount="10000.00")


async def registered(app: Any, account: str, count: int) -> None:
    """Wait until `count` subscriptions of `account` listen (a subscribe message has no answer)."""
    for _ in range(500):
        if len(app.state.hub.by_account.get(pk(account), ())) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the subscriptions did not start")


async def collect(socket: GqlSocket, wanted: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    """The next messages, by subscription id, until each id has its count of `next` messages."""
    got: dict[str, list[dict[str, Any]]] = {id: [] for id in wanted}
    while any(len(got[id]) < n for id, n in wanted.items()):
        message = await socket.receive()
        assert message["type"] == "next", message
        assert message["id"] in wanted and len(got[message["id"]]) < wanted[message["id"]], message
        got[message["id"]].append(message["payload"])
    return got


def data(payloads: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    assert all("errors" not in p for p in payloads), payloads
    return [p["data"][field] for p in payloads]


async def test_r17_every_committed_change_arrives_once_and_refused_ones_never(
    api: Api, world: World, serve: Serve
) -> None:
    other = await api.world(name="Other")
    campaign = await world.at_review("6000.00")
    url, app = await serve()
    socket = await GqlSocket.open(url, world.viewer)  # reading is enough to subscribe
    for id, query in (("s", SOURCES), ("c", CAMPAIGNS), ("a", ALERTS)):
        await socket.subscribe(id, query, {"a": world.account})
    await registered(app, world.account, 3)

    await world.ok("publishCampaign", {"campaignId": campaign})
    got = await collect(socket, {"s": 2, "c": 1, "a": 1})
    sources = {s["id"]: s for s in data(got["s"], "budgetSourceUpdated")}  # one transaction: each source once
    assert sources[world.po]["allocatedAmount"] == "6000.00" and sources[world.po]["allocatedPercent"] == "60.00"
    assert sources[world.order]["allocatedAmount"] == "6000.00" and sources[world.order]["__typename"] == "Order"
    assert data(got["c"], "campaignUpdated") == [
        {"id": campaign, "name": "Launch", "status": "PUBLISHED", "version": 6, "spentAmount": "0.00"}
    ]
    (alert,) = data(got["a"], "alertRaised")
    assert (alert["kind"], alert["threshold"], alert["budgetSource"], alert["campaign"]) == (
        "ALLOCATION_THRESHOLD",
        50,
        {"id": world.po},
        {"id": campaign},
    )

    # Refused: nothing is sent. Another account's changes: nothing either. Then a marker change
    # of each kind: the next message of each subscription is the marker's.
    refused = await api.mutate("publishCampaign", {"campaignId": campaign}, world.manager)
    assert refused["__typename"] == "CampaignLockedError", refused
    too_big = await api.mutate("updateCampaign", {"campaignId": campaign, "budget": "10000.01"}, world.manager)
    assert too_big["__typename"] == "InsufficientBudgetError", too_big
    await other.published("9999.00")
    await world.ok("updateCampaign", {"campaignId": campaign, "name": "Renamed"})
    draft = await world.draft("Second")
    await world.ok("updateCampaign", {"campaignId": draft["id"], "budget": "10.00"})
    await world.ok("assignBudgetSource", {"campaignId": draft["id"], "budgetSourceId": world.po})
    got = await collect(socket, {"c": 4, "s": 2})
    names = [c["name"] for c in data(got["c"], "campaignUpdated")]
    assert names == ["Renamed", "Second", "Second", "Second"]
    assert {s["id"]: s["draftAmount"] for s in data(got["s"], "budgetSourceUpdated")} == {
        world.po: "10.00",
        world.order: "10.00",
    }
    await socket.close()


async def test_r17_connection_init_needs_a_valid_key(api: Api, world: World, serve: Serve) -> None:
    url, _ = await serve()
    revoked_id = await api.mutate(
        "issueApiKey",
        {"name": "old", "role": "VIEWER", "accountId": world.account},
        select="... on ApiKey { id secret }",
    )
    done = await api.mutate("revokeApiKey", {"apiKeyId": revoked_id["id"]}, select="... on ApiKey { id }")
    assert done["__typename"] == "ApiKey"
    for payload in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Bearer {revoked_id['secret']}"}, None):
        socket = await GqlSocket.open(url, None, init=False)
        await socket.send({"type": "connection_init", **({"payload": payload} if payload is not None else {})})
        code, reason = await socket.closed()
        assert code == 4403 and "Authorization" in reason, (payload, code, reason)
    # subscribe before connection_ack: the protocol's 4401.
    socket = await GqlSocket.open(url, None, init=False)
    await socket.subscribe("s", SOURCES, {"a": world.account})
    assert (await socket.closed())[0] == 4401


async def test_r17_a_foreign_or_unknown_account_is_not_found_and_says_nothing_more(
    api: Api, world: World, serve: Serve
) -> None:
    other = await api.world(name="Other")
    url, app = await serve()
    socket = await GqlSocket.open(url, world.manager)
    answers = []
    for i, account in enumerate((other.account, "QWNjb3VudDo5OTk5OQ", "not an id", world.order)):
        await socket.subscribe(f"x{i}", SOURCES, {"a": account})
        message = await socket.receive()
        assert message["type"] == "error" and message["id"] == f"x{i}", message
        answers.append(message["payload"])
    assert all(a == [{**answers[0][0]}] for a in answers), answers  # the same words for each
    assert answers[0][0]["extensions"] == {"code": "NOT_FOUND", "field": "accountId"}
    assert answers[0][0]["message"] == "no account with this accountId"
    # The socket stays usable.
    await socket.subscribe("ok", CAMPAIGNS, {"a": world.account})
    await registered(app, world.account, 1)
    await world.draft("After")
    assert (await collect(socket, {"ok": 1}))["ok"][0]["data"]["campaignUpdated"]["name"] == "After"


async def test_r17_a_key_revoked_while_connected_is_disconnected(api: Api, world: World, serve: Serve) -> None:
    url, _ = await serve()
    key = await api.mutate(
        "issueApiKey",
        {"name": "temp", "role": "VIEWER", "accountId": world.account},
        select="... on ApiKey { id secret }",
    )
    socket = await GqlSocket.open(url, key["secret"])
    await socket.subscribe("s", SOURCES, {"a": world.account})
    await api.mutate("revokeApiKey", {"apiKeyId": key["id"]}, select="... on ApiKey { id }")
    assert await socket.closed() == (4403, "the API key was revoked")


async def test_r17_a_revocation_missed_by_notify_is_caught_by_the_periodic_check(
    api: Api, world: World, serve: Serve, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "KEY_CHECK_SECONDS", 0.2)
    url, _ = await serve()
    key = await api.mutate(
        "issueApiKey",
        {"name": "temp", "role": "VIEWER", "accountId": world.account},
        select="... on ApiKey { id secret }",
    )
    socket = await GqlSocket.open(url, key["secret"])
    await socket.subscribe("s", SOURCES, {"a": world.account})
    async with db.transaction():  # revoked without its trigger: no NOTIFY
        await db.execute("SET LOCAL session_replication_role = replica")
        await db.execute("UPDATE api_keys SET revoked_at = now() WHERE id = $1", pk(key["id"]))
    assert await socket.closed() == (4403, "the API key was revoked")


async def test_r17_a_slow_subscriber_is_closed_with_1013_and_writers_go_on(
    api: Api, world: World, serve: Serve, database_url: str
) -> None:
    delivery = await api.issue_key("DELIVERY", None, "ad server")
    live = await world.published("900.00", start=TODAY - timedelta(25), end=TODAY)
    blocked = await world.published("10.00")
    url, app = await serve(ws_queue_size=2, db_pool_size=1, db_max_overflow=0)
    socket = await GqlSocket.open(url, world.manager)
    await socket.subscribe("c", CAMPAIGNS, {"a": world.account})
    await registered(app, world.account, 1)
    rename = 'mutation($id: ID!) { updateCampaign(input: {campaignId: $id, name: "x"}) { __typename } }'
    reports = [{"campaignId": live, "date": iso(TODAY - timedelta(days=d)), "amount": "1.00"} for d in range(20)]
    spends = "mutation($r: [ReportSpendInput!]!) { reportSpends(input: {reports: $r}) { accepted refused } }"
    async with httpx.AsyncClient() as client:
        async with held(database_url, "SELECT 1 FROM campaigns WHERE id = $1 FOR UPDATE", pk(blocked)):
            # The served app's one connection now waits on that row: its subscriber cannot re-read.
            stuck = asyncio.create_task(
                client.post(
                    url.replace("ws://", "http://"),
                    json={"query": rename, "variables": {"id": blocked}},
                    headers={"Authorization": f"Bearer {world.manager}"},
                    timeout=30,
                )
            )
            await asyncio.sleep(0.3)
            answer = (await api.gql(spends, {"r": reports}, delivery))["reportSpends"]
            assert answer == {"accepted": 20, "refused": 0}  # the writer was not held up
            assert not stuck.done()
            code, reason = await socket.closed()
            assert code == 1013 and "too slow" in reason
        assert (await stuck).status_code == 200


async def test_r17_after_the_listener_reconnects_subscribers_get_the_current_state(
    world: World, serve: Serve, db: asyncpg.Connection
) -> None:
    url, app = await serve()
    socket = await GqlSocket.open(url, world.manager)
    await socket.subscribe("s", SOURCES, {"a": world.account})
    await registered(app, world.account, 1)
    # This app's listening connection (the test's other app listens too, for its key cache).
    killed = await db.fetchval("SELECT pg_terminate_backend($1)", app.state.hub.server_pid)
    assert killed
    got = await collect(socket, {"s": 2})  # nothing changed: the current state of every source
    assert {s["id"] for s in data(got["s"], "budgetSourceUpdated")} == {world.po, world.order}
    assert app.state.hub.reconnects == 1


async def test_r17_sockets_per_key_and_subscriptions_per_socket_are_bounded(world: World, serve: Serve) -> None:
    url, app = await serve(ws_max_sockets_per_key=1, ws_max_subscriptions=2)
    first = await GqlSocket.open(url, world.manager)
    second = await GqlSocket.open(url, world.manager, init=False)
    await second.send({"type": "connection_init", "payload": {"Authorization": f"Bearer {world.manager}"}})
    code, reason = await second.closed()
    assert code == 1013 and "1 sockets open" in reason
    for i in range(3):
        await first.subscribe(f"s{i}", SOURCES, {"a": world.account})
    message = await first.receive()
    assert message["type"] == "error" and message["id"] == "s2", message
    await first.close()
    for _ in range(500):
        if not app.state.hub.by_key:
            break
        await asyncio.sleep(0.01)
    again = await GqlSocket.open(url, world.manager)  # the closed socket no longer counts
    await again.close()


async def test_r17_a_subscription_over_http_is_a_clear_error(api: Api, world: World) -> None:
    response = await api.post(SOURCES, {"a": world.account}, world.manager)
    assert response.status_code == 200, response.text  # application/json: a request error is 200
    (error,) = response.json()["errors"]
    assert "WebSocket" in error["message"] and "graphql-transport-ws" in error["message"]
    assert "data" not in response.json()


async def test_r17_bad_subscribe_messages_get_an_error_and_the_socket_lives_on(world: World, serve: Serve) -> None:
    url, app = await serve()
    socket = await GqlSocket.open(url, world.manager)
    bad = [
        ({"query": "subscription { budgetSourceUpdated("}, "GRAPHQL_PARSE_FAILED"),
        ({"query": SOURCES, "variables": [1]}, "BAD_REQUEST"),
        ({"query": SOURCES, "variables": {"a": world.account}, "operationName": 5}, "BAD_REQUEST"),
        ({"query": "query { viewer { role } }"}, "GRAPHQL_VALIDATION_FAILED"),  # queries go over HTTP
        (
            {"query": 'mutation { createAccount(input: {name: "x", requiresPurchaseOrder: true}) { __typename } }'},
            "GRAPHQL_VALIDATION_FAILED",
        ),
    ]
    for i, (payload, code) in enumerate(bad):
        await socket.send({"id": f"b{i}", "type": "subscribe", "payload": payload})
        message = await socket.receive()
        assert message["type"] == "error" and message["id"] == f"b{i}", message
        assert message["payload"][0]["extensions"]["code"] == code, message
        assert "Traceback" not in str(message) and "object has no attribute" not in str(message)
    await socket.subscribe("ok", CAMPAIGNS, {"a": world.account})
    await registered(app, world.account, 1)
    await world.draft("Still here")
    assert (await collect(socket, {"ok": 1}))["ok"][0]["data"]["campaignUpdated"]["name"] == "Still here"


async def test_r17_a_failed_read_closes_the_socket_without_a_word_of_sql(
    world: World, serve: Serve, db: asyncpg.Connection
) -> None:
    url, app = await serve()
    socket = await GqlSocket.open(url, world.manager)
    await socket.subscribe("c", CAMPAIGNS, {"a": world.account})
    await registered(app, world.account, 1)
    campaign = (await world.draft("an event"))["id"]
    await collect(socket, {"c": 1})
    # The event's read now fails in the database (this test's own database: nothing else to
    # break), whatever stands between the app and it (a pooler would hide killed backends).
    await db.execute("ALTER VIEW campaigns_view RENAME TO campaigns_view_gone")
    await db.execute("SELECT pg_notify('budgetline_events', $1)", f"Campaign:{pk(world.account)}:{pk(campaign)}")
    code, reason = await socket.closed()
    assert code in (1011, 1013) and reason == "retry: the server failed"
    assert not [m for m in socket.before_close if "campaigns_view" in m or "SELECT" in m], socket.before_close


async def test_r17_an_update_that_changes_nothing_sends_nothing(
    world: World, serve: Serve, db: asyncpg.Connection
) -> None:
    url, app = await serve()
    socket = await GqlSocket.open(url, world.manager)
    await socket.subscribe("s", SOURCES, {"a": world.account})
    await registered(app, world.account, 1)
    await db.execute("UPDATE purchase_orders SET amount = amount")
    await db.execute("UPDATE orders SET amount = amount + 1")  # the marker: a real change
    (first,) = data((await collect(socket, {"s": 1}))["s"], "budgetSourceUpdated")
    assert first["id"] == world.order


async def test_r17_sockets_per_process_are_bounded(world: World, serve: Serve) -> None:
    url, _ = await serve(ws_max_sockets=1)
    first = await GqlSocket.open(url, world.manager)
    with pytest.raises(InvalidStatus) as refused:
        await GqlSocket.open(url, world.manager)
    assert refused.value.response.status_code == 403
    await first.close()


async def test_r17_a_new_or_decided_change_request_reports_its_source(api: Api, world: World, serve: Serve) -> None:
    url, app = await serve()
    socket = await GqlSocket.open(url, world.manager)
    await socket.subscribe("s", SOURCES, {"a": world.account})
    await registered(app, world.account, 1)
    asked = await api.mutate(
        "requestBudgetChange",
        {"budgetSourceId": world.po, "amount": "12000.00", "note": "more"},
        world.manager,
        select="... on BudgetChangeRequest { id }",
    )
    assert {s["id"] for s in data((await collect(socket, {"s": 2}))["s"], "budgetSourceUpdated")} == {
        world.po,
        world.order,
    }
    await api.mutate(
        "declineBudgetChangeRequest", {"requestId": asked["id"]}, select="... on BudgetChangeRequest { id }"
    )
    assert {s["id"] for s in data((await collect(socket, {"s": 2}))["s"], "budgetSourceUpdated")} == {
        world.po,
        world.order,
    }


@pytest.mark.slow
async def test_r17_a_message_past_the_body_limit_closes_the_socket(world: World, live_servers: Any) -> None:
    """`budgetline serve` bounds a WebSocket message as it bounds a request body (1009: too big)."""
    [server] = live_servers(1, BUDGETLINE_MAX_BODY_BYTES="4096")
    url = server.url.replace("http://", "ws://") + "/graphql"
    socket = await GqlSocket.open(url, world.manager)
    await socket.subscribe("fits", SOURCES + " " * 3000, {"a": world.account})  # under 4 KiB: fine
    await socket.subscribe("big", SOURCES + " " * 5000, {"a": world.account})
    code, _ = await socket.closed()
    assert code == 1009
