from marshmallow import Schema, fields, validate

from api.schemas.common import InputSchema, Pattern, id_field, page_of, text
from models.enums import ConsentMethod, ConsentPurpose, PovertyStatus, Role, VerificationStatus
from services.pii import ID_NUMBER_PATTERN, PHONE_PATTERN, mask_name
from services.regions import VILLAGE_CODE_PATTERN

REGISTRY_NO = Pattern(r"^[A-Za-z0-9-]{4,32}$", error="档案编号须为4-32位字母、数字或-")

# The services check these three (with their own error codes: invalid_id_number,
# invalid_region_code, invalid_phone); the spec states what they accept.
ID_NUMBER = {
    "format": "resident-id",
    "pattern": ID_NUMBER_PATTERN,
    "description": "resident ID number (GB 11643): a known county code, a real birth date "
    "and the right check character",
}
VILLAGE_CODE = {
    "format": "village-code",
    "pattern": VILLAGE_CODE_PATTERN,
    "description": "12-digit code of a village in the region table",
}
PHONE = {
    "pattern": PHONE_PATTERN,
    "description": "mainland mobile number, +86/0086, blanks and dashes allowed; empty for none",
}


class HouseholdIn(InputSchema):
    registry_no = fields.String(required=True, validate=REGISTRY_NO)
    head_name = text(50, required=True, min_len=1)
    id_number = fields.String(required=True, validate=validate.Length(max=32), metadata=ID_NUMBER)
    village_code = fields.String(
        required=True, validate=validate.Length(max=12), metadata=VILLAGE_CODE
    )
    poverty_status = fields.Enum(PovertyStatus, by_value=True, required=True)
    phone = fields.String(allow_none=True, validate=validate.Length(max=20), metadata=PHONE)


class HouseholdPatch(InputSchema):
    head_name = text(50, min_len=1)
    phone = fields.String(allow_none=True, validate=validate.Length(max=20), metadata=PHONE)
    poverty_status = fields.Enum(PovertyStatus, by_value=True)


class ConsentIn(InputSchema):
    helper_user_id = id_field(required=True)
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
    code = fields.String(required=True, validate=Pattern(r"^[0-9]{8}$", error="须为8位数字"))


class MemberInviteOut(Schema):
    """The code a member joined with: who issued it, in which capacity, when."""

    id = fields.Integer(required=True)
    issued_by_id = fields.Integer(required=True, attribute="created_by_id")
    issued_as = fields.Enum(
        Role,
        by_value=True,
        allow_none=True,
        metadata={"description": "county_staff, helper or farmer (a member); null: not known"},
    )
    issued_at = fields.DateTime(required=True, attribute="created_at")
    used_at = fields.DateTime(allow_none=True)


class MemberOut(Schema):
    """One member of a household (dumped from the member's farmer grant)."""

    user_id = fields.Integer(required=True)
    nickname_masked = fields.Function(
        lambda grant: mask_name(grant.user.nickname),
        required=True,
        metadata={"type": "string", "description": "WeChat nickname, first character only"},
    )
    joined_at = fields.DateTime(required=True, attribute="created_at")
    granted_by_id = fields.Integer(
        allow_none=True, metadata={"description": "the code's issuer, or the operator"}
    )
    invite = fields.Nested(
        MemberInviteOut,
        allow_none=True,
        metadata={"description": "null: made a member by an operator, not with a code"},
    )


MemberListOut = page_of(MemberOut, "MemberList")
