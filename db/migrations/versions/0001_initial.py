"""The whole data model of API.md, with its invariants guarded by the database.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from db.migrate import execute_script

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE accounts (
    id                      bigserial PRIMARY KEY,
    name                    text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    requires_purchase_order boolean NOT NULL DEFAULT false,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    account_id  bigint REFERENCES accounts (id),
    id          bigserial PRIMARY KEY,
    name        text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    role        text NOT NULL CHECK (role IN ('VIEWER', 'CAMPAIGN_MANAGER', 'ACCOUNT_TEAM')),
    secret_hash bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CONSTRAINT api_keys_secret_hash_key UNIQUE (secret_hash),
    CONSTRAINT api_keys_account_matches_role CHECK ((role = 'ACCOUNT_TEAM') = (account_id IS NULL))
);
CREATE INDEX api_keys_account_idx ON api_keys (account_id, id);

CREATE TABLE orders (
    account_id           bigint NOT NULL REFERENCES accounts (id),
    id                   bigserial PRIMARY KEY,
    order_number         text NOT NULL CHECK (length(order_number) BETWEEN 1 AND 64),
    amount               numeric(14, 2) NOT NULL CHECK (amount > 0),
    currency             char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    start_date           date NOT NULL,
    end_date             date NOT NULL,
    -- Both totals are maintained by the triggers below, never by hand.
    allocated_amount     numeric(14, 2) NOT NULL DEFAULT 0,
    purchase_order_total numeric(14, 2) NOT NULL DEFAULT 0,
    cancelled_at         timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orders_order_number_key UNIQUE (order_number),
    CONSTRAINT orders_term_check CHECK (start_date <= end_date),
    CONSTRAINT orders_allocated_within_amount CHECK (allocated_amount >= 0 AND allocated_amount <= amount),
    CONSTRAINT orders_purchase_orders_within_amount
        CHECK (purchase_order_total >= 0 AND purchase_order_total <= amount),
    CONSTRAINT orders_account_id_key UNIQUE (account_id, id)
);

CREATE TABLE purchase_orders (
    account_id       bigint NOT NULL,
    id               bigserial PRIMARY KEY,
    order_id         bigint NOT NULL,
    po_number        text NOT NULL CHECK (length(po_number) BETWEEN 1 AND 64),
    amount           numeric(14, 2) NOT NULL CHECK (amount > 0),
    allocated_amount numeric(14, 2) NOT NULL DEFAULT 0,
    cancelled_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (account_id, order_id) REFERENCES orders (account_id, id),
    CONSTRAINT purchase_orders_po_number_key UNIQUE (account_id, po_number),
    CONSTRAINT purchase_orders_allocated_within_amount
        CHECK (allocated_amount >= 0 AND allocated_amount <= amount),
    CONSTRAINT purchase_orders_account_order_id_key UNIQUE (account_id, order_id, id)
);

CREATE TABLE audiences (
    account_id bigint NOT NULL REFERENCES accounts (id),
    id         bigserial PRIMARY KEY,
    name       text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT audiences_name_key UNIQUE (account_id, name),
    CONSTRAINT audiences_account_id_key UNIQUE (account_id, id)
);

CREATE TABLE campaigns (
    account_id        bigint NOT NULL REFERENCES accounts (id),
    id                bigserial PRIMARY KEY,
    name              text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    status            text NOT NULL DEFAULT 'DRAFT' CHECK (status IN ('DRAFT', 'PUBLISHED')),
    step              text NOT NULL DEFAULT 'SETUP'
                      CHECK (step IN ('SETUP', 'BUDGET_AND_SCHEDULE', 'REVIEW')),
    version           integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    audience_id       bigint,
    budget            numeric(14, 2) CHECK (budget > 0),
    start_date        date,
    end_date          date,
    -- The budget source: a PO (purchase_order_id, with its order in order_id) or an order alone.
    order_id          bigint,
    purchase_order_id bigint,
    published_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (account_id, audience_id) REFERENCES audiences (account_id, id),
    FOREIGN KEY (account_id, order_id) REFERENCES orders (account_id, id),
    FOREIGN KEY (account_id, order_id, purchase_order_id)
        REFERENCES purchase_orders (account_id, order_id, id),
    CONSTRAINT campaigns_po_has_order CHECK (purchase_order_id IS NULL OR order_id IS NOT NULL),
    CONSTRAINT campaigns_schedule_check CHECK (start_date IS NULL OR end_date IS NULL OR start_date <= end_date),
    CONSTRAINT campaigns_published_complete CHECK (
        status = 'DRAFT' OR (
            step = 'REVIEW' AND published_at IS NOT NULL AND order_id IS NOT NULL
            AND audience_id IS NOT NULL AND budget IS NOT NULL
            AND start_date IS NOT NULL AND end_date IS NOT NULL
        )
    )
);
CREATE INDEX campaigns_account_idx ON campaigns (account_id, id DESC);
CREATE INDEX campaigns_account_status_idx ON campaigns (account_id, status, id DESC);
CREATE INDEX campaigns_order_idx ON campaigns (order_id, status, id DESC) WHERE order_id IS NOT NULL;
CREATE INDEX campaigns_purchase_order_idx ON campaigns (purchase_order_id, status, id DESC)
    WHERE purchase_order_id IS NOT NULL;
CREATE INDEX campaigns_audience_idx ON campaigns (audience_id) WHERE audience_id IS NOT NULL;

-- The allocation ledger (R10): append-only; the allocated totals are its sums.
CREATE TABLE allocations (
    account_id        bigint NOT NULL,
    id                bigserial PRIMARY KEY,
    campaign_id       bigint NOT NULL REFERENCES campaigns (id),
    order_id          bigint NOT NULL,
    purchase_order_id bigint,
    delta             numeric(14, 2) NOT NULL CHECK (delta <> 0),
    reason            text NOT NULL,
    actor             text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (account_id, order_id) REFERENCES orders (account_id, id),
    FOREIGN KEY (account_id, order_id, purchase_order_id)
        REFERENCES purchase_orders (account_id, order_id, id)
);
CREATE INDEX allocations_order_idx ON allocations (order_id, id DESC);
CREATE INDEX allocations_purchase_order_idx ON allocations (purchase_order_id, id DESC)
    WHERE purchase_order_id IS NOT NULL;
CREATE INDEX allocations_campaign_idx ON allocations (campaign_id);

-- Every ledger entry moves the totals of its PO and order in the same statement, so
-- allocated_amount is the ledger's sum by construction, and the CHECKs above refuse overspend.
CREATE FUNCTION allocations_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.purchase_order_id IS NOT NULL THEN
        UPDATE purchase_orders SET allocated_amount = allocated_amount + NEW.delta
         WHERE id = NEW.purchase_order_id;
    END IF;
    UPDATE orders SET allocated_amount = allocated_amount + NEW.delta WHERE id = NEW.order_id;
    RETURN NEW;
END $$;
CREATE TRIGGER allocations_apply AFTER INSERT ON allocations
    FOR EACH ROW EXECUTE FUNCTION allocations_apply();

CREATE FUNCTION allocations_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the allocation ledger is append-only' USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER allocations_append_only BEFORE UPDATE OR DELETE ON allocations
    FOR EACH ROW EXECUTE FUNCTION allocations_append_only();
CREATE TRIGGER allocations_no_truncate BEFORE TRUNCATE ON allocations
    FOR EACH STATEMENT EXECUTE FUNCTION allocations_append_only();

-- The sum of an order's PO amounts, kept on the order so its CHECK can refuse too much.
CREATE FUNCTION purchase_orders_total() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE orders SET purchase_order_total = purchase_order_total - OLD.amount WHERE id = OLD.order_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE orders SET purchase_order_total = purchase_order_total + NEW.amount WHERE id = NEW.order_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER purchase_orders_total AFTER INSERT OR DELETE OR UPDATE OF amount, order_id
    ON purchase_orders FOR EACH ROW EXECUTE FUNCTION purchase_orders_total();

-- Published campaigns keep their budget source and audience (R6), stay published and are never deleted.
CREATE FUNCTION campaigns_published_lock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'PUBLISHED' THEN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'a published campaign cannot be deleted' USING ERRCODE = 'restrict_violation';
        END IF;
        IF NEW.status <> 'PUBLISHED'
           OR NEW.order_id IS DISTINCT FROM OLD.order_id
           OR NEW.purchase_order_id IS DISTINCT FROM OLD.purchase_order_id
           OR NEW.audience_id IS DISTINCT FROM OLD.audience_id THEN
            RAISE EXCEPTION 'a published campaign keeps its status, budget source and audience'
                USING ERRCODE = 'restrict_violation';
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER campaigns_published_lock BEFORE UPDATE OR DELETE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION campaigns_published_lock();
"""

DOWNGRADE = """
DROP TABLE allocations;
DROP TABLE campaigns;
DROP TABLE audiences;
DROP TABLE purchase_orders;
DROP TABLE orders;
DROP TABLE api_keys;
DROP TABLE accounts;
DROP FUNCTION allocations_apply();
DROP FUNCTION allocations_append_only();
DROP FUNCTION purchase_orders_total();
DROP FUNCTION campaigns_published_lock();
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
