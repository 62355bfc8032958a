"""The ledger: every business event that moves money is one transaction whose entries sum to
zero, posted in the caller's database transaction (so the event and its money commit together
or not at all), once per cause.

Which way money moves (positive adds to an account)::

    payment received     clearing(method) −T      escrow(seller) +t for each part (Σt = T)
    money for a closed   clearing(method) −X      refunds +X
      order (refunded)
    refund paid          escrow(seller) −a        clearing(method) +a   (refunds −a for the above)
    part completed       escrow(seller) −t        payable(seller) +(t − fee), platform_fee +fee
    payout sent          payable(seller) −a       in_flight(seller) +a
    payout confirmed     in_flight(seller) −a     paid_out(seller) +a
    payout failed        in_flight(seller) −a     payable(seller) +a

So the clearing accounts are what came in from buyers (negative) less what went back to
them, and their sum is minus what the platform holds and has paid out: money in = money out +
money held, because every transaction sums to zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from models import (
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Order,
    Payment,
    Payout,
    Refund,
    ShopOrder,
    db,
)
from models.base import sa_table
from models.enums import AccountKind, PaymentMethod, SellerKind


class LedgerImbalance(RuntimeError):
    """A transaction whose entries do not sum to zero: a defect, never posted."""


class Overdrawn(Exception):
    """A seller's account would go below zero (a payout larger than what is available, taken
    concurrently): nothing may be committed; the caller rolls back."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True)
class Seller:
    kind: SellerKind
    id: int

    @property
    def key(self) -> str:
        return f"{self.kind.value}:{self.id}"


def seller_of(shop_order: ShopOrder) -> Seller:
    """Who is owed a part's money: its household (an organisation, once they sell)."""
    if shop_order.household_id is None:
        raise LedgerImbalance(f"shop order {shop_order.id} names no seller")
    return Seller(SellerKind.HOUSEHOLD, shop_order.household_id)


def household(household_id: int) -> Seller:
    return Seller(SellerKind.HOUSEHOLD, household_id)


@dataclass(frozen=True)
class Account:
    kind: AccountKind
    seller: Seller | None = None
    method: PaymentMethod | None = None

    @property
    def key(self) -> str:
        if self.seller is not None:
            return f"{self.kind.value}:{self.seller.key}"
        if self.method is not None:
            return f"{self.kind.value}:{self.method.value}"
        return self.kind.value


SELLER_KINDS = (
    AccountKind.ESCROW,
    AccountKind.PAYABLE,
    AccountKind.IN_FLIGHT,
    AccountKind.PAID_OUT,
)


def clearing(method: PaymentMethod) -> Account:
    return Account(AccountKind.CLEARING, method=method)


def escrow(seller: Seller) -> Account:
    return Account(AccountKind.ESCROW, seller)


def payable(seller: Seller) -> Account:
    return Account(AccountKind.PAYABLE, seller)


def in_flight(seller: Seller) -> Account:
    return Account(AccountKind.IN_FLIGHT, seller)


def paid_out(seller: Seller) -> Account:
    return Account(AccountKind.PAID_OUT, seller)


PLATFORM_FEE = Account(AccountKind.PLATFORM_FEE)
REFUNDS = Account(AccountKind.REFUNDS)


@dataclass(frozen=True)
class Leg:
    account: Account
    amount_fen: int
    shop_order: ShopOrder | None = None  # what is behind it, copied onto the entry


# --- posting ---------------------------------------------------------------------------------


def posted(cause: str) -> bool:
    return (
        db.session.scalar(select(LedgerTransaction.id).where(LedgerTransaction.cause == cause))
        is not None
    )


def post(
    cause: str,
    kind: str,
    legs: Sequence[Leg],
    *,
    order: Order | None = None,
    payout: Payout | None = None,
) -> LedgerTransaction | None:
    """Write one transaction in the caller's database transaction; None if ``cause`` was posted
    already (a replayed event). Raises ``LedgerImbalance`` before writing anything unbalanced,
    ``Overdrawn`` after the balance updates when a seller's account would go negative (the
    caller must roll back: what was written goes with it)."""
    total = sum(leg.amount_fen for leg in legs)
    if total != 0 or any(isinstance(leg.amount_fen, bool) for leg in legs):
        raise LedgerImbalance(f"{cause}: entries sum to {total}")
    if posted(cause):
        return None
    legs = [leg for leg in legs if leg.amount_fen != 0]
    ids = _account_ids({leg.account for leg in legs})
    transaction = LedgerTransaction(
        cause=cause,
        kind=kind,
        order_id=order.id if order is not None else None,
        payout_id=payout.id if payout is not None else None,
    )
    db.session.add(transaction)
    db.session.flush()
    unit_id = order.unit_id if order is not None else None
    products = _first_products([leg.shop_order.id for leg in legs if leg.shop_order is not None])
    db.session.execute(
        sa_table(LedgerEntry).insert(),
        [
            {
                "transaction_id": transaction.id,
                "account_id": ids[leg.account.key],
                "amount_fen": leg.amount_fen,
                "order_id": leg.shop_order.order_id if leg.shop_order else transaction.order_id,
                "shop_order_id": leg.shop_order.id if leg.shop_order else None,
                "product_id": products.get(leg.shop_order.id) if leg.shop_order else None,
                "unit_id": unit_id,
                "created_at": transaction.created_at,
            }
            for leg in legs
        ],
    )
    _apply_balances(legs, ids)
    return transaction


