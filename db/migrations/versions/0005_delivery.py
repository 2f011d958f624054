"""Life after publishing (API.md section 6): spend, pause, end, settlement, the DELIVERY role.

- `spend_reports` is the append-only spend ledger: every report, restatements included. Its
  insert trigger keeps `spend_days` (one row per campaign and UTC day: the latest figure) and
  `campaigns.spent_amount` (their sum) in the same statement, so both are exact by construction.
- A campaign's spend, release and state are held by CHECKs: `0 <= spent <= budget`, a draft has
  spent nothing, a settled campaign is ENDED with `released = budget - spent`, the timestamps
  agree with the status.
- `campaigns_totals` replaces `campaigns_draft_totals`: one trigger keeps every per-source total
  that comes from campaign rows (drafts, spend, what settlement will return), touching each PO,
  then each order, by ascending id, once per campaign change: the one lock order of R5.
- The lock trigger now covers PAUSED and ENDED: only the transitions of R12, an ended campaign
  changes nothing but its name (and its spend until settled), a settled one's figures are final.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from db.migrate import execute_script

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check
    CHECK (role IN ('VIEWER', 'CAMPAIGN_MANAGER', 'ACCOUNT_TEAM', 'DELIVERY'));
ALTER TABLE api_keys DROP CONSTRAINT api_keys_account_matches_role;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_account_matches_role
    CHECK ((role IN ('ACCOUNT_TEAM', 'DELIVERY')) = (account_id IS NULL));

ALTER TABLE campaigns DROP CONSTRAINT campaigns_status_check;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_status_check
    CHECK (status IN ('DRAFT', 'PUBLISHED', 'PAUSED', 'ENDED'));
ALTER TABLE campaigns
    ADD COLUMN spent_amount numeric(14, 2) NOT NULL DEFAULT 0,
    ADD COLUMN released_amount numeric(14, 2) NOT NULL DEFAULT 0,
    ADD COLUMN paused_at timestamptz,
    ADD COLUMN ended_at timestamptz,
    ADD COLUMN end_reason text CHECK (end_reason IN ('MANUAL', 'SCHEDULE')),
    ADD COLUMN settled_at timestamptz,
    ADD CONSTRAINT campaigns_spend_within_budget
        CHECK (spent_amount >= 0 AND spent_amount <= coalesce(budget, 0)),
    ADD CONSTRAINT campaigns_draft_spends_nothing CHECK (status <> 'DRAFT' OR spent_amount = 0),
    ADD CONSTRAINT campaigns_paused_at_check CHECK ((status = 'PAUSED') = (paused_at IS NOT NULL)),
    ADD CONSTRAINT campaigns_ended_check
        CHECK ((status = 'ENDED') = (ended_at IS NOT NULL) AND (ended_at IS NULL) = (end_reason IS NULL)),
    ADD CONSTRAINT campaigns_settled_check CHECK (
        CASE WHEN settled_at IS NULL THEN released_amount = 0
             ELSE status = 'ENDED' AND released_amount = budget - spent_amount END
    );
-- The sweeper's two questions, answered from small partial indexes.
CREATE INDEX campaigns_live_end_idx ON campaigns (end_date, id) WHERE status IN ('PUBLISHED', 'PAUSED');
CREATE INDEX campaigns_unsettled_idx ON campaigns (ended_at, id) WHERE status = 'ENDED' AND settled_at IS NULL;

ALTER TABLE purchase_orders
    ADD COLUMN spent_amount numeric(38, 2) NOT NULL DEFAULT 0 CHECK (spent_amount >= 0),
    ADD COLUMN pending_release_amount numeric(38, 2) NOT NULL DEFAULT 0 CHECK (pending_release_amount >= 0);
ALTER TABLE orders
    ADD COLUMN spent_amount numeric(38, 2) NOT NULL DEFAULT 0 CHECK (spent_amount >= 0),
    ADD COLUMN pending_release_amount numeric(38, 2) NOT NULL DEFAULT 0 CHECK (pending_release_amount >= 0);

DROP TRIGGER campaigns_draft_totals ON campaigns;
DROP FUNCTION campaigns_draft_totals();

-- draftAmount, spentAmount and pendingReleaseAmount of every PO and order (API.md sections 2
-- and 6), moved by the statement that changes the campaign: exact by construction.
CREATE FUNCTION campaigns_totals() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_po bigint; old_order bigint; old_draft numeric := 0; old_spent numeric := 0; old_pending numeric := 0;
    new_po bigint; new_order bigint; new_draft numeric := 0; new_spent numeric := 0; new_pending numeric := 0;
    target record;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.order_id IS NOT NULL THEN
        old_po := OLD.purchase_order_id; old_order := OLD.order_id; old_spent := OLD.spent_amount;
        IF OLD.status = 'DRAFT' THEN old_draft := coalesce(OLD.budget, 0); END IF;
        IF OLD.status = 'ENDED' AND OLD.settled_at IS NULL THEN old_pending := OLD.budget - OLD.spent_amount; END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.order_id IS NOT NULL THEN
        new_po := NEW.purchase_order_id; new_order := NEW.order_id; new_spent := NEW.spent_amount;
        IF NEW.status = 'DRAFT' THEN new_draft := coalesce(NEW.budget, 0); END IF;
        IF NEW.status = 'ENDED' AND NEW.settled_at IS NULL THEN new_pending := NEW.budget - NEW.spent_amount; END IF;
    END IF;
    FOR target IN
        SELECT id, sum(d) AS d, sum(s) AS s, sum(p) AS p
          FROM (VALUES (old_po, -old_draft, -old_spent, -old_pending),
                       (new_po, new_draft, new_spent, new_pending)) AS c (id, d, s, p)
         WHERE id IS NOT NULL GROUP BY id HAVING sum(d) <> 0 OR sum(s) <> 0 OR sum(p) <> 0 ORDER BY id
    LOOP
        UPDATE purchase_orders SET draft_amount = draft_amount + target.d, spent_amount = spent_amount + target.s,
               pending_release_amount = pending_release_amount + target.p
         WHERE id = target.id;
    END LOOP;
    FOR target IN
        SELECT id, sum(d) AS d, sum(s) AS s, sum(p) AS p
          FROM (VALUES (old_order, -old_draft, -old_spent, -old_pending),
                       (new_order, new_draft, new_spent, new_pending)) AS c (id, d, s, p)
         WHERE id IS NOT NULL GROUP BY id HAVING sum(d) <> 0 OR sum(s) <> 0 OR sum(p) <> 0 ORDER BY id
    LOOP
        UPDATE orders SET draft_amount = draft_amount + target.d, spent_amount = spent_amount + target.s,
               pending_release_amount = pending_release_amount + target.p
         WHERE id = target.id;
    END LOOP;
    RETURN NULL;
END $$;
CREATE TRIGGER campaigns_totals AFTER INSERT OR DELETE
    OR UPDATE OF status, budget, order_id, purchase_order_id, spent_amount, settled_at ON campaigns
    FOR EACH ROW EXECUTE FUNCTION campaigns_totals();

-- R6 and R12: what a campaign past its draft may still change.
CREATE OR REPLACE FUNCTION campaigns_published_lock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'DRAFT' THEN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'a published campaign cannot be deleted' USING ERRCODE = 'restrict_violation';
        END IF;
        IF NEW.status = 'DRAFT' OR (OLD.status = 'ENDED' AND NEW.status <> 'ENDED')
           OR NEW.order_id IS DISTINCT FROM OLD.order_id
           OR NEW.purchase_order_id IS DISTINCT FROM OLD.purchase_order_id
           OR NEW.audience_id IS DISTINCT FROM OLD.audience_id THEN
            RAISE EXCEPTION 'a published campaign keeps its budget source and audience, and an ended one stays ended'
                USING ERRCODE = 'restrict_violation';
        END IF;
        IF OLD.status = 'ENDED' AND (NEW.budget IS DISTINCT FROM OLD.budget
           OR NEW.start_date IS DISTINCT FROM OLD.start_date OR NEW.end_date IS DISTINCT FROM OLD.end_date) THEN
            RAISE EXCEPTION 'an ended campaign changes nothing but its name' USING ERRCODE = 'restrict_violation';
        END IF;
        IF OLD.settled_at IS NOT NULL AND (NEW.spent_amount <> OLD.spent_amount
           OR NEW.released_amount <> OLD.released_amount OR NEW.settled_at IS DISTINCT FROM OLD.settled_at) THEN
            RAISE EXCEPTION 'a settled campaign''s figures are final' USING ERRCODE = 'restrict_violation';
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;

-- The spend ledger (R11): every report, append-only.
CREATE TABLE spend_reports (
    account_id  bigint NOT NULL,
    id          bigserial PRIMARY KEY,
    campaign_id bigint NOT NULL REFERENCES campaigns (id),
    day         date NOT NULL,
    amount      numeric(14, 2) NOT NULL CHECK (amount >= 0),
    reported_by text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX spend_reports_campaign_idx ON spend_reports (campaign_id, day, id);

-- The current figure of each campaign and day: the SpendRecord nodes.
CREATE TABLE spend_days (
    account_id   bigint NOT NULL,
    id           bigserial PRIMARY KEY,
    campaign_id  bigint NOT NULL REFERENCES campaigns (id),
    day          date NOT NULL,
    amount       numeric(14, 2) NOT NULL CHECK (amount >= 0),
    restatements integer NOT NULL DEFAULT 0 CHECK (restatements >= 0),
    reported_by  text NOT NULL,
    reported_at  timestamptz NOT NULL,
    CONSTRAINT spend_days_campaign_day_key UNIQUE (campaign_id, day)
);

CREATE FUNCTION spend_reports_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    previous numeric;
BEGIN
    SELECT amount INTO previous FROM spend_days WHERE campaign_id = NEW.campaign_id AND day = NEW.day FOR UPDATE;
    IF FOUND THEN
        UPDATE spend_days SET amount = NEW.amount, restatements = restatements + 1,
               reported_by = NEW.reported_by, reported_at = NEW.created_at
         WHERE campaign_id = NEW.campaign_id AND day = NEW.day;
    ELSE
        INSERT INTO spend_days (account_id, campaign_id, day, amount, reported_by, reported_at)
        VALUES (NEW.account_id, NEW.campaign_id, NEW.day, NEW.amount, NEW.reported_by, NEW.created_at);
        previous := 0;
    END IF;
    UPDATE campaigns SET spent_amount = spent_amount + NEW.amount - previous WHERE id = NEW.campaign_id;
    RETURN NULL;
END $$;
CREATE TRIGGER spend_reports_apply AFTER INSERT ON spend_reports
    FOR EACH ROW EXECUTE FUNCTION spend_reports_apply();

CREATE FUNCTION spend_reports_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the spend ledger is append-only' USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER spend_reports_append_only BEFORE UPDATE OR DELETE ON spend_reports
    FOR EACH ROW EXECUTE FUNCTION spend_reports_append_only();
CREATE TRIGGER spend_reports_no_truncate BEFORE TRUNCATE ON spend_reports
    FOR EACH STATEMENT EXECUTE FUNCTION spend_reports_append_only();
"""

