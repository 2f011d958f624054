"""Configuration from environment variables, read once at start-up."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_CORS_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "X-Request-Id",
    "apollographql-client-name",
    "apollographql-client-version",
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "traceparent",
    "tracestate",
    "baggage",
    "sentry-trace",
)


class Settings(BaseSettings):
    """Every setting is an environment variable; see README "Configuration"."""

    model_config = SettingsConfigDict(env_prefix="BUDGETLINE_", extra="ignore")

    # Unset: an embedded PostgreSQL is started in `data_dir`.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "BUDGETLINE_DATABASE_URL")
    )
    # What stands between us and PostgreSQL: "none" (a direct connection or a session pooler) or
    # "transaction" (PgBouncer in transaction mode, RDS Proxy, Supavisor...): then no prepared
    # statement outlives its transaction and the statement timeout is set per transaction.
    db_pooler: Literal["none", "transaction"] = "none"
    # A direct connection for what needs a session of its own (migrations); default: DATABASE_URL.
    database_direct_url: str | None = None
    data_dir: Path = Path(".budgetline")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=10, ge=0, le=200)
    # Server-side bound on any single SQL statement, in milliseconds.
    statement_timeout_ms: int = Field(default=5000, ge=100)
    graphiql: bool = True
    introspection: bool = True
    # Limits (see README "Limits").
    max_depth: int = Field(default=12, ge=2, le=100)
    max_aliases: int = Field(default=30, ge=0, le=1000)
    max_tokens: int = Field(default=5000, ge=100, le=1_000_000)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # A GraphQL document's length in characters (comments and whitespace included); the body
    # may be larger for its variables.
    max_document_chars: int = Field(default=100_000, ge=1000, le=10_000_000)
    # Static cost of an operation: each field once per item its lists can return (`first`, or
    # cost_list_size for a list without it); see docs/security.md.
    max_cost: int = Field(default=10_000, ge=10, le=10_000_000)
    cost_list_size: int = Field(default=100, ge=1, le=10_000)
    # Seconds a client has to send its whole request body; no request slot or database
    # connection is taken before it has arrived.
    body_timeout_s: float = Field(default=10.0, gt=0, le=300)
    # Bytes of documents each cache (parsed, validated, planned, persisted) may hold.
    cache_max_bytes: int = Field(default=32 * 1024 * 1024, ge=1024 * 1024)
    # GET /metrics answers only `Authorization: Bearer <metrics_token>`; unset: /metrics is off (404).
    metrics_token: str | None = None
    # The sweeper (budgetline/sweeper.py): seconds between runs in each server process; 0: off.
    sweep_seconds: float = Field(default=60.0, ge=0, le=86_400)
    # R14: days after a campaign ends before the sweeper settles it (0: at the next sweep).
    settlement_days: int = Field(default=3, ge=0, le=3650)
    # Answer queries with one SQL statement each (budgetline/planner.py); off: every request
    # goes through graphql-core's execution, with the same responses.
    planner: bool = True
    # Tests: a document the planner fails on unexpectedly is an error (500) instead of a
    # hand-over to graphql-core logged at ERROR.
    planner_strict: bool = False
    # Browser origins allowed to call the API (CORS), comma-separated, exact: "https://app.example.com".
    cors_origins: str = ""
    cors_allow_credentials: bool = False
    # Request headers a browser may send cross-origin, comma-separated, replacing the default
    # (ours, Apollo's client awareness and CSRF headers, W3C trace context, Sentry's).
    cors_headers: str = ",".join(DEFAULT_CORS_HEADERS)
    # Subscriptions (R17): events waiting per subscription before its socket is closed with 1013,
    # sockets open per API key, subscriptions per socket.
    ws_queue_size: int = Field(default=100, ge=1, le=100_000)
    ws_max_sockets: int = Field(default=2000, ge=1, le=1_000_000)
    ws_max_sockets_per_key: int = Field(default=100, ge=1, le=100_000)
    ws_max_subscriptions: int = Field(default=20, ge=1, le=1000)

    @property
    def pooled(self) -> bool:
        return self.db_pooler == "transaction"

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def cors_header_list(self) -> list[str]:
        return [header.strip() for header in self.cors_headers.split(",") if header.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