def account_id(account: Account) -> int:
    """The account's id, created on first use."""
    return _account_ids({account})[account.key]


def _account_ids(accounts: set[Account]) -> dict[str, int]:
    """Each account's id, created on first use (concurrent first uses create it once)."""
    keys = {a.key: a for a in accounts}
    found = dict(
        db.session.execute(
            select(LedgerAccount.key, LedgerAccount.id).where(LedgerAccount.key.in_(keys))
        ).all()
    )
    missing = [keys[k] for k in keys if k not in found]
    if missing:
        dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
        db.session.execute(
            dialect.insert(sa_table(LedgerAccount))
            .values(
                [
                    {
                        "key": a.key,
                        "kind": a.kind.value,
                        "seller_kind": a.seller.kind.value if a.seller else None,
                        "seller_id": a.seller.id if a.seller else None,
                        "balance_fen": 0 if a.seller else None,
                        "created_at": func.now(),
                    }
                    for a in missing
                ]
            )
            .on_conflict_do_nothing(index_elements=["key"])
        )
        found |= dict(
            db.session.execute(
                select(LedgerAccount.key, LedgerAccount.id).where(
                    LedgerAccount.key.in_([a.key for a in missing])
                )
            ).all()
        )
    return found


def _apply_balances(legs: Sequence[Leg], ids: dict[str, int]) -> None:
    """Sellers' running balances, in account-id order (two transactions touching the same
    accounts lock them in the same order: no deadlock), never below zero."""
    change: dict[int, int] = {}
    keys: dict[int, str] = {}
    for leg in legs:
        if leg.account.seller is not None:
            account_id = ids[leg.account.key]
            change[account_id] = change.get(account_id, 0) + leg.amount_fen
            keys[account_id] = leg.account.key
    short: str | None = None
    for account_id in sorted(change):
        amount = change[account_id]
        moved = db.session.execute(
            update(LedgerAccount)
            .where(LedgerAccount.id == account_id, LedgerAccount.balance_fen + amount >= 0)
            .values(balance_fen=LedgerAccount.balance_fen + amount)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            short = short or keys[account_id]
    if short is not None:
        raise Overdrawn(short)


def _first_products(shop_order_ids: list[int]) -> dict[int, int]:
    """The product each part is named by (its first line's)."""
    if not shop_order_ids:
        return {}
    from models import OrderLine

    first = (
        select(OrderLine.shop_order_id, func.min(OrderLine.id).label("line_id"))
        .where(OrderLine.shop_order_id.in_(shop_order_ids))
        .group_by(OrderLine.shop_order_id)
        .subquery()
    )
    rows = db.session.execute(
        select(OrderLine.shop_order_id, OrderLine.product_id).join(
            first, OrderLine.id == first.c.line_id
        )
    )
    return {shop_order_id: product_id for shop_order_id, product_id in rows}


# --- the business events -------------------------------------------------------------------


def payment_received(order: Order, payment: Payment) -> None:
    """An order's money came in: held in escrow for each part's seller until it completes."""
    legs = [Leg(clearing(payment.method), -payment.amount_fen)]
    legs += [Leg(escrow(seller_of(so)), so.total_fen, so) for so in order.shop_orders]
    post(f"payment:{payment.id}", "payment_received", legs, order=order)


def surplus_received(order: Order, payment: Payment) -> None:
    """Money for an order that could not take it (closed, or paid another way): owed back."""
    legs = [Leg(clearing(payment.method), -payment.amount_fen), Leg(REFUNDS, payment.amount_fen)]
    post(f"payment:{payment.id}", "surplus_received", legs, order=order)


def refund_paid(refund: Refund, order: Order) -> None:
    """A refund reached the buyer: out of the part's escrow (or the money owed back)."""
    shop_order = db.session.get(ShopOrder, refund.shop_order_id) if refund.shop_order_id else None
    source = (
        Leg(escrow(seller_of(shop_order)), -refund.amount_fen, shop_order)
        if shop_order
        else Leg(REFUNDS, -refund.amount_fen)
    )
    legs = [source, Leg(clearing(refund.method), refund.amount_fen, shop_order)]
    post(f"refund:{refund.id}", "refund", legs, order=order)


def fee_of(amount_fen: int) -> int:
    """The platform's fee on a sale, rounded down (in the household's favour)."""
    return amount_fen * current_app.config["PLATFORM_FEE_BPS"] // 10_000


def sale_completed(shop_order: ShopOrder) -> None:
    """A part's after-sales window closed: its money (less any fee) is the seller's."""
    amount = shop_order.total_fen - shop_order.refunded_fen
    fee = fee_of(amount)
    seller = seller_of(shop_order)
    legs = [
        Leg(escrow(seller), -amount, shop_order),
        Leg(payable(seller), amount - fee, shop_order),
        Leg(PLATFORM_FEE, fee, shop_order),
    ]
    post(f"shop_order:{shop_order.id}:completed", "sale_completed", legs, order=shop_order.order)


def payout_seller(payout: Payout) -> Seller:
    return Seller(payout.seller_kind, payout.seller_id)


def payout_sent(payout: Payout) -> None:
    """Raises ``Overdrawn`` when the seller has less available than the payout."""
    seller = payout_seller(payout)
    legs = [Leg(payable(seller), -payout.amount_fen), Leg(in_flight(seller), payout.amount_fen)]
    post(f"payout:{payout.id}:sent", "payout_sent", legs, payout=payout)


def payout_settled(payout: Payout) -> None:
    seller = payout_seller(payout)
    legs = [Leg(in_flight(seller), -payout.amount_fen), Leg(paid_out(seller), payout.amount_fen)]
    post(f"payout:{payout.id}:settled", "payout_settled", legs, payout=payout)


def payout_reversed(payout: Payout) -> None:
    seller = payout_seller(payout)
    legs = [Leg(in_flight(seller), -payout.amount_fen), Leg(payable(seller), payout.amount_fen)]
    post(f"payout:{payout.id}:reversed", "payout_reversed", legs, payout=payout)


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    pending_fen: int
    available_fen: int
    in_flight_fen: int
    paid_out_fen: int


def balance_of(seller: Seller) -> Balance:
    rows = dict(
        db.session.execute(
            select(LedgerAccount.kind, LedgerAccount.balance_fen).where(
                LedgerAccount.seller_kind == seller.kind, LedgerAccount.seller_id == seller.id
            )
        ).all()
    )
    return Balance(
        pending_fen=rows.get(AccountKind.ESCROW) or 0,
        available_fen=rows.get(AccountKind.PAYABLE) or 0,
        in_flight_fen=rows.get(AccountKind.IN_FLIGHT) or 0,
        paid_out_fen=rows.get(AccountKind.PAID_OUT) or 0,
    )


def available_of(seller: Seller) -> int:
    return balance_of(seller).available_fen


# --- money recorded before the ledger ------------------------------------------------------


def backfill() -> int:
    """Post what happened before the ledger existed (payments, refunds, completed parts), in
    the order it happened; each cause once, so running it again posts nothing. Returns how
    many transactions it wrote."""
    from models.enums import PaymentStatus, RefundState, ShopOrderStatus

    written = 0
    for payment in db.session.scalars(
        select(Payment).where(Payment.status == PaymentStatus.SUCCEEDED).order_by(Payment.id)
    ):
        if posted(f"payment:{payment.id}"):
            continue
        order = db.session.get(Order, payment.order_id)
        assert order is not None
        first = db.session.scalar(
            select(func.min(Payment.id)).where(
                Payment.order_id == order.id, Payment.status == PaymentStatus.SUCCEEDED
            )
        )
        if order.paid_at is not None and payment.id == first:
            payment_received(order, payment)
        else:
            surplus_received(order, payment)
        written += 1
    for refund in db.session.scalars(
        select(Refund).where(Refund.state == RefundState.SUCCEEDED).order_by(Refund.id)
    ):
        if not posted(f"refund:{refund.id}"):
            order = db.session.get(Order, refund.order_id)
            assert order is not None
            refund_paid(refund, order)
            written += 1
    for shop_order in db.session.scalars(
        select(ShopOrder)
        .where(ShopOrder.status == ShopOrderStatus.COMPLETED)
        .order_by(ShopOrder.completed_at, ShopOrder.id)
    ):
        if not posted(f"shop_order:{shop_order.id}:completed"):
            sale_completed(shop_order)
            written += 1
    db.session.commit()
    return written
