from marshmallow import Schema, fields, validate

from api.schemas.common import InputSchema, page_of, text
from api.schemas.products import LiveContentOut
from models.enums import Category, StockState
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


class TraceOut(Schema):
    code = fields.String(required=True)
    url = fields.String(required=True, metadata={"description": "the storefront page the QR opens"})
    product = fields.Nested(PublicProductOut, required=True)
    on_sale = fields.Boolean(required=True)
    inspections = fields.List(fields.Dict(), required=True)


class QrQuery(InputSchema):
    format = fields.String(load_default="svg", validate=validate.OneOf(["svg", "png"]))
    scale = fields.Integer(load_default=8, validate=validate.Range(min=1, max=40))
