from marshmallow import Schema, fields, validate

from api.schemas.common import InputSchema, text
from models.enums import ConsentMethod, ConsentPurpose, PovertyStatus, VerificationStatus

REGISTRY_NO = validate.Regexp(r"^[A-Za-z0-9-]{4,32}$", error="档案编号须为4-32位字母、数字或-")


class HouseholdIn(InputSchema):
    registry_no = fields.String(required=True, validate=REGISTRY_NO)
    head_name = text(50, required=True, min_len=1)
    id_number = fields.String(required=True, validate=validate.Length(max=32))
    village_code = fields.String(required=True, validate=validate.Length(max=12))
    poverty_status = fields.Enum(PovertyStatus, by_value=True, required=True)
    phone = fields.String(allow_none=True, validate=validate.Length(max=20))


class HouseholdPatch(InputSchema):
    head_name = text(50, min_len=1)
    phone = fields.String(allow_none=True, validate=validate.Length(max=20))
    poverty_status = fields.Enum(PovertyStatus, by_value=True)


class ConsentIn(InputSchema):
    helper_user_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    purposes = fields.List(
        fields.Enum(ConsentPurpose, by_value=True), required=True, validate=validate.Length(min=1)
    )
    method = fields.Enum(ConsentMethod, by_value=True, required=True)
    note = text(500)
    expires_at = fields.AwareDateTime(allow_none=True)


class ConsentOut(Schema):
    id = fields.Integer(required=True)
    helper_user_id = fields.Integer(required=True)
    purposes = fields.List(fields.String(), required=True)
    method = fields.Enum(ConsentMethod, by_value=True, required=True)
    note = fields.String(required=True)
    recorded_by_id = fields.Integer(required=True)
    granted_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class VillageOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)


class HouseholdOut(Schema):
    id = fields.Integer(required=True)
    registry_no = fields.String(required=True)
    head_name = fields.String(required=True)
    id_number_masked = fields.String(required=True)
    phone = fields.String(
        allow_none=True, metadata={"description": "masked unless staff or member"}
    )
    village = fields.Nested(VillageOut, required=True)
    county_code = fields.String(required=True)
    poverty_status = fields.Enum(PovertyStatus, by_value=True, required=True)
    verification_status = fields.Enum(VerificationStatus, by_value=True, required=True)
    verified_at = fields.DateTime(allow_none=True)
    consents = fields.List(fields.Nested(ConsentOut), required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class IdNumberQuery(InputSchema):
    reason = text(
        200, required=True, min_len=2, metadata={"description": "recorded in the audit trail"}
    )


class IdNumberOut(Schema):
    household_id = fields.Integer(required=True)
    id_number = fields.String(required=True)


class InviteOut(Schema):
    code = fields.String(required=True, metadata={"description": "8 digits, single use"})
    expires_at = fields.DateTime(required=True)


class JoinIn(InputSchema):
    code = fields.String(required=True, validate=validate.Regexp(r"^\d{8}$", error="须为8位数字"))
