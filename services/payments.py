"""Money in and back out: WeChat Pay (JSAPI prepay, verified notifications, active queries,
refunds), corporate transfers recorded by staff, and the local dev method.

Every way an order becomes paid goes through ``record_paid``: a verified notification, an
active query, a recorded transfer and the dev method alike. It checks what the money says
against the order (merchant, app, amount), marks it paid with one conditional UPDATE (so
duplicate and concurrent notifications change nothing the second time), and records money
for an order that can no longer take it as an anomaly, refunded, never lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from models import Order, Payment, PaymentAnomaly, Refund, ShopOrder, User, db
from models.base import utcnow
from models.enums import (
    OrderStatus,
    PaymentMethod,
    PaymentStatus,
    RefundState,
    RefundStatus,
    Role,
)
from services import (
    audit,
    ledger,
    lifecycle,
    lifecycles,
    notifications,
    shop_order_events,
    units,
)
from services.error_codes import CommonError, PaymentError
from services.wechat_gateway import wechat_pay_client
from wechat import errors as wx

log = logging.getLogger(__name__)

# A prepay is valid for two hours; a new one is asked for a little before that.
PREPAY_LIFETIME = timedelta(minutes=110)


def out_trade_no(order: Order) -> str:
    """The merchant order number WeChat Pay knows the order by: given once, never changed."""
    return f"NJ{order.id:012d}"


def out_refund_no(refund_id: int) -> str:
    return f"NJR{refund_id:012d}"


# --- paying ------------------------------------------------------------------------------------


def pay_order(actor: User, order: Order, *, method: PaymentMethod) -> dict:
    """What the client needs to pay: ``pay_params`` for ``wx.requestPayment``, the payee account
    for a transfer, or nothing for the dev method (the order is paid already)."""
    if order.buyer_id != actor.id and method != PaymentMethod.TRANSFER:
        raise CommonError.FORBIDDEN()  # staff who may see the order do not pay it
    if order.status == OrderStatus.PAID:
        raise PaymentError.ALREADY_PAID()
    lifecycle.check(lifecycles.ORDER, order, "pay")
    if method == PaymentMethod.WECHAT:
        return {"pay_params": _wechat_prepay(actor, order)}
    if method == PaymentMethod.TRANSFER:
        return {"transfer": _announce_transfer(actor, order)}
    if method == PaymentMethod.DEV and current_app.config["DEV_PAYMENTS_ENABLED"]:
        record_paid(
            order.out_trade_no or out_trade_no(order),
            method=PaymentMethod.DEV,
            amount_fen=order.total_fen,
            external_id=f"dev-{order.id}",
        )
        return {}
    raise PaymentError.METHOD_UNAVAILABLE(errors={"method": [method.value]})


def _wechat_prepay(actor: User, order: Order) -> dict:
    if not current_app.config["WECHATPAY_ENABLED"]:
        raise PaymentError.METHOD_UNAVAILABLE(errors={"method": ["wechat"]})
    if not actor.openid:
        raise PaymentError.WECHAT_IDENTITY_REQUIRED()
    # Read only, before WeChat is called: on SQLite a write here would hold the database's
    # write lock through the HTTP call, and every other buyer would wait behind it.
    payment = _find_pending(order, PaymentMethod.WECHAT)
    now = utcnow()
    client = wechat_pay_client()
    if payment is None or payment.prepay_id is None or (payment.prepay_expires_at or now) <= now:
        try:
            # The same out_trade_no with the same amount gives the same prepay: asking again
            # after a lost answer never makes a second charge.
            prepay_id = client.jsapi_prepay(
                out_trade_no=payment_no(order),
                description=_description(order),
                amount_fen=order.total_fen,
                payer_openid=actor.openid,
                notify_url=_notify_url("notify"),
                time_expire=order.expires_at,
            )
        except wx.PayError as exc:
            log.warning("prepay for order %s failed: %s", order.id, exc)
            raise PaymentError.PAYMENT_UNAVAILABLE() from None
        payment = _pending_payment(order, PaymentMethod.WECHAT)
        payment.prepay_id, payment.prepay_expires_at = prepay_id, now + PREPAY_LIFETIME
        payment.payer_openid = actor.openid
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()  # a concurrent request recorded the same prepay
        return client.pay_params(prepay_id)
    return client.pay_params(payment.prepay_id)


def payment_no(order: Order) -> str:
    return order.out_trade_no or out_trade_no(order)


def _find_pending(order: Order, method: PaymentMethod) -> Payment | None:
    return db.session.scalar(
        select(Payment).where(
            Payment.order_id == order.id,
            Payment.method == method,
            Payment.status == PaymentStatus.PENDING,
        )
    )


def _pending_payment(order: Order, method: PaymentMethod) -> Payment:
    payment = _find_pending(order, method)
    if payment is None:
        payment = Payment(order_id=order.id, method=method, amount_fen=order.total_fen)
        db.session.add(payment)
        db.session.flush()
    return payment


def _description(order: Order) -> str:
    first = order.shop_orders[0].lines[0]
    more = sum(len(s.lines) for s in order.shop_orders) - 1
    text = f"{first.title} {first.spec_name}" + (f" 等{more + 1}件" if more else "")
    return text[:120]


def _notify_url(kind: str) -> str:
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}/api/v1/payments/wechat/{kind}"


def _announce_transfer(actor: User, order: Order) -> dict:
    """A unit will pay by corporate transfer: the order waits for it (it does not expire for
    ``TRANSFER_WAIT_DAYS``) and shows where to send the money and what reference to write."""
    if order.unit_id is None:
        raise PaymentError.TRANSFER_FOR_UNITS()
    if not (order.buyer_id == actor.id or units.is_admin(actor, order.unit_id)):
        raise CommonError.FORBIDDEN()
    if not current_app.config["TRANSFER_PAYEE_ACCOUNT"]:
        raise PaymentError.METHOD_UNAVAILABLE(errors={"method": ["未设置收款账户"]})
    if order.transfer_announced_at is None:
        # Conditional: an order the expiry job (or a payment) took meanwhile is not promised
        # seven more days.
        announced = db.session.execute(
            update(Order)
            .where(Order.id == order.id, Order.status == OrderStatus.PENDING_PAYMENT)
            .values(transfer_announced_at=utcnow(), payment_method=PaymentMethod.TRANSFER)
            .execution_options(synchronize_session=False)
        )
        if announced.rowcount != 1:  # type: ignore[attr-defined]
            db.session.rollback()
            raise CommonError.INVALID_STATE(errors={"state": ["closed"], "action": ["pay"]})
        audit.record(actor, "order.announce_transfer", "order", order.id)
        db.session.commit()
        db.session.refresh(order)
    return transfer_instructions(order)


def awaited_transfer(order: Order) -> dict | None:
    """Where to send the money, while the order waits for a unit's announced transfer."""
    waiting = (
        order.payment_method == PaymentMethod.TRANSFER
        and order.status == OrderStatus.PENDING_PAYMENT
    )
    return transfer_instructions(order) if waiting else None


