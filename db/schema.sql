-- What the database holds after `budgetline migrate`: db/schema_dump.py (`make schema`) writes it.
CREATE FUNCTION public.days_left(end_date date, today date) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT greatest(end_date - today + 1, 0) $$;

CREATE FUNCTION public.percent_of(part numeric, whole numeric) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN whole <= 0 THEN 0.00 ELSE round(part * 100 / whole, 2) END $$;

CREATE FUNCTION public.source_display_name(po_number text, order_number text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN po_number IS NOT NULL THEN 'PO ' || po_number || ' (Order ' || order_number || ')'
                  ELSE 'Order ' || order_number END $$;

CREATE FUNCTION public.source_is_right_kind(kind text, requires_purchase_order boolean) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (kind = 'PurchaseOrder') = requires_purchase_order $$;

CREATE FUNCTION public.source_selectable(status text, kind text, requires_purchase_order boolean) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT status = 'ACTIVE' AND source_is_right_kind(kind, requires_purchase_order) $$;

CREATE FUNCTION public.source_status(cancelled_at timestamp with time zone, order_cancelled_at timestamp with time zone, end_date date, today date) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN cancelled_at IS NOT NULL OR order_cancelled_at IS NOT NULL THEN 'CANCELLED'
                  WHEN end_date < today THEN 'EXPIRED'
                  ELSE 'ACTIVE' END $$;

CREATE FUNCTION public.unallocated_amount(amount numeric, allocated_amount numeric) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT greatest(amount - allocated_amount, 0.00) $$;

CREATE FUNCTION public.utc_today() RETURNS date
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT (now() AT TIME ZONE 'UTC')::date $$;

CREATE TABLE public.accounts (
    id bigint NOT NULL,
    name text NOT NULL,
    requires_purchase_order boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    alert_thresholds smallint[] DEFAULT '{50,80,95,100}'::smallint[] NOT NULL,
    expiry_warning_days integer DEFAULT 30 NOT NULL,
    CONSTRAINT accounts_alert_thresholds_check CHECK (((cardinality(alert_thresholds) <= 10) AND (array_position(alert_thresholds, NULL::smallint) IS NULL) AND (1 <= ALL (alert_thresholds)) AND (100 >= ALL (alert_thresholds)))),
    CONSTRAINT accounts_expiry_warning_days_check CHECK (((expiry_warning_days >= 0) AND (expiry_warning_days <= 365))),
    CONSTRAINT accounts_name_check CHECK (((length(btrim(name)) >= 1) AND (length(btrim(name)) <= 200)))
);

CREATE TABLE public.orders (
    account_id bigint NOT NULL,
    id bigint NOT NULL,
    order_number text NOT NULL,
    amount numeric(14,2) NOT NULL,
    currency character(3) NOT NULL,
    start_date date NOT NULL,
    end_date date NOT NULL,
    allocated_amount numeric(14,2) DEFAULT 0 NOT NULL,
    purchase_order_total numeric(14,2) DEFAULT 0 NOT NULL,
    cancelled_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    draft_amount numeric(38,2) DEFAULT 0 NOT NULL,
    spent_amount numeric(38,2) DEFAULT 0 NOT NULL,
    pending_release_amount numeric(38,2) DEFAULT 0 NOT NULL,
    CONSTRAINT orders_allocated_within_amount CHECK (((allocated_amount >= (0)::numeric) AND (allocated_amount <= amount))),
    CONSTRAINT orders_amount_check CHECK ((amount > (0)::numeric)),
    CONSTRAINT orders_currency_check CHECK ((currency ~ '^[A-Z]{3}$'::text)),
    CONSTRAINT orders_draft_amount_check CHECK ((draft_amount >= (0)::numeric)),
    CONSTRAINT orders_order_number_check CHECK (((length(order_number) >= 1) AND (length(order_number) <= 64))),
    CONSTRAINT orders_pending_release_amount_check CHECK ((pending_release_amount >= (0)::numeric)),
    CONSTRAINT orders_purchase_orders_within_amount CHECK (((purchase_order_total >= (0)::numeric) AND (purchase_order_total <= amount))),
    CONSTRAINT orders_spent_amount_check CHECK ((spent_amount >= (0)::numeric)),
    CONSTRAINT orders_term_check CHECK ((start_date <= end_date))
);

CREATE TABLE public.purchase_orders (
    account_id bigint NOT NULL,
    id bigint NOT NULL,
    order_id bigint NOT NULL,
    po_number text NOT NULL,
    amount numeric(14,2) NOT NULL,
    allocated_amount numeric(14,2) DEFAULT 0 NOT NULL,
    cancelled_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    draft_amount numeric(38,2) DEFAULT 0 NOT NULL,
    spent_amount numeric(38,2) DEFAULT 0 NOT NULL,
    pending_release_amount numeric(38,2) DEFAULT 0 NOT NULL,
    CONSTRAINT purchase_orders_allocated_within_amount CHECK (((allocated_amount >= (0)::numeric) AND (allocated_amount <= amount))),
    CONSTRAINT purchase_orders_amount_check CHECK ((amount > (0)::numeric)),
    CONSTRAINT purchase_orders_draft_amount_check CHECK ((draft_amount >= (0)::numeric)),
    CONSTRAINT purchase_orders_pending_release_amount_check CHECK ((pending_release_amount >= (0)::numeric)),
    CONSTRAINT purchase_orders_po_number_check CHECK (((length(po_number) >= 1) AND (length(po_number) <= 64))),
    CONSTRAINT purchase_orders_spent_amount_check CHECK ((spent_amount >= (0)::numeric))
);

CREATE VIEW public.budget_sources_view AS
 SELECT kind,
    id,
    account_id,
    order_id,
    order_number,
    po_number,
    amount,
    allocated_amount,
    draft_amount,
    spent_amount,
    pending_release_amount,
    purchase_order_total,
    currency,
    start_date,
    end_date,
    cancelled_at,
    order_cancelled_at,
    created_at,
    requires_purchase_order,
    status,
    public.unallocated_amount(amount, allocated_amount) AS unallocated_amount,
    public.percent_of(allocated_amount, amount) AS allocated_percent,
    public.percent_of(spent_amount, amount) AS spent_percent,
    public.days_left(end_date, public.utc_today()) AS days_left,
    public.source_display_name(po_number, order_number) AS display_name,
    public.source_is_right_kind(kind, requires_purchase_order) AS right_kind,
    public.source_selectable(status, kind, requires_purchase_order) AS selectable
   FROM ( SELECT u.kind,
            u.id,
            u.account_id,
            u.order_id,
            u.order_number,
            u.po_number,
            u.amount,
            u.allocated_amount,
            u.draft_amount,
            u.spent_amount,
            u.pending_release_amount,
            u.purchase_order_total,
            u.currency,
            u.start_date,
            u.end_date,
            u.cancelled_at,
            u.order_cancelled_at,
            u.created_at,
            u.requires_purchase_order,
            public.source_status(u.cancelled_at, u.order_cancelled_at, u.end_date, public.utc_today()) AS status
           FROM ( SELECT 'PurchaseOrder'::text AS kind,
                    p.id,
                    p.account_id,
                    o.id AS order_id,
                    o.order_number,
                    p.po_number,
                    p.amount,
                    p.allocated_amount,
                    p.draft_amount,
                    p.spent_amount,
                    p.pending_release_amount,
                    NULL::numeric AS purchase_order_total,
                    o.currency,
                    o.start_date,
                    o.end_date,
                    p.cancelled_at,
                    o.cancelled_at AS order_cancelled_at,
                    p.created_at,
                    a.requires_purchase_order
                   FROM ((public.purchase_orders p
                     JOIN public.orders o ON ((o.id = p.order_id)))
                     JOIN public.accounts a ON ((a.id = p.account_id)))
                UNION ALL
                 SELECT 'Order'::text AS text,
                    o.id,
                    o.account_id,
                    o.id,
                    o.order_number,
                    NULL::text AS text,
                    o.amount,
                    o.allocated_amount,
                    o.draft_amount,
                    o.spent_amount,
                    o.pending_release_amount,
                    o.purchase_order_total,
                    o.currency,
                    o.start_date,
                    o.end_date,
                    o.cancelled_at,
                    o.cancelled_at,
                    o.created_at,
                    a.requires_purchase_order
                   FROM (public.orders o
                     JOIN public.accounts a ON ((a.id = o.account_id)))) u) s;

CREATE FUNCTION public.account_budget_sources(account bigint, include_inactive boolean) RETURNS SETOF public.budget_sources_view
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT * FROM budget_sources_view s
       WHERE s.account_id = account AND s.right_kind AND (include_inactive OR s.status = 'ACTIVE') $$;

CREATE FUNCTION public.alert_message(kind text, threshold integer, amount numeric, term_end date, source_name text, currency text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE kind
    WHEN 'ALLOCATION_THRESHOLD' THEN source_name || ' is ' || threshold || '% allocated or more'
    WHEN 'SPEND_THRESHOLD' THEN source_name || ' has spent ' || threshold || '% of its amount or more'
    WHEN 'SOURCE_EXHAUSTED' THEN source_name || ' has nothing left to allocate'
    WHEN 'EXPIRING_UNUSED_BUDGET' THEN source_name || ' ends on ' || term_end || ' with ' || amount || ' '
                                       || currency || ' unallocated'
    ELSE 'settlement returned ' || amount || ' ' || currency || ' to ' || source_name END $$;

CREATE FUNCTION public.allocations_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'the allocation ledger is append-only' USING ERRCODE = 'restrict_violation';
END $$;

CREATE FUNCTION public.allocations_apply() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NEW.purchase_order_id IS NOT NULL THEN
        UPDATE purchase_orders SET allocated_amount = allocated_amount + NEW.delta
         WHERE id = NEW.purchase_order_id;
    END IF;
    UPDATE orders SET allocated_amount = allocated_amount + NEW.delta WHERE id = NEW.order_id;
    RETURN NEW;
END $$;

CREATE FUNCTION public.allocations_cause() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM set_config('budgetline.campaign_id', NEW.campaign_id::text, true);
    RETURN NEW;
END $$;

CREATE FUNCTION public.allocations_returned() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO budget_alerts (account_id, kind, order_id, purchase_order_id, campaign_id, amount)
    VALUES (NEW.account_id, 'BUDGET_RETURNED', NEW.order_id, NEW.purchase_order_id, NEW.campaign_id, -NEW.delta);
    RETURN NULL;
END $$;

CREATE FUNCTION public.api_keys_revoked() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_notify('budgetline_events', 'ApiKey:0:' || NEW.id);
    RETURN NULL;
END $$;

CREATE FUNCTION public.append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;

CREATE FUNCTION public.budget_alerts_raised() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_notify('budgetline_events', 'BudgetAlert:' || NEW.account_id || ':' || NEW.id);
    RETURN NULL;
END $$;

CREATE FUNCTION public.budget_change_requests_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NEW.purchase_order_id IS NOT NULL THEN
        PERFORM pg_notify('budgetline_events', 'PurchaseOrder:' || NEW.account_id || ':' || NEW.purchase_order_id);
    END IF;
    PERFORM pg_notify('budgetline_events', 'Order:' || NEW.account_id || ':' || NEW.order_id);
    RETURN NULL;
END $$;

CREATE FUNCTION public.budget_change_requests_decided_once() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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

CREATE FUNCTION public.budget_sources_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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

CREATE FUNCTION public.campaign_locked_fields(status text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE status WHEN 'DRAFT' THEN '{}'::text[]
                         WHEN 'ENDED' THEN '{AUDIENCE,BUDGET,SCHEDULE,BUDGET_SOURCE}'::text[]
                         ELSE '{AUDIENCE,BUDGET_SOURCE}'::text[] END $$;

CREATE FUNCTION public.campaign_pending_release(status text, settled_at timestamp with time zone, budget numeric, spent_amount numeric) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN status = 'ENDED' AND settled_at IS NULL THEN campaign_remaining_amount(budget, spent_amount)
                  ELSE 0 END $$;

CREATE FUNCTION public.campaign_remaining_amount(budget numeric, spent_amount numeric) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT budget - spent_amount $$;

CREATE FUNCTION public.campaigns_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM set_config('budgetline.campaign_id', NEW.id::text, true);
    PERFORM pg_notify('budgetline_events', 'Campaign:' || NEW.account_id || ':' || NEW.id);
    RETURN NULL;
END $$;

CREATE FUNCTION public.campaigns_published_lock() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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

CREATE FUNCTION public.campaigns_totals() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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

CREATE FUNCTION public.day_ordinal(day date) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT (day - date '0001-01-01') + 1 $$;

CREATE FUNCTION public.global_id(type_name text, pk bigint) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT rtrim(translate(encode(convert_to(type_name || ':' || pk, 'UTF8'), 'base64'), '+/', '-_'), '=') $$;

CREATE FUNCTION public.iso_datetime(t timestamp with time zone) RETURNS text
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    AS $$ SELECT to_char(t AT TIME ZONE 'UTC',
                     CASE WHEN date_part('microseconds', t AT TIME ZONE 'UTC')::bigint % 1000000 = 0
                          THEN 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'
                          ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"' END) $$;

CREATE FUNCTION public.publish_campaign(p_campaign bigint, p_actor text) RETURNS TABLE(code text, field text, message text, requested numeric, unallocated numeric, published_at timestamp with time zone)
    LANGUAGE plpgsql
    AS $$
DECLARE
    c campaigns;
    refusal record;
    at timestamptz;
BEGIN
    SELECT * INTO c FROM campaigns WHERE id = p_campaign;
    PERFORM 1 FROM accounts WHERE id = c.account_id FOR SHARE;
    IF c.purchase_order_id IS NOT NULL THEN
        PERFORM 1 FROM purchase_orders p JOIN orders o ON o.id = p.order_id
         WHERE p.id = c.purchase_order_id FOR NO KEY UPDATE OF p, o;
    ELSE
        PERFORM 1 FROM orders WHERE id = c.order_id FOR NO KEY UPDATE;
    END IF;
    at := clock_timestamp();  -- once the locks are held: publications are in their order
    SELECT * INTO refusal
      FROM source_refusal(c.order_id, c.purchase_order_id, c.start_date, c.end_date, c.budget, true, 'budget');
    IF refusal.code IS NOT NULL THEN
        RETURN QUERY SELECT refusal.code, refusal.field, refusal.message, refusal.requested, refusal.unallocated,
                            NULL::timestamptz;
        RETURN;
    END IF;
    INSERT INTO allocations (account_id, campaign_id, order_id, purchase_order_id, delta, reason, actor)
    VALUES (c.account_id, c.id, c.order_id, c.purchase_order_id, c.budget, 'publish', p_actor);
    UPDATE campaigns SET status = 'PUBLISHED', published_at = at, version = version + 1, updated_at = at
     WHERE id = p_campaign;
    RETURN QUERY SELECT NULL::text, NULL::text, NULL::text, NULL::numeric, NULL::numeric, at;
END $$;

CREATE FUNCTION public.purchase_orders_total() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE orders SET purchase_order_total = purchase_order_total - OLD.amount WHERE id = OLD.order_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE orders SET purchase_order_total = purchase_order_total + NEW.amount WHERE id = NEW.order_id;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION public.source_amended_by(kind text, source_id bigint, order_id bigint, purchase_order_id bigint) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN kind = 'PurchaseOrder' THEN purchase_order_id = source_id
                  ELSE order_id = source_id AND purchase_order_id IS NULL END $$;

CREATE FUNCTION public.source_includes(kind text, source_id bigint, order_id bigint, purchase_order_id bigint) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN kind = 'PurchaseOrder' THEN purchase_order_id = source_id ELSE order_id = source_id END $$;

CREATE FUNCTION public.source_refusal(p_order_id bigint, p_purchase_order_id bigint, p_start date, p_end date, p_amount numeric, p_selectable boolean, p_amount_field text) RETURNS TABLE(code text, field text, message text, requested numeric, unallocated numeric)
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    s budget_sources_view;
    o budget_sources_view;
    holder budget_sources_view;
BEGIN
    SELECT * INTO o FROM budget_sources_view v WHERE v.kind = 'Order' AND v.id = p_order_id;
    IF p_purchase_order_id IS NULL THEN
        s := o;
    ELSE
        SELECT * INTO s FROM budget_sources_view v WHERE v.kind = 'PurchaseOrder' AND v.id = p_purchase_order_id;
    END IF;
    IF p_selectable THEN
        IF s.status <> 'ACTIVE' THEN
            RETURN QUERY SELECT 'BUDGET_SOURCE_NOT_SELECTABLE', 'budgetSourceId',
                s.display_name || ' is ' || lower(s.status) || ' and cannot be selected', NULL::numeric, NULL::numeric;
            RETURN;
        END IF;
        IF NOT s.right_kind AND s.requires_purchase_order THEN
            RETURN QUERY SELECT 'PURCHASE_ORDER_REQUIRED', 'budgetSourceId',
                'this account requires a purchase order as budget source', NULL::numeric, NULL::numeric;
            RETURN;
        END IF;
        IF NOT s.right_kind THEN
            RETURN QUERY SELECT 'BUDGET_SOURCE_NOT_SELECTABLE', 'budgetSourceId',
                'this account does not use purchase orders: select an order', NULL::numeric, NULL::numeric;
            RETURN;
        END IF;
    END IF;
    IF p_start IS NOT NULL AND (p_start < s.start_date OR p_end > s.end_date) THEN
        RETURN QUERY SELECT 'SCHEDULE_OUTSIDE_TERM', CASE WHEN p_start < s.start_date THEN 'startDate' ELSE 'endDate' END,
            'the schedule ' || p_start || '..' || p_end || ' must lie within the term of ' || s.display_name || ': '
                || s.start_date || '..' || s.end_date,
            NULL::numeric, NULL::numeric;
        RETURN;
    END IF;
    IF p_amount IS NOT NULL THEN
        FOREACH holder IN ARRAY CASE WHEN p_purchase_order_id IS NULL THEN ARRAY[s] ELSE ARRAY[s, o] END LOOP
            IF p_amount > holder.unallocated_amount THEN
                RETURN QUERY SELECT 'INSUFFICIENT_BUDGET', p_amount_field,
                    p_amount || ' exceeds the unallocated ' || holder.unallocated_amount || ' of ' || holder.display_name,
                    p_amount, holder.unallocated_amount;
                RETURN;
            END IF;
        END LOOP;
    END IF;
END $$;

CREATE FUNCTION public.spend_reports_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'the spend ledger is append-only' USING ERRCODE = 'restrict_violation';
END $$;

CREATE FUNCTION public.spend_reports_apply() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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

CREATE SEQUENCE public.accounts_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.accounts_id_seq OWNED BY public.accounts.id;

CREATE TABLE public.activity (
    account_id bigint,
    id bigint NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    actor text NOT NULL,
    request_id text,
    operation text NOT NULL,
    subject_id text NOT NULL,
    changes jsonb DEFAULT '[]'::jsonb NOT NULL,
    CONSTRAINT activity_changes_check CHECK ((jsonb_typeof(changes) = 'array'::text))
);

CREATE SEQUENCE public.activity_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.activity_id_seq OWNED BY public.activity.id;

CREATE TABLE public.alembic_version (
    version_num character varying(32) NOT NULL
);

CREATE TABLE public.allocations (
    account_id bigint NOT NULL,
    id bigint NOT NULL,
    campaign_id bigint NOT NULL,
    order_id bigint NOT NULL,
    purchase_order_id bigint,
    delta numeric(14,2) NOT NULL,
    reason text NOT NULL,
    actor text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT allocations_delta_check CHECK ((delta <> (0)::numeric))
);

CREATE SEQUENCE public.allocations_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.allocations_id_seq OWNED BY public.allocations.id;

CREATE TABLE public.amendments (
    account_id bigint NOT NULL,
    id bigint NOT NULL,
    order_id bigint NOT NULL,
    purchase_order_id bigint,
    amount_before numeric(14,2) NOT NULL,
    amount_after numeric(14,2) NOT NULL,
    end_date_before date NOT NULL,
    end_date_after date NOT NULL,
    note text NOT NULL,
    actor text NOT NULL,
    request_id bigint,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT amendments_change_something CHECK (((amount_before <> amount_after) OR (end_date_before <> end_date_after))),
    CONSTRAINT amendments_note_check CHECK (((length(btrim(note)) >= 1) AND (length(btrim(note)) <= 1000)))
);

CREATE SEQUENCE public.amendments_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.amendments_id_seq OWNED BY public.amendments.id;

CREATE TABLE public.api_keys (
    account_id bigint,
    id bigint NOT NULL,
    name text NOT NULL,
    role text NOT NULL,
    secret_hash bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    revoked_at timestamp with time zone,
    CONSTRAINT api_keys_account_matches_role CHECK (((role = ANY (ARRAY['ACCOUNT_TEAM'::text, 'DELIVERY'::text])) = (account_id IS NULL))),
    CONSTRAINT api_keys_name_check CHECK (((length(btrim(name)) >= 1) AND (length(btrim(name)) <= 200))),
    CONSTRAINT api_keys_role_check CHECK ((role = ANY (ARRAY['VIEWER'::text, 'CAMPAIGN_MANAGER'::text, 'ACCOUNT_TEAM'::text, 'DELIVERY'::text])))
);

CREATE SEQUENCE public.api_keys_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.api_keys_id_seq OWNED BY public.api_keys.id;

CREATE TABLE public.audiences (
    account_id bigint NOT NULL,
    id bigint NOT NULL,
    name text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT audiences_name_check CHECK (((length(btrim(name)) >= 1) AND (length(btrim(name)) <= 200)))
);

CREATE SEQUENCE public.audiences_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.audiences_id_seq OWNED BY public.audiences.id;

CREATE TABLE public.budget_alerts (
    account_id bigint NOT NULL,
    id bigint NOT NULL,
    kind text NOT NULL,
    order_id bigint NOT NULL,
    purchase_order_id bigint,
    campaign_id bigint,
    threshold smallint,
    amount numeric(14,2),
    term_end date,
    raised_at timestamp with time zone DEFAULT now() NOT NULL,
    acknowledged_at timestamp with time zone,
    acknowledged_by text,
    CONSTRAINT budget_alerts_acknowledged_check CHECK (((acknowledged_at IS NULL) = (acknowledged_by IS NULL))),
    CONSTRAINT budget_alerts_amount_check CHECK ((amount > (0)::numeric)),
    CONSTRAINT budget_alerts_kind_amount_check CHECK (((kind = ANY (ARRAY['EXPIRING_UNUSED_BUDGET'::text, 'BUDGET_RETURNED'::text])) = (amount IS NOT NULL))),
    CONSTRAINT budget_alerts_kind_check CHECK ((kind = ANY (ARRAY['ALLOCATION_THRESHOLD'::text, 'SPEND_THRESHOLD'::text, 'SOURCE_EXHAUSTED'::text, 'EXPIRING_UNUSED_BUDGET'::text, 'BUDGET_RETURNED'::text]))),
    CONSTRAINT budget_alerts_kind_threshold_check CHECK (((kind = ANY (ARRAY['ALLOCATION_THRESHOLD'::text, 'SPEND_THRESHOLD'::text])) = (threshold IS NOT NULL))),
    CONSTRAINT budget_alerts_threshold_check CHECK (((threshold >= 1) AND (threshold <= 100)))
);

CREATE SEQUENCE public.budget_alerts_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.budget_alerts_id_seq OWNED BY public.budget_alerts.id;

CREATE VIEW public.budget_alerts_view AS
 SELECT a.account_id,
    a.id,
    a.kind,
    a.order_id,
    a.purchase_order_id,
    a.campaign_id,
    a.threshold,
    a.amount,
    a.term_end,
    a.raised_at,
    a.acknowledged_at,
    a.acknowledged_by,
    public.alert_message(a.kind, (a.threshold)::integer, a.amount, a.term_end, public.source_display_name(p.po_number, o.order_number), (o.currency)::text) AS message
   FROM ((public.budget_alerts a
     JOIN public.orders o ON ((o.id = a.order_id)))
     LEFT JOIN public.purchase_orders p ON ((p.id = a.purchase_order_id)));

CREATE TABLE public.budget_change_requests (
    account_id bigint NOT NULL,
    id bigint NOT NULL,
    order_id bigint NOT NULL,
    purchase_order_id bigint,
    status text DEFAULT 'PENDING'::text NOT NULL,
    amount numeric(14,2),
    end_date date,
    note text NOT NULL,
    requested_by text NOT NULL,
    requested_at timestamp with time zone DEFAULT now() NOT NULL,
    decided_by text,
    decided_at timestamp with time zone,
    decision_note text,
    CONSTRAINT budget_change_requests_amount_check CHECK ((amount > (0)::numeric)),
    CONSTRAINT budget_change_requests_asks_something CHECK (((amount IS NOT NULL) OR (end_date IS NOT NULL))),
    CONSTRAINT budget_change_requests_decided_check CHECK ((((status = 'PENDING'::text) = (decided_at IS NULL)) AND ((decided_at IS NULL) = (decided_by IS NULL)))),
    CONSTRAINT budget_change_requests_decision_note_check CHECK ((length(decision_note) <= 1000)),
    CONSTRAINT budget_change_requests_note_check CHECK (((length(btrim(note)) >= 1) AND (length(btrim(note)) <= 1000))),
    CONSTRAINT budget_change_requests_status_check CHECK ((status = ANY (ARRAY['PENDING'::text, 'APPROVED'::text, 'DECLINED'::text, 'WITHDRAWN'::text])))
);

CREATE SEQUENCE public.budget_change_requests_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.budget_change_requests_id_seq OWNED BY public.budget_change_requests.id;

CREATE TABLE public.campaigns (
    account_id bigint NOT NULL,
    id bigint NOT NULL,
    name text NOT NULL,
    status text DEFAULT 'DRAFT'::text NOT NULL,
    step text DEFAULT 'SETUP'::text NOT NULL,
    version integer DEFAULT 1 NOT NULL,
    audience_id bigint,
    budget numeric(14,2),
    start_date date,
    end_date date,
    order_id bigint,
    purchase_order_id bigint,
    published_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    spent_amount numeric(14,2) DEFAULT 0 NOT NULL,
    released_amount numeric(14,2) DEFAULT 0 NOT NULL,
    paused_at timestamp with time zone,
    ended_at timestamp with time zone,
    end_reason text,
    settled_at timestamp with time zone,
    CONSTRAINT campaigns_budget_check CHECK ((budget > (0)::numeric)),
    CONSTRAINT campaigns_draft_spends_nothing CHECK (((status <> 'DRAFT'::text) OR (spent_amount = (0)::numeric))),
    CONSTRAINT campaigns_end_reason_check CHECK ((end_reason = ANY (ARRAY['MANUAL'::text, 'SCHEDULE'::text]))),
    CONSTRAINT campaigns_ended_check CHECK ((((status = 'ENDED'::text) = (ended_at IS NOT NULL)) AND ((ended_at IS NULL) = (end_reason IS NULL)))),
    CONSTRAINT campaigns_name_check CHECK (((length(btrim(name)) >= 1) AND (length(btrim(name)) <= 200))),
    CONSTRAINT campaigns_paused_at_check CHECK (((status = 'PAUSED'::text) = (paused_at IS NOT NULL))),
    CONSTRAINT campaigns_po_has_order CHECK (((purchase_order_id IS NULL) OR (order_id IS NOT NULL))),
    CONSTRAINT campaigns_published_complete CHECK (((status = 'DRAFT'::text) OR ((step = 'REVIEW'::text) AND (published_at IS NOT NULL) AND (order_id IS NOT NULL) AND (audience_id IS NOT NULL) AND (budget IS NOT NULL) AND (start_date IS NOT NULL) AND (end_date IS NOT NULL)))),
    CONSTRAINT campaigns_schedule_check CHECK (((start_date IS NULL) OR (end_date IS NULL) OR (start_date <= end_date))),
    CONSTRAINT campaigns_settled_check CHECK (
CASE
    WHEN (settled_at IS NULL) THEN (released_amount = (0)::numeric)
    ELSE ((status = 'ENDED'::text) AND (released_amount = (budget - spent_amount)))
END),
    CONSTRAINT campaigns_spend_within_budget CHECK (((spent_amount >= (0)::numeric) AND (spent_amount <= COALESCE(budget, (0)::numeric)))),
    CONSTRAINT campaigns_status_check CHECK ((status = ANY (ARRAY['DRAFT'::text, 'PUBLISHED'::text, 'PAUSED'::text, 'ENDED'::text]))),
    CONSTRAINT campaigns_step_check CHECK ((step = ANY (ARRAY['SETUP'::text, 'BUDGET_AND_SCHEDULE'::text, 'REVIEW'::text]))),
    CONSTRAINT campaigns_version_check CHECK ((version >= 1))
);

CREATE SEQUENCE public.campaigns_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.campaigns_id_seq OWNED BY public.campaigns.id;

CREATE VIEW public.campaigns_view AS
 SELECT c.account_id,
    c.id,
    c.name,
    c.status,
    c.step,
    c.version,
    c.audience_id,
    c.budget,
    c.start_date,
    c.end_date,
    c.order_id,
    c.purchase_order_id,
    c.published_at,
    c.created_at,
    c.updated_at,
    c.spent_amount,
    c.released_amount,
    c.paused_at,
    c.ended_at,
    c.end_reason,
    c.settled_at,
    public.campaign_remaining_amount(c.budget, c.spent_amount) AS remaining_amount,
    public.campaign_locked_fields(c.status) AS locked_fields,
    o.currency
   FROM (public.campaigns c
     LEFT JOIN public.orders o ON ((o.id = c.order_id)));

CREATE TABLE public.idempotency_effects (
    api_key_id bigint NOT NULL,
    key text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.idempotency_keys (
    api_key_id bigint NOT NULL,
    key text NOT NULL,
    request_hash bytea NOT NULL,
    status_code integer,
    content_type text,
    response_body bytea,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    completed_at timestamp with time zone,
    CONSTRAINT idempotency_keys_key_check CHECK (((length(key) >= 1) AND (length(key) <= 255)))
);

CREATE SEQUENCE public.orders_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.orders_id_seq OWNED BY public.orders.id;

CREATE SEQUENCE public.purchase_orders_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.purchase_orders_id_seq OWNED BY public.purchase_orders.id;

CREATE TABLE public.spend_days (
    account_id bigint NOT NULL,
    id bigint NOT NULL,
    campaign_id bigint NOT NULL,
    day date NOT NULL,
    amount numeric(14,2) NOT NULL,
    restatements integer DEFAULT 0 NOT NULL,
    reported_by text NOT NULL,
    reported_at timestamp with time zone NOT NULL,
    CONSTRAINT spend_days_amount_check CHECK ((amount >= (0)::numeric)),
    CONSTRAINT spend_days_restatements_check CHECK ((restatements >= 0))
);

CREATE SEQUENCE public.spend_days_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.spend_days_id_seq OWNED BY public.spend_days.id;

CREATE TABLE public.spend_reports (
    account_id bigint NOT NULL,
    id bigint NOT NULL,
    campaign_id bigint NOT NULL,
    day date NOT NULL,
    amount numeric(14,2) NOT NULL,
    reported_by text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT spend_reports_amount_check CHECK ((amount >= (0)::numeric))
);

CREATE SEQUENCE public.spend_reports_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.spend_reports_id_seq OWNED BY public.spend_reports.id;

ALTER TABLE ONLY public.accounts ALTER COLUMN id SET DEFAULT nextval('public.accounts_id_seq'::regclass);

ALTER TABLE ONLY public.activity ALTER COLUMN id SET DEFAULT nextval('public.activity_id_seq'::regclass);

ALTER TABLE ONLY public.allocations ALTER COLUMN id SET DEFAULT nextval('public.allocations_id_seq'::regclass);

ALTER TABLE ONLY public.amendments ALTER COLUMN id SET DEFAULT nextval('public.amendments_id_seq'::regclass);

ALTER TABLE ONLY public.api_keys ALTER COLUMN id SET DEFAULT nextval('public.api_keys_id_seq'::regclass);

ALTER TABLE ONLY public.audiences ALTER COLUMN id SET DEFAULT nextval('public.audiences_id_seq'::regclass);

ALTER TABLE ONLY public.budget_alerts ALTER COLUMN id SET DEFAULT nextval('public.budget_alerts_id_seq'::regclass);

ALTER TABLE ONLY public.budget_change_requests ALTER COLUMN id SET DEFAULT nextval('public.budget_change_requests_id_seq'::regclass);

ALTER TABLE ONLY public.campaigns ALTER COLUMN id SET DEFAULT nextval('public.campaigns_id_seq'::regclass);

ALTER TABLE ONLY public.orders ALTER COLUMN id SET DEFAULT nextval('public.orders_id_seq'::regclass);

ALTER TABLE ONLY public.purchase_orders ALTER COLUMN id SET DEFAULT nextval('public.purchase_orders_id_seq'::regclass);

ALTER TABLE ONLY public.spend_days ALTER COLUMN id SET DEFAULT nextval('public.spend_days_id_seq'::regclass);

ALTER TABLE ONLY public.spend_reports ALTER COLUMN id SET DEFAULT nextval('public.spend_reports_id_seq'::regclass);

ALTER TABLE ONLY public.accounts
    ADD CONSTRAINT accounts_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.activity
    ADD CONSTRAINT activity_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.alembic_version
    ADD CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num);

ALTER TABLE ONLY public.allocations
    ADD CONSTRAINT allocations_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.amendments
    ADD CONSTRAINT amendments_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_secret_hash_key UNIQUE (secret_hash);

ALTER TABLE ONLY public.audiences
    ADD CONSTRAINT audiences_account_id_key UNIQUE (account_id, id);

ALTER TABLE ONLY public.audiences
    ADD CONSTRAINT audiences_name_key UNIQUE (account_id, name);

ALTER TABLE ONLY public.audiences
    ADD CONSTRAINT audiences_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.budget_alerts
    ADD CONSTRAINT budget_alerts_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.budget_change_requests
    ADD CONSTRAINT budget_change_requests_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.campaigns
    ADD CONSTRAINT campaigns_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.idempotency_effects
    ADD CONSTRAINT idempotency_effects_pkey PRIMARY KEY (api_key_id, key);

ALTER TABLE ONLY public.idempotency_keys
    ADD CONSTRAINT idempotency_keys_pkey PRIMARY KEY (api_key_id, key);

ALTER TABLE ONLY public.orders
    ADD CONSTRAINT orders_account_id_key UNIQUE (account_id, id);

ALTER TABLE ONLY public.orders
    ADD CONSTRAINT orders_order_number_key UNIQUE (order_number);

ALTER TABLE ONLY public.orders
    ADD CONSTRAINT orders_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.purchase_orders
    ADD CONSTRAINT purchase_orders_account_order_id_key UNIQUE (account_id, order_id, id);

ALTER TABLE ONLY public.purchase_orders
    ADD CONSTRAINT purchase_orders_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.purchase_orders
    ADD CONSTRAINT purchase_orders_po_number_key UNIQUE (account_id, po_number);

ALTER TABLE ONLY public.spend_days
    ADD CONSTRAINT spend_days_campaign_day_key UNIQUE (campaign_id, day);

ALTER TABLE ONLY public.spend_days
    ADD CONSTRAINT spend_days_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.spend_reports
    ADD CONSTRAINT spend_reports_pkey PRIMARY KEY (id);

CREATE INDEX activity_account_idx ON public.activity USING btree (account_id, id);

CREATE INDEX allocations_campaign_idx ON public.allocations USING btree (campaign_id);

CREATE INDEX allocations_order_idx ON public.allocations USING btree (order_id, id DESC);

CREATE INDEX allocations_purchase_order_idx ON public.allocations USING btree (purchase_order_id, id DESC) WHERE (purchase_order_id IS NOT NULL);

CREATE INDEX amendments_order_idx ON public.amendments USING btree (order_id, id) WHERE (purchase_order_id IS NULL);

CREATE INDEX amendments_purchase_order_idx ON public.amendments USING btree (purchase_order_id, id) WHERE (purchase_order_id IS NOT NULL);

CREATE INDEX api_keys_account_idx ON public.api_keys USING btree (account_id, id);

CREATE INDEX budget_alerts_account_idx ON public.budget_alerts USING btree (account_id, id);

CREATE UNIQUE INDEX budget_alerts_expiring_once ON public.budget_alerts USING btree (order_id, COALESCE(purchase_order_id, (0)::bigint), term_end) WHERE (kind = 'EXPIRING_UNUSED_BUDGET'::text);

CREATE INDEX budget_alerts_unacknowledged_idx ON public.budget_alerts USING btree (account_id, id) WHERE (acknowledged_at IS NULL);

CREATE INDEX budget_change_requests_account_idx ON public.budget_change_requests USING btree (account_id, id);

CREATE INDEX budget_change_requests_order_idx ON public.budget_change_requests USING btree (order_id, id);

CREATE INDEX budget_change_requests_purchase_order_idx ON public.budget_change_requests USING btree (purchase_order_id, id) WHERE (purchase_order_id IS NOT NULL);

CREATE INDEX campaigns_account_idx ON public.campaigns USING btree (account_id, id DESC);

CREATE INDEX campaigns_account_status_idx ON public.campaigns USING btree (account_id, status, id DESC);

CREATE INDEX campaigns_audience_idx ON public.campaigns USING btree (audience_id) WHERE (audience_id IS NOT NULL);

CREATE INDEX campaigns_live_end_idx ON public.campaigns USING btree (end_date, id) WHERE (status = ANY (ARRAY['PUBLISHED'::text, 'PAUSED'::text]));

CREATE INDEX campaigns_order_idx ON public.campaigns USING btree (order_id, status, id DESC) WHERE (order_id IS NOT NULL);

CREATE INDEX campaigns_purchase_order_idx ON public.campaigns USING btree (purchase_order_id, status, id DESC) WHERE (purchase_order_id IS NOT NULL);

CREATE INDEX campaigns_unsettled_idx ON public.campaigns USING btree (ended_at, id) WHERE ((status = 'ENDED'::text) AND (settled_at IS NULL));

CREATE INDEX idempotency_effects_created_idx ON public.idempotency_effects USING btree (created_at);

CREATE INDEX idempotency_keys_created_idx ON public.idempotency_keys USING btree (created_at);

CREATE INDEX spend_reports_campaign_idx ON public.spend_reports USING btree (campaign_id, day, id);

CREATE TRIGGER activity_append_only BEFORE DELETE OR UPDATE ON public.activity FOR EACH ROW EXECUTE FUNCTION public.append_only();

CREATE TRIGGER activity_no_truncate BEFORE TRUNCATE ON public.activity FOR EACH STATEMENT EXECUTE FUNCTION public.append_only();

CREATE TRIGGER allocations_append_only BEFORE DELETE OR UPDATE ON public.allocations FOR EACH ROW EXECUTE FUNCTION public.allocations_append_only();

CREATE TRIGGER allocations_apply AFTER INSERT ON public.allocations FOR EACH ROW EXECUTE FUNCTION public.allocations_apply();

CREATE TRIGGER allocations_cause BEFORE INSERT ON public.allocations FOR EACH ROW EXECUTE FUNCTION public.allocations_cause();

CREATE TRIGGER allocations_no_truncate BEFORE TRUNCATE ON public.allocations FOR EACH STATEMENT EXECUTE FUNCTION public.allocations_append_only();

CREATE TRIGGER allocations_returned AFTER INSERT ON public.allocations FOR EACH ROW WHEN (((new.reason = 'release'::text) AND (new.delta < (0)::numeric))) EXECUTE FUNCTION public.allocations_returned();

CREATE TRIGGER amendments_append_only BEFORE DELETE OR UPDATE ON public.amendments FOR EACH ROW EXECUTE FUNCTION public.append_only();

CREATE TRIGGER amendments_no_truncate BEFORE TRUNCATE ON public.amendments FOR EACH STATEMENT EXECUTE FUNCTION public.append_only();

CREATE TRIGGER api_keys_revoked AFTER UPDATE OF revoked_at ON public.api_keys FOR EACH ROW WHEN (((new.revoked_at IS NOT NULL) AND (old.revoked_at IS NULL))) EXECUTE FUNCTION public.api_keys_revoked();

CREATE TRIGGER budget_alerts_raised AFTER INSERT ON public.budget_alerts FOR EACH ROW EXECUTE FUNCTION public.budget_alerts_raised();

CREATE TRIGGER budget_change_requests_changed AFTER INSERT OR UPDATE ON public.budget_change_requests FOR EACH ROW EXECUTE FUNCTION public.budget_change_requests_changed();

CREATE TRIGGER budget_change_requests_decided_once BEFORE UPDATE ON public.budget_change_requests FOR EACH ROW EXECUTE FUNCTION public.budget_change_requests_decided_once();

CREATE TRIGGER campaigns_added AFTER INSERT ON public.campaigns FOR EACH ROW EXECUTE FUNCTION public.campaigns_changed();

CREATE TRIGGER campaigns_changed AFTER UPDATE ON public.campaigns FOR EACH ROW WHEN ((old.* IS DISTINCT FROM new.*)) EXECUTE FUNCTION public.campaigns_changed();

CREATE TRIGGER campaigns_published_lock BEFORE DELETE OR UPDATE ON public.campaigns FOR EACH ROW EXECUTE FUNCTION public.campaigns_published_lock();

CREATE TRIGGER campaigns_totals AFTER INSERT OR DELETE OR UPDATE OF status, budget, order_id, purchase_order_id, spent_amount, settled_at ON public.campaigns FOR EACH ROW EXECUTE FUNCTION public.campaigns_totals();

CREATE TRIGGER orders_added AFTER INSERT ON public.orders FOR EACH ROW EXECUTE FUNCTION public.budget_sources_changed();

CREATE TRIGGER orders_changed AFTER UPDATE ON public.orders FOR EACH ROW WHEN ((old.* IS DISTINCT FROM new.*)) EXECUTE FUNCTION public.budget_sources_changed();

CREATE TRIGGER purchase_orders_added AFTER INSERT ON public.purchase_orders FOR EACH ROW EXECUTE FUNCTION public.budget_sources_changed();

CREATE TRIGGER purchase_orders_changed AFTER UPDATE ON public.purchase_orders FOR EACH ROW WHEN ((old.* IS DISTINCT FROM new.*)) EXECUTE FUNCTION public.budget_sources_changed();

CREATE TRIGGER purchase_orders_total AFTER INSERT OR DELETE OR UPDATE OF amount, order_id ON public.purchase_orders FOR EACH ROW EXECUTE FUNCTION public.purchase_orders_total();

CREATE TRIGGER spend_reports_append_only BEFORE DELETE OR UPDATE ON public.spend_reports FOR EACH ROW EXECUTE FUNCTION public.spend_reports_append_only();

CREATE TRIGGER spend_reports_apply AFTER INSERT ON public.spend_reports FOR EACH ROW EXECUTE FUNCTION public.spend_reports_apply();

CREATE TRIGGER spend_reports_no_truncate BEFORE TRUNCATE ON public.spend_reports FOR EACH STATEMENT EXECUTE FUNCTION public.spend_reports_append_only();

ALTER TABLE ONLY public.activity
    ADD CONSTRAINT activity_account_id_fkey FOREIGN KEY (account_id) REFERENCES public.accounts(id);

ALTER TABLE ONLY public.allocations
    ADD CONSTRAINT allocations_account_id_order_id_fkey FOREIGN KEY (account_id, order_id) REFERENCES public.orders(account_id, id);

ALTER TABLE ONLY public.allocations
    ADD CONSTRAINT allocations_account_id_order_id_purchase_order_id_fkey FOREIGN KEY (account_id, order_id, purchase_order_id) REFERENCES public.purchase_orders(account_id, order_id, id);

ALTER TABLE ONLY public.allocations
    ADD CONSTRAINT allocations_campaign_id_fkey FOREIGN KEY (campaign_id) REFERENCES public.campaigns(id);

ALTER TABLE ONLY public.amendments
    ADD CONSTRAINT amendments_account_id_fkey FOREIGN KEY (account_id) REFERENCES public.accounts(id);

ALTER TABLE ONLY public.amendments
    ADD CONSTRAINT amendments_order_id_fkey FOREIGN KEY (order_id) REFERENCES public.orders(id);

ALTER TABLE ONLY public.amendments
    ADD CONSTRAINT amendments_purchase_order_id_fkey FOREIGN KEY (purchase_order_id) REFERENCES public.purchase_orders(id);

ALTER TABLE ONLY public.amendments
    ADD CONSTRAINT amendments_request_id_fkey FOREIGN KEY (request_id) REFERENCES public.budget_change_requests(id);

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_account_id_fkey FOREIGN KEY (account_id) REFERENCES public.accounts(id);

ALTER TABLE ONLY public.audiences
    ADD CONSTRAINT audiences_account_id_fkey FOREIGN KEY (account_id) REFERENCES public.accounts(id);

ALTER TABLE ONLY public.budget_alerts
    ADD CONSTRAINT budget_alerts_account_id_fkey FOREIGN KEY (account_id) REFERENCES public.accounts(id);

ALTER TABLE ONLY public.budget_alerts
    ADD CONSTRAINT budget_alerts_campaign_id_fkey FOREIGN KEY (campaign_id) REFERENCES public.campaigns(id);

ALTER TABLE ONLY public.budget_alerts
    ADD CONSTRAINT budget_alerts_order_id_fkey FOREIGN KEY (order_id) REFERENCES public.orders(id);

ALTER TABLE ONLY public.budget_alerts
    ADD CONSTRAINT budget_alerts_purchase_order_id_fkey FOREIGN KEY (purchase_order_id) REFERENCES public.purchase_orders(id);

ALTER TABLE ONLY public.budget_change_requests
    ADD CONSTRAINT budget_change_requests_account_id_fkey FOREIGN KEY (account_id) REFERENCES public.accounts(id);

ALTER TABLE ONLY public.budget_change_requests
    ADD CONSTRAINT budget_change_requests_order_id_fkey FOREIGN KEY (order_id) REFERENCES public.orders(id);

ALTER TABLE ONLY public.budget_change_requests
    ADD CONSTRAINT budget_change_requests_purchase_order_id_fkey FOREIGN KEY (purchase_order_id) REFERENCES public.purchase_orders(id);

ALTER TABLE ONLY public.campaigns
    ADD CONSTRAINT campaigns_account_id_audience_id_fkey FOREIGN KEY (account_id, audience_id) REFERENCES public.audiences(account_id, id);

ALTER TABLE ONLY public.campaigns
    ADD CONSTRAINT campaigns_account_id_fkey FOREIGN KEY (account_id) REFERENCES public.accounts(id);

ALTER TABLE ONLY public.campaigns
    ADD CONSTRAINT campaigns_account_id_order_id_fkey FOREIGN KEY (account_id, order_id) REFERENCES public.orders(account_id, id);

ALTER TABLE ONLY public.campaigns
    ADD CONSTRAINT campaigns_account_id_order_id_purchase_order_id_fkey FOREIGN KEY (account_id, order_id, purchase_order_id) REFERENCES public.purchase_orders(account_id, order_id, id);

ALTER TABLE ONLY public.idempotency_keys
    ADD CONSTRAINT idempotency_keys_api_key_id_fkey FOREIGN KEY (api_key_id) REFERENCES public.api_keys(id);

ALTER TABLE ONLY public.orders
    ADD CONSTRAINT orders_account_id_fkey FOREIGN KEY (account_id) REFERENCES public.accounts(id);

ALTER TABLE ONLY public.purchase_orders
    ADD CONSTRAINT purchase_orders_account_id_order_id_fkey FOREIGN KEY (account_id, order_id) REFERENCES public.orders(account_id, id);

ALTER TABLE ONLY public.spend_days
    ADD CONSTRAINT spend_days_campaign_id_fkey FOREIGN KEY (campaign_id) REFERENCES public.campaigns(id);

ALTER TABLE ONLY public.spend_reports
    ADD CONSTRAINT spend_reports_campaign_id_fkey FOREIGN KEY (campaign_id) REFERENCES public.campaigns(id);
