"""The way from the village to the buyer: a ShopOrder accepted, handed in, inspected, shipped
and received; a station's work list; labels scanned."""

from api.auth import STAFF_ROLES, current_user, protected
from api.blueprint import Blueprint
from api.fulfilment_presenters import (
    present_batch,
    present_hand_in,
    present_queue,
    present_scan,
    present_shop_order,
)
from api.order_presenters import present_seller_orders
from api.schemas.fulfilment import (
    AcceptIn,
    BatchOut,
    DirectShippingIn,
    DirectShippingOut,
    HandInIn,
    HandInOut,
    InspectionIn,
    OverdueQuery,
    ScanOut,
    ShipIn,
    ShipmentWithPartsOut,
    ShipTogetherIn,
    ShopOrderReasonIn,
    StationQueueOut,
)
from api.schemas.orders import SellerOrderListOut, SellerOrderOut
from models.enums import Role
from services import fulfilment, station_work
from services.error_codes import (
    CommonError,
    FulfilmentError,
    HouseholdError,
    PaymentError,
    ShopError,
)
from services.fulfilment import Parcel

blp = Blueprint("fulfilment", __name__, url_prefix="/api/v1", description="履约：从村到买家")

HOUSEHOLD_ACT = (
    CommonError.NOT_FOUND,
    CommonError.FORBIDDEN,
    CommonError.INVALID_STATE,
    HouseholdError.CONSENT_REQUIRED,
)
SHIP_ERRORS = (
    FulfilmentError.TRACKING_REQUIRED,
    FulfilmentError.COLD_CHAIN_RECORD_REQUIRED,
)
REFUND_ERRORS = (ShopError.REASON_REQUIRED, PaymentError.PAYMENT_UNAVAILABLE)


# --- the household -------------------------------------------------------------------------------


@blp.route("/shop-orders/<int:shop_order_id>/accept", methods=["POST"])
@protected(blp)
@blp.arguments(AcceptIn)
@blp.response(200, SellerOrderOut)
@blp.errors(*HOUSEHOLD_ACT, FulfilmentError.UNKNOWN_STATION, FulfilmentError.WRONG_STATION)
def accept(data, shop_order_id):
    """The household (or a helper with the ``handle_orders`` consent) takes the ShopOrder on.
    The goods go to ``station_id`` or, by default, the village's collection point (then the
    township's station, then the county centre); with none of them the farmer ships directly.
    The answer carries the ``label_code`` to write on the goods and the hand-in deadline."""
    return present_shop_order(
        fulfilment.accept(current_user(), shop_order_id, station_id=data.get("station_id"))
    )


@blp.route("/shop-orders/<int:shop_order_id>/reject", methods=["POST"])
@protected(blp)
@blp.arguments(ShopOrderReasonIn)
@blp.response(200, SellerOrderOut)
@blp.errors(*HOUSEHOLD_ACT, *REFUND_ERRORS)
def reject(data, shop_order_id):
    """The household cannot supply it: that part is refunded to the buyer."""
    return present_shop_order(
        fulfilment.reject(current_user(), shop_order_id, reason=data["reason"])
    )


@blp.route("/shop-orders/<int:shop_order_id>/ship", methods=["POST"])
@protected(blp)
@blp.arguments(ShipIn)
@blp.response(200, SellerOrderOut)
@blp.errors(*HOUSEHOLD_ACT, *SHIP_ERRORS, FulfilmentError.DIRECT_SHIPPING_NOT_ALLOWED)
def ship(data, shop_order_id):
    """Ship it: the county centre's operator after inspection, or the household where the
    county allows direct shipping for the goods (or no station could take them in). WeChat's
    shipping information is uploaded once every part of the payment has shipped or been
    refunded; a failed upload never fails this call (staff see it pending)."""
    return present_shop_order(fulfilment.ship(current_user(), shop_order_id, parcel=_parcel(data)))


def _parcel(data: dict) -> Parcel:
    return Parcel(
        method=data["method"],
        carrier=data.get("carrier", "").strip(),
        tracking_no=data.get("tracking_no", ""),
        temperature_c=data.get("temperature_c"),
    )


@blp.route("/shop-orders/<int:shop_order_id>/confirm-receipt", methods=["POST"])
@protected(blp)
@blp.response(200, SellerOrderOut)
@blp.errors(CommonError.NOT_FOUND, CommonError.INVALID_STATE)
def confirm_receipt(shop_order_id):
    """The buyer (or an admin of the order's unit) confirms the goods arrived."""
    return present_shop_order(fulfilment.confirm_receipt(current_user(), shop_order_id))


# --- stations ------------------------------------------------------------------------------------

STATION_ACT = (CommonError.NOT_FOUND, CommonError.FORBIDDEN, CommonError.INVALID_STATE)


@blp.route("/stations/<int:station_id>/hand-ins", methods=["POST"])
@protected(blp, Role.STATION_OPERATOR)
@blp.arguments(HandInIn)
@blp.response(201, HandInOut)
@blp.errors(
    *STATION_ACT,
    FulfilmentError.UNKNOWN_SHOP_ORDER,
    FulfilmentError.WRONG_STATION,
    FulfilmentError.UNKNOWN_PHOTO,
    FulfilmentError.COLD_CHAIN_RECORD_REQUIRED,
)
def hand_in(data, station_id):
    """An operator of this station takes the goods of a ShopOrder in: weight, count, grade,
    a photo (and the temperature for cold-chain goods). The batch gets its own trace code;
    print its label from ``batch.label_url``. Sent twice, it answers the same batch."""
    batch = fulfilment.hand_in(current_user(), station_id, **data)
    return present_hand_in(batch)


