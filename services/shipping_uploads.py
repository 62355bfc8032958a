"""WeChat's shipping information for a payment (upload_shipping_info, wechat.md §4.8).

A trading mini-program's money stays frozen until WeChat knows how the goods left, and WeChat
takes that once per payment. So an order paid through WeChat gets one ``ShippingUpload`` when
its last part ships (or is refunded away with at least one part shipped): ``prepare`` makes it
in the shipping act's transaction, ``send`` tells WeChat after the commit, and
``retry_pending`` (``flask fulfilment retry-shipping-uploads``) sends what is still pending.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import current_app
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from models import Order, Payment, Shipment, ShippingUpload, ShopOrder, User, db
from models.base import utcnow
from models.enums import (
    PaymentMethod,
    PaymentStatus,
    ShipMethod,
    ShippingUploadStatus,
    ShopOrderStatus,
)
from services import access, cursors, payments
from services.pii import mask_phone
from services.wechat_gateway import wechat_client
from wechat.client import SHIPPING_ALREADY_UPLOADED
from wechat.errors import WeChatError

log = logging.getLogger(__name__)

SHIPPED = frozenset({ShopOrderStatus.SHIPPED, ShopOrderStatus.DELIVERED, ShopOrderStatus.COMPLETED})
# Parts that will never ship: their money went (or goes) back.
REFUNDED_AWAY = frozenset(
    {ShopOrderStatus.REJECTED, ShopOrderStatus.INSPECTION_FAILED, ShopOrderStatus.CANCELLED}
)
DONE = SHIPPED | REFUNDED_AWAY

# upload_shipping_info's enumerations and limits.
BY_MCH_ORDER_NO, BY_TRANSACTION_ID = 1, 2
LOGISTICS_EXPRESS, LOGISTICS_PICKUP = 1, 4
UNIFIED_DELIVERY, SPLIT_DELIVERY = 1, 2
MAX_SHIPPING_ITEMS = 15
ITEM_DESC_MAX = 120
# 顺丰 refuses a parcel without a (masked) contact.
CARRIERS_NEEDING_CONTACT = frozenset({"SF"})
BEIJING = timezone(timedelta(hours=8))
# An order the sweep may take: nothing changed on it for this long (an act in progress
# prepares its own upload).
SWEEP_QUIET = timedelta(minutes=1)
SWEEP_BATCH = 200


class _CannotUpload(Exception):
    """The order lacks what WeChat needs (no payer openid, no parcel): recorded on the row."""


# --- in the shipping act's transaction ----------------------------------------------------------


def prepare(order: Order) -> ShippingUpload | None:
    """The order's pending upload, made once when it is due: the order was paid through
    WeChat, none of its ShopOrders still waits to ship and at least one shipped. Called in the
    caller's transaction whenever a part ships or is refunded away; never commits. A second
    call returns the row the first made and changes nothing; None while nothing is due."""
    statuses = [shop_order.status for shop_order in order.shop_orders]
    if not statuses or not set(statuses) <= DONE or not set(statuses) & SHIPPED:
        return None
    existing = db.session.scalar(select(ShippingUpload).where(ShippingUpload.order_id == order.id))
    if existing is not None:
        return existing
    if _wechat_payment(order.id) is None:
        return None  # paid by transfer or the dev method: WeChat holds no money of it
    upload = ShippingUpload(order_id=order.id)
    db.session.add(upload)
    db.session.flush()
    return upload


# --- after the commit ---------------------------------------------------------------------------


def send(upload_id: int) -> bool:
    """Tell WeChat, after the commit: True once WeChat has it (now or before). A failure is
    recorded on the row (attempts, last_error) and left pending for ``retry_pending``; nothing
    is raised. Without WeChat Pay (local development) nothing is sent or marked."""
    try:
        return _send(upload_id)
    except Exception:
        log.exception("shipping upload %s failed", upload_id)
        db.session.rollback()
        return False


def _send(upload_id: int) -> bool:
    if not current_app.config["WECHATPAY_ENABLED"]:
        return False
    upload = db.session.get(ShippingUpload, upload_id)
    if upload is None:
        return False
    if upload.status == ShippingUploadStatus.UPLOADED:
        return True
    order = db.session.get(Order, upload.order_id)
    assert order is not None  # an upload belongs to an order, which is never deleted
    try:
        body = shipping_body(order)
    except _CannotUpload as exc:
        log.warning("shipping upload %s for order %s: %s", upload_id, order.id, exc)
        _record_failure(upload_id, str(exc))
        return False
    # Nothing is written before the call: on SQLite a write here would hold the database's
    # write lock while WeChat answers.
    try:
        wechat_client().upload_shipping_info(body)
    except WeChatError as exc:
        if exc.errcode in SHIPPING_ALREADY_UPLOADED:
            log.info("shipping upload %s: WeChat has it already (%s)", upload_id, exc.errcode)
            _record_success(upload_id)
            return True
        log.warning("shipping upload %s for order %s failed: %s", upload_id, order.id, exc)
        _record_failure(upload_id, str(exc))
        return False
    _record_success(upload_id)
    return True


def _record_success(upload_id: int) -> None:
    now = utcnow()
    _update_pending(
        upload_id,
        status=ShippingUploadStatus.UPLOADED,
        uploaded_at=now,
        last_attempt_at=now,
        last_error="",
    )


def _record_failure(upload_id: int, error: str) -> None:
    # WeChat's errcode and errmsg, or our own reason: no request parameters, so no secrets.
    _update_pending(
        upload_id,
        attempts=ShippingUpload.attempts + 1,
        last_error=error[:200],
        last_attempt_at=utcnow(),
    )


def _update_pending(upload_id: int, **values: Any) -> None:
    """One conditional UPDATE: concurrent senders count every attempt, and an upload marked
    uploaded stays so."""
    db.session.execute(
        update(ShippingUpload)
        .where(
            ShippingUpload.id == upload_id,
            ShippingUpload.status == ShippingUploadStatus.PENDING,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def shipping_body(order: Order, *, now: datetime | None = None) -> dict[str, Any]:
    """upload_shipping_info's body for the order: its payment, the buyer who paid and one item
    per parcel (pickups folded into one item when nothing went by carrier)."""
    payment = _wechat_payment(order.id)
    if payment is None:
        raise _CannotUpload("订单没有微信支付记录")
    openid = payment.payer_openid or _buyer_openid(order)
    if not openid:
        raise _CannotUpload("不知道付款人的 openid")
    if payment.external_id:
        order_key: dict[str, Any] = {
            "order_number_type": BY_TRANSACTION_ID,
            "transaction_id": payment.external_id,
        }
    else:
        order_key = {
            "order_number_type": BY_MCH_ORDER_NO,
            "mchid": current_app.config["WECHATPAY_MCHID"],
            "out_trade_no": payments.payment_no(order),
        }
    parcels = _parcels(order)
    if not parcels:
        raise _CannotUpload("订单没有发货记录")
    express = [(s, titles) for s, titles in parcels if s.method != ShipMethod.PICKUP]
    body: dict[str, Any] = {"order_key": order_key}
    if not express:
        # WeChat splits only parcels sent by carrier: every pickup is one unified item.
        titles = [t for _, shipment_titles in parcels for t in shipment_titles]
        body |= {
            "logistics_type": LOGISTICS_PICKUP,
            "delivery_mode": UNIFIED_DELIVERY,
            "shipping_list": [{"item_desc": _item_desc(titles)}],
        }
    else:
        if len(express) < len(parcels):
            # Carrier shipping needs a tracking number on every item; the pickups have none.
            log.info("order %s: counter pickups left out of WeChat's parcel list", order.id)
        if len(express) > MAX_SHIPPING_ITEMS:
            log.warning(
                "order %s has %s parcels; WeChat takes the first %s",
                order.id,
                len(express),
                MAX_SHIPPING_ITEMS,
            )
            express = express[:MAX_SHIPPING_ITEMS]
        items = [_express_item(order, shipment, titles) for shipment, titles in express]
        body["logistics_type"] = LOGISTICS_EXPRESS
        if len(items) == 1:
            body["delivery_mode"] = UNIFIED_DELIVERY
        else:
            body |= {"delivery_mode": SPLIT_DELIVERY, "is_all_delivered": True}
        body["shipping_list"] = items
    moment = (now or utcnow()).astimezone(BEIJING)
    body["upload_time"] = moment.isoformat(timespec="milliseconds")
    body["payer"] = {"openid": openid}
    return body


def _parcels(order: Order) -> list[tuple[Shipment, list[str]]]:
    """The order's shipments, oldest first, each with the titles of the lines it carried."""
    titles: dict[int, list[str]] = {}
    for shop_order in order.shop_orders:
        if shop_order.status in SHIPPED and shop_order.shipment_id is not None:
            carried = titles.setdefault(shop_order.shipment_id, [])
            carried += [line.title for line in shop_order.lines]
    if not titles:
        return []
    shipments = db.session.scalars(
        select(Shipment).where(Shipment.id.in_(list(titles))).order_by(Shipment.id)
    )
    return [(shipment, titles[shipment.id]) for shipment in shipments]


