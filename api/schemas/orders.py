"""Addresses, the cart, orders, payments and refunds."""

from marshmallow import Schema, fields, validate

from api.schemas.catalog import PlaceOut
from api.schemas.common import InputSchema, Pattern, id_field, page_of, text
from models.enums import (
    OrderStatus,
    PaymentMethod,
    PaymentStatus,
    RefundState,
    RefundStatus,
    ShopOrderStatus,
    StockState,
)
from services.cart import MAX_CART_LINES
from services.orders import MAX_LINES, MAX_QUANTITY
from services.pii import PHONE_PATTERN

REGION_CODE = {
    "format": "village-code",
    "pattern": r"^[0-9]{12}$",
    "description": "12-digit code of a township or village in the region table",
}
PHONE = {"pattern": PHONE_PATTERN, "description": "mainland mobile number"}
QUANTITY = validate.Range(min=1, max=MAX_QUANTITY)


# --- addresses -----------------------------------------------------------------------------------


class AddressIn(InputSchema):
    name = text(30, required=True, min_len=1)
    phone = fields.String(required=True, validate=validate.Length(min=1, max=20), metadata=PHONE)
    region_code = fields.String(
        required=True, validate=validate.Length(max=12), metadata=REGION_CODE
    )
    detail = text(120, required=True, min_len=2)
    is_default = fields.Boolean()


class AddressPatch(InputSchema):
    name = text(30, min_len=1)
    phone = fields.String(validate=validate.Length(min=1, max=20), metadata=PHONE)
    region_code = fields.String(validate=validate.Length(max=12), metadata=REGION_CODE)
    detail = text(120, min_len=2)
    is_default = fields.Boolean()


class AddressOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    phone = fields.String(required=True)
    region = fields.Nested(PlaceOut, required=True)
    detail = fields.String(required=True)
    is_default = fields.Boolean(required=True)


AddressListOut = page_of(AddressOut, "AddressListOut")


# --- cart ----------------------------------------------------------------------------------------


class LineIn(InputSchema):
    sku_id = id_field(required=True)
    quantity = fields.Integer(required=True, strict=True, validate=QUANTITY)


class CartIn(InputSchema):
    lines = fields.List(
        fields.Nested(LineIn), required=True, validate=validate.Length(max=MAX_CART_LINES)
    )


class CartLineOut(Schema):
    sku_id = fields.Integer(required=True)
    quantity = fields.Integer(required=True)
    product_id = fields.Integer(required=True)
    shop_id = fields.Integer(required=True)
    title = fields.String(required=True)
    spec_name = fields.String(required=True)
    price_fen = fields.Integer(required=True, metadata={"description": "the price now"})
    available = fields.Boolean(required=True, metadata={"description": "on sale now"})
    stock_state = fields.Enum(StockState, by_value=True, required=True)


class CartOut(Schema):
    lines = fields.List(fields.Nested(CartLineOut), required=True)
    total_fen = fields.Integer(required=True, metadata={"description": "of the available lines"})


# --- orders --------------------------------------------------------------------------------------


class InvoiceIn(InputSchema):
    title = text(100, required=True, min_len=2)
    tax_number = fields.String(
        required=True,
        validate=Pattern(r"^[0-9A-Z]{15,20}$", error="须为15到20位数字或大写字母"),
        metadata={"description": "纳税人识别号 (a unified social credit code for most units)"},
    )


class OrderIn(InputSchema):
    lines = fields.List(
        fields.Nested(LineIn), required=True, validate=validate.Length(min=1, max=MAX_LINES)
    )
    address_id = id_field(required=True)
    unit_id = id_field(metadata={"description": "buy for this unit (its member or admin)"})
    note = text(200)
    invoice = fields.Nested(InvoiceIn, metadata={"description": "unit orders only"})


class OrderQuery(InputSchema):
    status = fields.Enum(OrderStatus, by_value=True)
    cursor = fields.String(validate=validate.Length(max=200))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=50))


class LineOut(Schema):
    id = fields.Integer(required=True)
    sku_id = fields.Integer(required=True)
    product_id = fields.Integer(required=True)
    title = fields.String(required=True)
    spec_name = fields.String(required=True)
    unit = fields.String(required=True)
    price_fen = fields.Integer(required=True, metadata={"description": "as it was when bought"})
    quantity = fields.Integer(required=True)
    subtotal_fen = fields.Integer(required=True)


class EventActorOut(Schema):
    role = fields.String(allow_none=True, metadata={"description": "null: the system"})
    name = fields.String(required=True, metadata={"description": "masked"})


class EventStationOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class ShopOrderEventOut(Schema):
    action = fields.String(
        required=True,
        metadata={
            "description": "pay, accept, reject, hand_in, pass, fail, ship, confirm, "
            "auto_confirm, complete, cancel, overdue, refunded"
        },
    )
    actor = fields.Nested(EventActorOut, allow_none=True)
    station = fields.Nested(EventStationOut, allow_none=True)
    at = fields.DateTime(required=True)
    data = fields.Dict(required=True)


class ShipmentOut(Schema):
    id = fields.Integer(required=True)
    method = fields.String(required=True)
    carrier = fields.String(required=True, metadata={"description": "WeChat's delivery_id"})
    tracking_no = fields.String(required=True)
    shipped_at = fields.DateTime(required=True)


