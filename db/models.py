"""Typed SQLAlchemy 2 mappings of the tables created by the migrations."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CHAR,
    BigInteger,
    DateTime,
    FetchedValue,
    ForeignKey,
    LargeBinary,
    Numeric,
    SmallInteger,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column, relationship

Money = Numeric(14, 2, asdecimal=True)
# A sum of any number of amounts (migration 0004): wide enough never to overflow.
MoneySum = Numeric(38, 2, asdecimal=True)
# Defaults live in the migrations; the ORM reads them back with RETURNING.
GENERATED = FetchedValue()


class Base(DeclarativeBase):
    __mapper_args__ = {"eager_defaults": True}
    type_annotation_map = {datetime: DateTime(timezone=True)}


class AccountRow(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    requires_purchase_order: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(server_default=GENERATED)
    updated_at: Mapped[datetime] = mapped_column(server_default=GENERATED)
    # R15/R16's alert settings (migration 0006).
    alert_thresholds: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger), server_default=GENERATED)
    expiry_warning_days: Mapped[int] = mapped_column(server_default=GENERATED)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    account_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("accounts.id"))
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(server_default=GENERATED)
    revoked_at: Mapped[datetime | None]


class OrderRow(Base):
    __tablename__ = "orders"

    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"))
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_number: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(CHAR(3))
    start_date: Mapped[date]
    end_date: Mapped[date]
    allocated_amount: Mapped[Decimal] = mapped_column(Money, server_default=GENERATED)
    purchase_order_total: Mapped[Decimal] = mapped_column(Money, server_default=GENERATED)
    draft_amount: Mapped[Decimal] = mapped_column(MoneySum, server_default=GENERATED)
    spent_amount: Mapped[Decimal] = mapped_column(MoneySum, server_default=GENERATED)
    pending_release_amount: Mapped[Decimal] = mapped_column(MoneySum, server_default=GENERATED)
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=GENERATED)


class PurchaseOrderRow(Base):
    __tablename__ = "purchase_orders"

    account_id: Mapped[int] = mapped_column(BigInteger)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("orders.id"))
    po_number: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(Money)
    allocated_amount: Mapped[Decimal] = mapped_column(Money, server_default=GENERATED)
    draft_amount: Mapped[Decimal] = mapped_column(MoneySum, server_default=GENERATED)
    spent_amount: Mapped[Decimal] = mapped_column(MoneySum, server_default=GENERATED)
    pending_release_amount: Mapped[Decimal] = mapped_column(MoneySum, server_default=GENERATED)
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=GENERATED)

    # Many-to-one, always wanted: a PO's currency, term and status come from its order.
    order: Mapped[OrderRow] = relationship(lazy="joined", innerjoin=True)


class AudienceRow(Base):
    __tablename__ = "audiences"

    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"))
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=GENERATED)


class CampaignRow(Base):
    __tablename__ = "campaigns"

    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"))
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default=GENERATED)
    step: Mapped[str] = mapped_column(Text, server_default=GENERATED)
    version: Mapped[int] = mapped_column(server_default=GENERATED)
    audience_id: Mapped[int | None] = mapped_column(BigInteger)
    budget: Mapped[Decimal | None] = mapped_column(Money)
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]
    order_id: Mapped[int | None] = mapped_column(BigInteger)
    purchase_order_id: Mapped[int | None] = mapped_column(BigInteger)
    published_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=GENERATED)
    updated_at: Mapped[datetime] = mapped_column(server_default=GENERATED)
    # Life after publishing (migration 0005): spent_amount is kept by the spend ledger's trigger.
    spent_amount: Mapped[Decimal] = mapped_column(Money, server_default=GENERATED)
    released_amount: Mapped[Decimal] = mapped_column(Money, server_default=GENERATED)
    paused_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(Text)
    settled_at: Mapped[datetime | None]
    # Figures of the read model (migration 0008's functions), read with the row: as it was
    # loaded (or locked), for the rules that judge it.
    locked_fields: Mapped[list[str]] = column_property(func.campaign_locked_fields(status))
    remaining_amount: Mapped[Decimal | None] = column_property(func.campaign_remaining_amount(budget, spent_amount))


class AllocationRow(Base):
    __tablename__ = "allocations"

    account_id: Mapped[int] = mapped_column(BigInteger)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("campaigns.id"))
    order_id: Mapped[int] = mapped_column(BigInteger)
    purchase_order_id: Mapped[int | None] = mapped_column(BigInteger)
    delta: Mapped[Decimal] = mapped_column(Money)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=GENERATED)


class SpendDayRow(Base):
    """The current figure of one campaign on one UTC day (kept by the spend ledger's trigger)."""

    __tablename__ = "spend_days"

    account_id: Mapped[int] = mapped_column(BigInteger)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("campaigns.id"))
    day: Mapped[date]
    amount: Mapped[Decimal] = mapped_column(Money)
    restatements: Mapped[int]
    reported_by: Mapped[str] = mapped_column(Text)
    reported_at: Mapped[datetime]


class SpendReportRow(Base):
    """One entry of the append-only spend ledger (R11); its insert trigger moves spend_days and
    campaigns.spent_amount."""

    __tablename__ = "spend_reports"

    account_id: Mapped[int] = mapped_column(BigInteger)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("campaigns.id"))
    day: Mapped[date]
    amount: Mapped[Decimal] = mapped_column(Money)
    reported_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=GENERATED)


class BudgetAlertRow(Base):
    """One alert (R15, R16), raised by the triggers of migration 0006 or by the sweeper."""

    __tablename__ = "budget_alerts"

    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"))
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    order_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("orders.id"))
    purchase_order_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("purchase_orders.id"))
    campaign_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("campaigns.id"))
    threshold: Mapped[int | None] = mapped_column(SmallInteger)
    amount: Mapped[Decimal | None] = mapped_column(Money)
    term_end: Mapped[date | None]
    raised_at: Mapped[datetime] = mapped_column(server_default=GENERATED)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(Text)


class BudgetChangeRequestRow(Base):
    """A customer's request for a new amount and/or end date of a source (R19)."""

    __tablename__ = "budget_change_requests"

    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"))
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("orders.id"))
    purchase_order_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("purchase_orders.id"))
    status: Mapped[str] = mapped_column(Text, server_default=GENERATED)
    amount: Mapped[Decimal | None] = mapped_column(Money)
    end_date: Mapped[date | None]
    note: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(server_default=GENERATED)
    decided_by: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)


class AmendmentRow(Base):
    """One change of an order's or a PO's amount or an order's end date (R18), append-only."""

    __tablename__ = "amendments"

    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"))
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("orders.id"))
    purchase_order_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("purchase_orders.id"))
    amount_before: Mapped[Decimal] = mapped_column(Money)
    amount_after: Mapped[Decimal] = mapped_column(Money)
    end_date_before: Mapped[date]
    end_date_after: Mapped[date]
    note: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    request_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("budget_change_requests.id"))
    created_at: Mapped[datetime] = mapped_column(server_default=GENERATED)


class ActivityRow(Base):
    """One entry of the trace (R20): a successful mutation, a spend report or a sweeper action."""

    __tablename__ = "activity"

    account_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("accounts.id"))
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(server_default=GENERATED)
    actor: Mapped[str] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(Text)
    operation: Mapped[str] = mapped_column(Text)
    subject_id: Mapped[str] = mapped_column(Text)
    changes: Mapped[list[dict[str, str | None]]] = mapped_column(JSONB, server_default=GENERATED)
