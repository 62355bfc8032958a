"""Presenters of orders: the buyer's (and staff's) view, and a shop's part as its household
sees it. Payments and refunds of a page of orders are read once for the page."""

from __future__ import annotations

from sqlalchemy import select

from models import Batch, Order, Payment, Refund, Shipment, ShopOrder, ShopOrderEvent, User, db
from services import payments, pii, shop_order_events


def present_orders(orders: list[Order]) -> list[dict]:
    money = payments.money_of(orders)
    parts = present_parts([s for o in orders for s in o.shop_orders])
    return [_present(o, *money[o.id], parts) for o in orders]


def present_order(order: Order) -> dict:
    return present_orders([order])[0]


def _present(
    order: Order, paid: list[Payment], refunded: list[Refund], parts: dict[int, dict]
) -> dict:
    return {
        "id": order.id,
        "status": order.status,
        "refund_status": order.refund_status,
        "refunded_fen": order.refunded_fen,
        "buyer_id": order.buyer_id,
        "unit_id": order.unit_id,
        "goods_fen": order.goods_fen,
        "shipping_fen": order.shipping_fen,
        "total_fen": order.total_fen,
        "note": order.note,
        "address": order.address,
        "invoice": order.invoice,
        "payment_method": order.payment_method,
        "expires_at": order.expires_at,
        "paid_at": order.paid_at,
        "cancelled_at": order.cancelled_at,
        "created_at": order.created_at,
        "shop_orders": [parts[s.id] for s in order.shop_orders],
        "payments": paid,
        "refunds": refunded,
        "transfer": payments.awaited_transfer(order),
    }


def present_parts(shop_orders: list[ShopOrder]) -> dict[int, dict]:
    """Each ShopOrder with its way so far: events, station, parcel and batch, read once for a
    page (events name their actor masked: the buyer sees who did what, not who they are)."""
    ids = [s.id for s in shop_orders]
    events = shop_order_events.events_of(ids)
    actor_ids = {e.actor_id for found in events.values() for e in found if e.actor_id}
    actors = (
        {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(actor_ids)))}
        if actor_ids
        else {}
    )
    shipment_ids = {s.shipment_id for s in shop_orders if s.shipment_id}
    shipments = (
        {x.id: x for x in db.session.scalars(select(Shipment).where(Shipment.id.in_(shipment_ids)))}
        if shipment_ids
        else {}
    )
    batches = (
        dict(
            db.session.execute(
                select(Batch.shop_order_id, Batch.code).where(Batch.shop_order_id.in_(ids))
            ).all()
        )
        if ids
        else {}
    )
    return {
        s.id: {
            "id": s.id,
            "shop_id": s.shop_id,
            "status": s.status,
            "refund_status": s.refund_status,
            "lines": s.lines,
            "goods_fen": s.goods_fen,
            "shipping_fen": s.shipping_fen,
            "total_fen": s.total_fen,
            "refunded_fen": s.refunded_fen,
            "station": _station(s.station) if s.station_id else None,
            "label_code": s.label_code,
            "accept_by": s.accept_by,
            "hand_in_by": s.hand_in_by,
            "overdue_since": s.overdue_since,
            "shipment": shipments.get(s.shipment_id) if s.shipment_id else None,
            "batch_code": batches.get(s.id),
            "events": [_event(e, actors) for e in events.get(s.id, [])],
        }
        for s in shop_orders
    }


def _station(station) -> dict | None:
    return {"id": station.id, "name": station.name} if station is not None else None


def _event(event: ShopOrderEvent, actors: dict[int, User]) -> dict:
    actor = actors.get(event.actor_id) if event.actor_id else None
    return {
        "action": event.action,
        "actor": (
            {"role": event.actor_role, "name": pii.mask_name(actor.nickname or "用户")}
            if actor is not None
            else None
        ),
        "station": _station(event.station),
        "at": event.created_at,
        "data": event.data or {},
    }


def present_seller_orders(shop_orders: list[ShopOrder]) -> list[dict]:
    parts = present_parts(shop_orders)
    return [
        {
            **parts[s.id],
            "order_id": s.order_id,
            "order_status": s.order.status,
            "paid_at": s.order.paid_at,
            "address": s.order.address,
            "note": s.order.note,
        }
        for s in shop_orders
    ]
