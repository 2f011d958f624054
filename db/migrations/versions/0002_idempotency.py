"""Idempotency keys for partner tools' retries.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from db.migrate import execute_script

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = """
-- One row per (API key, Idempotency-Key): the request's hash and, once done, its response.
CREATE TABLE idempotency_keys (
    api_key_id    bigint NOT NULL REFERENCES api_keys (id),
    key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash  bytea NOT NULL,
    status_code   integer,
    content_type  text,
    response_body bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz,
    PRIMARY KEY (api_key_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Written in the same transaction as a mutation's effect: a retry after a crash between the
-- effect and the stored response must not perform the mutation again.
CREATE TABLE idempotency_effects (
    api_key_id bigint NOT NULL,
    key        text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (api_key_id, key)
);
CREATE INDEX idempotency_effects_created_idx ON idempotency_effects (created_at);
"""

DOWNGRADE = """
DROP TABLE idempotency_effects;
DROP TABLE idempotency_keys;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