def _express_item(order: Order, shipment: Shipment, titles: list[str]) -> dict[str, Any]:
    item: dict[str, Any] = {
        "tracking_no": shipment.tracking_no,
        "express_company": shipment.carrier,
        "item_desc": _item_desc(titles),
    }
    phone = mask_phone((order.address or {}).get("phone"))
    if shipment.carrier in CARRIERS_NEEDING_CONTACT and phone:
        item["contact"] = {"receiver_contact": phone}
    return item


def _item_desc(titles: list[str]) -> str:
    text = "、".join(dict.fromkeys(titles))  # each title once, in order
    return text if len(text) <= ITEM_DESC_MAX else text[: ITEM_DESC_MAX - 1] + "…"


def _wechat_payment(order_id: int) -> Payment | None:
    return db.session.scalar(
        select(Payment)
        .where(
            Payment.order_id == order_id,
            Payment.method == PaymentMethod.WECHAT,
            Payment.status == PaymentStatus.SUCCEEDED,
        )
        .order_by(Payment.id.desc())
        .limit(1)
    )


def _buyer_openid(order: Order) -> str | None:
    buyer = db.session.get(User, order.buyer_id)
    return buyer.openid if buyer is not None else None


# --- the job ------------------------------------------------------------------------------------


def retry_pending(*, older_than: timedelta = timedelta(minutes=1)) -> int:
    """Send every upload still pending whose last attempt (or making) is older than
    ``older_than``, after making those a missed act should have made; the number sent."""
    if not current_app.config["WECHATPAY_ENABLED"]:
        return 0
    _prepare_missed()
    cutoff = utcnow() - older_than
    upload_ids = db.session.scalars(
        select(ShippingUpload.id)
        .where(
            ShippingUpload.status == ShippingUploadStatus.PENDING,
            or_(
                ShippingUpload.last_attempt_at <= cutoff,
                and_(
                    ShippingUpload.last_attempt_at.is_(None),
                    ShippingUpload.created_at <= cutoff,
                ),
            ),
        )
        .order_by(ShippingUpload.id)
    ).all()
    for upload_id in upload_ids:
        send(upload_id)
    return len(upload_ids)


