"""The clock of the fulfilment chain (``flask fulfilment deadlines``, run every few minutes):
ShopOrders that missed a deadline are flagged to staff, shipped goods nobody confirmed count
as received after ``AUTO_CONFIRM_DAYS``, and received goods complete after ``AFTER_SALES_DAYS``.
Safe to run concurrently and again: each row is taken by one conditional UPDATE."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, update

from models import ShopOrder, db
from models.base import utcnow
from models.enums import ShopOrderStatus
from services import audit, shop_order_events
from services.errors import DomainError
from services.fulfilment import move_shop_order

SO = ShopOrderStatus


@dataclass(frozen=True)
class DeadlineRun:
    flagged: int
    confirmed: int
    completed: int


def run_deadlines(*, now: datetime | None = None, batch: int = 500) -> DeadlineRun:
    now = now or utcnow()
    return DeadlineRun(
        flagged=flag_overdue(now=now, batch=batch),
        confirmed=_advance(
            SO.SHIPPED,
            ShopOrder.shipped_at,
            "auto_confirm",
            now - timedelta(days=current_app.config["AUTO_CONFIRM_DAYS"]),
            batch,
            delivered_at=now,
        ),
        completed=_advance(
            SO.DELIVERED,
            ShopOrder.delivered_at,
            "complete",
            now - timedelta(days=current_app.config["AFTER_SALES_DAYS"]),
            batch,
            completed_at=now,
        ),
    )


def _overdue(now: datetime):
    return and_(
        ShopOrder.overdue_since.is_(None),
        or_(
            and_(ShopOrder.status == SO.AWAITING_ACCEPTANCE, ShopOrder.accept_by <= now),
            and_(ShopOrder.status == SO.ACCEPTED, ShopOrder.hand_in_by <= now),
        ),
    )


def flag_overdue(*, now: datetime, batch: int = 500) -> int:
    """Not accepted within ``ACCEPT_WITHIN_HOURS``, or not handed in (or shipped directly)
    within the promised days: flagged once, with an event the household and staff see."""
    due = db.session.scalars(
        select(ShopOrder.id).where(_overdue(now)).order_by(ShopOrder.id).limit(batch)
    ).all()
    flagged = 0
    for shop_order_id in due:
        taken = db.session.execute(
            update(ShopOrder)
            .where(ShopOrder.id == shop_order_id, _overdue(now))
            .values(overdue_since=now)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            db.session.rollback()
            continue
        shop_order = db.session.get(ShopOrder, shop_order_id)
        assert shop_order is not None
        db.session.refresh(shop_order)
        shop_order_events.record(
            shop_order, "overdue", actor=None, data={"status": shop_order.status.value}
        )
        audit.record(None, "shop_order.overdue", "shop_order", shop_order_id)
        db.session.commit()
        flagged += 1
    return flagged


def _advance(status, since_column, action: str, cutoff: datetime, batch: int, **values) -> int:
    due = db.session.scalars(
        select(ShopOrder.id)
        .where(ShopOrder.status == status, since_column <= cutoff)
        .order_by(ShopOrder.id)
        .limit(batch)
    ).all()
    moved = 0
    for shop_order_id in due:
        shop_order = db.session.get(ShopOrder, shop_order_id)
        if shop_order is None or shop_order.status != status:
            continue
        try:
            move_shop_order(shop_order, action, None, **values)
        except DomainError:
            continue  # another run (or the buyer) moved it first
        db.session.commit()
        moved += 1
    return moved
