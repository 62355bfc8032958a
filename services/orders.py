"""Orders: placing one across many shops without overselling, who sees which, cancelling and
expiring (stock goes back). Money itself is ``services/payments.py``'s business.

Stock is taken with one conditional UPDATE per SKU (``stock >= n``), SKUs in id order, inside
the order's transaction: on PostgreSQL the row lock makes concurrent buyers wait and re-check;
on SQLite the first UPDATE takes the database's write lock (waiting its turn up to
``busy_timeout``), because every read before it ran outside the transaction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from models import Address, Order, OrderLine, Product, Shop, ShopOrder, Sku, User, WorkUnit, db
from models.base import sa_table, utcnow
from models.enums import ConsentPurpose, OrderStatus, Role
from services import (
    access,
    audit,
    catalog,
    cursors,
    fulfilment,
    lifecycle,
    lifecycles,
    payments,
    units,
)
from services import idempotency as idempotency_service
from services.error_codes import CommonError, HouseholdError, OrderError, PaymentError, UnitError
from services.errors import InvalidState
from services.idempotency import Idempotency

MAX_LINES = 1000
MAX_SHOPS = 50
MAX_QUANTITY = 9999
# ¥1,000,000: far above any canteen order, far below what an integer column holds.
MAX_ORDER_FEN = 100_000_000


@dataclass(frozen=True)
class Line:
    sku_id: int
    quantity: int


# --- placing -----------------------------------------------------------------------------------


def place_order(
    actor: User,
    *,
    lines: list[Line],
    address_id: int,
    idempotency: Idempotency,
    unit_id: int | None = None,
    note: str = "",
    invoice: dict | None = None,
) -> Order:
    """Take the stock of every line and write the order, its ShopOrders and lines, or nothing."""
    earlier = idempotency_service.find(actor, idempotency)
    if earlier is not None:
        return _order(earlier)
    _refuse_duplicate_lines(lines)
    address = _own_address(actor, address_id)
    if unit_id is not None:
        _require_unit_buyer(actor, unit_id)
    elif invoice:
        raise OrderError.INVOICE_NEEDS_UNIT(errors={"invoice": ["个人订单不开发票"]})
    skus = _skus_for_sale(lines)
    shops = {sku.shop_id for sku in skus.values()}
    if len(shops) > MAX_SHOPS:
        # WeChat Pay refunds a transaction in at most 50 parts, one per ShopOrder.
        raise OrderError.ORDER_TOO_LARGE(errors={"lines": [f"一单最多 {MAX_SHOPS} 家店铺"]})
    goods_fen = sum(skus[line.sku_id].price_fen * line.quantity for line in lines)
    if goods_fen > MAX_ORDER_FEN:
        raise OrderError.ORDER_TOO_LARGE(
            errors={"lines": [f"合计不能超过 {MAX_ORDER_FEN // 100} 元"]}
        )
    buyer_id, snapshot = actor.id, _address_snapshot(address)

    # The write transaction starts here. Stock is taken last, just before the commit, so
    # a SKU's row lock (PostgreSQL) is held for as short a time as possible.
    try:
        order = _write_order(buyer_id, lines, skus, snapshot, unit_id, note, invoice)
        idempotency_service.remember(buyer_id, idempotency, order.id)
        db.session.flush()
    except IntegrityError:
        return _the_earlier_order(actor, idempotency)
    audit.record(actor, "order.place", "order", order.id, total_fen=order.total_fen)
    if not _take_stock(lines):
        db.session.rollback()
        raise _insufficient(lines)
    try:
        db.session.commit()
    except IntegrityError:
        return _the_earlier_order(actor, idempotency)
    return order


def _the_earlier_order(actor: User, idempotency: Idempotency) -> Order:
    """A concurrent request with the same key won: its order is the answer (ours is undone,
    stock included)."""
    db.session.rollback()
    earlier = idempotency_service.find(actor, idempotency)
    if earlier is None:
        raise CommonError.CONFLICT()
    return _order(earlier)


def _refuse_duplicate_lines(lines: list[Line]) -> None:
    seen: dict[int, int] = {}
    for index, line in enumerate(lines):
        if line.sku_id in seen:
            raise OrderError.DUPLICATE_LINE(
                errors={"lines": {str(index): [f"与第 {seen[line.sku_id] + 1} 行重复"]}}
            )
        seen[line.sku_id] = index


def _require_unit_buyer(actor: User, unit_id: int) -> None:
    """Buying for a unit: its member (or admin), and a unit county staff have verified."""
    if not units.is_member(actor, unit_id):
        raise OrderError.NOT_UNIT_MEMBER(errors={"unit_id": ["不是您所在的单位"]})
    unit = db.session.get(WorkUnit, unit_id)
    if unit is None or not unit.is_verified:
        raise UnitError.UNIT_NOT_VERIFIED()


def _own_address(actor: User, address_id: int) -> Address:
    address = db.session.get(Address, address_id)
    if address is None or address.user_id != actor.id:
        raise OrderError.ADDRESS_NOT_FOUND(errors={"address_id": ["不是您的收货地址"]})
    return address


def _address_snapshot(address: Address) -> dict:
    return {
        "name": address.name,
        "phone": address.phone,
        "region_code": address.region_code,
        "region_name": address.region.name,
        "detail": address.detail,
    }


@dataclass(frozen=True)
class _ForSale:
    sku_id: int
    product_id: int
    shop_id: int
    household_id: int
    county_code: str
    title: str
    spec_name: str
    unit: str
    price_fen: int


def _skus_for_sale(lines: list[Line]) -> dict[int, _ForSale]:
    """Every SKU of the order, on sale now (active, its product listed, its shop open)."""
    wanted = {line.sku_id for line in lines}
    rows = db.session.execute(
        select(
            Sku.id,
            Sku.product_id,
            Product.shop_id,
            Product.household_id,
            Product.county_code,
            Product.title,
            Sku.spec_name,
            Product.unit,
            Sku.price_fen,
        )
        .join(Product, Product.id == Sku.product_id)
        .join(Shop, Shop.id == Product.shop_id)
        .where(Sku.id.in_(wanted), Sku.is_active, catalog.ON_SALE)
    ).all()
    found = {row.id: _ForSale(*row) for row in rows}
    missing = {
        str(index): ["已下架或暂停销售"]
        for index, line in enumerate(lines)
        if line.sku_id not in found
    }
    if missing:
        raise OrderError.SKU_UNAVAILABLE(errors={"lines": missing})
    return found


# One conditional statement, built once, run for every line (an executemany).
_SKUS = sa_table(Sku)
_TAKE = (
    update(_SKUS)
    .where(_SKUS.c.id == bindparam("sku"), _SKUS.c.stock >= bindparam("n"), _SKUS.c.is_active)
    .values(stock=_SKUS.c.stock - bindparam("n"))
)


def _take_stock(lines: list[Line]) -> bool:
    """Take every line's stock, SKUs in id order (so concurrent orders lock rows in one order
    and cannot deadlock); False if any line was short (the caller rolls back)."""
    rows = [{"sku": line.sku_id, "n": line.quantity} for line in sorted(lines, key=_by_sku)]
    taken = db.session.execute(_TAKE, rows)
    return taken.rowcount == len(rows)  # type: ignore[attr-defined]


def _by_sku(line: Line) -> int:
    return line.sku_id


def _insufficient(lines: list[Line]):
    """What each short line could still have (read after the rollback)."""
    wanted = {line.sku_id for line in lines}
    left = dict(
        db.session.execute(select(Sku.id, Sku.stock).where(Sku.id.in_(wanted), Sku.is_active)).all()
    )
    messages, available = {}, {}
    for index, line in enumerate(lines):
        n = max(0, left.get(line.sku_id, 0))
        if n < line.quantity:
            messages[str(index)] = [f"仅剩 {n} 件"]
            available[str(index)] = n
    return OrderError.INSUFFICIENT_STOCK(errors={"lines": messages, "available": available})


def _write_order(buyer_id, lines, skus, address, unit_id, note, invoice) -> Order:
    by_shop: dict[int, list[Line]] = defaultdict(list)
    for line in lines:
        by_shop[skus[line.sku_id].shop_id].append(line)
    timeout = timedelta(minutes=current_app.config["ORDER_PAYMENT_TIMEOUT_MINUTES"])
    order = Order(
        buyer_id=buyer_id,
        unit_id=unit_id,
        address=address,
        note=note,
        invoice=invoice or None,
        goods_fen=0,
        shipping_fen=0,
        total_fen=0,
        expires_at=utcnow() + timeout,
    )
    db.session.add(order)
    for shop_lines in by_shop.values():
        first = skus[shop_lines[0].sku_id]
        shop_order = ShopOrder(
            order=order,
            shop_id=first.shop_id,
            household_id=first.household_id,
            county_code=first.county_code,
            goods_fen=0,
            shipping_fen=0,  # shipping rules arrive with the fulfilment chain
            total_fen=0,
        )
        for line in shop_lines:
            sku = skus[line.sku_id]
            shop_order.lines.append(
                OrderLine(
                    sku_id=sku.sku_id,
                    product_id=sku.product_id,
                    title=sku.title,
                    spec_name=sku.spec_name,
                    unit=sku.unit,
                    price_fen=sku.price_fen,
                    quantity=line.quantity,
                    subtotal_fen=sku.price_fen * line.quantity,
                )
            )
        shop_order.goods_fen = sum(line.subtotal_fen for line in shop_order.lines)
        shop_order.total_fen = shop_order.goods_fen + shop_order.shipping_fen
        db.session.add(shop_order)
    order.goods_fen = sum(s.goods_fen for s in order.shop_orders)
    order.shipping_fen = sum(s.shipping_fen for s in order.shop_orders)
    order.total_fen = order.goods_fen + order.shipping_fen
    db.session.flush()
    order.out_trade_no = payments.out_trade_no(order)
    return order


def _order(order_id: int) -> Order:
    order = db.session.get(Order, order_id)
    if order is None:  # the key's order cannot vanish: orders are never deleted
        raise CommonError.NOT_FOUND()
    return order


# --- who sees what -----------------------------------------------------------------------------


def can_see_order(actor: User, order: Order) -> bool:
    if order.buyer_id == actor.id or access.is_platform_admin(actor):
        return True
    if order.unit_id is not None and units.is_admin(actor, order.unit_id):
        return True
    return any(access.is_staff_of(actor, s.county_code) for s in order.shop_orders)


def get_order(actor: User, order_id: int) -> Order:
    order = db.session.get(Order, order_id)
    if order is None or not can_see_order(actor, order):
        raise CommonError.NOT_FOUND()
    return order


def order_for_staff(actor: User, order_id: int) -> Order:
    """An order county staff act on: one with a shop of their county (a platform admin may
    look, not act)."""
    order = db.session.get(Order, order_id)
    if order is None:
        raise CommonError.NOT_FOUND()
    if any(access.is_staff_of(actor, s.county_code) for s in order.shop_orders):
        return order
    if access.is_platform_admin(actor):
        raise HouseholdError.ADMIN_READ_ONLY()
    raise CommonError.NOT_FOUND()


def list_orders(
    actor: User, *, limit: int = 20, cursor: str | None = None, status: OrderStatus | None = None
) -> tuple[list[Order], str | None]:
    """The buyer's own orders, and for a unit admin also the orders of their units; newest
    first."""
    mine = Order.buyer_id == actor.id
    admin_units = [g.unit_id for g in actor.grants_of(Role.UNIT_ADMIN) if g.unit_id]
    query = select(Order).where(or_(mine, Order.unit_id.in_(admin_units)) if admin_units else mine)
    return _page(query, limit=limit, cursor=cursor, status=status)


def list_county_orders(
    actor: User, *, limit: int = 20, cursor: str | None = None, status: OrderStatus | None = None
) -> tuple[list[Order], str | None]:
    """Orders with a ShopOrder in the staff member's counties (all, for a platform admin)."""
    query = select(Order)
    if not access.is_platform_admin(actor):
        counties = actor.staff_county_codes
        in_county = select(ShopOrder.order_id).where(ShopOrder.county_code.in_(counties))
        query = query.where(Order.id.in_(in_county))
    return _page(query, limit=limit, cursor=cursor, status=status)


