"""Presenters of the fulfilment chain: batches with their labels, a station's work list and
scanned labels."""

from __future__ import annotations

from flask import url_for

from api.order_presenters import present_seller_orders
from models import Batch, ShopOrder
from services import fulfilment, trace_labels
from services.station_work import Queue, Scanned


def present_batch(batch: Batch) -> dict:
    return {
        "id": batch.id,
        "code": batch.code,
        "url": trace_labels.trace_url(batch.code),
        "label_url": url_for("catalog.trace_qr", trace_code=batch.code),
        "station_id": batch.station_id,
        "shop_order_id": batch.shop_order_id,
        "weight_g": batch.weight_g,
        "count": batch.count,
        "grade": batch.grade,
        "temperature_c": batch.temperature_c,
        "handed_in_at": batch.handed_in_at,
        "inspection_result": batch.inspection_result,
        "inspection_reason": batch.inspection_reason,
        "inspected_at": batch.inspected_at,
    }


def present_shop_order(shop_order: ShopOrder) -> dict:
    return present_seller_orders([shop_order])[0]


def present_hand_in(batch: Batch) -> dict:
    """The batch and its ShopOrder as the station sees it (not where it goes: the county
    centre learns that when it ships)."""
    shop_order = fulfilment.shop_order_of(batch)
    facts = fulfilment.facts_of([shop_order])
    return {"batch": present_batch(batch), "shop_order": _item(shop_order, facts)}


def _item(shop_order: ShopOrder, facts: fulfilment.Facts, *, with_address: bool = False) -> dict:
    return {
        "id": shop_order.id,
        "order_id": shop_order.order_id,
        "status": shop_order.status,
        "label_code": shop_order.label_code,
        "hand_in_by": shop_order.hand_in_by,
        "overdue_since": shop_order.overdue_since,
        "lines": shop_order.lines,
        "cold_chain": shop_order.id in facts.cold_chain,
        "batch_code": facts.batch_codes.get(shop_order.id),
        "address": shop_order.order.address if with_address else None,
    }


def present_queue(work: Queue) -> dict:
    lists = (work.expected, work.received, work.awaiting_inspection, work.ready_to_ship)
    facts = fulfilment.facts_of([s for found in lists for s in found])
    return {
        "station_id": work.station.id,
        "expected": [_item(s, facts) for s in work.expected],
        "received": [_item(s, facts) for s in work.received],
        "awaiting_inspection": [_item(s, facts) for s in work.awaiting_inspection],
        "ready_to_ship": [_item(s, facts, with_address=True) for s in work.ready_to_ship],
    }


def present_scan(scanned: Scanned) -> dict:
    return {
        "kind": scanned.kind,
        "shop_order": _item(
            scanned.shop_order,
            fulfilment.facts_of([scanned.shop_order]),
            with_address=scanned.shows_address,
        ),
        "batch": present_batch(scanned.batch) if scanned.batch else None,
    }
