"""Users, their bearer tokens and their scoped role grants."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Model, TimestampMixin, str_enum, utcnow
from models.enums import Role


class User(TimestampMixin, Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    unionid: Mapped[str | None] = mapped_column(String(64), index=True)
    # WeChat's session_key, encrypted; it never leaves the server.
    session_key_cipher: Mapped[str | None] = mapped_column(String(255))
    username: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    nickname: Mapped[str] = mapped_column(String(64), default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None]

    grants: Mapped[list[RoleGrant]] = relationship(
        back_populates="user",
        lazy="selectin",
        cascade="all, delete-orphan",
        foreign_keys="RoleGrant.user_id",
    )

    def has_role(self, role: Role) -> bool:
        return any(g.role == role for g in self.grants)

    def grants_of(self, role: Role) -> list[RoleGrant]:
        return [g for g in self.grants if g.role == role]

    @property
    def staff_county_codes(self) -> set[str]:
        return {g.region_code for g in self.grants_of(Role.COUNTY_STAFF) if g.region_code}

    @property
    def member_household_ids(self) -> set[int]:
        return {g.household_id for g in self.grants_of(Role.FARMER) if g.household_id}


class RoleGrant(TimestampMixin, Model):
    """One role of one user, with its scope.

    farmer: household_id; helper: household_id or region_code (a village);
    county_staff: region_code (a county); unit_*: unit_id; station_operator: station_id;
    buyer and platform_admin: no scope.
    """

    __tablename__ = "role_grants"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(str_enum(Role))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True
    )
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("work_units.id", ondelete="CASCADE"), index=True
    )
    station_id: Mapped[int | None] = mapped_column(
        ForeignKey("stations.id", ondelete="CASCADE"), index=True
    )
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # farmer: the member code it was redeemed from (none when an operator granted it).
    invite_id: Mapped[int | None] = mapped_column(
        ForeignKey("household_invites.id", ondelete="SET NULL")
    )

    user: Mapped[User] = relationship(back_populates="grants", foreign_keys=[user_id])
    invite = relationship("HouseholdInvite")


class AuthToken(Model):
    """An opaque bearer token; only its SHA-256 is stored."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # wechat, staff, dev
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined")
