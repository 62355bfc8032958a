"""What the ledger tells people: a household's balance and its entries, which households an
order reached (and whether their money was paid out), and a unit's reach against its pledge.
Nothing here shows a person's name or number unmasked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import distinct, func, select

from models import (
    Household,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Order,
    Payout,
    Product,
    ShopOrder,
    UnitPledge,
    User,
    WorkUnit,
    db,
)
from models.enums import AccountKind, PayoutState, SellerKind, ShopOrderStatus
from services import cursors, ledger, orders, payouts, pii, units

_BEIJING = timezone(timedelta(hours=8))


# --- a household's money ------------------------------------------------------------------


def balance(actor: User, household_id: int) -> ledger.Balance:
    household = payouts.household_finances(actor, household_id)
    return ledger.balance_of(ledger.household(household.id))


@dataclass(frozen=True)
class EntryView:
    entry: LedgerEntry
    account: AccountKind
    cause: str
    kind: str
    product_title: str | None
    unit_name: str | None

    def __getattr__(self, name):
        return getattr(self.entry, name)


def entries(
    actor: User,
    household_id: int,
    *,
    limit: int = 50,
    cursor: str | None = None,
    account: AccountKind | None = None,
) -> tuple[list[EntryView], str | None]:
    """The household's own accounts' entries, newest first (their sums are its balance)."""
    household = payouts.household_finances(actor, household_id)
    accounts = select(LedgerAccount.id).where(
        LedgerAccount.seller_kind == SellerKind.HOUSEHOLD,
        LedgerAccount.seller_id == household.id,
    )
    if account is not None:
        accounts = accounts.where(LedgerAccount.kind == account)
    query = select(LedgerEntry).where(LedgerEntry.account_id.in_(accounts))
    rows, next_cursor = cursors.page_by_id(
        query, LedgerEntry.id, limit=limit, cursor=cursor, marker="ledger"
    )
    kinds = dict(
        db.session.execute(
            select(LedgerAccount.id, LedgerAccount.kind).where(
                LedgerAccount.id.in_({r.account_id for r in rows})
            )
        ).all()
    )
    causes = {
        t.id: t
        for t in db.session.scalars(
            select(LedgerTransaction).where(
                LedgerTransaction.id.in_({r.transaction_id for r in rows})
            )
        )
    }
    titles = dict(
        db.session.execute(
            select(Product.id, Product.title).where(
                Product.id.in_({r.product_id for r in rows if r.product_id})
            )
        ).all()
    )
    unit_names = dict(
        db.session.execute(
            select(WorkUnit.id, WorkUnit.name).where(
                WorkUnit.id.in_({r.unit_id for r in rows if r.unit_id})
            )
        ).all()
    )
    return [
        EntryView(
            entry=r,
            account=kinds[r.account_id],
            cause=causes[r.transaction_id].cause,
            kind=causes[r.transaction_id].kind,
            product_title=titles.get(r.product_id) if r.product_id else None,
            unit_name=unit_names.get(r.unit_id) if r.unit_id else None,
        )
        for r in rows
    ], next_cursor


# --- who an order reached -----------------------------------------------------------------


@dataclass(frozen=True)
class Beneficiary:
    shop_order_id: int
    household_id: int | None
    village: dict
    name_masked: str
    amount_credited_fen: int
    # pending (paid, not yet completed), refunded (its money went back), available,
    # in_flight, paid (the household has the money)
    payout_status: str
    paid_at: datetime | None


_NOT_CREDITED = {
    ShopOrderStatus.REJECTED: "refunded",
    ShopOrderStatus.INSPECTION_FAILED: "refunded",
    ShopOrderStatus.CANCELLED: "refunded",
}


def beneficiaries(actor: User, order_id: int) -> list[Beneficiary]:
    """Each household the order reached: what it was credited (completed parts) and whether
    that money has been paid out to it (a household's payouts pay its credits oldest first)."""
    order = orders.get_order(actor, order_id)
    credits = _credits([so.id for so in order.shop_orders])
    # One read for the order's households (each with its village, joined).
    households = {
        h.id: h
        for h in db.session.scalars(
            select(Household).where(Household.id.in_({so.household_id for so in order.shop_orders}))
        )
    }
    found = []
    for shop_order in order.shop_orders:
        household = households.get(shop_order.household_id) if shop_order.household_id else None
        credited = credits.get(shop_order.id, 0)
        status, paid_at = "pending", None
        if shop_order.status in _NOT_CREDITED:
            status = _NOT_CREDITED[shop_order.status]
        elif shop_order.status == ShopOrderStatus.PENDING_PAYMENT:
            status = "unpaid"
        elif shop_order.id in credits and household is not None:
            status, paid_at = _paid_status(household.id, shop_order.id)
        found.append(
            Beneficiary(
                shop_order_id=shop_order.id,
                household_id=household.id if household else None,
                village=_village(household),
                name_masked=pii.mask_name(household.head_name) if household else "",
                amount_credited_fen=credited,
                payout_status=status,
                paid_at=paid_at,
            )
        )
    return found


def _village(household: Household | None) -> dict:
    if household is None:
        return {"code": None, "name": None}
    return {"code": household.village_code, "name": household.village.name}


def _credits(shop_order_ids: list[int]) -> dict[int, int]:
    """What each completed part credited its seller's payable account."""
    if not shop_order_ids:
        return {}
    rows = db.session.execute(
        select(LedgerEntry.shop_order_id, func.sum(LedgerEntry.amount_fen))
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(
            LedgerEntry.shop_order_id.in_(shop_order_ids),
            LedgerAccount.kind == AccountKind.PAYABLE,
            LedgerTransaction.kind == "sale_completed",
        )
        .group_by(LedgerEntry.shop_order_id)
    )
    return {so_id: int(amount) for so_id, amount in rows if so_id is not None}


def _paid_status(household_id: int, shop_order_id: int) -> tuple[str, datetime | None]:
    """Oldest credits are paid first: the part's money is paid out once the household's
    payouts have covered every credit up to and including it."""
    seller = ledger.household(household_id)
    payable = select(LedgerAccount.id).where(
        LedgerAccount.kind == AccountKind.PAYABLE,
        LedgerAccount.seller_kind == seller.kind,
        LedgerAccount.seller_id == seller.id,
    )
    credit_rows = db.session.execute(
        select(LedgerEntry.shop_order_id, LedgerEntry.amount_fen)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(
            LedgerEntry.account_id.in_(payable),
            LedgerTransaction.kind == "sale_completed",
        )
        .order_by(LedgerEntry.id)
    ).all()
    upto = 0
    for credited_for, amount in credit_rows:
        upto += amount
        if credited_for == shop_order_id:
            break
    settled = db.session.execute(
        select(Payout.amount_fen, Payout.settled_at)
        .where(
            Payout.seller_kind == seller.kind,
            Payout.seller_id == seller.id,
            Payout.state == PayoutState.SUCCESS,
        )
        .order_by(Payout.settled_at, Payout.id)
    ).all()
    paid = 0
    for amount, settled_at in settled:
        paid += amount
        if paid >= upto:
            return "paid", settled_at
    if paid + ledger.balance_of(seller).in_flight_fen >= upto:
        return "in_flight", None
    return "available", None


# --- a unit's reach -----------------------------------------------------------------------


@dataclass(frozen=True)
class UnitReach:
    unit_id: int
    year: int
    bought_fen: int
    credited_fen: int
    households_reached: int
    villages_reached: int
    pledge_fen: int | None
    pledge_left_fen: int | None


def unit_reach(actor: User, unit_id: int, year: int) -> UnitReach:
    """What the unit bought in the year (Beijing time), what of it reached households' accounts
    (completed parts), and how many households and villages its purchases reached."""
    unit = units.get_unit(actor, unit_id)
    start = datetime(year, 1, 1, tzinfo=_BEIJING)
    end = datetime(year + 1, 1, 1, tzinfo=_BEIJING)
    paid = select(Order.id).where(
        Order.unit_id == unit.id,
        Order.paid_at.is_not(None),
        Order.paid_at >= start,
        Order.paid_at < end,
    )
    reached = (
        select(ShopOrder.household_id)
        .where(
            ShopOrder.order_id.in_(paid),
            ShopOrder.household_id.is_not(None),
            ShopOrder.status.not_in(list(_NOT_CREDITED)),
        )
        .distinct()
    )
    households = db.session.scalar(select(func.count()).select_from(reached.subquery())) or 0
    villages = (
        db.session.scalar(
            select(func.count(distinct(Household.village_code))).where(Household.id.in_(reached))
        )
        or 0
    )
    credited = db.session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0))
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(
            LedgerEntry.order_id.in_(paid),
            LedgerAccount.kind == AccountKind.PAYABLE,
            LedgerTransaction.kind == "sale_completed",
        )
    )
    pledge = db.session.scalar(
        select(UnitPledge.amount_fen).where(UnitPledge.unit_id == unit.id, UnitPledge.year == year)
    )
    bought = units.unit_totals(unit.id, year).bought_fen
    return UnitReach(
        unit_id=unit.id,
        year=year,
        bought_fen=bought,
        credited_fen=int(credited or 0),
        households_reached=households,
        villages_reached=villages,
        pledge_fen=pledge,
        pledge_left_fen=max(pledge - bought, 0) if pledge is not None else None,
    )
