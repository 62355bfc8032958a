"""The way from the village to the buyer: each act on a ShopOrder, by whom it may be done, and
what it records.

The household (or a helper with the ``handle_orders`` consent) accepts or rejects a paid
ShopOrder and, where allowed, ships it directly; an operator of a station takes it in (weight,
count, grade, photo: a batch with its own trace code); the county centre inspects the batch and
ships; the buyer confirms receipt. Every act moves the ShopOrder by the lifecycle table with one
conditional UPDATE (two operators scanning the same parcel: one wins, the other is told the
state moved) and records an event shown to the buyer, the household and staff. Rejection and
a failed inspection refund that part. WeChat's shipping information and the notifications go
out after the commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import selectinload

from models import (
    Batch,
    DirectShipping,
    Household,
    OrderLine,
    Product,
    Region,
    Shipment,
    ShopOrder,
    ShopOrderEvent,
    Station,
    User,
    db,
)
from models.base import utcnow
from models.enums import (
    ConsentPurpose,
    InspectionResult,
    RegionLevel,
    Role,
    ShipMethod,
    ShopOrderStatus,
    StationKind,
)
from services import (
    access,
    audit,
    codes,
    cursors,
    ledger,
    lifecycle,
    lifecycles,
    notifications,
    payments,
    shipping_uploads,
    units,
)
from services import media as media_service
from services.error_codes import CommonError, FulfilmentError, ShopError
from services.errors import DomainError
from services.lifecycle import Move

SO = ShopOrderStatus

# --- who acts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """A user acting on a ShopOrder, and the capacity the event names."""

    user: User
    role: str
    on_behalf_of: int | None = None


def _shop_order(shop_order_id: int) -> ShopOrder:
    shop_order = db.session.get(ShopOrder, shop_order_id)
    if shop_order is None or shop_order.status == SO.PENDING_PAYMENT:
        raise CommonError.NOT_FOUND()  # nothing of anyone's business until paid
    return shop_order


def _as_household(user: User, shop_order: ShopOrder) -> Actor:
    """The ShopOrder's household, or a helper it consented to: 404 to anyone who may not see
    the household, 403 to one who may see but not act."""
    household = db.session.get(Household, shop_order.household_id) if shop_order else None
    acting = access.act_for(user, household, ConsentPurpose.HANDLE_ORDERS)
    if acting.on_behalf_of is None:
        return Actor(user, Role.FARMER.value)
    return Actor(user, Role.HELPER.value, acting.on_behalf_of)


def active_station(station_id: int) -> Station:
    station = db.session.get(Station, station_id)
    if station is None or not station.is_active:
        raise CommonError.NOT_FOUND()
    return station


def operates(user: User, station_id: int) -> bool:
    return any(g.role == Role.STATION_OPERATOR and g.station_id == station_id for g in user.grants)


def _as_operator(user: User, station_id: int) -> tuple[Actor, Station]:
    station = active_station(station_id)
    if not operates(user, station.id):
        raise CommonError.FORBIDDEN()
    return Actor(user, Role.STATION_OPERATOR.value), station


# --- moving a ShopOrder ---------------------------------------------------------------------------


def move_shop_order(
    shop_order: ShopOrder,
    action: str,
    actor: Actor | None,
    *,
    station: Station | None = None,
    data: dict | None = None,
    **values,
) -> Move:
    """Move by ``action`` if the ShopOrder is still where it was read: one conditional UPDATE
    decides between racing acts; the loser is told the state moved and writes nothing."""
    row = lifecycle.check(lifecycles.SHOP_ORDER, shop_order, action)
    if not lifecycle.move_if_unchanged(shop_order, row, column="status", **values):
        db.session.rollback()
        db.session.refresh(shop_order)
        lifecycle.check(lifecycles.SHOP_ORDER, shop_order, action)  # raises naming the state
        raise CommonError.INVALID_STATE()
    if row.target == ShopOrderStatus.COMPLETED:
        ledger.sale_completed(shop_order)  # the household's money is due, with the move
    move = Move(row, row.source)
    detail = {
        "role": actor.role if actor else None,
        "station_id": station.id if station else None,
        "data": data or {},
    }
    if actor is not None and actor.on_behalf_of is not None:
        detail["on_behalf_of"] = actor.on_behalf_of
    assert lifecycles.SHOP_ORDER.recorder is not None
    lifecycles.SHOP_ORDER.recorder(
        lifecycles.SHOP_ORDER, actor.user if actor else None, shop_order, move, detail
    )
    return move


def already_done(shop_order: ShopOrder, action: str, user: User) -> bool:
    """A retried act (a farmer's weak signal sends it twice, an operator taps again) answers
    what the first one did instead of a conflict: the ShopOrder stands where that act left it,
    and the act was this user's."""
    targets = {row.target for row in lifecycles.SHOP_ORDER.transitions if row.action == action}
    if shop_order.status not in targets:
        return False
    # The last act of a person: the system's own events (a refund settling, a deadline flag)
    # come after it without undoing it.
    last = db.session.scalar(
        select(ShopOrderEvent)
        .where(ShopOrderEvent.shop_order_id == shop_order.id, ShopOrderEvent.actor_id.is_not(None))
        .order_by(ShopOrderEvent.id.desc())
        .limit(1)
    )
    return last is not None and last.action == action and last.actor_id == user.id


def _refund_part(shop_order: ShopOrder, action: str, actor: Actor, *, reason: str, **detail):
    """Reject / fail / cancel a part (one conditional move, so it never overwrites an act that
    won a race) and refund it, in this transaction."""
    data = {"reason": reason, **detail.pop("data", {})}
    move_shop_order(shop_order, action, actor, data=data, **detail)
    try:
        payments.refund_shop_order(shop_order, reason=reason)
    except DomainError:
        db.session.rollback()
        raise


def _after_refund(shop_order: ShopOrder) -> None:
    payments.send_pending_refunds(shop_order.order)
    _send_shipping_upload(shop_order)


def _send_shipping_upload(shop_order: ShopOrder) -> None:
    """After the act's commit: the payment's shipping information, if this was its last part.
    Two parts refunded at once may both try to make it: the loser leaves it to the winner (or
    to the retry job), and its act stands."""
    try:
        upload = shipping_uploads.prepare(shop_order.order)
        if upload is None:
            return
        db.session.commit()
    except (IntegrityError, OperationalError):
        db.session.rollback()
        return
    shipping_uploads.send(upload.id)


# --- the household --------------------------------------------------------------------------------


def default_station(household: Household, shop_order: ShopOrder) -> Station | None:
    """Where a household hands goods in unless it says otherwise: its village's point, else its
    township's station, else its county's centre, the first that takes these goods (their
    categories; cold storage for cold-chain goods); None when the county has none."""
    village = db.session.get(Region, household.village_code)
    places = [
        (StationKind.VILLAGE_POINT, household.village_code),
        (StationKind.TOWNSHIP_STATION, village.parent_code if village else None),
        (StationKind.COUNTY_CENTRE, household.county_code),
    ]
    goods = goods_of(shop_order)
    for kind, region_code in places:
        if region_code is None:
            continue
        found = db.session.scalars(
            select(Station)
            .where(Station.kind == kind, Station.region_code == region_code, Station.is_active)
            .order_by(Station.id)
        )
        for station in found:
            if takes(station, goods):
                return station
    return None


def takes(station: Station, goods: list[Product]) -> bool:
    """Whether the station takes these goods in: every category among those it handles (none
    listed: all), and cold storage when any of them is cold-chain."""
    handled = set(station.categories or [])
    if handled and any(p.category is None or p.category.value not in handled for p in goods):
        return False
    return station.cold_chain or not any(p.cold_chain for p in goods)


def accept(user: User, shop_order_id: int, *, station_id: int | None = None) -> ShopOrder:
    shop_order = _shop_order(shop_order_id)
    actor = _as_household(user, shop_order)
    if already_done(shop_order, "accept", user):
        return shop_order
    household = db.session.get(Household, shop_order.household_id)
    assert household is not None
    if station_id is not None:
        station = db.session.get(Station, station_id)
        if station is None or not station.is_active:
            raise FulfilmentError.UNKNOWN_STATION(errors={"station_id": [station_id]})
        if (
            station.county_code != shop_order.county_code
            or station.kind == StationKind.COUNTER
            or not takes(station, goods_of(shop_order))
        ):
            raise FulfilmentError.WRONG_STATION(errors={"station_id": [station_id]})
    else:
        station = default_station(household, shop_order)
    now = utcnow()
    days = current_app.config["HAND_IN_WITHIN_DAYS"]
    start = max(now, _presale_start(shop_order))
    move_shop_order(
        shop_order,
        "accept",
        actor,
        station=station,
        data={"direct": station is None},
        station_id=station.id if station else None,
        label_code=codes.new_label_code(),
        accepted_at=now,
        hand_in_by=start + timedelta(days=days),
        overdue_since=None,
    )
    db.session.commit()
    return shop_order


def goods_of(shop_order: ShopOrder) -> list[Product]:
    """The products of the ShopOrder's lines, in one query: what stations take, cold chain,
    harvest and presale dates and direct shipping are all decided from them."""
    ids = {line.product_id for line in shop_order.lines}
    return list(db.session.scalars(select(Product).where(Product.id.in_(ids)).order_by(Product.id)))


def _presale_start(shop_order: ShopOrder) -> datetime:
    """A presale promises its goods from its ship date: the hand-in clock starts there."""
    dates = [p.presale_ship_date for p in goods_of(shop_order) if p.presale_ship_date]
    latest = max(dates, default=None)
    if latest is None:
        return utcnow()
    return datetime.combine(latest, datetime.min.time(), tzinfo=utcnow().tzinfo)


def reject(user: User, shop_order_id: int, *, reason: str) -> ShopOrder:
    shop_order = _shop_order(shop_order_id)
    actor = _as_household(user, shop_order)
    if already_done(shop_order, "reject", user):
        return shop_order
    if not reason.strip():
        raise ShopError.REASON_REQUIRED(errors={"reason": ["不能为空"]})
    _refund_part(shop_order, "reject", actor, reason=reason.strip())
    db.session.commit()
    _after_refund(shop_order)
    return shop_order


# --- the station ----------------------------------------------------------------------------------


def _require_temperature(shop_order: ShopOrder, temperature_c: float | None) -> None:
    if temperature_c is None and any(p.cold_chain for p in goods_of(shop_order)):
        raise FulfilmentError.COLD_CHAIN_RECORD_REQUIRED(errors={"temperature_c": ["请填写温度"]})


def _own_photo(user: User, media_id: int | None, field: str) -> None:
    if media_id is not None and media_id not in media_service.usable_media_ids(user, [media_id]):
        raise FulfilmentError.UNKNOWN_PHOTO(errors={field: [media_id]})


def hand_in(
    user: User,
    station_id: int,
    *,
    shop_order_id: int,
    weight_g: int,
    count: int,
    grade: str,
    photo_media_id: int | None = None,
    temperature_c: float | None = None,
    harvest_date: date | None = None,
) -> Batch:
    """An operator takes the goods of a ShopOrder in: a batch with its own trace code."""
    actor, station = _as_operator(user, station_id)
    shop_order = db.session.get(ShopOrder, shop_order_id)
    if (
        shop_order is None
        or shop_order.county_code != station.county_code
        or shop_order.status == SO.PENDING_PAYMENT
    ):
        raise FulfilmentError.UNKNOWN_SHOP_ORDER(errors={"shop_order_id": [shop_order_id]})
    if station.kind == StationKind.COUNTER or (
        shop_order.station_id not in (None, station.id)
        and station.kind != StationKind.COUNTY_CENTRE
    ):
        raise FulfilmentError.WRONG_STATION(errors={"station_id": [station.id]})
    if already_done(shop_order, "hand_in", user):
        done = db.session.scalar(select(Batch).where(Batch.shop_order_id == shop_order.id))
        if done is not None and done.station_id == station.id:
            return done
    lifecycle.check(lifecycles.SHOP_ORDER, shop_order, "hand_in")
    _require_temperature(shop_order, temperature_c)
    _own_photo(user, photo_media_id, "photo_media_id")
    household = db.session.get(Household, shop_order.household_id)
    now = utcnow()
    batch = Batch(
        code=codes.new_trace_code(),
        shop_order_id=shop_order.id,
        station_id=station.id,
        household_id=shop_order.household_id,
        village_code=household.village_code if household else None,
        county_code=shop_order.county_code,
        weight_g=weight_g,
        count=count,
        grade=grade,
        harvest_date=harvest_date or _harvest_date(shop_order),
        photo_media_id=photo_media_id,
        temperature_c=temperature_c,
        handed_in_by_id=user.id,
        handed_in_at=now,
    )
    move_shop_order(
        shop_order,
        "hand_in",
        actor,
        station=station,
        data=_present(
            batch_code=batch.code,
            weight_g=weight_g,
            count=count,
            grade=grade,
            temperature_c=temperature_c,
        ),
        handed_in_at=now,
        overdue_since=None,
    )
    db.session.add(batch)
    db.session.commit()
    return batch


def _harvest_date(shop_order: ShopOrder) -> date | None:
    return next((p.harvest_date for p in goods_of(shop_order) if p.harvest_date), None)


def _present(**values) -> dict:
    return {key: value for key, value in values.items() if value is not None}


def inspect(
    user: User,
    station_id: int,
    *,
    batch_code: str,
    result: InspectionResult,
    reason: str = "",
    report_media_id: int | None = None,
) -> Batch:
    """The county centre inspects a batch: pass, or fail with a reason (that part refunded)."""
    actor, station = _as_operator(user, station_id)
    if station.kind != StationKind.COUNTY_CENTRE:
        raise FulfilmentError.NOT_COUNTY_CENTRE()
    batch = db.session.scalar(select(Batch).where(Batch.code == batch_code))
    if batch is None or batch.county_code != station.county_code:
        raise FulfilmentError.UNKNOWN_BATCH(errors={"batch_code": [batch_code]})
    reason = reason.strip()
    if result == InspectionResult.FAIL and not reason:
        raise ShopError.REASON_REQUIRED(errors={"reason": ["不合格须填写原因"]})
    _own_photo(user, report_media_id, "report_media_id")
    shop_order = db.session.get(ShopOrder, batch.shop_order_id)
    assert shop_order is not None
    action = "pass" if result == InspectionResult.PASS else "fail"
    if already_done(shop_order, action, user):
        return batch
    lifecycle.check(lifecycles.SHOP_ORDER, shop_order, action)
    data = _present(batch_code=batch.code, result=result.value, report_media_id=report_media_id)
    batch.inspection_result = result
    batch.inspection_reason = reason
    batch.report_media_id = report_media_id
    batch.inspection_station_id = station.id
    batch.inspected_by_id = user.id
    batch.inspected_at = utcnow()
    if result == InspectionResult.PASS:
        move_shop_order(shop_order, "pass", actor, station=station, data=data)
        db.session.commit()
    else:
        _refund_part(shop_order, "fail", actor, reason=reason, station=station, data=data)
        db.session.commit()
        _after_refund(shop_order)
    return batch


# --- shipping -------------------------------------------------------------------------------------


def centre_of(user: User, county_code: str) -> Station | None:
    """The county centre of ``county_code`` the user operates, if any."""
    station_ids = [g.station_id for g in user.grants if g.role == Role.STATION_OPERATOR]
    if not station_ids:
        return None
    return db.session.scalar(
        select(Station).where(
            Station.id.in_(station_ids),
            Station.kind == StationKind.COUNTY_CENTRE,
            Station.county_code == county_code,
            Station.is_active,
        )
    )


def direct_shipping_allowed(shop_order: ShopOrder) -> bool:
    """A farmer ships directly when no station could take the goods in (none at acceptance),
    or when the county allows it for the category of everything in the ShopOrder."""
    if shop_order.station_id is None:
        return True
    categories = {p.category for p in goods_of(shop_order)}
    allowed = set(
        db.session.scalars(
            select(DirectShipping.category).where(
                DirectShipping.county_code == shop_order.county_code
            )
        )
    )
    return bool(categories) and categories <= allowed


@dataclass(frozen=True)
class Parcel:
    method: ShipMethod
    carrier: str = ""
    tracking_no: str = ""
    temperature_c: float | None = None

    def check(self) -> None:
        if self.method == ShipMethod.EXPRESS and not (self.carrier and self.tracking_no):
            raise FulfilmentError.TRACKING_REQUIRED(
                errors={"carrier": ["请填写"], "tracking_no": ["请填写"]}
            )


def ship(user: User, shop_order_id: int, *, parcel: Parcel) -> ShopOrder:
    """Ship one ShopOrder: from the county centre after inspection, or by the household where
    direct shipping is allowed."""
    shop_order = _shop_order(shop_order_id)
    centre = centre_of(user, shop_order.county_code)
    if already_done(shop_order, "ship", user):
        return shop_order
    if centre is not None:
        actor = Actor(user, Role.STATION_OPERATOR.value)
        if shop_order.status != SO.INSPECTED:
            raise CommonError.INVALID_STATE(
                errors={"state": [shop_order.status.value], "action": ["ship"]}
            )
    else:
        actor = _as_household(user, shop_order)
        if parcel.method != ShipMethod.EXPRESS:
            # A household's own parcel is a carrier's, with its tracking number: a counter
            # pickup is the stations' to record.
            raise FulfilmentError.TRACKING_REQUIRED(errors={"method": [parcel.method.value]})
        if shop_order.status == SO.ACCEPTED and not direct_shipping_allowed(shop_order):
            raise FulfilmentError.DIRECT_SHIPPING_NOT_ALLOWED()
        if shop_order.status != SO.ACCEPTED:
            raise CommonError.INVALID_STATE(
                errors={"state": [shop_order.status.value], "action": ["ship"]}
            )
    _ship([shop_order], actor, centre, parcel)
    return shop_order


def ship_together(
    user: User, station_id: int, *, shop_order_ids: list[int], parcel: Parcel
) -> Shipment:
    """The county centre ships several inspected ShopOrders to one address in one parcel
    (e.g. everything a unit's canteen bought this week)."""
    actor, station = _as_operator(user, station_id)
    if station.kind != StationKind.COUNTY_CENTRE:
        raise FulfilmentError.NOT_COUNTY_CENTRE()
    found = db.session.scalars(
        select(ShopOrder).where(ShopOrder.id.in_(shop_order_ids)).order_by(ShopOrder.id)
    ).all()
    known = {
        s.id
        for s in found
        if s.county_code == station.county_code and s.status != SO.PENDING_PAYMENT
    }
    if known != set(shop_order_ids):
        raise FulfilmentError.UNKNOWN_SHOP_ORDER(
            errors={"shop_order_ids": [i for i in shop_order_ids if i not in known]}
        )
    if len({_destination(s) for s in found}) != 1:
        raise FulfilmentError.SHIPMENT_MIXED()
    shipments = {s.shipment_id for s in found}
    sent_before = len(shipments) == 1 and None not in shipments
    if sent_before and all(already_done(s, "ship", user) for s in found):
        earlier = db.session.get(Shipment, shipments.pop())
        assert earlier is not None
        return earlier  # the same parcel, sent twice
    for shop_order in found:
        if shop_order.status != SO.INSPECTED:
            raise CommonError.INVALID_STATE(
                errors={"state": [shop_order.status.value], "shop_order_id": [shop_order.id]}
            )
    return _ship(list(found), actor, station, parcel)


def _destination(shop_order: ShopOrder) -> tuple:
    address = shop_order.order.address or {}
    return tuple(sorted((k, str(v)) for k, v in address.items()))


def _ship(
    shop_orders: list[ShopOrder], actor: Actor, station: Station | None, parcel: Parcel
) -> Shipment:
    parcel.check()
    for shop_order in shop_orders:
        _require_temperature(shop_order, parcel.temperature_c)
    now = utcnow()
    shipment = Shipment(
        station_id=station.id if station else None,
        method=parcel.method,
        carrier=parcel.carrier,
        tracking_no=parcel.tracking_no,
        temperature_c=parcel.temperature_c,
        shipped_by_id=actor.user.id,
        shipped_at=now,
    )
    db.session.add(shipment)
    db.session.flush()
    data = _present(
        method=parcel.method.value,
        carrier=parcel.carrier or None,
        tracking_no=parcel.tracking_no or None,
        temperature_c=parcel.temperature_c,
        shipment_id=shipment.id,
        direct=station is None or None,
    )
    for shop_order in shop_orders:
        move_shop_order(
            shop_order,
            "ship",
            actor,
            station=station,
            data=data,
            shipment_id=shipment.id,
            shipped_at=now,
        )
    uploads = {o.id: shipping_uploads.prepare(o) for o in {s.order for s in shop_orders}}
    db.session.commit()
    for upload in uploads.values():
        if upload is not None:
            shipping_uploads.send(upload.id)
    told = set()
    for shop_order in shop_orders:  # one message per order: each spends a subscription
        if shop_order.order_id not in told:
            told.add(shop_order.order_id)
            notifications.notify_shipped(shop_order)
    return shipment


# --- the buyer ------------------------------------------------------------------------------------


def confirm_receipt(user: User, shop_order_id: int) -> ShopOrder:
    """The buyer (or an admin of the order's unit) says the goods arrived."""
    shop_order = _shop_order(shop_order_id)
    order = shop_order.order
    if order.buyer_id != user.id and not (order.unit_id and units.is_admin(user, order.unit_id)):
        raise CommonError.NOT_FOUND()
    role = Role.BUYER.value if order.buyer_id == user.id else Role.UNIT_ADMIN.value
    if already_done(shop_order, "confirm", user):
        return shop_order
    move_shop_order(shop_order, "confirm", Actor(user, role), delivered_at=utcnow())
    db.session.commit()
    return shop_order


# --- county staff ---------------------------------------------------------------------------------


def cancel_overdue(user: User, shop_order_id: int, *, reason: str) -> ShopOrder:
    """Staff of the county cancel a ShopOrder that missed its deadline, with a refund."""
    shop_order = _shop_order(shop_order_id)
    if not access.is_staff_of(user, shop_order.county_code):
        if access.is_platform_admin(user):
            raise CommonError.FORBIDDEN()
        raise CommonError.NOT_FOUND()
    if not reason.strip():
        raise ShopError.REASON_REQUIRED(errors={"reason": ["不能为空"]})
    lifecycle.check(lifecycles.SHOP_ORDER, shop_order, "cancel")
    if shop_order.overdue_since is None:
        raise FulfilmentError.NOT_OVERDUE()
    _refund_part(shop_order, "cancel", Actor(user, Role.COUNTY_STAFF.value), reason=reason.strip())
    db.session.commit()
    _after_refund(shop_order)
    return shop_order


def set_direct_shipping(user: User, county_code: str, categories: list) -> list:
    """The county's categories farmers may ship themselves (replaces the list; audited)."""
    if not access.is_staff_of(user, county_code):
        raise CommonError.FORBIDDEN()
    _require_county(county_code)
    wanted = sorted(set(categories), key=lambda c: c.value)
    existing = db.session.scalars(
        select(DirectShipping).where(DirectShipping.county_code == county_code)
    ).all()
    for row in existing:
        if row.category not in wanted:
            db.session.delete(row)
    have = {row.category for row in existing}
    for category in wanted:
        if category not in have:
            db.session.add(
                DirectShipping(county_code=county_code, category=category, created_by_id=user.id)
            )
    audit.record(
        user,
        "direct_shipping.set",
        "region",
        county_code,
        categories=[c.value for c in wanted],
    )
    db.session.commit()
    return wanted


def _require_county(county_code: str) -> None:
    region = db.session.get(Region, county_code)
    if region is None or region.level != RegionLevel.COUNTY:
        raise CommonError.NOT_FOUND()


def direct_shipping_of(county_code: str) -> list:
    _require_county(county_code)
    return list(
        db.session.scalars(
            select(DirectShipping.category)
            .where(DirectShipping.county_code == county_code)
            .order_by(DirectShipping.category)
        )
    )


def list_overdue(
    user: User, *, limit: int = 20, cursor: str | None = None
) -> tuple[list[ShopOrder], str | None]:
    """Flagged ShopOrders still open, oldest first, of the staff member's counties (all, for a
    platform admin): the ones to chase or cancel with a refund."""
    query = (
        select(ShopOrder)
        .where(
            ShopOrder.overdue_since.is_not(None),
            ShopOrder.status.in_([SO.AWAITING_ACCEPTANCE, SO.ACCEPTED]),
        )
        .options(selectinload(ShopOrder.order))
    )
    if not access.is_platform_admin(user):
        query = query.where(ShopOrder.county_code.in_(user.staff_county_codes))
    return cursors.page_by_id(query, ShopOrder.id, limit=limit, cursor=cursor, newest_first=False)


def shop_order_of(batch: Batch) -> ShopOrder:
    shop_order = db.session.get(ShopOrder, batch.shop_order_id)
    assert shop_order is not None  # a batch belongs to a ShopOrder, never deleted
    return shop_order


def parts_of(shipment: Shipment) -> list[int]:
    return list(
        db.session.scalars(
            select(ShopOrder.id).where(ShopOrder.shipment_id == shipment.id).order_by(ShopOrder.id)
        )
    )


@dataclass(frozen=True)
class Facts:
    """What a work list shows beside each ShopOrder, read in two queries for the whole list."""

    cold_chain: frozenset[int]  # ids of ShopOrders holding cold-chain goods
    batch_codes: dict[int, str]


def facts_of(shop_orders: list[ShopOrder]) -> Facts:
    ids = [s.id for s in shop_orders]
    if not ids:
        return Facts(frozenset(), {})
    cold = db.session.scalars(
        select(OrderLine.shop_order_id)
        .join(Product, Product.id == OrderLine.product_id)
        .where(OrderLine.shop_order_id.in_(ids), Product.cold_chain.is_(True))
        .distinct()
    )
    codes_by_part = db.session.execute(
        select(Batch.shop_order_id, Batch.code).where(Batch.shop_order_id.in_(ids))
    )
    return Facts(frozenset(cold), {part: code for part, code in codes_by_part})
