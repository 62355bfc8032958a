"""The double-entry ledger: accounts, transactions (one per business event, unique per cause)
and their entries, in integer fen. Entries are never updated or deleted; a correction is a new
transaction. Every transaction's entries sum to zero: the service checks it before writing, and
on PostgreSQL a deferred constraint trigger refuses a commit that breaks it (migration
``ledger_and_payouts``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Model, str_enum, utcnow
from models.enums import AccountKind, SellerKind


class LedgerAccount(Model):
    """One account. ``key`` names it once for all ("escrow:household:12", "clearing:wechat").
    Sellers' accounts keep a running ``balance_fen`` updated in the same transaction as their
    entries (a payout takes money with one conditional UPDATE of it); the platform's accounts
    (every payment and refund passes through them) keep none, to be no row every payment
    waits on: their balance is the sum of their entries."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (Index("ix_ledger_accounts_seller", "seller_kind", "seller_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[AccountKind] = mapped_column(str_enum(AccountKind, 16))
    seller_kind: Mapped[SellerKind | None] = mapped_column(str_enum(SellerKind, 16))
    seller_id: Mapped[int | None]
    balance_fen: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerTransaction(Model):
    """One business event. ``cause`` is unique ("payment:7", "shop_order:9:completed",
    "refund:3", "payout:5:sent"): told twice, an event is posted once."""

    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    cause: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    payout_id: Mapped[int | None] = mapped_column(ForeignKey("payouts.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerEntry(Model):
    """One leg of a transaction, signed: positive adds to the account. What is behind it (the
    order, the part, the product, the buyer's unit) is copied on so a household's statement
    reads without joins through other people's data."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_account_id_id", "account_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    shop_order_id: Mapped[int | None] = mapped_column(ForeignKey("shop_orders.id"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("work_units.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
