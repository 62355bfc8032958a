"""微店: one household's shop."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Model, TimestampMixin, str_enum
from models.enums import ShopStatus

_CLOSED = (ShopStatus.REJECTED, ShopStatus.SUSPENDED)


class Shop(TimestampMixin, Model):
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

    # The rules about a shop's status, stated once, in Python and in SQL alike.
    @hybrid_property
    def is_open(self) -> bool:
        """Approved: public, its listed products on sale."""
        return self.status == ShopStatus.APPROVED

    @hybrid_property
    def accepts_listings(self) -> bool:
        """Not refused nor suspended: it may prepare listings and send them for review (a shop
        waiting for its own review may already prepare them)."""
        return self.status not in _CLOSED

    @accepts_listings.inplace.expression
    @classmethod
    def _accepts_listings_expression(cls):
        return cls.status.not_in(_CLOSED)
