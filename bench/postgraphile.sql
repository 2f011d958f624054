-- Computed columns that give PostGraphile v4 the same fields as Budgetline's drop-down.
CREATE OR REPLACE FUNCTION purchase_orders_display_name(p purchase_orders) RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT 'PO ' || p.po_number || ' (Order ' || (SELECT order_number FROM orders WHERE id = p.order_id) || ')'
$$;
CREATE OR REPLACE FUNCTION purchase_orders_unallocated_amount(p purchase_orders) RETURNS numeric
    LANGUAGE sql STABLE AS $$ SELECT greatest(p.amount - p.allocated_amount, 0) $$;
-- draftAmount is a column of purchase_orders (kept by a trigger), so PostGraphile exposes it as is.
-- W4, the campaign detail page: every figure of the source that Budgetline computes.
CREATE OR REPLACE FUNCTION purchase_orders_currency(p purchase_orders) RETURNS text
    LANGUAGE sql STABLE AS $$ SELECT currency FROM orders WHERE id = p.order_id $$;
CREATE OR REPLACE FUNCTION purchase_orders_status(p purchase_orders) RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p.cancelled_at IS NOT NULL OR o.cancelled_at IS NOT NULL THEN 'CANCELLED'
                WHEN o.end_date < (now() AT TIME ZONE 'UTC')::date THEN 'EXPIRED' ELSE 'ACTIVE' END
    FROM orders o WHERE o.id = p.order_id
$$;
CREATE OR REPLACE FUNCTION purchase_orders_allocated_percent(p purchase_orders) RETURNS numeric
    LANGUAGE sql STABLE AS $$ SELECT CASE WHEN p.amount <= 0 THEN 0.00 ELSE round(p.allocated_amount * 100 / p.amount, 2) END $$;
CREATE OR REPLACE FUNCTION purchase_orders_spent_percent(p purchase_orders) RETURNS numeric
    LANGUAGE sql STABLE AS $$ SELECT CASE WHEN p.amount <= 0 THEN 0.00 ELSE round(p.spent_amount * 100 / p.amount, 2) END $$;
CREATE OR REPLACE FUNCTION purchase_orders_days_left(p purchase_orders) RETURNS integer
    LANGUAGE sql STABLE AS $$
    SELECT greatest(o.end_date - (now() AT TIME ZONE 'UTC')::date + 1, 0) FROM orders o WHERE o.id = p.order_id
$$;
CREATE OR REPLACE FUNCTION campaigns_remaining_amount(c campaigns) RETURNS numeric
    LANGUAGE sql STABLE AS $$ SELECT c.budget - c.spent_amount $$;
