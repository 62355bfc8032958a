"""``flask ledger check``: every invariant of the money core, checked from the rows.

Each difference is one line, ``<invariant> <object>: expected X, got Y``:

- ``transaction_sum``: a transaction's entries sum to zero;
- ``ledger_total``: all entries together sum to zero (money in = money out + money held);
- ``account_balance``: a running balance equals the sum of its account's entries;
- ``negative_balance``: no seller's account, no refunds or fee account below zero;
- ``escrow``: a seller's escrow equals its paid parts not yet completed (less refunds);
- ``clearing``: each channel's clearing account equals refunds paid less payments received;
- ``payment`` / ``refund`` / ``completion``: each succeeded payment, succeeded refund and
  completed part is posted once, for its amount, and nothing else is;
- ``payout``: a payout's ledger steps match its state (sent; settled once it succeeded;
  reversed once it failed or was cancelled);
- ``payout_provider``: WeChat says of an open or recent transfer what we recorded;
- ``trade_bill``: WeChat's daily trade bill, when given, matches the WeChat clearing account.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path

from flask import current_app
from sqlalchemy import String, and_, cast, func, literal, select

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
from models.enums import (
    AccountKind,
    PaymentMethod,
    PaymentStatus,
    PayoutChannel,
    PayoutState,
    RefundState,
    SellerKind,
    ShopOrderStatus,
)
from services import payouts
from services.wechat_gateway import wechat_pay_client
from wechat import errors as wx

log = logging.getLogger(__name__)
_BEIJING = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class Difference:
    invariant: str
    subject: str
    expected: int | str
    got: int | str

    def __str__(self) -> str:
        return f"{self.invariant} {self.subject}: expected {self.expected}, got {self.got}"


def run(*, trade_bill: str | None = None, ask_provider: bool = True) -> list[Difference]:
    found: list[Difference] = []
    found += _transactions_balance()
    found += _running_balances()
    found += _no_negative_balances()
    found += _escrow_matches_open_parts()
    found += _clearing_matches_money()
    found += _events_posted()
    found += _payouts_posted()
    if ask_provider and current_app.config["WECHATPAY_ENABLED"]:
        found += _payouts_match_provider()
    if trade_bill:
        found += check_trade_bill(Path(trade_bill).read_bytes())
    return found


def _sums_by(column, *where):
    return dict(
        db.session.execute(
            select(column, func.coalesce(func.sum(LedgerEntry.amount_fen), 0))
            .select_from(LedgerEntry)
            .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .where(*where)
            .group_by(column)
        ).all()
    )


def _transactions_balance() -> list[Difference]:
    rows = db.session.execute(
        select(LedgerEntry.transaction_id, func.sum(LedgerEntry.amount_fen))
        .group_by(LedgerEntry.transaction_id)
        .having(func.sum(LedgerEntry.amount_fen) != 0)
    ).all()
    found = [Difference("transaction_sum", f"transaction:{t}", 0, int(s)) for t, s in rows]
    total = db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0))) or 0
    if total != 0:
        found.append(Difference("ledger_total", "all", 0, int(total)))
    return found


def _running_balances() -> list[Difference]:
    sums = _sums_by(LedgerAccount.key, LedgerAccount.balance_fen.is_not(None))
    return [
        Difference("account_balance", key, int(sums.get(key, 0)), int(balance or 0))
        for key, balance in db.session.execute(
            select(LedgerAccount.key, LedgerAccount.balance_fen).where(
                LedgerAccount.balance_fen.is_not(None)
            )
        )
        if balance != sums.get(key, 0)
    ]


def _no_negative_balances() -> list[Difference]:
    sums = _sums_by(LedgerAccount.key, LedgerAccount.kind.not_in([AccountKind.CLEARING]))
    return [Difference("negative_balance", k, ">= 0", int(v)) for k, v in sums.items() if v < 0]


def _escrow_matches_open_parts() -> list[Difference]:
    expected = dict(
        db.session.execute(
            select(
                ShopOrder.household_id,
                func.sum(ShopOrder.total_fen - ShopOrder.refunded_fen),
            )
            .join(Order, Order.id == ShopOrder.order_id)
            .where(
                Order.paid_at.is_not(None),
                ShopOrder.status != ShopOrderStatus.COMPLETED,
                ShopOrder.household_id.is_not(None),
            )
            .group_by(ShopOrder.household_id)
        ).all()
    )
    held = _sums_by(
        LedgerAccount.seller_id,
        LedgerAccount.kind == AccountKind.ESCROW,
        LedgerAccount.seller_kind == SellerKind.HOUSEHOLD,
    )
    sellers: set[int] = {h for h in (*expected, *held) if h is not None}
    return [
        Difference("escrow", f"household:{h}", int(expected.get(h, 0)), int(held.get(h, 0)))
        for h in sorted(sellers)
        if expected.get(h, 0) != held.get(h, 0)
    ]


def _clearing_matches_money() -> list[Difference]:
    received = dict(
        db.session.execute(
            select(Payment.method, func.sum(Payment.amount_fen))
            .where(Payment.status == PaymentStatus.SUCCEEDED)
            .group_by(Payment.method)
        ).all()
    )
    returned = dict(
        db.session.execute(
            select(Refund.method, func.sum(Refund.amount_fen))
            .where(Refund.state == RefundState.SUCCEEDED)
            .group_by(Refund.method)
        ).all()
    )
    clearing = _sums_by(LedgerAccount.key, LedgerAccount.kind == AccountKind.CLEARING)
    found = []
    for method in PaymentMethod:
        expected = int(returned.get(method, 0)) - int(received.get(method, 0))
        got = int(clearing.get(f"clearing:{method.value}", 0))
        if expected != got:
            found.append(Difference("clearing", f"clearing:{method.value}", expected, got))
    return found


def _posted(kind_prefix: str) -> dict[str, int]:
    """Each transaction whose cause starts so, with the sum of its positive entries."""
    return {
        cause: int(amount)
        for cause, amount in db.session.execute(
            select(LedgerTransaction.cause, func.sum(LedgerEntry.amount_fen))
            .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
            .where(LedgerTransaction.cause.like(f"{kind_prefix}%"), LedgerEntry.amount_fen > 0)
            .group_by(LedgerTransaction.cause)
        )
    }


def _compare(name: str, expected: dict[str, int], posted: dict[str, int]) -> list[Difference]:
    return [
        Difference(name, cause, expected.get(cause, 0), posted.get(cause, 0))
        for cause in sorted(set(expected) | set(posted))
        if expected.get(cause, 0) != posted.get(cause, 0)
    ]


def _events_posted() -> list[Difference]:
    payments_in = {
        f"payment:{i}": a
        for i, a in db.session.execute(
            select(Payment.id, Payment.amount_fen).where(Payment.status == PaymentStatus.SUCCEEDED)
        )
    }
    refunds_out = {
        f"refund:{i}": a
        for i, a in db.session.execute(
            select(Refund.id, Refund.amount_fen).where(Refund.state == RefundState.SUCCEEDED)
        )
    }
    completed = {
        f"shop_order:{i}:completed": a
        for i, a in db.session.execute(
            select(ShopOrder.id, ShopOrder.total_fen - ShopOrder.refunded_fen).where(
                ShopOrder.status == ShopOrderStatus.COMPLETED
            )
        )
        if a > 0
    }
    return (
        _compare("payment", payments_in, _posted("payment:"))
        + _compare("refund", refunds_out, _posted("refund:"))
        + _compare("completion", completed, _posted("shop_order:"))
    )


def _payouts_posted() -> list[Difference]:
    posted = _posted("payout:")
    found = []
    for payout in db.session.scalars(select(Payout).order_by(Payout.id)):
        steps = {"sent": payout.amount_fen}
        if payout.state == PayoutState.SUCCESS:
            steps["settled"] = payout.amount_fen
        elif payout.state in (PayoutState.FAILED, PayoutState.CANCELLED):
            steps["reversed"] = payout.amount_fen
        for step in ("sent", "settled", "reversed"):
            cause = f"payout:{payout.id}:{step}"
            if steps.get(step, 0) != posted.get(cause, 0):
                found.append(Difference("payout", cause, steps.get(step, 0), posted.get(cause, 0)))
    return found


def _payouts_match_provider(recent: timedelta = timedelta(days=2)) -> list[Difference]:
    """WeChat's word on every transfer still open, and on those that ended lately."""
    since = datetime.now(_BEIJING) - recent
    client = wechat_pay_client()
    found = []
    for payout in db.session.scalars(
        select(Payout)
        .where(
            Payout.channel == PayoutChannel.WECHAT_TRANSFER,
            (Payout.state.in_(payouts.OPEN)) | (Payout.updated_at >= since),
        )
        .order_by(Payout.id)
    ):
        try:
            bill = client.query_transfer_bill(payout.out_bill_no)
            theirs = bill.state
        except wx.PayNotFound:
            theirs = "NOT_FOUND"
        except wx.PayError as exc:
            log.warning("ledger check could not ask about %s: %s", payout.out_bill_no, exc)
            found.append(Difference("payout_provider", payout.out_bill_no, "an answer", "none"))
            continue
        if _agrees(payout.state, theirs):
            continue
        found.append(Difference("payout_provider", payout.out_bill_no, theirs, payout.state.value))
    return found


