"""Stations of the county network (村级服务点 / 乡镇服务站 / 县级运营中心 / 线下专柜): county staff
set them up and edit them; anyone finds the active ones, nearest first.

Who may do what with a station:

- create one: county staff of the county its region lies in, or a platform admin; staff of
  another county are refused (403);
- edit it (``is_active: false`` takes it out of service): county staff of its county, or a
  platform admin; anyone else learns nothing about it (404). Moving it to another county needs
  the right to create it there too;
- see it: anyone, while it is active.

Each kind sits at one level of the region table: a village point in a village, a township
station in a township, a county centre in a county; a counter (a unit's canteen, a city
supermarket) in a county or anywhere below.

Positions are GCJ-02 degrees. Distances are great-circle distances on a sphere of the earth's
mean radius, measured exactly in Python for the stations a box around the point holds; the box
narrows the rows by the (lat, lng) index, so the search costs the same on SQLite and PostgreSQL
whatever the number of stations far away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import ColumnElement, String, or_, select, type_coerce

from models import Region, ShopOrder, Station, User, db
from models.enums import Category, RegionLevel, ShopOrderStatus, StationKind
from services import access, audit, cursors
from services.error_codes import CommonError, FulfilmentError, RegionError
from services.regions import check_code_format

# The mean radius of the earth (IUGG), in metres.
EARTH_RADIUS_M = 6_371_008.8
# The first search radius around the point, doubled until enough stations lie within it.
FIRST_RADIUS_M = 5_000.0
MAX_LIMIT = 50
# The region levels each kind of station may sit at.
STATION_LEVELS: dict[StationKind, frozenset[RegionLevel]] = {
    StationKind.VILLAGE_POINT: frozenset({RegionLevel.VILLAGE}),
    StationKind.TOWNSHIP_STATION: frozenset({RegionLevel.TOWNSHIP}),
    StationKind.COUNTY_CENTRE: frozenset({RegionLevel.COUNTY}),
    StationKind.COUNTER: frozenset({RegionLevel.COUNTY, RegionLevel.TOWNSHIP, RegionLevel.VILLAGE}),
}
_LEVEL_NAMES = {
    RegionLevel.COUNTY: "县",
    RegionLevel.TOWNSHIP: "乡镇",
    RegionLevel.VILLAGE: "村",
}
# How many leading digits of a code name everything inside that region.
_PREFIX_LENGTH = {
    RegionLevel.PROVINCE: 2,
    RegionLevel.CITY: 4,
    RegionLevel.COUNTY: 6,
    RegionLevel.TOWNSHIP: 9,
    RegionLevel.VILLAGE: 12,
}
EDITABLE_FIELDS = frozenset(
    {
        "kind",
        "name",
        "region_code",
        "address",
        "lat",
        "lng",
        "opening_hours",
        "phone",
        "categories",
        "cold_chain",
        "is_active",
    }
)
_TEXT_FIELDS = ("name", "address", "opening_hours", "phone")


# --- creating and editing -----------------------------------------------------------------------


def _region(code: str, kind: StationKind) -> Region:
    """The station's region: one of the table, at a level its kind may sit at."""
    check_code_format(code, "region_code")
    region = db.session.get(Region, code)
    if region is None:
        raise RegionError.INVALID_REGION_CODE(errors={"region_code": ["未知地区"]})
    levels = STATION_LEVELS[kind]
    if region.level not in levels:
        names = "、".join(_LEVEL_NAMES[level] for level in _LEVEL_NAMES if level in levels)
        raise FulfilmentError.STATION_REGION(errors={"region_code": [f"须为{names}级地区"]})
    return region


def _categories(values) -> list[str]:
    """The categories a station takes in, once each, in the catalog's order ([]: all)."""
    chosen = {Category(v) for v in values}
    return [c.value for c in Category if c in chosen]


def _may_manage(actor: User, county_code: str) -> bool:
    return access.is_staff_of(actor, county_code) or access.is_platform_admin(actor)