def money_of(orders: list[Order]) -> dict[int, tuple[list[Payment], list[Refund]]]:
    """Each order's payments and refunds, read once for a page of orders."""
    found: dict[int, tuple[list[Payment], list[Refund]]] = {o.id: ([], []) for o in orders}
    if found:
        for payment in db.session.scalars(
            select(Payment).where(Payment.order_id.in_(found)).order_by(Payment.id)
        ):
            found[payment.order_id][0].append(payment)
        for refund in db.session.scalars(
            select(Refund).where(Refund.order_id.in_(found)).order_by(Refund.id)
        ):
            found[refund.order_id][1].append(refund)
    return found


def transfer_instructions(order: Order) -> dict:
    cfg = current_app.config
    wait = timedelta(days=cfg["TRANSFER_WAIT_DAYS"])
    return {
        "payee_name": cfg["TRANSFER_PAYEE_NAME"],
        "payee_bank": cfg["TRANSFER_PAYEE_BANK"],
        "payee_account": cfg["TRANSFER_PAYEE_ACCOUNT"],
        "amount_fen": order.total_fen,
        "reference": payment_no(order),
        "wait_until": (order.transfer_announced_at or utcnow()) + wait,
    }


def record_transfer(actor: User, order: Order, *, bank_reference: str, amount_fen: int) -> Order:
    """County staff saw the unit's transfer arrive: the order is paid (the amount must match)."""
    if order.unit_id is None:
        raise PaymentError.TRANSFER_FOR_UNITS()
    if order.status == OrderStatus.PAID:
        raise PaymentError.ALREADY_PAID()
    lifecycle.check(lifecycles.ORDER, order, "pay")
    if amount_fen != order.total_fen:
        raise PaymentError.TRANSFER_AMOUNT_MISMATCH(
            errors={"amount_fen": [f"订单金额为 {order.total_fen} 分"]}
        )
    record_paid(
        payment_no(order),
        method=PaymentMethod.TRANSFER,
        amount_fen=amount_fen,
        external_id=bank_reference,
        recorded_by=actor,
    )
    db.session.refresh(order)
    return order