def _agrees(ours: PayoutState, theirs: str) -> bool:
    if theirs in payouts.PROVIDER_STATES and payouts.PROVIDER_STATES[theirs] in payouts.FINAL:
        return ours == payouts.PROVIDER_STATES[theirs]
    if theirs == "NOT_FOUND":
        # Never reached WeChat (refused, or lost before it): failed, or to be sent again.
        return ours in (PayoutState.FAILED, PayoutState.UNCLEAR, PayoutState.REQUESTED)
    return ours in payouts.OPEN  # on its way there, on its way here


# --- WeChat's daily trade bill -------------------------------------------------------------


def _fen(text: str) -> int | None:
    try:
        return int((Decimal(text) * 100).to_integral_exact())
    except (InvalidOperation, ValueError):
        return None


def parse_trade_bill(raw: bytes) -> list[dict[str, str]]:
    """The rows of a trade bill as WeChat writes it: a header, one line per payment or refund
    with each field prefixed by a backtick, then a summary block (ignored)."""
    text = raw.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return []
    header = [h.strip() for h in rows[0]]
    found = []
    for row in rows[1:]:
        if not row or not row[0].startswith("`"):
            break  # the summary block starts
        found.append(dict(zip(header, (v.strip().lstrip("`") for v in row), strict=False)))
    return found


