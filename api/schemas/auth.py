from marshmallow import Schema, fields

from api.schemas.common import InputSchema, Pattern, text
from models.enums import Role


class WeChatLoginIn(InputSchema):
    code = text(128, required=True, min_len=1)


class DevLoginIn(InputSchema):
    openid = fields.String(required=True, validate=Pattern(r"^[A-Za-z0-9_-]{1,64}$"))
    nickname = text(64)


class StaffLoginIn(InputSchema):
    username = text(64, required=True, min_len=1)
    password = text(256, required=True, min_len=1)


class ScopeOut(Schema):
    region_code = fields.String(allow_none=True)
    region_name = fields.String(allow_none=True)
    household_id = fields.Integer(allow_none=True)
    unit_id = fields.Integer(allow_none=True)
    station_id = fields.Integer(allow_none=True)


class RoleOut(Schema):
    role = fields.Enum(Role, by_value=True, required=True)
    scope = fields.Nested(ScopeOut, required=True)


class UserOut(Schema):
    id = fields.Integer(required=True)
    nickname = fields.String(required=True)
    username = fields.String(allow_none=True)
    roles = fields.List(fields.Nested(RoleOut), required=True)


class TokenOut(Schema):
    token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_at = fields.DateTime(required=True)
    user = fields.Nested(UserOut, required=True)
