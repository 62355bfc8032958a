"""建档立卡户: households, the consents they give helpers, and member invitations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Model, TimestampMixin, str_enum, utcnow
from models.enums import ConsentMethod, PovertyStatus, Role, VerificationStatus


class Household(TimestampMixin, Model):
    __tablename__ = "households"

    id: Mapped[int] = mapped_column(primary_key=True)
    registry_no: Mapped[str] = mapped_column(String(32), unique=True)
    head_name: Mapped[str] = mapped_column(String(50))
    # The ID number is stored encrypted; a keyed hash finds duplicates; the masked form is
    # what every response shows.
    id_number_cipher: Mapped[str] = mapped_column(Text)
    id_number_index: Mapped[str] = mapped_column(String(64), unique=True)
    id_number_masked: Mapped[str] = mapped_column(String(18))
    phone: Mapped[str | None] = mapped_column(String(11))
    village_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    # Denormalised from the village so county scoping is one indexed comparison.
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    poverty_status: Mapped[PovertyStatus] = mapped_column(str_enum(PovertyStatus))
    verification_status: Mapped[VerificationStatus] = mapped_column(
        str_enum(VerificationStatus), default=VerificationStatus.PENDING
    )
    verified_at: Mapped[datetime | None]
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Where bank payouts go (惠农一卡通), recorded by county staff: the number encrypted, the
    # masked form for screens; the full number only in a bank batch file.
    bank_name: Mapped[str | None] = mapped_column(String(60))
    bank_account_name: Mapped[str | None] = mapped_column(String(50))
    bank_account_cipher: Mapped[str | None] = mapped_column(Text)
    bank_account_masked: Mapped[str | None] = mapped_column(String(40))

    village = relationship("Region", lazy="joined")
    # Loaded on access only: the catalog joins households on every row and needs no consents.
    consents: Mapped[list[Consent]] = relationship(
        back_populates="household", order_by="Consent.id"
    )


class Consent(Model):
    """A household's consent for one helper to act on its behalf, for named purposes."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True
    )
    helper_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    purposes: Mapped[list[str]] = mapped_column(JSON)
    method: Mapped[ConsentMethod] = mapped_column(str_enum(ConsentMethod))
    note: Mapped[str] = mapped_column(String(500), default="")
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    household: Mapped[Household] = relationship(back_populates="consents")

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class HouseholdInvite(Model):
    """A one-time code that binds a WeChat user to a household as a member (farmer role)."""

    __tablename__ = "household_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The capacity its issuer held: county_staff, helper (with consent) or farmer (a member);
    # empty for an older code whose issuer no longer held the role when this was recorded.
    issued_as: Mapped[Role | None] = mapped_column(str_enum(Role))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
