from marshmallow import Schema, fields, validate

from api.schemas.common import InputSchema, page_of, text
from models.enums import Role, UnitKind, UnitStatus
from services.pii import mask_name
from services.regions import CODE_PATTERN
from services.units import CONTACT_PHONE_MAX_LENGTH, CONTACT_PHONE_PATTERN
from services.uscc import MAX_INPUT_LENGTH
from services.uscc import PATTERN as USCC_PATTERN

# The services check these three (error codes invalid_uscc, invalid_region_code,
# invalid_phone); the spec states what they accept.
USCC = {
    "format": "uscc",
    "pattern": USCC_PATTERN,
    "description": "统一社会信用代码 (GB 32100-2015): 18 digits or letters without I, O, Z, S, V, "
    "either case, a blank between characters and up to two around the code ignored; a "
    "registration authority and organisation type the standard lists, and the right check "
    "character",
}
REGION_CODE = {
    "format": "region-code",
    "pattern": CODE_PATTERN,
    "description": "a county (6 digits), township or village (12 digits) of the region table",
}
CONTACT_PHONE = {
    "pattern": CONTACT_PHONE_PATTERN,
    "description": "mainland mobile number, +86/0086 allowed, a blank or dash between digits",
}


class UnitIn(InputSchema):
    name = text(100, required=True, min_len=2)
    uscc = fields.String(
        required=True, validate=validate.Length(max=MAX_INPUT_LENGTH), metadata=USCC
    )
    kind = fields.Enum(UnitKind, by_value=True, required=True)
    region_code = fields.String(
        required=True, validate=validate.Length(max=12), metadata=REGION_CODE
    )
    address = text(200, required=True, min_len=2)
    contact_name = text(50, required=True, min_len=1)
    contact_phone = fields.String(
        required=True,
        validate=validate.Length(max=CONTACT_PHONE_MAX_LENGTH),
        metadata=CONTACT_PHONE,
    )


class UnitPatch(InputSchema):
    """Code, kind and region only until the unit is verified (``unit_identity_locked``)."""

    name = text(100, min_len=2)
    uscc = fields.String(validate=validate.Length(max=MAX_INPUT_LENGTH), metadata=USCC)
    kind = fields.Enum(UnitKind, by_value=True)
    region_code = fields.String(validate=validate.Length(max=12), metadata=REGION_CODE)
    address = text(200, min_len=2)
    contact_name = text(50, min_len=1)
    contact_phone = fields.String(
        validate=validate.Length(max=CONTACT_PHONE_MAX_LENGTH), metadata=CONTACT_PHONE
    )


class UnitRegionOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)


class UnitOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    uscc = fields.String(required=True)
    kind = fields.Enum(UnitKind, by_value=True, required=True)
    region = fields.Nested(UnitRegionOut, required=True)
    county_code = fields.String(required=True)
    address = fields.String(required=True)
    contact_name = fields.String(required=True)
    contact_phone = fields.String(required=True)
    status = fields.Enum(UnitStatus, by_value=True, required=True)
    status_reason = fields.String(
        required=True, metadata={"description": "the reason of the last review, if any"}
    )
    reviewed_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


UnitListOut = page_of(UnitOut, "UnitListOut")


class UnitQuery(InputSchema):
    status = fields.Enum(UnitStatus, by_value=True)
    cursor = fields.String(validate=validate.Length(max=200))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=50))


class MyUnitOut(Schema):
    unit = fields.Nested(UnitOut, required=True)
    role = fields.Enum(
        Role,
        by_value=True,
        required=True,
        metadata={"description": "unit_admin or unit_member (unit_admin when both)"},
    )


MyUnitListOut = page_of(MyUnitOut, "MyUnitListOut")


class UnitMemberOut(Schema):
    """One role of one person in a unit (dumped from their grant)."""

    user_id = fields.Integer(required=True)
    nickname_masked = fields.Function(
        lambda grant: mask_name(grant.user.nickname),
        required=True,
        metadata={"type": "string", "description": "WeChat nickname, first character only"},
    )
    role = fields.Enum(
        Role, by_value=True, required=True, metadata={"description": "unit_admin or unit_member"}
    )
    joined_at = fields.DateTime(required=True, attribute="created_at")
    granted_by_id = fields.Integer(
        allow_none=True,
        metadata={
            "description": "who issued the code they joined with (for an admin: who "
            "registered the unit)"
        },
    )


UnitMemberListOut = page_of(UnitMemberOut, "UnitMemberList")

# 100亿元: far above any unit's yearly purchases, well inside a bigint.
MAX_PLEDGE_FEN = 10**12


class PledgeIn(InputSchema):
    amount_fen = fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(min=0, max=MAX_PLEDGE_FEN),
        metadata={"description": "the year's commitment in fen (0: none)"},
    )


class PledgeOut(Schema):
    year = fields.Integer(required=True)
    amount_fen = fields.Integer(required=True)
    bought_fen = fields.Integer(
        required=True, metadata={"description": "bought from households that year, in fen"}
    )
    set_by_id = fields.Integer(required=True)
    updated_at = fields.DateTime(required=True)


PledgeListOut = page_of(PledgeOut, "PledgeListOut")