def _prepare_missed() -> None:
    """Uploads that are due but were never made: two parts of one order shipped in concurrent
    acts each saw the other still waiting. Only orders left alone for ``SWEEP_QUIET``."""
    quiet = utcnow() - SWEEP_QUIET

    def parts(*conditions):
        return select(ShopOrder.id).where(ShopOrder.order_id == Order.id, *conditions).exists()

    paid_by_wechat = (
        select(Payment.id)
        .where(
            Payment.order_id == Order.id,
            Payment.method == PaymentMethod.WECHAT,
            Payment.status == PaymentStatus.SUCCEEDED,
        )
        .exists()
    )
    made = select(ShippingUpload.id).where(ShippingUpload.order_id == Order.id).exists()
    due = db.session.scalars(
        select(Order)
        .where(
            paid_by_wechat,
            ~made,
            parts(ShopOrder.status.in_(SHIPPED)),
            ~parts(ShopOrder.status.not_in(DONE)),
            ~parts(ShopOrder.updated_at > quiet),
        )
        .order_by(Order.id)
        .limit(SWEEP_BATCH)
    ).all()
    for order in due:
        if prepare(order) is None:
            continue
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()  # an act made it meanwhile
        else:
            log.warning("order %s: shipping upload made by the sweep", order.id)


# --- staff --------------------------------------------------------------------------------------


def list_uploads(
    actor: User,
    *,
    status: ShippingUploadStatus | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> tuple[list[ShippingUpload], str | None]:
    """Uploads of orders with a ShopOrder in the staff member's counties (all, for a platform
    admin), newest first, optionally of one status, and the next page's cursor."""
    query = select(ShippingUpload)
    if not access.is_platform_admin(actor):
        counties = actor.staff_county_codes
        if not counties:
            return [], None
        in_county = select(ShopOrder.order_id).where(ShopOrder.county_code.in_(counties))
        query = query.where(ShippingUpload.order_id.in_(in_county))
    if status is not None:
        query = query.where(ShippingUpload.status == status)
    return cursors.page_by_id(
        query, ShippingUpload.id, limit=limit, cursor=cursor, marker="shipping_uploads"
    )
