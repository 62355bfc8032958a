from marshmallow import Schema, fields, validate

from api.schemas.common import InputSchema, text
from models.enums import ShopStatus


class ShopIn(InputSchema):
    household_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    name = text(40, required=True, min_len=1)
    intro = text(200)
    story = text(2000)


class ShopPatch(InputSchema):
    name = text(40, min_len=1)
    intro = text(200)
    story = text(2000)


class ShopOut(Schema):
    id = fields.Integer(required=True)
    household_id = fields.Integer(required=True)
    county_code = fields.String(required=True)
    name = fields.String(required=True)
    intro = fields.String(required=True)
    story = fields.String(required=True)
    status = fields.Enum(ShopStatus, by_value=True, required=True)
    status_reason = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class ShopListOut(Schema):
    items = fields.List(fields.Nested(ShopOut), required=True)
    next_cursor = fields.String(allow_none=True)


class ReviewIn(InputSchema):
    reason = text(500, metadata={"description": "required to reject or suspend"})
