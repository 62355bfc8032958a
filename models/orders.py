"""Orders: what one buyer (or one unit) pays for in one payment, split into one ShopOrder per
shop (what a farmer accepts and fulfils), with the lines as they were priced when bought."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Model, TimestampMixin, str_enum, utcnow
from models.enums import OrderStatus, PaymentMethod, RefundStatus, ShopOrderStatus
from models.fulfilment import Station


class Order(TimestampMixin, Model):
    __tablename__ = "orders"
    __table_args__ = (
        # The expiry job reads the oldest unpaid orders first.
        Index("ix_orders_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # A unit member's purchase counts toward the unit (and its admins see it).
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("work_units.id"), index=True)
    status: Mapped[OrderStatus] = mapped_column(
        str_enum(OrderStatus), default=OrderStatus.PENDING_PAYMENT
    )
    refund_status: Mapped[RefundStatus] = mapped_column(
        str_enum(RefundStatus), default=RefundStatus.NONE
    )
    goods_fen: Mapped[int]
    shipping_fen: Mapped[int] = mapped_column(default=0)
    total_fen: Mapped[int]
    # Money given back so far (refunds that succeeded), in fen.
    refunded_fen: Mapped[int] = mapped_column(default=0)
    note: Mapped[str] = mapped_column(String(200), default="")
    # Where it goes, copied from the address book: a later edit there changes no order.
    address: Mapped[dict] = mapped_column(JSON)
    # {"title", "tax_number"} for a unit's invoice request.
    invoice: Mapped[dict | None] = mapped_column(JSON)
    # The merchant order number WeChat Pay knows; never changes once given.
    out_trade_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    payment_method: Mapped[PaymentMethod | None] = mapped_column(str_enum(PaymentMethod, 16))
    expires_at: Mapped[datetime]
    # A unit announced a corporate transfer: the order waits for it instead of expiring.
    transfer_announced_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]

    shop_orders: Mapped[list[ShopOrder]] = relationship(
        back_populates="order", order_by="ShopOrder.id", lazy="selectin"
    )


class ShopOrder(TimestampMixin, Model):
    __tablename__ = "shop_orders"
    __table_args__ = (
        # Station queues and deadline jobs read by state.
        Index("ix_shop_orders_status_station", "status", "station_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    # The seller paid for it; a household today, an organisation when they sell.
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    status: Mapped[ShopOrderStatus] = mapped_column(
        str_enum(ShopOrderStatus), default=ShopOrderStatus.PENDING_PAYMENT
    )
    refund_status: Mapped[RefundStatus] = mapped_column(
        str_enum(RefundStatus), default=RefundStatus.NONE
    )
    goods_fen: Mapped[int]
    shipping_fen: Mapped[int] = mapped_column(default=0)
    total_fen: Mapped[int]
    refunded_fen: Mapped[int] = mapped_column(default=0)
    # The fulfilment chain (services/fulfilment.py): where the farmer hands the goods in (None:
    # shipped directly), the label the farmer brings along, the promised dates and the parcel.
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"), index=True)
    label_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    accept_by: Mapped[datetime | None]
    hand_in_by: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    handed_in_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    # A missed deadline, flagged to staff (who may cancel it with a refund).
    overdue_since: Mapped[datetime | None]
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"), index=True)

    order: Mapped[Order] = relationship(back_populates="shop_orders")
    station: Mapped[Station | None] = relationship(lazy="joined")
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="shop_order", order_by="OrderLine.id", lazy="selectin"
    )


class OrderLine(Model):
    """One SKU bought, priced as it was at that moment."""

    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_order_id: Mapped[int] = mapped_column(ForeignKey("shop_orders.id"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    title: Mapped[str] = mapped_column(String(60))
    spec_name: Mapped[str] = mapped_column(String(30))
    unit: Mapped[str] = mapped_column(String(8), default="")
    price_fen: Mapped[int]
    quantity: Mapped[int]
    subtotal_fen: Mapped[int]

    shop_order: Mapped[ShopOrder] = relationship(back_populates="lines")


class IdempotencyKey(Model):
    """A client's ``Idempotency-Key`` for a POST that moves goods or money, and what it made:
    the same key and body find the same resource, the same key with another body is refused."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(64))  # e.g. "order.create"
    key: Mapped[str] = mapped_column(String(128))
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the canonical body
    resource_id: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
