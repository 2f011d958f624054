"""Working with the account team (API.md section 8): amendments, change requests, activity.

- `amendments`: every change of an order's or a PO's amount or an order's end date (R18),
  append-only, with who, when, before and after, and the note.
- `budget_change_requests`: a customer's request for a new amount and/or end date (R19); its
  status moves once, from PENDING. A new or decided request reports its source (and a PO's
  order) on the change events of R17.
- `activity`: one entry per successful mutation, spend report and sweeper action (R20),
  append-only; `changes` holds the fields that changed, as the API writes them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from db.migrate import execute_script

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE budget_change_requests (
    account_id        bigint NOT NULL REFERENCES accounts (id),
    id                bigserial PRIMARY KEY,
    order_id          bigint NOT NULL REFERENCES orders (id),
    purchase_order_id bigint REFERENCES purchase_orders (id),
    status            text NOT NULL DEFAULT 'PENDING'
                      CHECK (status IN ('PENDING', 'APPROVED', 'DECLINED', 'WITHDRAWN')),
    amount            numeric(14, 2) CHECK (amount > 0),
    end_date          date,
    note              text NOT NULL CHECK (length(btrim(note)) BETWEEN 1 AND 1000),
    requested_by      text NOT NULL,
    requested_at      timestamptz NOT NULL DEFAULT now(),
    decided_by        text,
    decided_at        timestamptz,
    decision_note     text CHECK (length(decision_note) <= 1000),
    CONSTRAINT budget_change_requests_asks_something CHECK (amount IS NOT NULL OR end_date IS NOT NULL),
    CONSTRAINT budget_change_requests_decided_check
        CHECK ((status = 'PENDING') = (decided_at IS NULL) AND (decided_at IS NULL) = (decided_by IS NULL))
);
CREATE INDEX budget_change_requests_account_idx ON budget_change_requests (account_id, id);
CREATE INDEX budget_change_requests_order_idx ON budget_change_requests (order_id, id);
CREATE INDEX budget_change_requests_purchase_order_idx ON budget_change_requests (purchase_order_id, id)
    WHERE purchase_order_id IS NOT NULL;

-- A decided request stays decided.
CREATE FUNCTION budget_change_requests_decided_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'PENDING' THEN
        RAISE EXCEPTION 'a decided change request is final' USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.amount IS DISTINCT FROM OLD.amount OR NEW.end_date IS DISTINCT FROM OLD.end_date
       OR NEW.order_id <> OLD.order_id OR NEW.purchase_order_id IS DISTINCT FROM OLD.purchase_order_id THEN
        RAISE EXCEPTION 'a change request asks for what it asked for' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER budget_change_requests_decided_once BEFORE UPDATE ON budget_change_requests
    FOR EACH ROW EXECUTE FUNCTION budget_change_requests_decided_once();

-- R17: a new or decided request changes what its source lists.
CREATE FUNCTION budget_change_requests_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.purchase_order_id IS NOT NULL THEN
        PERFORM pg_notify('budgetline_events', 'PurchaseOrder:' || NEW.account_id || ':' || NEW.purchase_order_id);
    END IF;
    PERFORM pg_notify('budgetline_events', 'Order:' || NEW.account_id || ':' || NEW.order_id);
    RETURN NULL;
END $$;
CREATE TRIGGER budget_change_requests_changed AFTER INSERT OR UPDATE ON budget_change_requests
    FOR EACH ROW EXECUTE FUNCTION budget_change_requests_changed();

CREATE TABLE amendments (
    account_id        bigint NOT NULL REFERENCES accounts (id),
    id                bigserial PRIMARY KEY,
    order_id          bigint NOT NULL REFERENCES orders (id),
    purchase_order_id bigint REFERENCES purchase_orders (id),
    amount_before     numeric(14, 2) NOT NULL,
    amount_after      numeric(14, 2) NOT NULL,
    end_date_before   date NOT NULL,
    end_date_after    date NOT NULL,
    note              text NOT NULL CHECK (length(btrim(note)) BETWEEN 1 AND 1000),
    actor             text NOT NULL,
    request_id        bigint REFERENCES budget_change_requests (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT amendments_change_something
        CHECK (amount_before <> amount_after OR end_date_before <> end_date_after)
);
CREATE INDEX amendments_order_idx ON amendments (order_id, id) WHERE purchase_order_id IS NULL;
CREATE INDEX amendments_purchase_order_idx ON amendments (purchase_order_id, id) WHERE purchase_order_id IS NOT NULL;

CREATE TABLE activity (
    account_id  bigint REFERENCES accounts (id),
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    request_id  text,
    operation   text NOT NULL,
    subject_id  text NOT NULL,
    changes     jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(changes) = 'array')
);
CREATE INDEX activity_account_idx ON activity (account_id, id);

-- The trace and the amendments are append-only, as the ledgers are.
CREATE FUNCTION append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER activity_append_only BEFORE UPDATE OR DELETE ON activity
    FOR EACH ROW EXECUTE FUNCTION append_only();
CREATE TRIGGER activity_no_truncate BEFORE TRUNCATE ON activity
    FOR EACH STATEMENT EXECUTE FUNCTION append_only();
CREATE TRIGGER amendments_append_only BEFORE UPDATE OR DELETE ON amendments
    FOR EACH ROW EXECUTE FUNCTION append_only();
CREATE TRIGGER amendments_no_truncate BEFORE TRUNCATE ON amendments
    FOR EACH STATEMENT EXECUTE FUNCTION append_only();
"""

DOWNGRADE = """
DROP TABLE activity;
DROP TABLE amendments;
DROP FUNCTION append_only();
DROP TABLE budget_change_requests;
DROP FUNCTION budget_change_requests_changed();
DROP FUNCTION budget_change_requests_decided_once();
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
