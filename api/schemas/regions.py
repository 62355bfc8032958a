from marshmallow import Schema, fields

from api.schemas.common import InputSchema, page_of
from models.enums import RegionLevel
from services.regions import CODE_PATTERN


class RegionQuery(InputSchema):
    # The service checks the format (error invalid_region_code); the spec states it.
    parent = fields.String(
        metadata={"description": "parent code; omit for provinces", "pattern": CODE_PATTERN}
    )


class RegionOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    level = fields.Enum(RegionLevel, by_value=True, required=True)
    parent_code = fields.String(allow_none=True)


RegionListOut = page_of(RegionOut, "RegionListOut")
