from marshmallow import Schema, fields, validate

from api.schemas.common import InputSchema, id_field, page_of, text
from models.enums import Category, ProductStatus, RejectReason, ReviewState
from services.products import MAX_PHOTOS, MAX_SKUS

MAX_PRICE_FEN = 100_000_000  # ¥1,000,000: far above any farm product, far below int overflow
MAX_STOCK = 1_000_000


class SkuDraftIn(InputSchema):
    id = id_field(allow_none=True, metadata={"description": "an existing SKU of this product"})
    spec_name = text(30, required=True, min_len=1)
    price_fen = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=MAX_PRICE_FEN)
    )
    stock = fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_STOCK))


class ProductContentIn(InputSchema):
    """The editable content of a listing; every field optional until submission."""

    title = text(60)
    category = fields.Enum(Category, by_value=True, allow_none=True)
    description = text(2000)
    story = text(2000, metadata={"description": "the household's own words"})
    unit = text(8)
    harvest_date = fields.Date(allow_none=True)
    presale_ship_date = fields.Date(allow_none=True)
    cold_chain = fields.Boolean(
        allow_none=True, metadata={"description": "fresh goods kept cold (冷链) from hand-in on"}
    )
    media_ids = fields.List(id_field(), validate=validate.Length(max=MAX_PHOTOS))
    skus = fields.List(fields.Nested(SkuDraftIn), validate=validate.Length(max=MAX_SKUS))


class StockIn(InputSchema):
    stock = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0, max=MAX_STOCK)
    )


class RejectIn(InputSchema):
    reason_code = fields.Enum(RejectReason, by_value=True, required=True)
    note = text(500)


class ApproveIn(InputSchema):
    note = text(500)


class VariantOut(Schema):
    width = fields.Integer(required=True)
    height = fields.Integer(required=True)
    format = fields.String(required=True)
    url = fields.String(required=True)


class PhotoOut(Schema):
    id = fields.Integer(required=True)
    variants = fields.List(fields.Nested(VariantOut), required=True)


class SkuOut(Schema):
    id = fields.Integer(required=True)
    spec_name = fields.String(required=True)
    price_fen = fields.Integer(required=True)
    stock = fields.Integer(required=True)
    is_active = fields.Boolean(required=True)


class RejectionOut(Schema):
    reason_code = fields.Enum(RejectReason, by_value=True, required=True)
    note = fields.String(required=True)
    fix_hint = fields.String(required=True)
    at = fields.DateTime(required=True)


class SkuDraftOut(Schema):
    id = fields.Integer(allow_none=True, metadata={"description": "null: a spec not yet published"})
    spec_name = fields.String(required=True)
    price_fen = fields.Integer(required=True)
    stock = fields.Integer(allow_none=True)


class DraftOut(Schema):
    """The household's edit of a listing, as kept beside the live content (any field may still
    be empty before submission)."""

    title = fields.String(allow_none=True)
    category = fields.String(allow_none=True, validate=validate.OneOf([c.value for c in Category]))
    description = fields.String(allow_none=True)
    story = fields.String(allow_none=True)
    unit = fields.String(allow_none=True)
    harvest_date = fields.String(allow_none=True, metadata={"format": "date"})
    presale_ship_date = fields.String(allow_none=True, metadata={"format": "date"})
    cold_chain = fields.Boolean(allow_none=True)
    media_ids = fields.List(fields.Integer(), required=True)
    skus = fields.List(fields.Nested(SkuDraftOut), required=True)


class LiveContentOut(Schema):
    title = fields.String(required=True)
    category = fields.Enum(Category, by_value=True, allow_none=True)
    description = fields.String(required=True)
    story = fields.String(required=True)
    unit = fields.String(required=True)
    harvest_date = fields.Date(allow_none=True)
    presale_ship_date = fields.Date(allow_none=True)
    cold_chain = fields.Boolean(required=True)
    photos = fields.List(fields.Nested(PhotoOut), required=True)


class ProductOut(Schema):
    """The owner's (and staff's) view: live content, the draft and its review state."""

    id = fields.Integer(required=True)
    shop_id = fields.Integer(required=True)
    household_id = fields.Integer(required=True)
    status = fields.Enum(ProductStatus, by_value=True, required=True)
    review_state = fields.Enum(ReviewState, by_value=True, required=True)
    flagged = fields.Boolean(required=True)
    flag_detail = fields.String(required=True)
    live = fields.Nested(LiveContentOut, required=True)
    draft = fields.Nested(DraftOut, required=True)
    skus = fields.List(fields.Nested(SkuOut), required=True)
    rejection = fields.Nested(RejectionOut, allow_none=True)
    trace_code = fields.String(allow_none=True)
    listed_at = fields.DateTime(allow_none=True)
    submitted_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


ProductListOut = page_of(ProductOut, "ProductListOut")


class ModerationEventOut(Schema):
    id = fields.Integer(required=True)
    action = fields.String(required=True)
    actor_id = fields.Integer(allow_none=True)
    on_behalf_of_household_id = fields.Integer(allow_none=True)
    reason_code = fields.Enum(RejectReason, by_value=True, allow_none=True)
    note = fields.String(required=True)
    snapshot = fields.Nested(
        DraftOut,
        allow_none=True,
        metadata={"description": "the draft as it was submitted or decided on: what was reviewed"},
    )
    created_at = fields.DateTime(required=True)


ModerationHistoryOut = page_of(ModerationEventOut, "ModerationHistoryOut")


class QueueItemOut(ProductOut):
    household_status = fields.String(required=True)
    household_verification = fields.String(required=True)
    village_name = fields.String(required=True)
    draft_photos = fields.List(fields.Nested(PhotoOut), required=True)


class QueueQuery(InputSchema):
    cursor = fields.String(validate=validate.Length(max=200))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=50))


QueueOut = page_of(QueueItemOut, "QueueOut")
