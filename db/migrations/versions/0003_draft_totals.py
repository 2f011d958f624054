"""Keep draft totals on orders and POs, so the drop-down reads no campaign rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from db.migrate import execute_script

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE orders ADD COLUMN draft_amount numeric(14, 2) NOT NULL DEFAULT 0
    CONSTRAINT orders_draft_amount_check CHECK (draft_amount >= 0);
ALTER TABLE purchase_orders ADD COLUMN draft_amount numeric(14, 2) NOT NULL DEFAULT 0
    CONSTRAINT purchase_orders_draft_amount_check CHECK (draft_amount >= 0);

-- draftAmount (API.md section 2): the budgets of draft campaigns that selected the source (an
-- order's through its POs too). Moved in the statement that changes the campaign, so it is
-- always exact. Rows are touched PO first, then order: the lock order of every other path.
CREATE FUNCTION campaigns_draft_totals() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER campaigns_draft_totals AFTER INSERT OR DELETE
    OR UPDATE OF status, budget, order_id, purchase_order_id ON campaigns
    FOR EACH ROW EXECUTE FUNCTION campaigns_draft_totals();

UPDATE purchase_orders p SET draft_amount = coalesce((
    SELECT sum(budget) FROM campaigns c WHERE c.purchase_order_id = p.id AND c.status = 'DRAFT'), 0);
UPDATE orders o SET draft_amount = coalesce((
    SELECT sum(budget) FROM campaigns c WHERE c.order_id = o.id AND c.status = 'DRAFT'), 0);
"""

DOWNGRADE = """
DROP TRIGGER campaigns_draft_totals ON campaigns;
DROP FUNCTION campaigns_draft_totals();
ALTER TABLE purchase_orders DROP COLUMN draft_amount;
ALTER TABLE orders DROP COLUMN draft_amount;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
