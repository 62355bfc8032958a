"""The events of a ShopOrder: every act along the way from the village to the buyer (who, in
what capacity, at which station, what they recorded), written in the act's transaction and
shown to the buyer, the household and staff. Append-only."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from models import ShopOrder, ShopOrderEvent, User, db
from services import audit


def record(
    shop_order: ShopOrder,
    action: str,
    *,
    actor: User | None,
    role: str | None = None,
    station_id: int | None = None,
    data: dict | None = None,
) -> ShopOrderEvent:
    event = ShopOrderEvent(
        shop_order_id=shop_order.id,
        action=action,
        actor_id=actor.id if actor else None,
        actor_role=role if actor else None,
        station_id=station_id,
        data=data or {},
    )
    db.session.add(event)
    return event


def record_move(machine, actor: User | None, shop_order: ShopOrder, move, detail: dict) -> None:
    """The lifecycle's recorder: the ShopOrder's own event, and the audit trail's row."""
    role = detail.pop("role", None)
    station_id = detail.pop("station_id", None)
    data = detail.pop("data", None) or {}
    if reason := detail.get("reason"):
        data = {"reason": reason, **data}
    record(
        shop_order,
        move.transition.action,
        actor=actor,
        role=role,
        station_id=station_id,
        data=data,
    )
    audit.record(
        actor,
        move.transition.event,
        machine.object_type,
        shop_order.id,
        on_behalf_of=detail.pop("on_behalf_of", None),
        previous=machine.label(move.previous),
        state=machine.label(move.transition.target),
        station_id=station_id,
        **detail,
    )


def events_of(shop_order_ids: list[int]) -> dict[int, list[ShopOrderEvent]]:
    """Events of a page of ShopOrders, oldest first, read in one query."""
    found: dict[int, list[ShopOrderEvent]] = defaultdict(list)
    if not shop_order_ids:
        return found
    rows = db.session.scalars(
        select(ShopOrderEvent)
        .where(ShopOrderEvent.shop_order_id.in_(shop_order_ids))
        .order_by(ShopOrderEvent.id)
    )
    for event in rows:
        found[event.shop_order_id].append(event)
    return found
