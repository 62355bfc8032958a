"""Payouts: a seller's available money sent to it, by WeChat 商家转账 or as a line of a
county's bank batch (惠农一卡通), and the batches staff run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Model, TimestampMixin, str_enum
from models.enums import PayoutChannel, PayoutState, SellerKind


class PayoutBatch(TimestampMixin, Model):
    """One run of bank payouts for a county: every household above the threshold, and the
    bank payouts households asked for, as the lines of one file for the bank."""

    __tablename__ = "payout_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    threshold_fen: Mapped[int] = mapped_column(BigInteger)
    purpose: Mapped[str] = mapped_column(String(40))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Set once every line is made: a batch broken before that (a worker killed, a database
    # error) is finished by the staff's retry with the same Idempotency-Key.
    built_at: Mapped[datetime | None]


class Payout(TimestampMixin, Model):
    __tablename__ = "payouts"
    __table_args__ = (
        # `flask payouts poll` reads the bills not yet final.
        Index("ix_payouts_state", "state"),
        Index("ix_payouts_seller", "seller_kind", "seller_id"),
        # One open bank payout per seller waiting for a batch: a batch adds to it no twice.
        Index(
            "uq_payouts_bank_unbatched",
            "seller_kind",
            "seller_id",
            unique=True,
            sqlite_where=text("channel = 'bank' AND batch_id IS NULL AND state = 'requested'"),
            postgresql_where=text("channel = 'bank' AND batch_id IS NULL AND state = 'requested'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_kind: Mapped[SellerKind] = mapped_column(str_enum(SellerKind, 16))
    seller_id: Mapped[int]
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    channel: Mapped[PayoutChannel] = mapped_column(str_enum(PayoutChannel, 16))
    state: Mapped[PayoutState] = mapped_column(
        str_enum(PayoutState, 24), default=PayoutState.REQUESTED
    )
    # What was asked, and what this payout carries (less when the daily cap held it back).
    requested_fen: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    # The bill number WeChat knows: given once, never renumbered after an unclear answer.
    out_bill_no: Mapped[str] = mapped_column(String(32), unique=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # WeChat: whose balance it goes to, what WeChat calls the bill and its last state there,
    # and the package the mini-program hands to wx.requestMerchantTransfer.
    openid: Mapped[str | None] = mapped_column(String(64))
    transfer_bill_no: Mapped[str | None] = mapped_column(String(64))
    provider_state: Mapped[str | None] = mapped_column(String(24))
    package_info: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(String(200), default="")
    # Bank: the batch it is a line of, the account as it was when the line was made (the
    # number encrypted; the masked form is what screens show), and the bank's voucher.
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("payout_batches.id"), index=True)
    bank_name: Mapped[str | None] = mapped_column(String(60))
    bank_account_name: Mapped[str | None] = mapped_column(String(50))
    bank_account_cipher: Mapped[str | None] = mapped_column(Text)
    bank_account_masked: Mapped[str | None] = mapped_column(String(40))
    voucher_no: Mapped[str | None] = mapped_column(String(64))
    settled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    fail_reason: Mapped[str] = mapped_column(String(200), default="")
    settled_at: Mapped[datetime | None]