def check_trade_bill(raw: bytes) -> list[Difference]:
    rows = parse_trade_bill(raw)
    in_bill: dict[str, int] = {}
    days: set[date] = set()
    for row in rows:
        when = row.get("交易时间", "")
        try:
            days.add(datetime.strptime(when, "%Y-%m-%d %H:%M:%S").date())
        except ValueError:
            return [Difference("trade_bill", "file", "WeChat's trade bill format", when or "?")]
        state = row.get("交易状态")
        if state == "SUCCESS":
            amount = _fen(row.get("订单金额") or row.get("应结订单金额", ""))
            key = f"payment:{row.get('微信订单号')}"
        elif state == "REFUND":
            amount = _fen(row.get("申请退款金额") or row.get("退款金额", ""))
            key = f"refund:{row.get('商户退款单号')}"
        else:
            continue
        if amount is None:
            return [Difference("trade_bill", key, "an amount", "none")]
        in_bill[key] = in_bill.get(key, 0) + amount
    return _compare("trade_bill", in_bill, _clearing_on(days))


def _clearing_on(days: set[date]) -> dict[str, int]:
    """What the WeChat clearing account took in and gave back on the bill's days (Beijing),
    keyed as the bill names them: payments by WeChat's transaction id, refunds by our
    refund number."""
    if not days:
        return {}
    start = datetime.combine(min(days), datetime.min.time(), _BEIJING)
    end = datetime.combine(max(days) + timedelta(days=1), datetime.min.time(), _BEIJING)
    found: dict[str, int] = {}
    for model, name, state in (
        (Payment, Payment.external_id, Payment.status == PaymentStatus.SUCCEEDED),
        (Refund, Refund.out_refund_no, Refund.state == RefundState.SUCCEEDED),
    ):
        kind = "payment" if model is Payment else "refund"
        rows = db.session.execute(
            select(name, model.amount_fen)
            .join(
                LedgerTransaction,
                LedgerTransaction.cause == literal(f"{kind}:", String) + cast(model.id, String),
            )
            .where(
                model.method == PaymentMethod.WECHAT,
                state,
                and_(model.succeeded_at >= start, model.succeeded_at < end),
            )
        )
        for key, amount in rows:
            found[f"{kind}:{key}"] = found.get(f"{kind}:{key}", 0) + amount
    return found