DOWNGRADE = """
DROP TABLE spend_days;
DROP TABLE spend_reports;
DROP FUNCTION spend_reports_apply();
DROP FUNCTION spend_reports_append_only();
DROP TRIGGER campaigns_totals ON campaigns;
DROP FUNCTION campaigns_totals();
CREATE OR REPLACE FUNCTION campaigns_published_lock() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE FUNCTION campaigns_draft_totals() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_po bigint; old_order bigint; old_budget numeric;
    new_po bigint; new_order bigint; new_budget numeric;
    target record;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'DRAFT' AND OLD.budget IS NOT NULL
       AND OLD.order_id IS NOT NULL THEN
        old_po := OLD.purchase_order_id; old_order := OLD.order_id; old_budget := OLD.budget;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'DRAFT' AND NEW.budget IS NOT NULL
       AND NEW.order_id IS NOT NULL THEN
        new_po := NEW.purchase_order_id; new_order := NEW.order_id; new_budget := NEW.budget;
    END IF;
    FOR target IN
        SELECT id, sum(delta) AS delta FROM (VALUES (old_po, -old_budget), (new_po, new_budget)) AS c (id, delta)
        WHERE id IS NOT NULL GROUP BY id HAVING sum(delta) <> 0 ORDER BY id
    LOOP
        UPDATE purchase_orders SET draft_amount = draft_amount + target.delta WHERE id = target.id;
    END LOOP;
    FOR target IN
        SELECT id, sum(delta) AS delta FROM (VALUES (old_order, -old_budget), (new_order, new_budget)) AS c (id, delta)
        WHERE id IS NOT NULL GROUP BY id HAVING sum(delta) <> 0 ORDER BY id
    LOOP
        UPDATE orders SET draft_amount = draft_amount + target.delta WHERE id = target.id;
    END LOOP;
    RETURN NULL;
END $$;
CREATE TRIGGER campaigns_draft_totals AFTER INSERT OR DELETE
    OR UPDATE OF status, budget, order_id, purchase_order_id ON campaigns
    FOR EACH ROW EXECUTE FUNCTION campaigns_draft_totals();
ALTER TABLE orders DROP COLUMN spent_amount, DROP COLUMN pending_release_amount;
ALTER TABLE purchase_orders DROP COLUMN spent_amount, DROP COLUMN pending_release_amount;
DROP INDEX campaigns_live_end_idx;
DROP INDEX campaigns_unsettled_idx;
ALTER TABLE campaigns DROP CONSTRAINT campaigns_spend_within_budget, DROP CONSTRAINT campaigns_draft_spends_nothing,
    DROP CONSTRAINT campaigns_paused_at_check, DROP CONSTRAINT campaigns_ended_check,
    DROP CONSTRAINT campaigns_settled_check;
ALTER TABLE campaigns DROP COLUMN spent_amount, DROP COLUMN released_amount, DROP COLUMN paused_at,
    DROP COLUMN ended_at, DROP COLUMN end_reason, DROP COLUMN settled_at;
ALTER TABLE campaigns DROP CONSTRAINT campaigns_status_check;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_status_check CHECK (status IN ('DRAFT', 'PUBLISHED'));
ALTER TABLE api_keys DROP CONSTRAINT api_keys_account_matches_role;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_account_matches_role
    CHECK ((role = 'ACCOUNT_TEAM') = (account_id IS NULL));
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check
    CHECK (role IN ('VIEWER', 'CAMPAIGN_MANAGER', 'ACCOUNT_TEAM'));
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