def create_station(
    actor: User,
    *,
    kind: StationKind,
    name: str,
    region_code: str,
    lat: float,
    lng: float,
    address: str = "",
    opening_hours: str = "",
    phone: str = "",
    categories: list | None = None,
    cold_chain: bool = False,
) -> Station:
    """County staff set up a station of their county (a platform admin, of any county)."""
    region = _region(region_code, kind)
    county_code = region.code[:6]
    if not _may_manage(actor, county_code):
        raise CommonError.FORBIDDEN()
    station = Station(
        kind=kind,
        name=name.strip(),
        region_code=region.code,
        county_code=county_code,
        address=address.strip(),
        lat=lat,
        lng=lng,
        opening_hours=opening_hours.strip(),
        phone=phone.strip(),
        categories=_categories(categories or []),
        cold_chain=cold_chain,
        is_active=True,
        created_by_id=actor.id,
    )
    db.session.add(station)
    db.session.flush()
    audit.record(
        actor, "station.create", "station", station.id, kind=kind.value, county_code=county_code
    )
    db.session.commit()
    return station


def _strands_goods(station: Station, changed: dict) -> bool:
    """Households were told to bring goods here: the station may not close, leave the county,
    become another kind or narrow what it takes until those are handed in (or reassigned)."""
    closing = changed.get("is_active") is False
    narrowing = {"county_code", "kind", "categories"} & changed.keys() or (
        changed.get("cold_chain") is False
    )
    if not (closing or narrowing):
        return False
    expected = select(ShopOrder.id).where(
        ShopOrder.station_id == station.id, ShopOrder.status == ShopOrderStatus.ACCEPTED
    )
    return db.session.scalar(expected.limit(1)) is not None


def update_station(actor: User, station_id: int, **data) -> Station:
    """County staff of its county (or a platform admin) edit a station; ``is_active=False``
    takes it out of service (and ``True`` back in). A new kind or region is checked against
    each other; a new county must be one the actor may set up stations in."""
    station = db.session.get(Station, station_id)
    if station is None or not _may_manage(actor, station.county_code):
        raise CommonError.NOT_FOUND()
    values = {k: v for k, v in data.items() if k in EDITABLE_FIELDS}
    # Everything is validated before the row is touched, so a refused edit changes nothing.
    for field in _TEXT_FIELDS:
        if field in values:
            values[field] = values[field].strip()
    if "categories" in values:
        values["categories"] = _categories(values["categories"])
    if "kind" in values or "region_code" in values:
        kind = values.get("kind", station.kind)
        region = _region(values.get("region_code", station.region_code), kind)
        values["region_code"] = region.code
        if region.code[:6] != station.county_code:
            if not _may_manage(actor, region.code[:6]):
                raise CommonError.FORBIDDEN()
            values["county_code"] = region.code[:6]
    changed = {k: v for k, v in values.items() if getattr(station, k) != v}
    if _strands_goods(station, changed):
        raise FulfilmentError.STATION_IN_USE()
    for field, value in changed.items():
        setattr(station, field, value)
    audit.record(actor, "station.update", "station", station.id, fields=sorted(changed))
    db.session.commit()
    return station


# --- finding stations ---------------------------------------------------------------------------


def get_station(station_id: int) -> Station:
    """An active station, for anyone."""
    station = db.session.get(Station, station_id)
    if station is None or not station.is_active:
        raise CommonError.NOT_FOUND()
    return station


def _region_prefix(code: str) -> str:
    """The leading digits every code inside the region starts with."""
    check_code_format(code, "region")
    region = db.session.get(Region, code)
    if region is None:
        raise RegionError.INVALID_REGION_CODE(errors={"region": ["未知地区"]})
    return code[: _PREFIX_LENGTH[region.level]]


def _public(
    kind: StationKind | None, region: str | None, *, by_position: bool = False
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Station.is_active.is_(True)]
    if kind is not None and by_position:
        # Compared as text rather than by its column: SQLite keeps no statistics to weigh the
        # index on kind against the (lat, lng) box, picks the former, and would read every
        # station of the kind (most of them, for village points) for every box.
        conditions.append(type_coerce(Station.kind, String).concat("") == kind.value)
    elif kind is not None:
        conditions.append(Station.kind == kind)
    if region:
        conditions.append(Station.region_code.startswith(_region_prefix(region)))
    return conditions


