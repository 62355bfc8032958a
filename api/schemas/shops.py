from marshmallow import Schema, fields, pre_load

from api.schemas.common import InputSchema, id_field, page_of, text, text_pattern
from models.enums import ShopStatus


class ShopIn(InputSchema):
    household_id = id_field(required=True)
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


ShopListOut = page_of(ShopOut, "ShopListOut")


class ReviewIn(InputSchema):
    reason = text(500, metadata={"description": "optional note, e.g. why a shop is reinstated"})


class ReasonIn(InputSchema):
    """Reject or suspend: a reason the household will read.

    The spec marks it required and not blank. The service enforces that rule (error
    ``reason_required``, the code the console shows), so a missing or null reason is let
    through to it as an empty one.
    """

    reason = text(
        500,
        required=True,
        metadata={
            "description": "why, in words the household will read",
            "minLength": 1,
            "pattern": text_pattern(1),
        },
    )

    @pre_load
    def _missing_reason_is_for_the_service(self, data, **kwargs):
        if isinstance(data, dict) and data.get("reason") is None:
            return {**data, "reason": ""}
        return data