def _page(query, *, limit, cursor, status) -> tuple[list[Order], str | None]:
    if status is not None:
        query = query.where(Order.status == status)
    return cursors.page_by_id(query, Order.id, limit=limit, cursor=cursor)


def list_shop_orders(
    actor: User, shop_id: int, *, limit: int = 20, cursor: str | None = None
) -> tuple[list[ShopOrder], str | None]:
    """A shop's part of each order, newest first: for its household (or a helper with the
    ``handle_orders`` consent) and its county's staff."""
    shop = db.session.get(Shop, shop_id)
    if shop is None or not access.can_view_household(actor, shop.household):
        raise CommonError.NOT_FOUND()
    staff = access.is_staff_of(actor, shop.county_code) or access.is_platform_admin(actor)
    if not staff:
        access.act_for(actor, shop.household, ConsentPurpose.HANDLE_ORDERS)
    # Orders never paid are not the household's business (nor the buyer's address theirs):
    # nothing to prepare until paid.
    query = (
        select(ShopOrder)
        .join(Order, Order.id == ShopOrder.order_id)
        .where(ShopOrder.shop_id == shop.id, Order.paid_at.is_not(None))
        .options(selectinload(ShopOrder.order))
    )
    return cursors.page_by_id(query, ShopOrder.id, limit=limit, cursor=cursor)


