"""Stations of the county network: the public list (nearest first) and one station."""

from __future__ import annotations

from api.blueprint import Blueprint
from api.schemas.stations import StationListOut, StationOut, StationQuery
from models import Station
from models.enums import Category
from services import regions, stations
from services.error_codes import CommonError, RegionError

blp = Blueprint("stations", __name__, url_prefix="/api/v1", description="服务站点")

_COLUMNS = (
    "id",
    "kind",
    "name",
    "region_code",
    "county_code",
    "address",
    "lat",
    "lng",
    "opening_hours",
    "phone",
    "categories",
    "cold_chain",
    "is_active",
    "created_at",
    "updated_at",
)


def present_stations(found: list[tuple[Station, int | None]]) -> list[dict]:
    """Stations (each with its distance, or None) as ``StationOut`` dumps them, their regions'
    names read in one query."""
    names = regions.region_names({station.region_code for station, _ in found})
    items = []
    for station, distance in found:
        item = {column: getattr(station, column) for column in _COLUMNS}
        item["categories"] = [Category(c) for c in station.categories or []]
        item["region_name"] = names.get(station.region_code, "")
        if distance is not None:
            item["distance_m"] = distance
        items.append(item)
    return items


def present_station(station: Station) -> dict:
    return present_stations([(station, None)])[0]


@blp.route("/stations")
@blp.arguments(StationQuery, location="query")
@blp.response(200, StationListOut)
@blp.errors(CommonError.INVALID_CURSOR, RegionError.INVALID_REGION_CODE)
def list_stations(args):
    """Active stations, for anyone. With ``near=lat,lng``: the ``limit`` nearest, nearest
    first, each with ``distance_m`` (great-circle metres), in one page. Without: in id order,
    cursor pagination. ``kind`` and ``region`` (a code of any level) narrow either."""
    near = args.pop("near", None)
    if near is not None:
        args.pop("cursor", None)
        found = stations.nearest_stations(lat=near[0], lng=near[1], **args)
        return {"items": present_stations(list(found)), "next_cursor": None}
    items, next_cursor = stations.list_stations(**args)
    return {"items": present_stations([(s, None) for s in items]), "next_cursor": next_cursor}


@blp.route("/stations/<int:station_id>")
@blp.response(200, StationOut)
@blp.errors(CommonError.NOT_FOUND)
def get_station(station_id):
    """An active station, for anyone."""
    return present_station(stations.get_station(station_id))