def list_stations(
    *,
    kind: StationKind | None = None,
    region: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> tuple[list[Station], str | None]:
    """Active stations in id order, optionally of one kind and inside one region (a code of
    any level), and the next page's cursor."""
    query = select(Station).where(*_public(kind, region))
    return cursors.page_by_id(
        query, Station.id, limit=limit, cursor=cursor, marker="stations", newest_first=False
    )


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """The great-circle distance between two points (degrees), in metres (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((phi2 - phi1) / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lng2 - lng1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


# Widens every box a little (in degrees, ~1 mm), so rounding never leaves out a station on its edge.
_EDGE = 1e-8


@dataclass(frozen=True)
class Box:
    """Latitudes south..north and, unless every longitude is in, longitudes west..east, where
    west > east when the box crosses the antimeridian."""

    south: float
    north: float
    west: float | None = None
    east: float | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        where = [Station.lat >= self.south, Station.lat <= self.north]
        if self.west is None or self.east is None:
            return where
        if self.west <= self.east:
            return [*where, Station.lng >= self.west, Station.lng <= self.east]
        return [*where, or_(Station.lng >= self.west, Station.lng <= self.east)]


def bounding_box(lat: float, lng: float, radius_m: float) -> Box | None:
    """The smallest latitude/longitude box holding every point within ``radius_m`` of the
    point, or None when that is the whole earth.

    The latitudes are the point's ± the angular radius. The longitudes shrink with the cosine
    of the latitude: the half-width is asin(sin r / cos lat), the longitude of the meridians
    that touch the circle. When the circle holds a pole, every longitude is in.
    """
    angle = radius_m / EARTH_RADIUS_M
    if angle >= math.pi:
        return None
    reach = math.degrees(angle) + _EDGE
    south, north = lat - reach, lat + reach
    if south <= -90 and north >= 90:
        return None
    if south <= -90 or north >= 90:
        return Box(max(south, -90.0), min(north, 90.0))
    ratio = math.sin(angle) / math.cos(math.radians(lat))
    half = math.degrees(math.asin(min(1.0, ratio))) + _EDGE
    west, east = lng - half, lng + half
    if west < -180:
        west += 360
    elif east > 180:
        east -= 360
    return Box(south, north, west, east)


def nearest_stations(
    *,
    lat: float,
    lng: float,
    kind: StationKind | None = None,
    limit: int = 20,
    region: str | None = None,
) -> list[tuple[Station, int]]:
    """The ``limit`` active stations nearest the point (optionally of one kind, inside one
    region), nearest first, each with its distance in whole metres.

    Exact: a box around the point, first for a radius of 5 km, reads the positions it holds
    through the (lat, lng) index; their distances are measured, and once ``limit`` of them lie
    within the radius no station outside can be nearer. Otherwise the radius doubles (or, when
    the box already holds ``limit`` stations, becomes the distance of the farthest of the
    nearest ``limit``, which the next box settles), up to the whole earth, when every station is
    read. Only the winners are loaded whole.
    """
    conditions = _public(kind, region, by_position=True)
    radius = FIRST_RADIUS_M
    while True:
        box = bounding_box(lat, lng, radius)
        query = select(Station.id, Station.lat, Station.lng).where(*conditions)
        if box is not None:
            query = query.where(*box.conditions())
        measured = [
            (distance_m(lat, lng, row.lat, row.lng), row.id) for row in db.session.execute(query)
        ]
        if box is None:
            break
        within = [m for m in measured if m[0] <= radius]
        if len(within) >= limit:
            measured = within
            break
        if len(measured) >= limit:
            # The box's corners hold enough of them: the circle through the farthest of the
            # nearest ``limit`` holds them all, so the next box is the last.
            radius = sorted(measured)[limit - 1][0]
        else:
            radius *= 2
    best = sorted(measured)[:limit]
    if not best:
        return []
    loaded = {
        s.id: s
        for s in db.session.scalars(select(Station).where(Station.id.in_([i for _, i in best])))
    }
    return [(loaded[i], round(d)) for d, i in best]
