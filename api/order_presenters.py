"""Presenters of orders: the buyer's (and staff's) view, and a shop's part as its household
sees it. Payments and refunds of a page of orders are read once for the page."""

from __future__ import annotations

from models import Order, Payment, Refund, ShopOrder
from services import payments


def present_orders(orders: list[Order]) -> list[dict]:
    money = payments.money_of(orders)
    return [_present(o, *money[o.id]) for o in orders]


def present_order(order: Order) -> dict:
    return present_orders([order])[0]


def _present(order: Order, paid: list[Payment], refunded: list[Refund]) -> dict:
    return {
        "id": order.id,
        "status": order.status,
        "refund_status": order.refund_status,
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
        "shop_orders": order.shop_orders,
        "payments": paid,
        "refunds": refunded,
        "transfer": payments.awaited_transfer(order),
    }


def present_seller_orders(shop_orders: list[ShopOrder]) -> list[dict]:
    return [
        {
            "id": s.id,
            "shop_id": s.shop_id,
            "status": s.status,
            "refund_status": s.refund_status,
            "lines": s.lines,
            "goods_fen": s.goods_fen,
            "shipping_fen": s.shipping_fen,
            "total_fen": s.total_fen,
            "order_id": s.order_id,
            "order_status": s.order.status,
            "paid_at": s.order.paid_at,
            "address": s.order.address,
            "note": s.order.note,
        }
        for s in shop_orders
    ]