class ShopOrderOut(Schema):
    id = fields.Integer(required=True)
    shop_id = fields.Integer(required=True)
    status = fields.Enum(ShopOrderStatus, by_value=True, required=True)
    refund_status = fields.Enum(RefundStatus, by_value=True, required=True)
    lines = fields.List(fields.Nested(LineOut), required=True)
    goods_fen = fields.Integer(required=True)
    shipping_fen = fields.Integer(required=True)
    total_fen = fields.Integer(required=True)
    refunded_fen = fields.Integer(required=True)
    station = fields.Nested(EventStationOut, allow_none=True)
    label_code = fields.String(
        allow_none=True, metadata={"description": "on the slip brought to the station"}
    )
    accept_by = fields.DateTime(allow_none=True)
    hand_in_by = fields.DateTime(allow_none=True)
    overdue_since = fields.DateTime(allow_none=True)
    shipment = fields.Nested(ShipmentOut, allow_none=True)
    batch_code = fields.String(allow_none=True, metadata={"description": "its trace code"})
    events = fields.List(fields.Nested(ShopOrderEventOut), required=True)


class PaymentOut(Schema):
    id = fields.Integer(required=True)
    method = fields.Enum(PaymentMethod, by_value=True, required=True)
    status = fields.Enum(PaymentStatus, by_value=True, required=True)
    amount_fen = fields.Integer(required=True)
    succeeded_at = fields.DateTime(allow_none=True)


class RefundOut(Schema):
    id = fields.Integer(required=True)
    shop_order_id = fields.Integer(allow_none=True)
    amount_fen = fields.Integer(required=True)
    state = fields.Enum(RefundState, by_value=True, required=True)
    reason = fields.String(required=True)
    succeeded_at = fields.DateTime(allow_none=True)


class ShippingAddressOut(Schema):
    name = fields.String(required=True)
    phone = fields.String(required=True)
    region_code = fields.String(required=True)
    region_name = fields.String(required=True)
    detail = fields.String(required=True)


class InvoiceOut(Schema):
    title = fields.String(required=True)
    tax_number = fields.String(required=True)


class TransferOut(Schema):
    payee_name = fields.String(required=True)
    payee_bank = fields.String(required=True)
    payee_account = fields.String(required=True)
    amount_fen = fields.Integer(required=True)
    reference = fields.String(required=True, metadata={"description": "write it on the transfer"})
    wait_until = fields.DateTime(required=True)


class OrderOut(Schema):
    id = fields.Integer(required=True)
    status = fields.Enum(OrderStatus, by_value=True, required=True)
    refund_status = fields.Enum(RefundStatus, by_value=True, required=True)
    refunded_fen = fields.Integer(required=True)
    buyer_id = fields.Integer(required=True)
    unit_id = fields.Integer(allow_none=True)
    goods_fen = fields.Integer(required=True)
    shipping_fen = fields.Integer(required=True)
    total_fen = fields.Integer(required=True)
    note = fields.String(required=True)
    address = fields.Nested(ShippingAddressOut, required=True)
    invoice = fields.Nested(InvoiceOut, allow_none=True)
    payment_method = fields.Enum(PaymentMethod, by_value=True, allow_none=True)
    expires_at = fields.DateTime(required=True)
    paid_at = fields.DateTime(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(required=True)
    shop_orders = fields.List(fields.Nested(ShopOrderOut), required=True)
    payments = fields.List(fields.Nested(PaymentOut), required=True)
    refunds = fields.List(fields.Nested(RefundOut), required=True)
    transfer = fields.Nested(TransferOut, allow_none=True)


OrderListOut = page_of(OrderOut, "OrderListOut")


class SellerOrderOut(ShopOrderOut):
    """A shop's part of an order, as its household sees it: what to prepare and where it goes."""

    order_id = fields.Integer(required=True)
    order_status = fields.Enum(OrderStatus, by_value=True, required=True)
    paid_at = fields.DateTime(allow_none=True)
    address = fields.Nested(ShippingAddressOut, required=True)
    note = fields.String(required=True)


SellerOrderListOut = page_of(SellerOrderOut, "SellerOrderListOut")


class PageQuery(InputSchema):
    cursor = fields.String(validate=validate.Length(max=200))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=50))


class CancelIn(InputSchema):
    reason = text(80)


class PayIn(InputSchema):
    method = fields.Enum(PaymentMethod, by_value=True, required=True)


class PayParamsOut(Schema):
    """The five parameters of ``wx.requestPayment``."""

    timeStamp = fields.String(required=True)  # noqa: N815  (WeChat's names)
    nonceStr = fields.String(required=True)  # noqa: N815
    package = fields.String(required=True)
    signType = fields.String(required=True)  # noqa: N815
    paySign = fields.String(required=True)  # noqa: N815


class PayOut(Schema):
    order = fields.Nested(OrderOut, required=True)
    pay_params = fields.Nested(PayParamsOut, allow_none=True)
    transfer = fields.Nested(TransferOut, allow_none=True)


class RecordTransferIn(InputSchema):
    bank_reference = text(64, required=True, min_len=4)
    amount_fen = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


class RecordBankRefundIn(InputSchema):
    bank_reference = text(64, required=True, min_len=4)


class AnomalyOut(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    order_id = fields.Integer(allow_none=True)
    out_trade_no = fields.String(allow_none=True)
    detail = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    created_at = fields.DateTime(required=True)


AnomalyListOut = page_of(AnomalyOut, "AnomalyListOut")


class WeChatAnswerOut(Schema):
    """What WeChat Pay reads from our answer to a notification (FAIL: it sends it again)."""

    code = fields.String(required=True, metadata={"description": "SUCCESS or FAIL"})
    message = fields.String(required=True)
