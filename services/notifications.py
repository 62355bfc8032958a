"""Telling people what happened to their orders: best effort, always after the commit.

Households hear of a new ShopOrder, buyers of their parcel leaving and of money coming back.
``NOTIFICATIONS_BACKEND`` chooses how: ``log`` (one INFO line per message, ids only: local
development and tests) or ``wechat`` (one-time subscribe messages, wechat.md §3). Nothing here
raises: a message that cannot go is logged, and the act that caused it stands.

Recipients and message data are read in the caller's thread (after its commit); the WeChat
calls themselves go to a small pool of sender threads, so an act never waits on WeChat: a
payment notification must be answered within 5 s whatever the number of households to tell.
A message lost with its process is acceptable for these reminders: the order itself shows
everything they say.

The data keys below are the keywords of the templates chosen in the mini-program console
(``WECHAT_TMPL_*``); a template with other keywords needs its keys changed here.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from models import Order, Refund, RoleGrant, Shipment, ShopOrder, User, db
from models.enums import Role, ShipMethod
from services import payments
from services.wechat_gateway import wechat_client
from wechat.client import subscribe_amount
from wechat.errors import WeChatError

log = logging.getLogger(__name__)

_SENDERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="notify")
_in_flight: set[Future] = set()
_in_flight_lock = threading.Lock()

# Mini-program pages the messages open.
BUYER_ORDER_PAGE = "pages/order/detail?id={order_id}"
SELLER_ORDER_PAGE = "pages/shop-order/detail?id={shop_order_id}"

# WeChat delivery_id → the name a buyer knows (the carriers the county stations use most).
CARRIER_NAMES = {
    "SF": "顺丰速运",
    "YTO": "圆通速递",
    "ZTO": "中通快递",
    "STO": "申通快递",
    "YUNDA": "韵达快递",
    "EMS": "中国邮政EMS",
    "JD": "京东快递",
    "JTSD": "极兔速递",
    "DB": "德邦快递",
}


def _best_effort(notify: Callable[..., None]) -> Callable[..., None]:
    """Whatever goes wrong in a notification is logged, never raised to the act that sent it."""

    @functools.wraps(notify)
    def wrapper(*args, **kwargs) -> None:
        try:
            notify(*args, **kwargs)
        except Exception as exc:
            log.exception("notification %s failed", notify.__name__)
            if isinstance(exc, SQLAlchemyError):
                db.session.rollback()  # after the commit: only this read is lost

    return wrapper


@_best_effort
def notify_new_shop_order(shop_order: ShopOrder) -> None:
    """Every member of the selling household: a paid order waits for them."""
    if shop_order.household_id is None:
        return
    order = shop_order.order
    first = shop_order.lines[0].title if shop_order.lines else ""
    more = len(shop_order.lines) - 1
    data = {
        "character_string1": payments.payment_no(order),
        "thing2": f"{first} 等{more + 1}件" if more else first,
        "amount3": subscribe_amount(shop_order.total_fen),
    }
    members = db.session.scalars(
        select(User)
        .join(RoleGrant, RoleGrant.user_id == User.id)
        .where(
            RoleGrant.role == Role.FARMER,
            RoleGrant.household_id == shop_order.household_id,
            User.openid.is_not(None),
            User.is_active.is_(True),
        )
        .distinct()
        .order_by(User.id)
    )
    page = SELLER_ORDER_PAGE.format(shop_order_id=shop_order.id)
    for user in members:
        _send(
            "new_shop_order",
            user,
            template="WECHAT_TMPL_NEW_SHOP_ORDER",
            data=data,
            page=page,
            about=f"shop_order {shop_order.id}",
        )


@_best_effort
def notify_shipped(shop_order: ShopOrder) -> None:
    """The buyer: their part left (carrier and tracking number), or waits at a counter."""
    order = shop_order.order
    shipment = db.session.get(Shipment, shop_order.shipment_id) if shop_order.shipment_id else None
    if shipment is None:
        return
    if shipment.method == ShipMethod.PICKUP:
        carrier, tracking = "到站自提", "-"
    else:
        carrier = CARRIER_NAMES.get(shipment.carrier, shipment.carrier) or "快递"
        tracking = shipment.tracking_no or "-"
    _send(
        "shipped",
        _buyer(order),
        template="WECHAT_TMPL_SHIPPED",
        data={
            "character_string1": payments.payment_no(order),
            "thing2": carrier,
            "character_string3": tracking,
        },
        page=BUYER_ORDER_PAGE.format(order_id=order.id),
        about=f"shop_order {shop_order.id}",
    )


@_best_effort
def notify_refund(refund: Refund) -> None:
    """The buyer: money came back (how much, and why)."""
    order = db.session.get(Order, refund.order_id)
    if order is None:
        return
    _send(
        "refund",
        _buyer(order),
        template="WECHAT_TMPL_REFUND",
        data={
            "character_string1": payments.payment_no(order),
            "amount2": subscribe_amount(refund.amount_fen),
            "thing3": refund.reason or "退款",
        },
        page=BUYER_ORDER_PAGE.format(order_id=order.id),
        about=f"refund {refund.id}",
    )


def _buyer(order: Order) -> User | None:
    return db.session.get(User, order.buyer_id)


def _send(
    kind: str,
    user: User | None,
    *,
    template: str,
    data: dict[str, str],
    page: str,
    about: str,
) -> None:
    """One message to one user by the configured backend. ``about`` names the object by id
    for the log (no names, phones or addresses there)."""
    if user is None or not user.is_active:
        return
    cfg = current_app.config
    if cfg["NOTIFICATIONS_BACKEND"] != "wechat":
        log.info("notification %s to user %s: %s", kind, user.id, about)
        return
    template_id = cfg[template]
    if not template_id or not user.openid:
        log.debug("notification %s to user %s skipped: no template or openid", kind, user.id)
        return
    message = {
        "touser": user.openid,
        "template_id": template_id,
        "data": data,
        "page": page,
        "miniprogram_state": cfg["WECHAT_MINIPROGRAM_STATE"],
    }
    client = wechat_client()
    future = _SENDERS.submit(_deliver, client, message, kind, user.id, about)
    with _in_flight_lock:
        _in_flight.add(future)
    future.add_done_callback(_forget)


def _forget(future: Future) -> None:
    with _in_flight_lock:
        _in_flight.discard(future)


def _deliver(client, message: dict, kind: str, user_id: int, about: str) -> None:
    """In a sender thread: no database, no request; only the WeChat call and its log line."""
    try:
        sent = client.send_subscribe_message(**message)
    except (WeChatError, ValueError) as exc:
        log.warning("notification %s to user %s failed: %s", kind, user_id, exc)
        return
    except Exception:
        log.exception("notification %s to user %s failed", kind, user_id)
        return
    if sent:
        log.info("notification %s to user %s sent: %s", kind, user_id, about)
    else:
        log.info("notification %s to user %s: not subscribed", kind, user_id)


def wait_for_deliveries(timeout: float = 10.0) -> None:
    """Block until the messages handed to the senders so far are done (tests, shutdown)."""
    with _in_flight_lock:
        pending = list(_in_flight)
    for future in pending:
        future.result(timeout=timeout)
