"""Products (listings), their SKUs, and the moderation history.

Two copies of a product's public content exist: the *live* columns the public sees, and the
*draft* (JSON) the household edits. Staff approval copies the draft onto the live columns, so an
edit to a listed product is never shown before it is reviewed. Stock is not content: it changes
on the live SKUs directly.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Model, TimestampMixin, str_enum, utcnow
from models.enums import Category, ProductStatus, RejectReason, ReviewState


class Product(TimestampMixin, Model):
    __tablename__ = "products"
    __table_args__ = (
        Index("ix_products_public_newest", "status", "listed_at", "id"),
        Index("ix_products_public_sales", "status", "sales_count", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    village_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    status: Mapped[ProductStatus] = mapped_column(
        str_enum(ProductStatus), default=ProductStatus.DRAFT
    )
    review_state: Mapped[ReviewState] = mapped_column(
        str_enum(ReviewState), default=ReviewState.EDITING
    )
    # Set by the automatic pre-check (banned words, WeChat content check): staff see it first.
    flagged: Mapped[bool] = mapped_column(default=False)
    flag_detail: Mapped[str] = mapped_column(String(200), default="")
    draft: Mapped[dict] = mapped_column(JSON)
    # Live (approved) content; empty until the first approval.
    title: Mapped[str] = mapped_column(String(60), default="")
    category: Mapped[Category | None] = mapped_column(str_enum(Category, 16))
    description: Mapped[str] = mapped_column(Text, default="")
    story: Mapped[str] = mapped_column(Text, default="")
    unit: Mapped[str] = mapped_column(String(8), default="")
    harvest_date: Mapped[date | None]
    presale_ship_date: Mapped[date | None]
    # Fresh goods kept cold (冷链): hand-ins and shipments must record how.
    cold_chain: Mapped[bool] = mapped_column(default=False)
    media_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    # The first live photo, kept beside the list so a feed page joins its cover in the same
    # statement instead of reading the JSON list and looking the photo up afterwards.
    cover_media_id: Mapped[int | None] = mapped_column(ForeignKey("media.id"))
    trace_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    listed_at: Mapped[datetime | None]
    # When the draft now waiting for review was submitted: the queue is oldest first.
    submitted_at: Mapped[datetime | None] = mapped_column(index=True)
    sales_count: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    skus: Mapped[list[Sku]] = relationship(
        back_populates="product", order_by="Sku.id", lazy="selectin"
    )
    shop = relationship("Shop", lazy="joined")
    village = relationship("Region", lazy="joined")


class Sku(TimestampMixin, Model):
    __tablename__ = "skus"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    spec_name: Mapped[str] = mapped_column(String(30))
    price_fen: Mapped[int]
    stock: Mapped[int] = mapped_column(default=0)
    # A spec removed from a listing stays for the orders that reference it.
    is_active: Mapped[bool] = mapped_column(default=True)

    product: Mapped[Product] = relationship(back_populates="skus")


class ModerationEvent(Model):
    """Every submit, pre-check, approval and rejection: who, when, what, why."""

    __tablename__ = "moderation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    on_behalf_of_household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    action: Mapped[str] = mapped_column(String(16))  # submit, precheck, approve, reject, delist
    reason_code: Mapped[RejectReason | None] = mapped_column(str_enum(RejectReason, 16))
    note: Mapped[str] = mapped_column(String(500), default="")
    # The draft as it was reviewed, so the history shows exactly what was decided on.
    snapshot: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
