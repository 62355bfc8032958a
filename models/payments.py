"""Money in and back out of an order: payments, refunds, and the anomalies staff must see."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Model, TimestampMixin, str_enum, utcnow
from models.enums import PaymentMethod, PaymentStatus, RefundState


class Payment(TimestampMixin, Model):
    """One way an order was (or is being) paid: a WeChat Pay transaction, a corporate transfer
    recorded by staff, or the local dev method."""

    __tablename__ = "payments"
    __table_args__ = (
        # The same money (a WeChat transaction, a bank reference) is recorded once, however
        # many times and however concurrently it is told.
        Index(
            "uq_payments_succeeded_external_id",
            "method",
            "external_id",
            unique=True,
            sqlite_where=text("status = 'succeeded'"),
            postgresql_where=text("status = 'succeeded'"),
        ),
        # One payment being prepared per order and method (a second pay request reuses it).
        Index(
            "uq_payments_pending_order_method",
            "order_id",
            "method",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    method: Mapped[PaymentMethod] = mapped_column(str_enum(PaymentMethod, 16))
    status: Mapped[PaymentStatus] = mapped_column(
        str_enum(PaymentStatus, 16), default=PaymentStatus.PENDING
    )
    amount_fen: Mapped[int]
    # WeChat: the prepay handed to wx.requestPayment (valid two hours) and, once paid, WeChat's
    # transaction id; transfer: the bank's reference.
    prepay_id: Mapped[str | None] = mapped_column(String(64))
    prepay_expires_at: Mapped[datetime | None]
    external_id: Mapped[str | None] = mapped_column(String(64), index=True)
    payer_openid: Mapped[str | None] = mapped_column(String(64))
    succeeded_at: Mapped[datetime | None]
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Refund(TimestampMixin, Model):
    """Money going back for a whole order or one ShopOrder. ``out_refund_no`` is given once and
    never changed: after an unclear answer the same number is asked about, then sent again."""

    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    shop_order_id: Mapped[int | None] = mapped_column(ForeignKey("shop_orders.id"), index=True)
    out_refund_no: Mapped[str] = mapped_column(String(64), unique=True)
    method: Mapped[PaymentMethod] = mapped_column(str_enum(PaymentMethod, 16))
    amount_fen: Mapped[int]
    reason: Mapped[str] = mapped_column(String(80))
    state: Mapped[RefundState] = mapped_column(
        str_enum(RefundState, 16), default=RefundState.PENDING
    )
    external_id: Mapped[str | None] = mapped_column(String(64))
    succeeded_at: Mapped[datetime | None]


class PaymentAnomaly(Model):
    """A verified notification or query that did not fit (wrong amount, unknown order, money
    for an order that had expired): recorded for staff, never silently dropped."""

    __tablename__ = "payment_anomalies"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    out_trade_no: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSON)
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
