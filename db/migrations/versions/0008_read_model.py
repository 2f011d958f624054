"""The read model in PostgreSQL: every figure and read rule of API.md sections 2, 6 and 7, once.

Functions hold the definitions (a source's status, unallocated amount, percents, days left,
display name and selectability; a campaign's remaining amount, locked fields and pending
release; an alert's message; which rows belong to a source; the step-2 drop-down) and views
apply them to the tables. Both executors read the views, the write checks call the same
functions under their row locks, and the triggers that keep the totals call them too. Global IDs,
cursors and timestamps are written here as the API writes them, so that a query's whole answer
can be built by PostgreSQL (budgetline/planner.py).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from db.migrate import execute_script

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- --- How the API writes values -----------------------------------------------------------------

-- Today, UTC: what "expired" and "days left" are measured against.
CREATE FUNCTION utc_today() RETURNS date LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT (now() AT TIME ZONE 'UTC')::date $$;

-- An opaque global ID or cursor: base64url("<Type>:<pk>") without padding (resolvers/ids.py
-- decodes it). A cursor is global_id('cursor', <key>).
CREATE FUNCTION global_id(type_name text, pk bigint) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT rtrim(translate(encode(convert_to(type_name || ':' || pk, 'UTF8'), 'base64'), '+/', '-_'), '=') $$;

-- A DateTime as the API writes it: ISO 8601 in UTC with its offset, microseconds only when there
-- are some (as Python's isoformat()).
CREATE FUNCTION iso_datetime(t timestamptz) RETURNS text LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$ SELECT to_char(t AT TIME ZONE 'UTC',
                     CASE WHEN date_part('microseconds', t AT TIME ZONE 'UTC')::bigint % 1000000 = 0
                          THEN 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'
                          ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"' END) $$;

-- A Date cursor (Campaign.spend): the day's ordinal, as Python's date.toordinal().
CREATE FUNCTION day_ordinal(day date) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT (day - date '0001-01-01') + 1 $$;

-- --- The figures of a budget source (API.md sections 2, 6, 7) ------------------------------------

CREATE FUNCTION source_status(cancelled_at timestamptz, order_cancelled_at timestamptz, end_date date, today date)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN cancelled_at IS NOT NULL OR order_cancelled_at IS NOT NULL THEN 'CANCELLED'
                  WHEN end_date < today THEN 'EXPIRED'
                  ELSE 'ACTIVE' END $$;

CREATE FUNCTION unallocated_amount(amount numeric, allocated_amount numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT greatest(amount - allocated_amount, 0.00) $$;

-- allocatedPercent, spentPercent: part / whole * 100, two fraction digits, half up.
CREATE FUNCTION percent_of(part numeric, whole numeric) RETURNS numeric LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN whole <= 0 THEN 0.00 ELSE round(part * 100 / whole, 2) END $$;

-- Days from today to the end date, both counted: 1 on the last day, 0 once it has passed.
CREATE FUNCTION days_left(end_date date, today date) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT greatest(end_date - today + 1, 0) $$;

CREATE FUNCTION source_display_name(po_number text, order_number text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN po_number IS NOT NULL THEN 'PO ' || po_number || ' (Order ' || order_number || ')'
                  ELSE 'Order ' || order_number END $$;

-- R4: an account that requires POs draws on POs, any other on orders.
CREATE FUNCTION source_is_right_kind(kind text, requires_purchase_order boolean) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (kind = 'PurchaseOrder') = requires_purchase_order $$;

CREATE FUNCTION source_selectable(status text, kind text, requires_purchase_order boolean) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT status = 'ACTIVE' AND source_is_right_kind(kind, requires_purchase_order) $$;

-- What draws on a source: a PO's own rows; an order's own and its POs' (campaigns, the ledger,
-- change requests all name their order, and their PO when they have one).
CREATE FUNCTION source_includes(kind text, source_id bigint, order_id bigint, purchase_order_id bigint)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN kind = 'PurchaseOrder' THEN purchase_order_id = source_id ELSE order_id = source_id END $$;

-- R18: the amendments of a source are its own: a PO's, or an order's without its POs'.
CREATE FUNCTION source_amended_by(kind text, source_id bigint, order_id bigint, purchase_order_id bigint)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN kind = 'PurchaseOrder' THEN purchase_order_id = source_id
                  ELSE order_id = source_id AND purchase_order_id IS NULL END $$;

-- Every order and PO in one shape, with every figure.
CREATE VIEW budget_sources_view AS
SELECT s.kind, s.id, s.account_id, s.order_id, s.order_number, s.po_number, s.amount, s.allocated_amount,
       s.draft_amount, s.spent_amount, s.pending_release_amount, s.purchase_order_total, s.currency,
       s.start_date, s.end_date, s.cancelled_at, s.order_cancelled_at, s.created_at, s.requires_purchase_order,
       s.status,
       unallocated_amount(s.amount, s.allocated_amount) AS unallocated_amount,
       percent_of(s.allocated_amount, s.amount) AS allocated_percent,
       percent_of(s.spent_amount, s.amount) AS spent_percent,
       days_left(s.end_date, utc_today()) AS days_left,
       source_display_name(s.po_number, s.order_number) AS display_name,
       source_is_right_kind(s.kind, s.requires_purchase_order) AS right_kind,
       source_selectable(s.status, s.kind, s.requires_purchase_order) AS selectable
  FROM (SELECT u.*, source_status(u.cancelled_at, u.order_cancelled_at, u.end_date, utc_today()) AS status
          FROM (SELECT 'PurchaseOrder'::text AS kind, p.id, p.account_id, o.id AS order_id, o.order_number,
                       p.po_number, p.amount, p.allocated_amount, p.draft_amount, p.spent_amount,
                       p.pending_release_amount, NULL::numeric AS purchase_order_total, o.currency, o.start_date,
                       o.end_date, p.cancelled_at, o.cancelled_at AS order_cancelled_at, p.created_at,
                       a.requires_purchase_order
                  FROM purchase_orders p JOIN orders o ON o.id = p.order_id JOIN accounts a ON a.id = p.account_id
                UNION ALL
                SELECT 'Order'::text, o.id, o.account_id, o.id, o.order_number, NULL::text, o.amount,
                       o.allocated_amount, o.draft_amount, o.spent_amount, o.pending_release_amount,
                       o.purchase_order_total, o.currency, o.start_date, o.end_date, o.cancelled_at, o.cancelled_at,
                       o.created_at, a.requires_purchase_order
                  FROM orders o JOIN accounts a ON a.id = o.account_id) u) s;

-- The step-2 drop-down (R4): the account's sources of the kind it uses, ACTIVE ones unless
-- include_inactive; listed by id.
CREATE FUNCTION account_budget_sources(account bigint, include_inactive boolean) RETURNS SETOF budget_sources_view
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT * FROM budget_sources_view s
       WHERE s.account_id = account AND s.right_kind AND (include_inactive OR s.status = 'ACTIVE') $$;

-- --- The figures of a campaign (API.md sections 3, 6) --------------------------------------------

CREATE FUNCTION campaign_remaining_amount(budget numeric, spent_amount numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT budget - spent_amount $$;

-- What settlement will return: budget - spent of an ENDED campaign not yet settled, else 0.
CREATE FUNCTION campaign_pending_release(status text, settled_at timestamptz, budget numeric, spent_amount numeric)
RETURNS numeric LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN status = 'ENDED' AND settled_at IS NULL THEN campaign_remaining_amount(budget, spent_amount)
                  ELSE 0 END $$;

-- R6, R12: [] on a draft, the audience and source once published or paused, all but the name once ended.
CREATE FUNCTION campaign_locked_fields(status text) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE status WHEN 'DRAFT' THEN '{}'::text[]
                         WHEN 'ENDED' THEN '{AUDIENCE,BUDGET,SCHEDULE,BUDGET_SOURCE}'::text[]
                         ELSE '{AUDIENCE,BUDGET_SOURCE}'::text[] END $$;

CREATE VIEW campaigns_view AS
SELECT c.account_id, c.id, c.name, c.status, c.step, c.version, c.audience_id, c.budget, c.start_date, c.end_date,
       c.order_id, c.purchase_order_id, c.published_at, c.created_at, c.updated_at, c.spent_amount,
       c.released_amount, c.paused_at, c.ended_at, c.end_reason, c.settled_at,
       campaign_remaining_amount(c.budget, c.spent_amount) AS remaining_amount,
       campaign_locked_fields(c.status) AS locked_fields,
       o.currency
  FROM campaigns c LEFT JOIN orders o ON o.id = c.order_id;

-- --- Alerts (R15, R16) ----------------------------------------------------------------------------

CREATE FUNCTION alert_message(kind text, threshold integer, amount numeric, term_end date, source_name text,
                              currency text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE kind
    WHEN 'ALLOCATION_THRESHOLD' THEN source_name || ' is ' || threshold || '% allocated or more'
    WHEN 'SPEND_THRESHOLD' THEN source_name || ' has spent ' || threshold || '% of its amount or more'
    WHEN 'SOURCE_EXHAUSTED' THEN source_name || ' has nothing left to allocate'
    WHEN 'EXPIRING_UNUSED_BUDGET' THEN source_name || ' ends on ' || term_end || ' with ' || amount || ' '
                                       || currency || ' unallocated'
    ELSE 'settlement returned ' || amount || ' ' || currency || ' to ' || source_name END $$;

CREATE VIEW budget_alerts_view AS
SELECT a.account_id, a.id, a.kind, a.order_id, a.purchase_order_id, a.campaign_id, a.threshold, a.amount,
       a.term_end, a.raised_at, a.acknowledged_at, a.acknowledged_by,
       alert_message(a.kind, a.threshold, a.amount, a.term_end, source_display_name(p.po_number, o.order_number),
                     o.currency) AS message
  FROM budget_alerts a JOIN orders o ON o.id = a.order_id LEFT JOIN purchase_orders p ON p.id = a.purchase_order_id;

-- --- The totals the triggers keep: pendingReleaseAmount by the definition above ------------------

CREATE OR REPLACE FUNCTION campaigns_totals() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_po bigint; old_order bigint; old_draft numeric := 0; old_spent numeric := 0; old_pending numeric := 0;
    new_po bigint; new_order bigint; new_draft numeric := 0; new_spent numeric := 0; new_pending numeric := 0;
    target record;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.order_id IS NOT NULL THEN
        old_po := OLD.purchase_order_id; old_order := OLD.order_id; old_spent := OLD.spent_amount;
        IF OLD.status = 'DRAFT' THEN old_draft := coalesce(OLD.budget, 0); END IF;
        old_pending := campaign_pending_release(OLD.status, OLD.settled_at, OLD.budget, OLD.spent_amount);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.order_id IS NOT NULL THEN
        new_po := NEW.purchase_order_id; new_order := NEW.order_id; new_spent := NEW.spent_amount;
        IF NEW.status = 'DRAFT' THEN new_draft := coalesce(NEW.budget, 0); END IF;
        new_pending := campaign_pending_release(NEW.status, NEW.settled_at, NEW.budget, NEW.spent_amount);
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
"""