# --- the one way an order becomes paid ----------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    changed: bool  # False: a duplicate, or an anomaly recorded
    anomaly: str | None = None


def record_paid(
    trade_no: str,
    *,
    method: PaymentMethod,
    amount_fen: int,
    external_id: str,
    payer_openid: str | None = None,
    paid_at: datetime | None = None,
    recorded_by: User | None = None,
) -> Outcome:
    """Mark the order paid, once; commits. Money that does not fit is recorded, not applied."""
    order = db.session.scalar(select(Order).where(Order.out_trade_no == trade_no))
    if order is None:
        return _anomaly("unknown_order", None, trade_no, external_id=external_id)
    if amount_fen != order.total_fen:
        return _anomaly(
            "amount_mismatch", order, trade_no, paid=amount_fen, expected=order.total_fen
        )
    if _recorded(order.id, method, external_id):
        return Outcome(changed=False)  # the same money, told again
    now = paid_at or utcnow()
    moved = db.session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == OrderStatus.PENDING_PAYMENT)
        .values(status=OrderStatus.PAID, paid_at=now, payment_method=method, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        # The order moved first. Asked again now, after the winner's commit (SQLite: this
        # UPDATE took the write lock; PostgreSQL: it waited on the row lock): the same money
        # told twice at once is a duplicate, and changes nothing.
        if _recorded(order.id, method, external_id):
            db.session.rollback()
            return Outcome(changed=False)
        return _money_for_a_closed_order(order, trade_no, method, amount_fen, external_id, now)
    payment = _pending_payment(order, method)
    payment.status, payment.succeeded_at = PaymentStatus.SUCCEEDED, now
    payment.external_id, payment.amount_fen = external_id, amount_fen
    payment.payer_openid = payer_openid or payment.payer_openid
    payment.recorded_by_id = recorded_by.id if recorded_by else None
    db.session.refresh(order)
    accept_by = now + timedelta(hours=current_app.config["ACCEPT_WITHIN_HOURS"])
    for shop_order in order.shop_orders:
        lifecycle.apply(lifecycles.SHOP_ORDER, shop_order, "pay", actor=recorded_by)
        shop_order.accept_by = accept_by
    audit.record(
        recorded_by, "order.pay", "order", order.id, method=method.value, amount_fen=amount_fen
    )
    try:
        db.session.flush()
        ledger.payment_received(order, payment)
        db.session.commit()
    except IntegrityError:
        # The unique index on succeeded payments: the same money, recorded concurrently.
        db.session.rollback()
        return Outcome(changed=False)
    for shop_order in order.shop_orders:
        notifications.notify_new_shop_order(shop_order)
    return Outcome(changed=True)


def _recorded(order_id: int, method: PaymentMethod, external_id: str) -> bool:
    return (
        db.session.scalar(
            select(Payment.id).where(
                Payment.order_id == order_id,
                Payment.method == method,
                Payment.status == PaymentStatus.SUCCEEDED,
                Payment.external_id == external_id,
            )
        )
        is not None
    )


def _money_for_a_closed_order(order, trade_no, method, amount_fen, external_id, now) -> Outcome:
    """Money arrived for an order that was cancelled, had expired, or was paid another way:
    recorded, and sent back; staff see why."""
    db.session.refresh(order)
    kind = "double_payment" if order.status == OrderStatus.PAID else "paid_after_close"
    payment = Payment(
        order_id=order.id,
        method=method,
        amount_fen=amount_fen,
        status=PaymentStatus.SUCCEEDED,
        external_id=external_id,
        succeeded_at=now,
    )
    db.session.add(payment)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return Outcome(changed=False)  # recorded by a concurrent twin
    ledger.surplus_received(order, payment)
    db.session.add(_anomaly_row(kind, order, trade_no, status=order.status))
    _refund(order, None, amount_fen, method, reason="订单已关闭，退回款项")
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return Outcome(changed=False)  # recorded by a concurrent twin
    send_pending_refunds(order)
    return Outcome(changed=False, anomaly=kind)


def _anomaly_row(kind: str, order: Order | None, trade_no: str | None, **detail) -> PaymentAnomaly:
    log.warning("payment anomaly %s on %s: %s", kind, trade_no, detail)
    return PaymentAnomaly(
        kind=kind,
        order_id=order.id if order else None,
        out_trade_no=trade_no,
        detail={k: str(v) for k, v in detail.items()},
    )


def _anomaly(kind: str, order: Order | None, trade_no: str | None, **detail) -> Outcome:
    db.session.add(_anomaly_row(kind, order, trade_no, **detail))
    db.session.commit()
    return Outcome(changed=False, anomaly=kind)


# --- asking WeChat -------------------------------------------------------------------------------


def check_payment(order: Order) -> Order:
    """The buyer came back without a notification having arrived: ask WeChat."""
    if order.status == OrderStatus.PENDING_PAYMENT and _has_wechat_prepay(order):
        if not settle_before_release(order, close=False):
            raise PaymentError.PAYMENT_UNAVAILABLE()
        db.session.refresh(order)
    return order


def _has_wechat_prepay(order: Order) -> bool:
    return (
        db.session.scalar(
            select(Payment.id).where(
                Payment.order_id == order.id,
                Payment.method == PaymentMethod.WECHAT,
                Payment.prepay_id.is_not(None),
            )
        )
        is not None
    )


def settle_before_release(order: Order, *, close: bool = True) -> bool:
    """Before stock goes back: if WeChat may hold money for the order, ask. Paid → recorded
    (the order is then paid); not paid → the WeChat order is closed so it cannot be paid later.
    False when WeChat cannot answer now (the caller leaves the order for later)."""
    if not _has_wechat_prepay(order) or not current_app.config["WECHATPAY_ENABLED"]:
        return True
    client = wechat_pay_client()
    trade_no = payment_no(order)
    try:
        transaction = client.query_transaction(trade_no)
    except wx.PayNotFound:
        return True  # never reached WeChat: nothing to settle
    except wx.PayError as exc:
        log.warning("query of %s failed: %s", trade_no, exc)
        return False
    if transaction.trade_state in ("SUCCESS", "REFUND"):
        apply_transaction(transaction)
        db.session.refresh(order)
        return True
    if close and transaction.trade_state in ("NOTPAY", "USERPAYING", "PAYERROR"):
        try:
            client.close_transaction(trade_no)
        except wx.PayError as exc:
            log.warning("closing %s failed: %s", trade_no, exc)
            return False
    return True


def apply_transaction(transaction) -> Outcome:
    """A verified WeChat transaction (from a notification or a query) applied to its order."""
    cfg = current_app.config
    if transaction.mchid != cfg["WECHATPAY_MCHID"] or transaction.appid != cfg["WECHAT_APPID"]:
        order = db.session.scalar(
            select(Order).where(Order.out_trade_no == transaction.out_trade_no)
        )
        return _anomaly(
            "wrong_merchant",
            order,
            transaction.out_trade_no,
            mchid=transaction.mchid,
            appid=transaction.appid,
        )
    if transaction.trade_state not in ("SUCCESS", "REFUND"):
        return Outcome(changed=False)
    return record_paid(
        transaction.out_trade_no,
        method=PaymentMethod.WECHAT,
        amount_fen=transaction.amount_total_fen,
        external_id=transaction.transaction_id,
        payer_openid=transaction.payer_openid,
        paid_at=transaction.success_time,
    )


# --- refunds -------------------------------------------------------------------------------------


def refund_order(order: Order, *, reason: str) -> None:
    """Every paid ShopOrder of a cancelled order gets its refund (in the caller's transaction;
    ``send_pending_refunds`` asks WeChat after the commit)."""
    method = _paid_method(order)
    for shop_order in order.shop_orders:
        if _claim_refund(shop_order):
            _refund(order, shop_order, shop_order.total_fen, method, reason=reason)


def refund_shop_order(shop_order: ShopOrder, *, reason: str) -> Refund | None:
    """Exactly one ShopOrder's part back, once, in the caller's transaction. The caller has
    already moved the ShopOrder (rejected, failed, cancelled) with its conditional UPDATE; a
    part whose refund was already claimed is refused and the caller's transaction undone."""
    order = shop_order.order
    if order.status != OrderStatus.PAID or not _claim_refund(shop_order):
        raise CommonError.INVALID_STATE(errors={"refund_status": [shop_order.refund_status]})
    return _refund(order, shop_order, shop_order.total_fen, _paid_method(order), reason=reason)


def _claim_refund(shop_order: ShopOrder) -> bool:
    """Take the ShopOrder's refund with one conditional UPDATE: of concurrent callers (a cancel
    and a rejection), exactly one refunds it."""
    claimed = db.session.execute(
        update(ShopOrder)
        .where(ShopOrder.id == shop_order.id, ShopOrder.refund_status == RefundStatus.NONE)
        .values(refund_status=RefundStatus.PENDING)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(shop_order, ["refund_status"])
    return claimed.rowcount == 1  # type: ignore[attr-defined]


def _paid_method(order: Order) -> PaymentMethod:
    """How the order's money came in: the succeeded payment says, not the method last asked
    for (a buyer may have asked for WeChat, then the unit paid by transfer)."""
    method = db.session.scalar(
        select(Payment.method)
        .where(Payment.order_id == order.id, Payment.status == PaymentStatus.SUCCEEDED)
        .order_by(Payment.id)
    )
    return method or order.payment_method or PaymentMethod.WECHAT


def _refund(order, shop_order, amount_fen, method, *, reason) -> Refund | None:
    """A refund row (pending), unless it would send back more than came in: then an anomaly."""
    paid = db.session.scalar(
        select(func.coalesce(func.sum(Payment.amount_fen), 0)).where(
            Payment.order_id == order.id, Payment.status == PaymentStatus.SUCCEEDED
        )
    )
    owed = db.session.scalar(
        select(func.coalesce(func.sum(Refund.amount_fen), 0)).where(
            Refund.order_id == order.id, Refund.state != RefundState.FAILED
        )
    )
    if (owed or 0) + amount_fen > (paid or 0):
        db.session.add(
            _anomaly_row("refund_exceeds_payment", order, order.out_trade_no, asked=amount_fen)
        )
        return None
    refund = Refund(
        order_id=order.id,
        shop_order_id=shop_order.id if shop_order else None,
        out_refund_no="pending",
        method=method or PaymentMethod.WECHAT,
        amount_fen=amount_fen,
        reason=reason[:80],
    )
    db.session.add(refund)
    db.session.flush()
    refund.out_refund_no = out_refund_no(refund.id)
    order.refund_status = RefundStatus.PENDING
    audit.record(None, "refund.create", "order", order.id, amount_fen=amount_fen, reason=reason)
    return refund


def send_pending_refunds(order: Order) -> None:
    """Ask WeChat for each pending refund of the order (after the commit that created them).
    An unclear answer leaves the refund pending with the same number, to be asked again."""
    pending = db.session.scalars(
        select(Refund).where(Refund.order_id == order.id, Refund.state == RefundState.PENDING)
    ).all()
    for refund in pending:
        if refund.method == PaymentMethod.DEV:
            mark_refunded(refund.out_refund_no, external_id=f"dev-{refund.id}")
        elif refund.method == PaymentMethod.WECHAT and current_app.config["WECHATPAY_ENABLED"]:
            _send_wechat_refund(order, refund)
        # Transfers go back by bank: staff handle them (the refund stays visible as pending).


def _send_wechat_refund(order: Order, refund: Refund) -> None:
    client = wechat_pay_client()
    try:
        answer = client.refund(
            out_trade_no=payment_no(order),
            out_refund_no=refund.out_refund_no,
            refund_fen=refund.amount_fen,
            total_fen=order.total_fen,
            reason=refund.reason,
            notify_url=_notify_url("refund-notify"),
        )
    except wx.PayError as exc:
        log.warning("refund %s not confirmed yet: %s", refund.out_refund_no, exc)
        return
    refund.external_id = answer.refund_id
    db.session.commit()
    if answer.status == "SUCCESS":
        mark_refunded(refund.out_refund_no, external_id=answer.refund_id)


def mark_refunded(refund_no: str, *, external_id: str | None, failed: bool = False) -> Outcome:
    """A refund confirmed (or refused) by WeChat, by notification or query; once."""
    refund = db.session.scalar(select(Refund).where(Refund.out_refund_no == refund_no))
    if refund is None:
        return _anomaly("unknown_refund", None, None, out_refund_no=refund_no)
    target = RefundState.FAILED if failed else RefundState.SUCCEEDED
    moved = db.session.execute(
        update(Refund)
        .where(Refund.id == refund.id, Refund.state == RefundState.PENDING)
        .values(
            state=target,
            external_id=external_id,
            succeeded_at=None if failed else utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return Outcome(changed=False)
    order = db.session.get(Order, refund.order_id)
    assert order is not None  # a refund belongs to an order, which is never deleted
    if failed:
        db.session.add(_anomaly_row("refund_failed", order, order.out_trade_no, refund=refund_no))
    else:
        _settle_refund_status(order, refund)
        ledger.refund_paid(refund, order)
    audit.record(None, f"refund.{target.value}", "order", order.id, out_refund_no=refund_no)
    db.session.commit()
    if not failed:
        notifications.notify_refund(refund)
    return Outcome(changed=True)


def _settle_refund_status(order: Order, refund: Refund) -> None:
    """Count the money back on the ShopOrder and the order (the refund moved to succeeded by
    one conditional UPDATE, so this runs once per refund). Money paid twice for an order that
    stands is given back without counting against what the order cost."""
    surplus = refund.shop_order_id is None and order.status == OrderStatus.PAID
    if not surplus:
        db.session.execute(
            update(Order)
            .where(Order.id == order.id)
            .values(refunded_fen=Order.refunded_fen + refund.amount_fen)
            .execution_options(synchronize_session=False)
        )
        db.session.refresh(order, ["refunded_fen"])
    if refund.shop_order_id is not None:
        shop_order = db.session.get(ShopOrder, refund.shop_order_id)
        if shop_order is not None:
            shop_order.refund_status = RefundStatus.REFUNDED
            shop_order.refunded_fen += refund.amount_fen
            shop_order_events.record(
                shop_order,
                "refunded",
                actor=None,
                data={"amount_fen": refund.amount_fen, "out_refund_no": refund.out_refund_no},
            )
    # A failed refund is staff's to follow up, and keeps the order pending.
    unfinished = db.session.scalar(
        select(Refund.id).where(
            Refund.order_id == order.id,
            Refund.state != RefundState.SUCCEEDED,
            Refund.id != refund.id,
        )
    )
    if unfinished is not None:
        order.refund_status = RefundStatus.PENDING
    elif order.refunded_fen == 0:
        order.refund_status = RefundStatus.NONE
    elif order.refunded_fen >= order.total_fen:
        order.refund_status = RefundStatus.REFUNDED
    else:
        order.refund_status = RefundStatus.PARTIAL


def record_bank_refund(actor: User, order: Order, refund_id: int, *, bank_reference: str) -> Order:
    """County staff sent a transfer-paid order's refund back to the unit by bank: recorded
    with the bank's reference (once; the same reference again answers the same)."""
    refund = db.session.get(Refund, refund_id)
    if refund is None or refund.order_id != order.id:
        raise CommonError.NOT_FOUND()
    if refund.method != PaymentMethod.TRANSFER:
        # WeChat's refunds are WeChat's to confirm.
        raise CommonError.INVALID_STATE(errors={"method": [refund.method.value]})
    if refund.state == RefundState.SUCCEEDED and refund.external_id == bank_reference:
        return order
    if refund.state != RefundState.PENDING:
        raise CommonError.INVALID_STATE(errors={"state": [refund.state.value]})
    audit.record(actor, "refund.record_bank", "order", order.id, refund_id=refund.id)
    if not mark_refunded(refund.out_refund_no, external_id=bank_reference).changed:
        raise CommonError.INVALID_STATE(errors={"state": ["changed"]})
    db.session.refresh(order)
    return order


def retry_pending_refunds(*, older_than: timedelta = timedelta(minutes=5)) -> int:
    """``flask payments refunds``: send again (same numbers) refunds left pending."""
    cutoff = utcnow() - older_than
    order_ids = db.session.scalars(
        select(Refund.order_id)
        .where(Refund.state == RefundState.PENDING, Refund.created_at <= cutoff)
        .distinct()
    ).all()
    for order_id in order_ids:
        order = db.session.get(Order, order_id)
        if order is not None:
            send_pending_refunds(order)
    return len(order_ids)


def anomalies_for(actor: User, limit: int = 200) -> list[PaymentAnomaly]:
    """Unresolved anomalies, newest first: of orders in the staff member's counties, and those
    no order explains (every county's staff see these; a platform admin sees all)."""
    query = select(PaymentAnomaly).where(PaymentAnomaly.resolved_at.is_(None))
    if not actor.has_role(Role.PLATFORM_ADMIN):
        counties = select(ShopOrder.order_id).where(
            ShopOrder.county_code.in_(actor.staff_county_codes)
        )
        query = query.where(
            or_(PaymentAnomaly.order_id.is_(None), PaymentAnomaly.order_id.in_(counties))
        )
    return list(db.session.scalars(query.order_by(PaymentAnomaly.id.desc()).limit(limit)))


# --- notifications -------------------------------------------------------------------------------


def handle_wechat_notification(headers: dict, body: bytes) -> Outcome:
    """A WeChat Pay notification: verified (signature, key id, time) and decrypted by the
    client, which raises ``NotificationRejected`` otherwise; then applied once."""
    if not current_app.config["WECHATPAY_ENABLED"]:
        # Nothing can be verified without the keys: refused like any unverifiable message.
        raise wx.NotificationRejected("bad_signature", "WeChat Pay is not enabled here")
    notification = wechat_pay_client().verify_notification(headers, body)
    if notification.transaction is not None:
        return apply_transaction(notification.transaction)
    if notification.refund is not None:
        refund = notification.refund
        return mark_refunded(
            refund.out_refund_no, external_id=refund.refund_id, failed=refund.status != "SUCCESS"
        )
    log.info("WeChat Pay notification %s ignored", notification.event_type)
    return Outcome(changed=False)
