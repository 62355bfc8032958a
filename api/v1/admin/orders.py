"""County staff: the county's orders, recorded corporate transfers, payment anomalies."""

from api.auth import STAFF_ROLES, current_user, protected
from api.blueprint import Blueprint
from api.order_presenters import present_order, present_orders
from api.schemas.orders import (
    AnomalyListOut,
    OrderListOut,
    OrderOut,
    OrderQuery,
    RecordBankRefundIn,
    RecordTransferIn,
)
from models.enums import Role
from services import orders, payments
from services.error_codes import CommonError, HouseholdError, PaymentError

blp = Blueprint("admin_orders", __name__, url_prefix="/api/v1/admin", description="县级：订单")


@blp.route("/orders")
@protected(blp, *STAFF_ROLES)
@blp.arguments(OrderQuery, location="query")
@blp.response(200, OrderListOut)
@blp.errors(CommonError.INVALID_CURSOR)
def county_orders(args):
    """Orders with a shop of the staff member's counties, newest first."""
    items, next_cursor = orders.list_county_orders(current_user(), **args)
    return {"items": present_orders(items), "next_cursor": next_cursor}


@blp.route("/orders/<int:order_id>/record-transfer", methods=["POST"])
@protected(blp, Role.COUNTY_STAFF, Role.PLATFORM_ADMIN)
@blp.arguments(RecordTransferIn)
@blp.response(200, OrderOut)
@blp.errors(
    CommonError.NOT_FOUND,
    CommonError.INVALID_STATE,
    HouseholdError.ADMIN_READ_ONLY,
    PaymentError.TRANSFER_FOR_UNITS,
    PaymentError.TRANSFER_AMOUNT_MISMATCH,
    PaymentError.ALREADY_PAID,
)
def record_transfer(data, order_id):
    """A unit's corporate transfer arrived: the order is paid (the amount must be exact)."""
    order = orders.order_for_staff(current_user(), order_id)
    return present_order(payments.record_transfer(current_user(), order, **data))


@blp.route("/orders/<int:order_id>/refunds/<int:refund_id>/record", methods=["POST"])
@protected(blp, Role.COUNTY_STAFF, Role.PLATFORM_ADMIN)
@blp.arguments(RecordBankRefundIn)
@blp.response(200, OrderOut)
@blp.errors(CommonError.NOT_FOUND, CommonError.INVALID_STATE, HouseholdError.ADMIN_READ_ONLY)
def record_bank_refund(data, order_id, refund_id):
    """A transfer-paid order's refund was sent back to the unit by bank: recorded with the
    bank's reference (the money leaves the seller's escrow in the ledger)."""
    order = orders.order_for_staff(current_user(), order_id)
    return present_order(payments.record_bank_refund(current_user(), order, refund_id, **data))


@blp.route("/payment-anomalies")
@protected(blp, *STAFF_ROLES)
@blp.response(200, AnomalyListOut)
def anomalies():
    """Money that did not fit an order (wrong amount, unknown order, paid after it closed)."""
    items = payments.anomalies_for(current_user())
    return {"items": items, "next_cursor": None}
