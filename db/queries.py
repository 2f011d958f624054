"""SQL that is not one aggregate's: the reconciliation behind `budgetline check-ledger`.

It recomputes every kept figure from the ledgers and the campaign rows and reports each one that
disagrees (API.md sections 2 and 6, "Invariants the database itself holds"):

- per source: allocated = the sum of its allocation ledger = what its non-draft campaigns hold
  (a settled campaign holds its spend, any other its budget), 0 <= allocated <= amount; draft,
  spent and pending-release totals = the sums over its campaigns;
- per campaign: spent = the sum of its daily records, each the latest of its day's reports with
  `restatements` = reports - 1, each inside its schedule; 0 <= spent <= budget; a settled one has released
  budget - spent; its allocation entries add up to what it holds;
- no report without its daily record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# What each campaign holds of its source's allocation (R10, R14).
_HELD = "CASE WHEN c.status = 'DRAFT' THEN 0 WHEN c.settled_at IS NOT NULL THEN c.spent_amount ELSE c.budget END"
_PENDING = "CASE WHEN c.status = 'ENDED' AND c.settled_at IS NULL THEN c.budget - c.spent_amount ELSE 0 END"

# An order's ledger and campaigns include its POs' (they carry the order_id too).
SOURCES = text(
    f"""
    SELECT s.kind, s.id, s.amount, s.allocated_amount, s.draft_amount, s.spent_amount, s.pending_release_amount,
           (SELECT coalesce(sum(a.delta), 0) FROM allocations a
             WHERE CASE WHEN s.kind = 'Order' THEN a.order_id ELSE a.purchase_order_id END = s.id) AS ledger,
           coalesce(sum({_HELD}), 0) AS held,
           coalesce(sum(c.budget) FILTER (WHERE c.status = 'DRAFT'), 0) AS drafts,
           coalesce(sum(c.spent_amount), 0) AS spent,
           coalesce(sum({_PENDING}), 0) AS pending
      FROM (SELECT 'PurchaseOrder' AS kind, id, amount, allocated_amount, draft_amount, spent_amount,
                   pending_release_amount FROM purchase_orders
            UNION ALL
            SELECT 'Order', id, amount, allocated_amount, draft_amount, spent_amount, pending_release_amount
              FROM orders) s
      LEFT JOIN campaigns c
        ON CASE WHEN s.kind = 'Order' THEN c.order_id ELSE c.purchase_order_id END = s.id
     GROUP BY s.kind, s.id, s.amount, s.allocated_amount, s.draft_amount, s.spent_amount, s.pending_release_amount
     ORDER BY 1, 2
    """
)

CAMPAIGNS = text(
    f"""
    SELECT c.id, c.status, c.budget, c.spent_amount, c.released_amount, c.settled_at IS NOT NULL AS settled,
           {_HELD} AS held,
           coalesce(d.total, 0) AS days, coalesce(d.wrong_days, 0) AS wrong_days,
           (SELECT coalesce(sum(a.delta), 0) FROM allocations a WHERE a.campaign_id = c.id) AS ledger,
           (SELECT count(*) FROM spend_days sd
             WHERE sd.campaign_id = c.id AND NOT sd.day BETWEEN c.start_date AND c.end_date) AS days_outside
      FROM campaigns c
      LEFT JOIN (
            SELECT sd.campaign_id, sum(sd.amount) AS total,
                   count(*) FILTER (WHERE sd.amount <> r.latest OR sd.restatements <> r.reports - 1) AS wrong_days
              FROM spend_days sd
              JOIN LATERAL (SELECT (array_agg(amount ORDER BY id DESC))[1] AS latest, count(*) AS reports
                              FROM spend_reports WHERE campaign_id = sd.campaign_id AND day = sd.day) r ON true
             GROUP BY sd.campaign_id) d ON d.campaign_id = c.id
     ORDER BY c.id
    """
)

ORPHAN_REPORTS = text(
    """
    SELECT count(*) FROM spend_reports r
     WHERE NOT EXISTS (SELECT 1 FROM spend_days d WHERE d.campaign_id = r.campaign_id AND d.day = r.day)
    """
)


@dataclass(frozen=True)
class LedgerDifference:
    what: str  # "PurchaseOrder 3", "Campaign 12", "spend ledger"
    problem: str

    def __str__(self) -> str:
        return f"{self.what}: {self.problem}"


def _source_problems(row: Any) -> list[str]:
    problems = []
    if not row.allocated_amount == row.ledger == row.held:
        problems.append(f"allocated {row.allocated_amount}, ledger {row.ledger}, held by its campaigns {row.held}")
    if not 0 <= row.allocated_amount <= row.amount:
        problems.append(f"allocated {row.allocated_amount} outside 0..amount {row.amount}")
    if row.draft_amount != row.drafts:
        problems.append(f"draft total {row.draft_amount}, draft budgets {row.drafts}")
    if row.spent_amount != row.spent:
        problems.append(f"spent total {row.spent_amount}, campaigns' spend {row.spent}")
    if row.pending_release_amount != row.pending:
        problems.append(f"pending release {row.pending_release_amount}, ended campaigns' unspent {row.pending}")
    return problems


def _campaign_problems(row: Any) -> list[str]:
    problems = []
    if row.spent_amount != row.days:
        problems.append(f"spent {row.spent_amount}, daily records {row.days}")
    if row.wrong_days:
        problems.append(f"{row.wrong_days} daily records disagree with their latest report")
    if row.days_outside:
        problems.append(f"{row.days_outside} daily records outside its schedule")
    if not 0 <= row.spent_amount <= (row.budget or 0):
        problems.append(f"spent {row.spent_amount} outside 0..budget {row.budget}")
    if row.settled and row.released_amount != row.budget - row.spent_amount:
        problems.append(f"released {row.released_amount}, budget - spent {row.budget - row.spent_amount}")
    if row.ledger != row.held:
        problems.append(f"allocation entries {row.ledger}, holds {row.held}")
    return problems


async def ledger_differences(conn: AsyncConnection) -> tuple[int, int, list[LedgerDifference]]:
    """(sources checked, campaigns checked, every figure that disagrees)."""
    sources = (await conn.execute(SOURCES)).all()
    campaign_rows = (await conn.execute(CAMPAIGNS)).all()
    differences = [
        LedgerDifference(f"{row.kind} {row.id}", problem) for row in sources for problem in _source_problems(row)
    ]
    differences += [
        LedgerDifference(f"Campaign {row.id}", problem) for row in campaign_rows for problem in _campaign_problems(row)
    ]
    orphans = int(await conn.scalar(ORPHAN_REPORTS) or 0)
    if orphans:
        differences.append(LedgerDifference("spend ledger", f"{orphans} reports without their daily record"))
    return len(sources), len(campaign_rows), differences
