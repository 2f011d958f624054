"""SQL that is not one aggregate's: the reconciliation behind `budgetline check-ledger`."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# For every PO and order: the kept totals, the ledger's sum, the published campaigns' budgets and
# the drafts' budgets. An order's ledger includes its POs' entries (they carry the order_id too).
RECONCILE = text(
    """
    SELECT 'PurchaseOrder' AS kind, p.id, p.amount, p.allocated_amount,
           (SELECT coalesce(sum(a.delta), 0) FROM allocations a WHERE a.purchase_order_id = p.id) AS ledger,
           (SELECT coalesce(sum(c.budget), 0) FROM campaigns c
             WHERE c.purchase_order_id = p.id AND c.status = 'PUBLISHED') AS published,
           p.draft_amount,
           (SELECT coalesce(sum(c.budget), 0) FROM campaigns c
             WHERE c.purchase_order_id = p.id AND c.status = 'DRAFT') AS drafts
      FROM purchase_orders p
    UNION ALL
    SELECT 'Order', o.id, o.amount, o.allocated_amount,
           (SELECT coalesce(sum(a.delta), 0) FROM allocations a WHERE a.order_id = o.id),
           (SELECT coalesce(sum(c.budget), 0) FROM campaigns c WHERE c.order_id = o.id AND c.status = 'PUBLISHED'),
           o.draft_amount,
           (SELECT coalesce(sum(c.budget), 0) FROM campaigns c WHERE c.order_id = o.id AND c.status = 'DRAFT')
      FROM orders o
    ORDER BY 1, 2
    """
)


@dataclass(frozen=True)
class LedgerDifference:
    kind: str
    id: int
    amount: Decimal
    allocated: Decimal
    ledger: Decimal
    published: Decimal
    draft_total: Decimal
    drafts: Decimal

    def __str__(self) -> str:
        return (
            f"{self.kind} {self.id}: allocated {self.allocated}, ledger {self.ledger}, "
            f"published budgets {self.published}, amount {self.amount}, "
            f"draft total {self.draft_total}, draft budgets {self.drafts}"
        )


async def ledger_differences(conn: AsyncConnection) -> tuple[int, list[LedgerDifference]]:
    """(sources checked, those whose totals disagree or exceed their amount)."""
    rows = (await conn.execute(RECONCILE)).all()
    differences = [
        LedgerDifference(*row)
        for row in rows
        if not (
            row.allocated_amount == row.ledger == row.published
            and 0 <= row.allocated_amount <= row.amount
            and row.draft_amount == row.drafts
        )
    ]
    return len(rows), differences
