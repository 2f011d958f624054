"""Budget health (API.md section 7): alert settings, budget alerts, change events.

- `accounts.alert_thresholds` / `expiry_warning_days`: R15's settings, bounded by CHECKs.
- `budget_alerts`: one row per alert. R15's alerts are raised by triggers, in the statement
  that moves a source's figures, from the row's values before and after (OLD and NEW, under the
  row lock that statement holds): so an alert exists if and only if its cause committed, on
  every path that changes a source (publish, budget change, spend, settlement, amendment).
  The campaign that caused it is the campaign of the last ledger entry or campaign row the
  transaction wrote (a transaction-local setting, written by triggers that fire before the
  totals move).
  EXPIRING_UNUSED_BUDGET (R16) is raised by the sweeper, at most once per source and term end
  (a unique index).
- R17's events: `pg_notify('budgetline_events', '<Type>:<account id>:<id>')` from triggers,
  inside the committing transaction (listeners see them only once it commits; PostgreSQL drops
  duplicate payloads of one transaction, so a source changed twice reports once). A revoked key
  sends `ApiKey:0:<id>` so its sockets close at once.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from db.migrate import execute_script

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE accounts
    ADD COLUMN alert_thresholds smallint[] NOT NULL DEFAULT '{50,80,95,100}'
        CONSTRAINT accounts_alert_thresholds_check CHECK (
            cardinality(alert_thresholds) <= 10 AND array_position(alert_thresholds, NULL) IS NULL
            AND 1 <= ALL (alert_thresholds) AND 100 >= ALL (alert_thresholds)),
    ADD COLUMN expiry_warning_days integer NOT NULL DEFAULT 30
        CONSTRAINT accounts_expiry_warning_days_check CHECK (expiry_warning_days BETWEEN 0 AND 365);

CREATE TABLE budget_alerts (
    account_id        bigint NOT NULL REFERENCES accounts (id),
    id                bigserial PRIMARY KEY,
    kind              text NOT NULL CHECK (kind IN ('ALLOCATION_THRESHOLD', 'SPEND_THRESHOLD', 'SOURCE_EXHAUSTED',
                                                    'EXPIRING_UNUSED_BUDGET', 'BUDGET_RETURNED')),
    order_id          bigint NOT NULL REFERENCES orders (id),
    purchase_order_id bigint REFERENCES purchase_orders (id),
    campaign_id       bigint REFERENCES campaigns (id),
    threshold         smallint CHECK (threshold BETWEEN 1 AND 100),
    amount            numeric(14, 2) CHECK (amount > 0),
    term_end          date,
    raised_at         timestamptz NOT NULL DEFAULT now(),
    acknowledged_at   timestamptz,
    acknowledged_by   text,
    CONSTRAINT budget_alerts_kind_threshold_check
        CHECK ((kind IN ('ALLOCATION_THRESHOLD', 'SPEND_THRESHOLD')) = (threshold IS NOT NULL)),
    CONSTRAINT budget_alerts_kind_amount_check
        CHECK ((kind IN ('EXPIRING_UNUSED_BUDGET', 'BUDGET_RETURNED')) = (amount IS NOT NULL)),
    CONSTRAINT budget_alerts_acknowledged_check CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL))
);
CREATE INDEX budget_alerts_account_idx ON budget_alerts (account_id, id);
CREATE INDEX budget_alerts_unacknowledged_idx ON budget_alerts (account_id, id) WHERE acknowledged_at IS NULL;
-- R16: once per source and term.
CREATE UNIQUE INDEX budget_alerts_expiring_once ON budget_alerts (order_id, coalesce(purchase_order_id, 0), term_end)
    WHERE kind = 'EXPIRING_UNUSED_BUDGET';

-- R15 and R17 on orders and POs: alerts for what crossed, then the change event.
CREATE FUNCTION budget_sources_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    purchase_order bigint;
    the_order bigint;
    thresholds smallint[];
    cause bigint := nullif(current_setting('budgetline.campaign_id', true), '')::bigint;
BEGIN
    IF TG_TABLE_NAME = 'purchase_orders' THEN
        purchase_order := NEW.id;
        the_order := NEW.order_id;
        PERFORM pg_notify('budgetline_events', 'PurchaseOrder:' || NEW.account_id || ':' || NEW.id);
    ELSE
        the_order := NEW.id;
    END IF;
    -- A PO's change reports its order too (its figures moved, or what it lists did).
    PERFORM pg_notify('budgetline_events', 'Order:' || NEW.account_id || ':' || the_order);
    IF TG_OP = 'INSERT' THEN
        RETURN NULL;
    END IF;
    IF NEW.allocated_amount <> OLD.allocated_amount OR NEW.spent_amount <> OLD.spent_amount
       OR NEW.amount <> OLD.amount THEN
        SELECT alert_thresholds INTO thresholds FROM accounts WHERE id = NEW.account_id;
        -- Exact ratios, compared without division: before < t/100 <= after.
        INSERT INTO budget_alerts (account_id, kind, order_id, purchase_order_id, campaign_id, threshold)
        SELECT NEW.account_id, c.kind, the_order, purchase_order, cause, t
          FROM unnest(thresholds) AS t,
               (VALUES ('ALLOCATION_THRESHOLD', OLD.allocated_amount, NEW.allocated_amount),
                       ('SPEND_THRESHOLD', OLD.spent_amount, NEW.spent_amount)) AS c (kind, before, after)
         WHERE c.before * 100 < t * OLD.amount AND c.after * 100 >= t * NEW.amount
         ORDER BY c.kind, t;
        IF OLD.amount > OLD.allocated_amount AND NEW.amount <= NEW.allocated_amount THEN
            INSERT INTO budget_alerts (account_id, kind, order_id, purchase_order_id, campaign_id)
            VALUES (NEW.account_id, 'SOURCE_EXHAUSTED', the_order, purchase_order, cause);
        END IF;
    END IF;
    RETURN NULL;
END $$;
-- An UPDATE that changes nothing (SET amount = amount) is no change: no event, no alert.
CREATE TRIGGER purchase_orders_added AFTER INSERT ON purchase_orders
    FOR EACH ROW EXECUTE FUNCTION budget_sources_changed();
CREATE TRIGGER purchase_orders_changed AFTER UPDATE ON purchase_orders
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION budget_sources_changed();
CREATE TRIGGER orders_added AFTER INSERT ON orders
    FOR EACH ROW EXECUTE FUNCTION budget_sources_changed();
CREATE TRIGGER orders_changed AFTER UPDATE ON orders
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION budget_sources_changed();

-- R17: a campaign's change event; and the cause the source triggers above name. It fires
-- before campaigns_totals (triggers of one event fire by name), which moves the sources.
CREATE FUNCTION campaigns_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('budgetline.campaign_id', NEW.id::text, true);
    PERFORM pg_notify('budgetline_events', 'Campaign:' || NEW.account_id || ':' || NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER campaigns_added AFTER INSERT ON campaigns
    FOR EACH ROW EXECUTE FUNCTION campaigns_changed();
CREATE TRIGGER campaigns_changed AFTER UPDATE ON campaigns
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION campaigns_changed();

-- The cause again, for a ledger entry written before its campaign's row in the same flush.
CREATE FUNCTION allocations_cause() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('budgetline.campaign_id', NEW.campaign_id::text, true);
    RETURN NEW;
END $$;
CREATE TRIGGER allocations_cause BEFORE INSERT ON allocations
    FOR EACH ROW EXECUTE FUNCTION allocations_cause();

-- R15: settlement gave money back (a `release` ledger entry), on the campaign's own source.
CREATE FUNCTION allocations_returned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO budget_alerts (account_id, kind, order_id, purchase_order_id, campaign_id, amount)
    VALUES (NEW.account_id, 'BUDGET_RETURNED', NEW.order_id, NEW.purchase_order_id, NEW.campaign_id, -NEW.delta);
    RETURN NULL;
END $$;
CREATE TRIGGER allocations_returned AFTER INSERT ON allocations
    FOR EACH ROW WHEN (NEW.reason = 'release' AND NEW.delta < 0) EXECUTE FUNCTION allocations_returned();

CREATE FUNCTION budget_alerts_raised() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('budgetline_events', 'BudgetAlert:' || NEW.account_id || ':' || NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER budget_alerts_raised AFTER INSERT ON budget_alerts
    FOR EACH ROW EXECUTE FUNCTION budget_alerts_raised();

-- A revoked key's sockets close at once (the periodic check is the backstop).
CREATE FUNCTION api_keys_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('budgetline_events', 'ApiKey:0:' || NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER api_keys_revoked AFTER UPDATE OF revoked_at ON api_keys
    FOR EACH ROW WHEN (NEW.revoked_at IS NOT NULL AND OLD.revoked_at IS NULL) EXECUTE FUNCTION api_keys_revoked();
"""

DOWNGRADE = """
DROP TRIGGER api_keys_revoked ON api_keys;
DROP FUNCTION api_keys_revoked();
DROP TRIGGER allocations_cause ON allocations;
DROP FUNCTION allocations_cause();
DROP TRIGGER allocations_returned ON allocations;
DROP FUNCTION allocations_returned();
DROP TRIGGER campaigns_changed ON campaigns;
DROP TRIGGER campaigns_added ON campaigns;
DROP FUNCTION campaigns_changed();
DROP TRIGGER orders_changed ON orders;
DROP TRIGGER orders_added ON orders;
DROP TRIGGER purchase_orders_changed ON purchase_orders;
DROP TRIGGER purchase_orders_added ON purchase_orders;
DROP FUNCTION budget_sources_changed();
DROP TABLE budget_alerts;
DROP FUNCTION budget_alerts_raised();
ALTER TABLE accounts DROP COLUMN alert_thresholds, DROP COLUMN expiry_warning_days;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
