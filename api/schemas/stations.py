from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from api.schemas.common import InputSchema, Pattern, page_of, text
from api.schemas.units import REGION_CODE
from models.enums import Category, StationKind
from services.regions import CODE_PATTERN
from services.stations import MAX_LIMIT

# A latitude from -90 to 90 and a longitude from -180 to 180, in decimal degrees as a client
# prints them (no exponent, no leading zeros), so the pattern alone states what is valid.
_DECIMALS = r"(?:\.[0-9]{1,17})?"
_LAT = rf"-?(?:90(?:\.0{{1,17}})?|[1-8]?[0-9]{_DECIMALS})"
_LNG = rf"-?(?:180(?:\.0{{1,17}})?|(?:1[0-7][0-9]|[1-9]?[0-9]){_DECIMALS})"
NEAR_PATTERN = rf"^{_LAT},{_LNG}$"
PHONE_PATTERN = r"^(?:\+?[0-9](?:[ -]?[0-9]){4,17})?$"
STATION_KIND = {
    "description": "village_point 村级服务点, township_station 乡镇服务站, county_centre "
    "县级运营中心, counter 线下专柜"
}
STATION_REGION = {
    **REGION_CODE,
    "description": "a village for a village point, a township for a township station, the "
    "county for a county centre; a county, township or village for a counter",
}


class Degrees(fields.Float):
    """A JSON number of degrees (a numeric string or a boolean is refused)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


def latitude(**kwargs) -> Degrees:
    return Degrees(
        validate=validate.Range(min=-90, max=90),
        metadata={"description": "GCJ-02 latitude (WeChat's map), degrees"},
        **kwargs,
    )


def longitude(**kwargs) -> Degrees:
    return Degrees(
        validate=validate.Range(min=-180, max=180),
        metadata={"description": "GCJ-02 longitude (WeChat's map), degrees"},
        **kwargs,
    )


def categories_field() -> fields.List:
    return fields.List(
        fields.Enum(Category, by_value=True),
        validate=validate.Length(max=len(Category)),
        metadata={"description": "product categories it takes in; empty: all"},
    )


def phone_field() -> fields.String:
    return fields.String(
        validate=[validate.Length(max=20), Pattern(PHONE_PATTERN, error="电话号码有误")],
        metadata={"description": "landline or mobile number, digits with blanks or dashes"},
    )


class StationIn(InputSchema):
    kind = fields.Enum(StationKind, by_value=True, required=True, metadata=STATION_KIND)
    name = text(60, required=True, min_len=2)
    region_code = fields.String(
        required=True, validate=validate.Length(max=12), metadata=STATION_REGION
    )
    address = text(200)
    lat = latitude(required=True)
    lng = longitude(required=True)
    opening_hours = text(100, metadata={"description": "e.g. 每天 8:00-18:00"})
    phone = phone_field()
    categories = categories_field()
    cold_chain = fields.Boolean(metadata={"description": "keeps goods cold (冷链)"})


class StationPatchIn(InputSchema):
    """Any of the fields, at least one; ``is_active: false`` takes the station out of service."""

    kind = fields.Enum(StationKind, by_value=True, metadata=STATION_KIND)
    name = text(60, min_len=2)
    region_code = fields.String(validate=validate.Length(max=12), metadata=STATION_REGION)
    address = text(200)
    lat = latitude()
    lng = longitude()
    opening_hours = text(100)
    phone = phone_field()
    categories = categories_field()
    cold_chain = fields.Boolean()
    is_active = fields.Boolean()

    @validates_schema
    def _not_empty(self, data, **kwargs):
        if not data:
            raise ValidationError("至少修改一项")


class StationOut(Schema):
    id = fields.Integer(required=True)
    kind = fields.Enum(StationKind, by_value=True, required=True)
    name = fields.String(required=True)
    region_code = fields.String(required=True)
    region_name = fields.String(required=True)
    county_code = fields.String(required=True)
    address = fields.String(required=True)
    lat = fields.Float(required=True)
    lng = fields.Float(required=True)
    opening_hours = fields.String(required=True)
    phone = fields.String(required=True)
    categories = fields.List(
        fields.Enum(Category, by_value=True),
        required=True,
        metadata={"description": "product categories it takes in; empty: all"},
    )
    cold_chain = fields.Boolean(required=True)
    is_active = fields.Boolean(required=True)
    distance_m = fields.Integer(
        metadata={"description": "metres from the point asked about; only with ?near="}
    )
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


StationListOut = page_of(StationOut, "StationListOut")


class StationQuery(InputSchema):
    near = fields.String(
        validate=Pattern(NEAR_PATTERN, error="须为“纬度,经度”"),
        metadata={
            "description": "lat,lng (GCJ-02 degrees): the nearest stations first, each with "
            "distance_m; one page, no cursor",
            "pattern": NEAR_PATTERN,
            "example": "33.3163,117.3119",
        },
    )
    kind = fields.Enum(StationKind, by_value=True)
    region = fields.String(
        validate=validate.Regexp(CODE_PATTERN),
        metadata={
            "description": "province, city, county, township or village code",
            "pattern": CODE_PATTERN,
        },
    )
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(
        validate=validate.Length(max=200), metadata={"description": "ignored with near"}
    )

    @post_load
    def _point(self, data, **kwargs):
        """``near`` as (lat, lng) floats."""
        if "near" in data:
            lat, lng = data["near"].split(",")
            data["near"] = (float(lat), float(lng))
        return data
