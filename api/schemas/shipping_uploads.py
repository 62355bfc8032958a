from marshmallow import Schema, fields, validate

from api.schemas.common import InputSchema, page_of
from models.enums import ShippingUploadStatus


class ShippingUploadOut(Schema):
    id = fields.Integer(required=True)
    order_id = fields.Integer(required=True)
    status = fields.Enum(
        ShippingUploadStatus,
        by_value=True,
        required=True,
        metadata={"description": "pending: WeChat does not have it yet (sent again by the job)"},
    )
    attempts = fields.Integer(required=True, metadata={"description": "failed sends so far"})
    last_error = fields.String(
        required=True, metadata={"description": "WeChat's errcode and errmsg of the last failure"}
    )
    last_attempt_at = fields.DateTime(allow_none=True)
    uploaded_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(required=True)


ShippingUploadListOut = page_of(ShippingUploadOut, "ShippingUploadListOut")


class ShippingUploadQuery(InputSchema):
    status = fields.Enum(ShippingUploadStatus, by_value=True)
    cursor = fields.String(validate=validate.Length(max=200))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=50))
