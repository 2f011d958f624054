-- Computed columns that give PostGraphile v4 the same fields as Budgetline's drop-down.
CREATE OR REPLACE FUNCTION purchase_orders_display_name(p purchase_orders) RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT 'PO ' || p.po_number || ' (Order ' || (SELECT order_number FROM orders WHERE id = p.order_id) || ')'
$$;
CREATE OR REPLACE FUNCTION purchase_orders_unallocated_amount(p purchase_orders) RETURNS numeric
    LANGUAGE sql STABLE AS $$ SELECT greatest(p.amount - p.allocated_amount, 0) $$;
-- draftAmount is a column of purchase_orders (kept by a trigger), so PostGraphile exposes it as is.
