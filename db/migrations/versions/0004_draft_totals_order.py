"""Draft totals that cannot overflow, moved in one lock order.

- `draft_amount` is a sum of any number of drafts of up to 999,999,999,999.99 each: numeric(14, 2)
  overflowed with two of them. numeric(38, 2) holds more than the largest possible sum (bigint's
  9.2e18 campaigns times 1e12 is under 1e31).
- The trigger touched the old PO, the order, then the new PO: two drafts moving in opposite
  directions between two POs of one order locked them in opposite orders and deadlocked. It now
  adds up each row's change first and updates POs, then orders, each by ascending id: the one
  global order (PO before its order, lower id first) that every other path follows too.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from db.migrate import execute_script

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE orders ALTER COLUMN draft_amount TYPE numeric(38, 2);
ALTER TABLE purchase_orders ALTER COLUMN draft_amount TYPE numeric(38, 2);

CREATE OR REPLACE FUNCTION campaigns_draft_totals() RETURNS trigger LANGUAGE plpgsql AS $$
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
"""

DOWNGRADE = """
CREATE OR REPLACE FUNCTION campaigns_draft_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'DRAFT' AND OLD.budget IS NOT NULL
       AND OLD.order_id IS NOT NULL THEN
        IF OLD.purchase_order_id IS NOT NULL THEN
            UPDATE purchase_orders SET draft_amount = draft_amount - OLD.budget WHERE id = OLD.purchase_order_id;
        END IF;
        UPDATE orders SET draft_amount = draft_amount - OLD.budget WHERE id = OLD.order_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'DRAFT' AND NEW.budget IS NOT NULL
       AND NEW.order_id IS NOT NULL THEN
        IF NEW.purchase_order_id IS NOT NULL THEN
            UPDATE purchase_orders SET draft_amount = draft_amount + NEW.budget WHERE id = NEW.purchase_order_id;
        END IF;
        UPDATE orders SET draft_amount = draft_amount + NEW.budget WHERE id = NEW.order_id;
    END IF;
    RETURN NULL;
END $$;
ALTER TABLE orders ALTER COLUMN draft_amount TYPE numeric(14, 2);
ALTER TABLE purchase_orders ALTER COLUMN draft_amount TYPE numeric(14, 2);
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
