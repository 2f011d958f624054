"""Roles and tenancy (R8): who may write, and what a principal can see."""

from __future__ import annotations

from typing import Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AccountRow, Base
from db.readmodel import NodeKind
from db.reads import Record
from resolvers import ids
from resolvers.context import Principal
from resolvers.errors import Duplicate, NotFound, PermissionDenied

T = TypeVar("T")


def require_writer(principal: Principal) -> None:
    """Campaign and audience mutations: CAMPAIGN_MANAGER of the account, or ACCOUNT_TEAM."""
    if principal.role == "VIEWER":
        raise PermissionDenied("VIEWER keys are read-only")
    if principal.role == "DELIVERY":
        raise PermissionDenied("DELIVERY keys may only report spend and settle campaigns")


def require_delivery(principal: Principal) -> None:
    """Spend reports and settlement (R11, R14): the ad-serving system's DELIVERY key, or ACCOUNT_TEAM."""
    if principal.role not in ("DELIVERY", "ACCOUNT_TEAM"):
        raise PermissionDenied("only DELIVERY and ACCOUNT_TEAM keys may do this")


def require_account_team(principal: Principal) -> None:
    """Order, PO, account and key management: there is no self-serve order management."""
    if not principal.is_account_team:
        raise PermissionDenied("only the account team may do this")


class TenantRow(Protocol):
    """A row of a tenant's table (db/models.py): it names the account it belongs to."""

    @property
    def account_id(self) -> int | None: ...


Tenant = TypeVar("Tenant", bound="TenantRow | Record")


def visible(principal: Principal, row: Tenant | None) -> Tenant | None:
    """The row or record if the principal may see it; another account's is exactly like a
    missing one."""
    if row is None:
        return None
    account_id = row.account_id if isinstance(row, Base) else row["account_id"]  # type: ignore[index]
    return row if principal.can_see(account_id) else None


def sees(principal: Principal, kind: NodeKind, record: Record) -> bool:
    """R8 for a node of `kind` (db/readmodel.NODES says which rule it follows): its account's
    keys and those that see every account; an account by itself; API keys the account team only.
    The planner writes the same rule into its statements (budgetline/planner.py, `visible`)."""
    if kind.visibility == "account_team":
        return principal.is_account_team
    return principal.can_see(record["id"] if kind.visibility == "self" else record["account_id"])


def not_found(field: str, kind: str) -> NotFound:
    return NotFound(f"no {kind} with this {field}", field)


async def get_for_write(
    session: AsyncSession,
    principal: Principal,
    model: type[T],
    type_name: str,
    global_id: str,
    field: str,
    *,
    lock: bool = False,
) -> T:
    """Fetch a tenant row named by an input ID, optionally locked FOR UPDATE; NOT_FOUND otherwise."""
    _, pk = ids.expect(global_id, field, type_name)
    stmt = select(model).where(model.id == pk)  # type: ignore[attr-defined]
    if lock:
        stmt = stmt.with_for_update(of=model)
    row = (await session.scalars(stmt.execution_options(populate_existing=True))).unique().first()
    if row is None or not principal.can_see(row.account_id):  # type: ignore[attr-defined]
        raise not_found(field, type_name_words(type_name))
    return row


async def get_account_for_write(
    session: AsyncSession, principal: Principal, global_id: str, field: str = "accountId", *, lock: bool = False
) -> AccountRow:
    _, pk = ids.expect(global_id, field, "Account")
    if lock:
        # NO KEY UPDATE: it queues behind publishes (FOR SHARE) and lets foreign-key checks of
        # rows pointing at the account (new drafts, orders, keys) through.
        stmt = select(AccountRow).where(AccountRow.id == pk).with_for_update(key_share=True)
        row = (await session.scalars(stmt.execution_options(populate_existing=True))).first()
    else:
        row = await session.get(AccountRow, pk)
    if row is None or not principal.can_see(row.id):
        raise not_found(field, "account")
    return row


def type_name_words(type_name: str) -> str:
    return {
        "PurchaseOrder": "purchase order",
        "ApiKey": "API key",
        "BudgetAlert": "budget alert",
        "BudgetChangeRequest": "change request",
    }.get(type_name, type_name.lower())


def constraint_name(exc: IntegrityError) -> str | None:
    cause = getattr(exc.orig, "__cause__", None)
    return getattr(cause, "constraint_name", None)


def raise_if_duplicate(exc: IntegrityError, constraints: dict[str, tuple[str, str]]) -> None:
    """Turn a unique violation of a known constraint into DUPLICATE naming the field."""
    name = constraint_name(exc)
    if name in constraints:
        field, message = constraints[name]
        raise Duplicate(message, field) from exc
