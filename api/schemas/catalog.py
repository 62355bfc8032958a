from marshmallow import Schema, fields, validate

from api.schemas.common import InputSchema, page_of, text
from api.schemas.products import LiveContentOut, PhotoOut
from models.enums import Category, InspectionResult, StationKind, StockState
from services.catalog import LOW_STOCK, SORTS
from services.regions import CODE_PATTERN


class CatalogQuery(InputSchema):
    region = fields.String(
        validate=validate.Regexp(CODE_PATTERN),
        metadata={
            "description": "province, city, county, township or village code",
            "pattern": CODE_PATTERN,
        },
    )
    category = fields.Enum(Category, by_value=True)
    q = text(40, metadata={"description": "keyword in title or story"})
    sort = fields.String(load_default="newest", validate=validate.OneOf(SORTS))
    cursor = fields.String(validate=validate.Length(max=200))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=50))


class PublicSkuOut(Schema):
    id = fields.Integer(required=True)
    spec_name = fields.String(required=True)
    price_fen = fields.Integer(required=True)
    stock_state = fields.Enum(
        StockState,
        by_value=True,
        required=True,
        metadata={"description": f"low: at most {LOW_STOCK} left"},
    )


class PlaceOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)


class ShopRefOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class PublicProductOut(LiveContentOut):
    """Approved content only (the draft never appears here), the household's name masked."""

    id = fields.Integer(required=True)
    category = fields.Enum(Category, by_value=True, required=True)
    skus = fields.List(fields.Nested(PublicSkuOut), required=True)
    household_name = fields.String(required=True, metadata={"description": "masked: 李**"})
    village = fields.Nested(PlaceOut, required=True)
    shop = fields.Nested(ShopRefOut, required=True)
    trace_code = fields.String(allow_none=True)
    listed_at = fields.DateTime(allow_none=True)
    sales_count = fields.Integer(required=True)


class CoverOut(Schema):
    webp = fields.String(required=True)
    jpeg = fields.String(required=True)


class CatalogItemOut(Schema):
    """A feed card: what a list shows, nothing more (the story and all photos are on the
    detail page), so a page of 50 stays light on a 3G phone."""

    id = fields.Integer(required=True)
    title = fields.String(required=True)
    category = fields.Enum(Category, by_value=True, required=True)
    unit = fields.String(required=True)
    cover = fields.Nested(CoverOut, allow_none=True, metadata={"description": "240 px thumbnail"})
    price_from_fen = fields.Integer(allow_none=True)
    sold_out = fields.Boolean(required=True)
    household_name = fields.String(required=True)
    village = fields.Nested(PlaceOut, required=True)
    shop = fields.Nested(ShopRefOut, required=True)
    listed_at = fields.DateTime(allow_none=True)
    sales_count = fields.Integer(required=True)


CatalogPageOut = page_of(CatalogItemOut, "CatalogPageOut")


class PublicShopOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    intro = fields.String(required=True)
    story = fields.String(required=True)
    household_name = fields.String(required=True)
    village = fields.Nested(PlaceOut, required=True)
    products = fields.List(fields.Nested(PublicProductOut), required=True)


class TraceStationOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.Enum(StationKind, by_value=True, required=True)


class TraceBatchOut(Schema):
    """The hand-in at a station, as the operator recorded it."""

    code = fields.String(required=True)
    handed_in_at = fields.DateTime(required=True)
    weight_g = fields.Integer(required=True)
    count = fields.Integer(required=True)
    grade = fields.String(required=True)
    harvest_date = fields.Date(allow_none=True)
    temperature_c = fields.Float(allow_none=True)
    photo = fields.Nested(PhotoOut, allow_none=True)
    station = fields.Nested(TraceStationOut, required=True)


class TraceInspectionOut(Schema):
    """The county centre's inspection of the batch."""

    result = fields.Enum(InspectionResult, by_value=True, required=True)
    reason = fields.String(required=True, metadata={"description": "why it failed; may be empty"})
    report_photo = fields.Nested(PhotoOut, allow_none=True)
    inspected_at = fields.DateTime(allow_none=True)
    station = fields.Nested(TraceStationOut, allow_none=True)


class ColdChainStepOut(Schema):
    step = fields.String(required=True, validate=validate.OneOf(["hand_in", "ship"]))
    temperature_c = fields.Float(allow_none=True, metadata={"description": "null: not recorded"})
    at = fields.DateTime(required=True)
    station = fields.Nested(
        TraceStationOut, allow_none=True, metadata={"description": "null: shipped by the farmer"}
    )


class TraceProductRefOut(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True, metadata={"description": "as bought"})


class TraceBatchRowOut(Schema):
    """One of a product's latest batches (its own page: ``/t/{code}``)."""

    code = fields.String(required=True)
    url = fields.String(required=True)
    handed_in_at = fields.DateTime(required=True)
    weight_g = fields.Integer(required=True)
    grade = fields.String(required=True)
    inspection_result = fields.Enum(InspectionResult, by_value=True, allow_none=True)
    shipped_at = fields.DateTime(allow_none=True)


class TraceInspectionRecordOut(Schema):
    batch_code = fields.String(required=True)
    result = fields.Enum(InspectionResult, by_value=True, required=True)
    reason = fields.String(required=True)
    inspected_at = fields.DateTime(allow_none=True)


class TraceOut(Schema):
    """What a label's code answers: a product's record (``kind: product``) or a batch's
    (``kind: batch``). Everything on a batch's record was written by the hand-in, the
    inspection and the shipment; names are masked, villages shown, no household id or phone."""

    code = fields.String(required=True)
    url = fields.String(required=True, metadata={"description": "the storefront page the QR opens"})
    kind = fields.String(required=True, validate=validate.OneOf(["product", "batch"]))
    product = fields.Nested(
        PublicProductOut,
        required=True,
        metadata={"description": "for a batch: the first product of its order"},
    )
    on_sale = fields.Boolean(required=True)
    village = fields.Nested(PlaceOut, required=True)
    household_name = fields.String(required=True, metadata={"description": "masked: 李**"})
    inspections = fields.List(
        fields.Nested(TraceInspectionRecordOut),
        required=True,
        metadata={"description": "inspections of the batches shown, newest first"},
    )
    # A batch's code only.
    batch = fields.Nested(TraceBatchOut, metadata={"description": "batch codes only"})
    products = fields.List(
        fields.Nested(TraceProductRefOut),
        metadata={"description": "batch codes only: every product of the batch"},
    )
    inspection = fields.Nested(
        TraceInspectionOut,
        allow_none=True,
        metadata={"description": "batch codes only; null until inspected"},
    )
    shipped_at = fields.DateTime(
        allow_none=True, metadata={"description": "batch codes only; null until shipped"}
    )
    cold_chain = fields.List(
        fields.Nested(ColdChainStepOut),
        metadata={
            "description": "batch codes only: the temperature at each step, for cold-chain "
            "goods or where one was recorded ([] otherwise)"
        },
    )
    # A product's code only.
    batches = fields.List(
        fields.Nested(TraceBatchRowOut),
        metadata={"description": "product codes only: its latest batches, newest first"},
    )


class QrQuery(InputSchema):
    format = fields.String(load_default="svg", validate=validate.OneOf(["svg", "png"]))
    scale = fields.Integer(load_default=8, validate=validate.Range(min=1, max=40))