# --- cancelling and expiring -------------------------------------------------------------------


def cancel_order(actor: User, order_id: int, *, reason: str = "") -> Order:
    """The buyer (or an admin of the order's unit) cancels before anything ships: the stock goes
    back; money paid goes back through a refund."""
    order = get_order(actor, order_id)
    if not (order.buyer_id == actor.id or (order.unit_id and units.is_admin(actor, order.unit_id))):
        raise CommonError.FORBIDDEN()
    if order.status == OrderStatus.CANCELLED:
        return order  # cancelling twice changes nothing
    if order.status == OrderStatus.PENDING_PAYMENT and not payments.settle_before_release(order):
        # Money may be on its way and WeChat cannot say: try again in a moment.
        raise PaymentError.PAYMENT_UNAVAILABLE()
    lifecycle.check(lifecycles.ORDER, order, "cancel")
    was_paid = order.status == OrderStatus.PAID
    if not _release(order, OrderStatus.CANCELLED, actor=actor, reason=reason):
        db.session.rollback()
        return cancel_order(actor, order_id, reason=reason)  # it moved meanwhile: look again
    if was_paid:
        payments.refund_order(order, reason=reason or "买家取消订单")
    db.session.commit()
    payments.send_pending_refunds(order)
    return order


def expire_orders(*, now: datetime | None = None, batch: int = 200) -> int:
    """Unpaid orders past their time give their stock back. Safe to run concurrently and again:
    each order is taken by one conditional UPDATE. Orders whose money WeChat may still hold
    are asked about first, and left for the next run when WeChat cannot answer."""
    now = now or utcnow()
    wait = timedelta(days=current_app.config["TRANSFER_WAIT_DAYS"])
    due = db.session.scalars(
        select(Order.id)
        .where(
            Order.status == OrderStatus.PENDING_PAYMENT,
            Order.expires_at <= now,
            or_(
                Order.transfer_announced_at.is_(None),
                Order.transfer_announced_at <= now - wait,
            ),
        )
        .order_by(Order.expires_at)
        .limit(batch)
    ).all()
    expired = 0
    for order_id in due:
        order = db.session.get(Order, order_id)
        if order is None or order.status != OrderStatus.PENDING_PAYMENT:
            continue
        if not payments.settle_before_release(order):
            continue
        if order.status == OrderStatus.PENDING_PAYMENT and _release(
            order, OrderStatus.EXPIRED, actor=None
        ):
            db.session.commit()
            expired += 1
        else:
            db.session.rollback()
    return expired


