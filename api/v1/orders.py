"""Orders as their buyers (and unit admins) see them, and a shop's orders as its household
sees them."""

from flask import request
from flask.views import MethodView

from api.auth import current_user, protected
from api.blueprint import Blueprint
from api.order_presenters import present_order, present_orders, present_seller_orders
from api.schemas.orders import (
    CancelIn,
    OrderIn,
    OrderListOut,
    OrderOut,
    OrderQuery,
    PageQuery,
    PayIn,
    PayOut,
    SellerOrderListOut,
)
from services import orders, payments
from services.error_codes import (
    CommonError,
    HouseholdError,
    OrderError,
    PaymentError,
    RequestError,
    UnitError,
)
from services.idempotency import Idempotency
from services.orders import Line

blp = Blueprint("orders", __name__, url_prefix="/api/v1", description="订单")

IDEMPOTENCY_HEADER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
    "description": "one per order the buyer means to place: a retry with the same key and body "
    "returns the same order; the same key with another body is refused",
}


@blp.route("/orders")
class Orders(MethodView):
    @protected(blp)
    @blp.arguments(OrderIn)
    @blp.response(201, OrderOut)
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @blp.errors(
        RequestError.IDEMPOTENCY_KEY_REQUIRED,
        RequestError.IDEMPOTENCY_KEY_INVALID,
        RequestError.IDEMPOTENCY_KEY_REUSED,
        OrderError.INSUFFICIENT_STOCK,
        OrderError.SKU_UNAVAILABLE,
        OrderError.DUPLICATE_LINE,
        OrderError.ORDER_TOO_LARGE,
        OrderError.ADDRESS_NOT_FOUND,
        OrderError.INVOICE_NEEDS_UNIT,
        OrderError.NOT_UNIT_MEMBER,
        UnitError.UNIT_NOT_VERIFIED,
    )
    def post(self, data):
        """Place an order across any number of shops: stock is taken for every line or none."""
        idempotency = Idempotency.of(request.headers.get("Idempotency-Key"), "order.create", data)
        order = orders.place_order(
            current_user(),
            lines=[Line(line["sku_id"], line["quantity"]) for line in data["lines"]],
            address_id=data["address_id"],
            unit_id=data.get("unit_id"),
            note=data.get("note", ""),
            invoice=data.get("invoice"),
            idempotency=idempotency,
        )
        return present_order(order)

    @protected(blp)
    @blp.arguments(OrderQuery, location="query")
    @blp.response(200, OrderListOut)
    @blp.errors(CommonError.INVALID_CURSOR)
    def get(self, args):
        """The user's orders, newest first; a unit admin also sees the unit's orders."""
        items, next_cursor = orders.list_orders(current_user(), **args)
        return {"items": present_orders(items), "next_cursor": next_cursor}


@blp.route("/orders/<int:order_id>")
@protected(blp)
@blp.response(200, OrderOut)
@blp.errors(CommonError.NOT_FOUND)
def get_order(order_id):
    """An order with its shop orders, lines, payments and refunds."""
    return present_order(orders.get_order(current_user(), order_id))


@blp.route("/orders/<int:order_id>/pay", methods=["POST"])
@protected(blp)
@blp.arguments(PayIn)
@blp.response(200, PayOut)
@blp.errors(
    CommonError.NOT_FOUND,
    CommonError.FORBIDDEN,
    CommonError.INVALID_STATE,
    PaymentError.METHOD_UNAVAILABLE,
    PaymentError.WECHAT_IDENTITY_REQUIRED,
    PaymentError.PAYMENT_UNAVAILABLE,
    PaymentError.ALREADY_PAID,
    PaymentError.TRANSFER_FOR_UNITS,
)
def pay_order(data, order_id):
    """``wechat``: the parameters of ``wx.requestPayment`` (asking again never charges twice);
    ``transfer`` (unit orders): where to send the money; ``dev`` (local only): paid at once."""
    actor = current_user()
    order = orders.get_order(actor, order_id)
    answer = payments.pay_order(actor, order, method=data["method"])
    return {"order": present_order(order), **answer}


@blp.route("/orders/<int:order_id>/payment-status", methods=["POST"])
@protected(blp)
@blp.response(200, OrderOut)
@blp.errors(CommonError.NOT_FOUND, PaymentError.PAYMENT_UNAVAILABLE)
def payment_status(order_id):
    """Ask WeChat Pay about the order now (the buyer came back before the notification)."""
    order = orders.get_order(current_user(), order_id)
    return present_order(payments.check_payment(order))


@blp.route("/orders/<int:order_id>/cancel", methods=["POST"])
@protected(blp)
@blp.arguments(CancelIn)
@blp.response(200, OrderOut)
@blp.errors(
    CommonError.NOT_FOUND,
    CommonError.FORBIDDEN,
    CommonError.INVALID_STATE,
    OrderError.IN_FULFILMENT,
    PaymentError.PAYMENT_UNAVAILABLE,
)
def cancel_order(data, order_id):
    """Cancel before any farmer accepted a part: the stock goes back, and money paid is
    refunded. Once a part is accepted, the parts still waiting are each the farmer's to
    accept or reject."""
    order = orders.cancel_order(current_user(), order_id, reason=data.get("reason", ""))
    return present_order(order)


@blp.route("/shops/<int:shop_id>/orders")
@protected(blp)
@blp.arguments(PageQuery, location="query")
@blp.response(200, SellerOrderListOut)
@blp.errors(
    CommonError.NOT_FOUND,
    CommonError.FORBIDDEN,
    CommonError.INVALID_CURSOR,
    HouseholdError.CONSENT_REQUIRED,
)
def shop_orders(args, shop_id):
    """The shop's paid orders, newest first (its household, a helper with the
    ``handle_orders`` consent, its county's staff)."""
    items, next_cursor = orders.list_shop_orders(current_user(), shop_id, **args)
    return {"items": present_seller_orders(items), "next_cursor": next_cursor}
