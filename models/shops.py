"""微店: one household's shop."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import TimestampMixin, db, str_enum
from models.enums import ShopStatus


class Shop(TimestampMixin, db.Model):
    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), unique=True)
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    name: Mapped[str] = mapped_column(String(40))
    intro: Mapped[str] = mapped_column(String(200), default="")
    story: Mapped[str] = mapped_column(Text, default="")
    # Photos arrive with the media pipeline; the foreign key follows then.
    cover_media_id: Mapped[int | None]
    status: Mapped[ShopStatus] = mapped_column(str_enum(ShopStatus), default=ShopStatus.PENDING)
    status_reason: Mapped[str] = mapped_column(String(500), default="")
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    household = relationship("Household", lazy="joined")


# The shop state machine: action → (states it may start from, state it ends in).
SHOP_TRANSITIONS: dict[str, tuple[frozenset[ShopStatus], ShopStatus]] = {
    "approve": (frozenset({ShopStatus.PENDING, ShopStatus.SUSPENDED}), ShopStatus.APPROVED),
    "reject": (frozenset({ShopStatus.PENDING}), ShopStatus.REJECTED),
    "suspend": (frozenset({ShopStatus.APPROVED}), ShopStatus.SUSPENDED),
    # A rejected shop that its owner edits goes back to the queue.
    "resubmit": (frozenset({ShopStatus.REJECTED}), ShopStatus.PENDING),
}