@blp.route("/stations/<int:station_id>/inspections", methods=["POST"])
@protected(blp, Role.STATION_OPERATOR)
@blp.arguments(InspectionIn)
@blp.response(201, HandInOut)
@blp.errors(
    *STATION_ACT,
    *REFUND_ERRORS,
    FulfilmentError.NOT_COUNTY_CENTRE,
    FulfilmentError.UNKNOWN_BATCH,
    FulfilmentError.UNKNOWN_PHOTO,
)
def inspect(data, station_id):
    """The county centre inspects a batch: ``pass``, or ``fail`` with a reason (and a report
    photo): a failed part is refunded. The result shows on the batch's trace page."""
    batch = fulfilment.inspect(current_user(), station_id, **data)
    return present_hand_in(batch)


@blp.route("/stations/<int:station_id>/shipments", methods=["POST"])
@protected(blp, Role.STATION_OPERATOR)
@blp.arguments(ShipTogetherIn)
@blp.response(201, ShipmentWithPartsOut)
@blp.errors(
    *STATION_ACT,
    *SHIP_ERRORS,
    FulfilmentError.NOT_COUNTY_CENTRE,
    FulfilmentError.UNKNOWN_SHOP_ORDER,
    FulfilmentError.SHIPMENT_MIXED,
)
def ship_together(data, station_id):
    """The county centre ships several inspected ShopOrders bound for one address (a unit's
    canteen) in one parcel."""
    ids = data.pop("shop_order_ids")
    shipment = fulfilment.ship_together(
        current_user(), station_id, shop_order_ids=ids, parcel=_parcel(data)
    )
    return {
        "id": shipment.id,
        "method": shipment.method,
        "carrier": shipment.carrier,
        "tracking_no": shipment.tracking_no,
        "shipped_at": shipment.shipped_at,
        "shop_order_ids": fulfilment.parts_of(shipment),
    }


@blp.route("/stations/<int:station_id>/queue")
@protected(blp, Role.STATION_OPERATOR, *STAFF_ROLES)
@blp.response(200, StationQueueOut)
@blp.errors(CommonError.NOT_FOUND, CommonError.FORBIDDEN)
def station_queue(station_id):
    """The station's work: expected (accepted, to be handed in here), received (here, waiting
    for inspection); at a county centre also the county's goods awaiting inspection and those
    ready to ship (with their addresses). Oldest first, at most 200 each."""
    return present_queue(station_work.queue(current_user(), station_id))


@blp.route("/labels/<string(maxlength=16):code>")
@protected(blp, Role.STATION_OPERATOR, *STAFF_ROLES)
@blp.response(200, ScanOut)
@blp.errors(FulfilmentError.LABEL_NOT_FOUND)
def scan_label(code):
    """A scanned (or typed) label: a ShopOrder's 12-character slip code or a batch's trace
    code, for operators of a station of its county and the county's staff."""
    return present_scan(station_work.scan(current_user(), code))


@blp.route("/batches/<string(maxlength=16):code>")
@protected(blp, Role.STATION_OPERATOR, *STAFF_ROLES)
@blp.response(200, BatchOut)
@blp.errors(FulfilmentError.LABEL_NOT_FOUND)
def get_batch(code):
    """One batch by its trace code (to print its label again)."""
    scanned = station_work.scan(current_user(), code)
    if scanned.batch is None:
        raise FulfilmentError.LABEL_NOT_FOUND()
    return present_batch(scanned.batch)


# --- county staff ---------------------------------------------------------------------------------


@blp.route("/admin/shop-orders/overdue")
@protected(blp, *STAFF_ROLES)
@blp.arguments(OverdueQuery, location="query")
@blp.response(200, SellerOrderListOut)
@blp.errors(CommonError.INVALID_CURSOR)
def list_overdue(args):
    """ShopOrders that missed their deadline (not accepted in time, or not handed in within
    the promised days) and are still open, oldest first."""
    items, next_cursor = fulfilment.list_overdue(current_user(), **args)
    return {"items": present_seller_orders(items), "next_cursor": next_cursor}


@blp.route("/admin/shop-orders/<int:shop_order_id>/cancel", methods=["POST"])
@protected(blp, *STAFF_ROLES)
@blp.arguments(ShopOrderReasonIn)
@blp.response(200, SellerOrderOut)
@blp.errors(
    CommonError.NOT_FOUND,
    CommonError.FORBIDDEN,
    CommonError.INVALID_STATE,
    FulfilmentError.NOT_OVERDUE,
    *REFUND_ERRORS,
)
def cancel_overdue(data, shop_order_id):
    """Staff of the county cancel an overdue ShopOrder; the buyer is refunded that part."""
    return present_shop_order(
        fulfilment.cancel_overdue(current_user(), shop_order_id, reason=data["reason"])
    )


@blp.route("/admin/regions/<county_code>/direct-shipping", methods=["GET"])
@protected(blp, *STAFF_ROLES)
@blp.response(200, DirectShippingOut)
@blp.errors(CommonError.NOT_FOUND)
def get_direct_shipping(county_code):
    """The categories the county lets farmers ship themselves (no station, no inspection)."""
    return {"county_code": county_code, "categories": fulfilment.direct_shipping_of(county_code)}


@blp.route("/admin/regions/<county_code>/direct-shipping", methods=["PUT"])
@protected(blp, Role.COUNTY_STAFF)
@blp.arguments(DirectShippingIn)
@blp.response(200, DirectShippingOut)
@blp.errors(CommonError.NOT_FOUND, CommonError.FORBIDDEN)
def set_direct_shipping(data, county_code):
    """Replace the county's list of directly shipped categories (its staff only; audited)."""
    categories = fulfilment.set_direct_shipping(current_user(), county_code, data["categories"])
    return {"county_code": county_code, "categories": categories}
