"""A station's work list and the label scanner: what an operator (or the county's staff) needs
at the counter, read in a few queries."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from models import Batch, ShopOrder, Station, User, db
from models.enums import Role, ShopOrderStatus, StationKind
from services import access
from services.codes import LABEL_CODE_LENGTH
from services.error_codes import CommonError, FulfilmentError
from services.fulfilment import active_station, centre_of, operates

SO = ShopOrderStatus
QUEUE_LIMIT = 200  # per list: a station sees its oldest work first


def may_work_at(user: User, station: Station) -> bool:
    return operates(user, station.id) or access.is_staff_of(user, station.county_code)


def _require_worker(user: User, station: Station) -> None:
    if may_work_at(user, station):
        return
    if access.is_platform_admin(user):
        return  # looks on, every county
    raise CommonError.FORBIDDEN()


@dataclass
class Queue:
    station: Station
    expected: list[ShopOrder] = field(default_factory=list)
    received: list[ShopOrder] = field(default_factory=list)
    awaiting_inspection: list[ShopOrder] = field(default_factory=list)
    ready_to_ship: list[ShopOrder] = field(default_factory=list)


def _shop_orders(*conditions) -> list[ShopOrder]:
    return list(
        db.session.scalars(
            select(ShopOrder)
            .where(*conditions)
            .options(selectinload(ShopOrder.order))
            .order_by(ShopOrder.id)
            .limit(QUEUE_LIMIT)
        )
    )


def queue(user: User, station_id: int) -> Queue:
    """Expected here (accepted, to be handed in at this station), received here (waiting for
    the centre's inspection); at a county centre also everything of the county waiting for
    inspection and everything inspected and ready to ship."""
    station = active_station(station_id)
    _require_worker(user, station)
    work = Queue(station)
    work.expected = _shop_orders(
        ShopOrder.status == SO.ACCEPTED, ShopOrder.station_id == station.id
    )
    received_here = select(Batch.shop_order_id).where(Batch.station_id == station.id)
    received = ShopOrder.id.in_(received_here)
    work.received = _shop_orders(ShopOrder.status == SO.HANDED_IN, received)
    if station.kind == StationKind.COUNTY_CENTRE:
        in_county = ShopOrder.county_code == station.county_code
        work.awaiting_inspection = _shop_orders(ShopOrder.status == SO.HANDED_IN, in_county)
        work.ready_to_ship = _shop_orders(ShopOrder.status == SO.INSPECTED, in_county)
    return work


@dataclass(frozen=True)
class Scanned:
    kind: str  # "shop_order" (its slip) or "batch" (its trace label)
    shop_order: ShopOrder
    batch: Batch | None
    # The buyer's address is for whoever ships: the county centre (and the county's staff),
    # once the goods passed inspection; batch codes are public, slips travel through villages.
    shows_address: bool = False


def scan(user: User, code: str) -> Scanned:
    """The ShopOrder or batch a label names, for an operator of a station of its county or the
    county's staff (a platform admin too); anyone else learns nothing."""
    batch = None
    shop_order = None
    if len(code) == LABEL_CODE_LENGTH:
        shop_order = db.session.scalar(select(ShopOrder).where(ShopOrder.label_code == code))
    else:
        batch = db.session.scalar(select(Batch).where(Batch.code == code))
        shop_order = db.session.get(ShopOrder, batch.shop_order_id) if batch else None
    if shop_order is None or not _may_scan(user, shop_order.county_code):
        raise FulfilmentError.LABEL_NOT_FOUND()
    if batch is None:
        batch = db.session.scalar(select(Batch).where(Batch.shop_order_id == shop_order.id))
    ships = access.is_staff_of(user, shop_order.county_code) or (
        centre_of(user, shop_order.county_code) is not None
    )
    return Scanned(
        "batch" if len(code) != LABEL_CODE_LENGTH else "shop_order",
        shop_order,
        batch,
        shows_address=ships and shop_order.status == SO.INSPECTED,
    )


def _may_scan(user: User, county_code: str) -> bool:
    if access.is_staff_of(user, county_code) or access.is_platform_admin(user):
        return True
    station_ids = [g.station_id for g in user.grants if g.role == Role.STATION_OPERATOR]
    if not station_ids:
        return False
    return (
        db.session.scalar(
            select(Station.id).where(
                Station.id.in_(station_ids), Station.county_code == county_code, Station.is_active
            )
        )
        is not None
    )