DOWNGRADE = r"""
CREATE OR REPLACE FUNCTION campaigns_totals() RETURNS trigger LANGUAGE plpgsql AS $$
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
DROP VIEW budget_alerts_view;
DROP FUNCTION alert_message(text, integer, numeric, date, text, text);
DROP VIEW campaigns_view;
DROP FUNCTION campaign_locked_fields(text);
DROP FUNCTION campaign_pending_release(text, timestamptz, numeric, numeric);
DROP FUNCTION campaign_remaining_amount(numeric, numeric);
DROP FUNCTION account_budget_sources(bigint, boolean);
DROP VIEW budget_sources_view;
DROP FUNCTION source_amended_by(text, bigint, bigint, bigint);
DROP FUNCTION source_includes(text, bigint, bigint, bigint);
DROP FUNCTION source_selectable(text, text, boolean);
DROP FUNCTION source_is_right_kind(text, boolean);
DROP FUNCTION source_display_name(text, text);
DROP FUNCTION days_left(date, date);
DROP FUNCTION percent_of(numeric, numeric);
DROP FUNCTION unallocated_amount(numeric, numeric);
DROP FUNCTION source_status(timestamptz, timestamptz, date, date);
DROP FUNCTION day_ordinal(date);
DROP FUNCTION iso_datetime(timestamptz);
DROP FUNCTION global_id(text, bigint);
DROP FUNCTION utc_today();
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
