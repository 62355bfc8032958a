"""帮扶单位 / 采购单位: work units that buy from households, their member codes and pledges."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Model, TimestampMixin, str_enum, utcnow
from models.enums import UnitKind, UnitStatus


class WorkUnit(TimestampMixin, Model):
    """An organisation (机关, 学校, 国有企业 ...) identified by its unified social credit code.

    Its people are users holding ``unit_admin`` or ``unit_member`` grants with its id.
    """

    __tablename__ = "work_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # 统一社会信用代码 (GB 32100-2015), upper case, checked by services/uscc.py.
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    kind: Mapped[UnitKind] = mapped_column(str_enum(UnitKind, 16))
    # A county, township or village of the region table.
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    # Denormalised from the region so county scoping is one indexed comparison.
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    address: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str] = mapped_column(String(50))
    contact_phone: Mapped[str] = mapped_column(String(11))
    status: Mapped[UnitStatus] = mapped_column(str_enum(UnitStatus), default=UnitStatus.PENDING)
    status_reason: Mapped[str] = mapped_column(String(500), default="")
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    region = relationship("Region", lazy="joined")

    @hybrid_property
    def is_verified(self) -> bool:
        """Verified: it may invite members and pledge (and, once orders exist, buy)."""
        return self.status == UnitStatus.VERIFIED


class UnitInvite(Model):
    """A one-time code that makes a WeChat user a member (``unit_member``) of a unit."""

    __tablename__ = "unit_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("work_units.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class UnitPledge(TimestampMixin, Model):
    """预留份额: what a unit commits to buy from households in one year, in integer fen."""

    __tablename__ = "unit_pledges"
    __table_args__ = (
        UniqueConstraint("unit_id", "year"),
        CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("work_units.id", ondelete="CASCADE"), index=True
    )
    year: Mapped[int]
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    set_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