def _reason(reason: str) -> dict:
    return {"reason": reason} if reason else {}


def _release(order: Order, to: OrderStatus, *, actor: User | None, reason: str = "") -> bool:
    """Move the order (and its ShopOrders) to cancelled/expired and put its stock back, if no
    one moved it first: one conditional UPDATE decides."""
    action = "cancel" if to == OrderStatus.CANCELLED else "expire"
    row = lifecycle.check(lifecycles.ORDER, order, action)
    closed = {"cancelled_at": utcnow()} if to == OrderStatus.CANCELLED else {}
    still = [Order.id == order.id, Order.status == row.source]
    if to == OrderStatus.EXPIRED:
        # Not an order a unit was just promised more time to pay by transfer.
        wait = timedelta(days=current_app.config["TRANSFER_WAIT_DAYS"])
        still.append(
            or_(
                Order.transfer_announced_at.is_(None),
                Order.transfer_announced_at <= utcnow() - wait,
            )
        )
    moved = db.session.execute(
        update(Order)
        .where(*still)
        .values(status=to, updated_at=utcnow(), **closed)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return False
    # Parts a farmer rejected or inspection failed were refunded already, and their stock was
    # never there: only the parts cancelled now give theirs back.
    closing = [s for s in order.shop_orders if lifecycles.SHOP_ORDER.allows(s, "cancel")]
    for line in sorted((ln for s in closing for ln in s.lines), key=lambda ln: ln.sku_id):
        db.session.execute(
            update(Sku)
            .where(Sku.id == line.sku_id)
            .values(stock=Sku.stock + line.quantity)
            .execution_options(synchronize_session=False)
        )
    db.session.refresh(order, ["status", "cancelled_at"])
    # Each part with its own conditional move: a farmer who accepted a part meanwhile wins, and
    # the whole cancellation is undone (the order is in fulfilment now).
    by = None
    if actor is not None:
        by = fulfilment.Actor(
            actor, Role.BUYER.value if actor.id == order.buyer_id else Role.UNIT_ADMIN.value
        )
    for shop_order in closing:
        try:
            fulfilment.move_shop_order(shop_order, "cancel", by, data=_reason(reason))
        except InvalidState:
            raise OrderError.IN_FULFILMENT() from None
    audit.record(
        actor, f"order.{action}", "order", order.id, previous=row.source.value, reason=reason
    )
    return True
