"""The fulfilment chain: acts on a ShopOrder, hand-ins, inspections, parcels, a station's work
list and scanned labels."""

from marshmallow import Schema, fields, validate

from api.schemas.common import InputSchema, id_field, text
from api.schemas.orders import LineOut, ShipmentOut, ShippingAddressOut
from models.enums import Category, InspectionResult, ShipMethod, ShopOrderStatus

# A cold store keeps -30 °C; a hot day on a truck reaches 60 °C: beyond that it is a typo.
TEMPERATURE = fields.Float(
    allow_none=True,
    validate=validate.Range(min=-40, max=60),
    metadata={"description": "°C, required for cold-chain goods (冷链)"},
)


class AcceptIn(InputSchema):
    station_id = id_field(
        allow_none=True,
        metadata={"description": "where the goods will be handed in; default: the village point"},
    )


class ShopOrderReasonIn(InputSchema):
    reason = text(200, required=True, min_len=1)


class ShipIn(InputSchema):
    method = fields.Enum(ShipMethod, by_value=True, load_default=ShipMethod.EXPRESS)
    carrier = text(32, metadata={"description": "WeChat's delivery_id, e.g. SF, YTO, ZTO"})
    tracking_no = fields.String(
        validate=validate.Regexp(r"^[0-9A-Za-z-]{4,64}$", error="快递单号格式有误")
    )
    temperature_c = TEMPERATURE


class ShipTogetherIn(ShipIn):
    shop_order_ids = fields.List(
        id_field(), required=True, validate=validate.Length(min=1, max=100)
    )


class HandInIn(InputSchema):
    shop_order_id = id_field(required=True)
    weight_g = fields.Integer(
        strict=True, required=True, validate=validate.Range(min=1, max=10_000_000)
    )
    count = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=100_000))
    grade = text(16, required=True, min_len=1, metadata={"description": "e.g. 一级, 特级"})
    photo_media_id = id_field(allow_none=True)
    temperature_c = TEMPERATURE
    harvest_date = fields.Date(allow_none=True)


class InspectionIn(InputSchema):
    batch_code = fields.String(
        required=True, validate=validate.Regexp(r"^[0-9A-Za-z]{1,16}$", error="批次码格式有误")
    )
    result = fields.Enum(InspectionResult, by_value=True, required=True)
    reason = text(200, metadata={"description": "required when the result is fail"})
    report_media_id = id_field(allow_none=True)


class BatchOut(Schema):
    id = fields.Integer(required=True)
    code = fields.String(required=True, metadata={"description": "the batch's trace code"})
    url = fields.String(required=True, metadata={"description": "the public trace page"})
    label_url = fields.String(required=True, metadata={"description": "its QR label (SVG)"})
    station_id = fields.Integer(required=True)
    shop_order_id = fields.Integer(required=True)
    weight_g = fields.Integer(required=True)
    count = fields.Integer(required=True)
    grade = fields.String(required=True)
    temperature_c = fields.Float(allow_none=True)
    handed_in_at = fields.DateTime(required=True)
    inspection_result = fields.Enum(InspectionResult, by_value=True, allow_none=True)
    inspection_reason = fields.String(required=True)
    inspected_at = fields.DateTime(allow_none=True)


class ShipmentWithPartsOut(ShipmentOut):
    shop_order_ids = fields.List(fields.Integer(), required=True)


class StationQueueItemOut(Schema):
    id = fields.Integer(required=True)
    order_id = fields.Integer(required=True)
    status = fields.Enum(ShopOrderStatus, by_value=True, required=True)
    label_code = fields.String(allow_none=True)
    hand_in_by = fields.DateTime(allow_none=True)
    overdue_since = fields.DateTime(allow_none=True)
    lines = fields.List(fields.Nested(LineOut), required=True)
    cold_chain = fields.Boolean(required=True)
    batch_code = fields.String(allow_none=True)
    address = fields.Nested(
        ShippingAddressOut,
        allow_none=True,
        metadata={"description": "where it goes: only in ready_to_ship"},
    )


class HandInOut(Schema):
    batch = fields.Nested(BatchOut, required=True)
    shop_order = fields.Nested(StationQueueItemOut, required=True)


class StationQueueOut(Schema):
    station_id = fields.Integer(required=True)
    expected = fields.List(fields.Nested(StationQueueItemOut), required=True)
    received = fields.List(fields.Nested(StationQueueItemOut), required=True)
    awaiting_inspection = fields.List(fields.Nested(StationQueueItemOut), required=True)
    ready_to_ship = fields.List(fields.Nested(StationQueueItemOut), required=True)


class ScanOut(Schema):
    kind = fields.String(required=True, metadata={"description": "shop_order or batch"})
    shop_order = fields.Nested(StationQueueItemOut, required=True)
    batch = fields.Nested(BatchOut, allow_none=True)


class OverdueQuery(InputSchema):
    cursor = fields.String(validate=validate.Length(max=200))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=50))


class DirectShippingIn(InputSchema):
    categories = fields.List(
        fields.Enum(Category, by_value=True), required=True, validate=validate.Length(max=20)
    )


class DirectShippingOut(Schema):
    county_code = fields.String(required=True)
    categories = fields.List(fields.Enum(Category, by_value=True), required=True)
