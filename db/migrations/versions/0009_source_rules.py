"""R3-R6's checks of a campaign's budget source as one SQL function, and publishing's locked
section as one call.

- `source_refusal`: the source's figures (budget_sources_view) against a campaign's wish, in R3's
  order of reporting: selectable (ACTIVE, then the kind the account uses), the schedule within
  the term, the amount within the source's unallocated amount and, for a PO, its order's. The
  first refusal, with its code, field and message; no row when there is none. advanceCampaign
  (R3), assignBudgetSource (R4), publishCampaign (R5) and a published campaign's budget or
  schedule change (R6) all judge by it.
- `publish_campaign`: R5's section under the source locks in one round trip, so the locks are held
  for the database's own work only: the account FOR SHARE (requiresPurchaseOrder cannot change
  meanwhile), the PO and its order FOR NO KEY UPDATE (R5's order: campaign, account, PO, order;
  the caller holds the campaign), `source_refusal`, then the ledger entry and the campaign's new
  status. A refusal is returned, and nothing is written.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from db.migrate import execute_script

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE FUNCTION source_refusal(p_order_id bigint, p_purchase_order_id bigint, p_start date, p_end date,
                               p_amount numeric, p_selectable boolean, p_amount_field text)
RETURNS TABLE (code text, field text, message text, requested numeric, unallocated numeric)
LANGUAGE plpgsql STABLE AS $$
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

CREATE FUNCTION publish_campaign(p_campaign bigint, p_actor text)
RETURNS TABLE (code text, field text, message text, requested numeric, unallocated numeric,
               published_at timestamptz)
LANGUAGE plpgsql AS $$
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
"""

DOWNGRADE = r"""
DROP FUNCTION publish_campaign(bigint, text);
DROP FUNCTION source_refusal(bigint, bigint, date, date, numeric, boolean, text);
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
