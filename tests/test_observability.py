"""One structured log line per request, Prometheus metrics, and never a secret in either."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import pytest

from budgetline.observability import JsonFormatter
from tests.helpers import Api

PUBLISH = "mutation($id: ID!) { publishCampaign(input: {campaignId: $id}) { __typename } }"


async def test_one_json_log_line_per_request_without_secrets(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    world = await api.world(po_amount="100.00")
    campaign = await world.at_review("60.00")
    await world.published("60.00")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="budgetline.request"):
        response = await api.client.post(
            "/graphql",
            json={"query": PUBLISH, "variables": {"id": campaign}},
            headers={"Authorization": f"Bearer {world.manager}", "X-Request-Id": "log-1"},
        )
    assert response.status_code == 200
    [record] = [r for r in caplog.records if r.name == "budgetline.request"]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "log-1"
    assert line["operation"] == "mutation:publishCampaign"
    assert line["status"] == 200 and line["codes"] == ["INSUFFICIENT_BUDGET"]
    assert line["principal"].startswith("api-key:") and line["duration_ms"] > 0
    text = JsonFormatter().format(record)
    assert world.manager not in text and api.team_secret not in text


METRICS_TOKEN = "metrics-token-for-tests"


async def test_metrics_are_off_without_a_token_and_need_it_when_set(api: Api, make_client: Any) -> None:
    assert (await api.client.get("/metrics")).status_code == 404  # no BUDGETLINE_METRICS_TOKEN
    client = await make_client(metrics_token=METRICS_TOKEN)
    assert (await client.get("/metrics")).status_code == 401
    # An API key, even the account team's, is not the metrics token.
    refused = await client.get("/metrics", headers={"Authorization": f"Bearer {api.team_secret}"})
    assert refused.status_code == 401 and "budgetline_" not in refused.text
    allowed = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert allowed.status_code == 200 and "budgetline_requests_total" in allowed.text


async def test_metrics_count_requests_latency_errors_and_pool(api: Api, make_client: Any) -> None:
    api = Api(await make_client(metrics_token=METRICS_TOKEN), api.team_secret)
    world = await api.world(po_amount="100.00")
    campaign = await world.at_review("60.00")
    await world.published("60.00")
    await api.mutate("publishCampaign", {"campaignId": campaign}, world.manager)
    await api.client.post("/graphql", json={"query": "{ viewer { role } }"})  # unauthenticated
    metrics = (await api.client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})).text
    assert 'budgetline_requests_total{operation="mutation:publishCampaign",status="200"} 2.0' in metrics
    assert 'budgetline_errors_total{code="INSUFFICIENT_BUDGET"} 1.0' in metrics
    assert 'budgetline_errors_total{code="UNAUTHENTICATED"} 1.0' in metrics
    assert 'budgetline_request_duration_seconds_count{operation="mutation:publishCampaign"} 2.0' in metrics
    assert "budgetline_db_pool_in_use" in metrics
    assert "bl_" not in metrics


def test_exceptions_are_logged_with_their_trace() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), exc_info=sys.exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in line["exception"] and line["level"] == "ERROR"
