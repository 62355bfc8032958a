"""County staff create and edit stations."""

from api.auth import STAFF_ROLES, current_user, protected
from api.blueprint import Blueprint
from api.schemas.stations import StationIn, StationOut, StationPatchIn
from api.v1.stations import present_station
from services import stations
from services.error_codes import CommonError, FulfilmentError, RegionError

blp = Blueprint("admin_stations", __name__, url_prefix="/api/v1/admin", description="站点管理")

STATION_REGION_ERRORS = (RegionError.INVALID_REGION_CODE, FulfilmentError.STATION_REGION)


@blp.route("/stations", methods=["POST"])
@protected(blp, *STAFF_ROLES)
@blp.arguments(StationIn)
@blp.response(201, StationOut)
@blp.errors(*STATION_REGION_ERRORS)
def create_station(data):
    """Set up a station: county staff in their county, or a platform admin. Its region must
    suit its kind (a village point in a village, a township station in a township, a county
    centre at the county; a counter anywhere in a county)."""
    return present_station(stations.create_station(current_user(), **data))


@blp.route("/stations/<int:station_id>", methods=["PATCH"])
@protected(blp, *STAFF_ROLES)
@blp.arguments(StationPatchIn, required=True)
@blp.response(200, StationOut)
@blp.errors(CommonError.NOT_FOUND, FulfilmentError.STATION_IN_USE, *STATION_REGION_ERRORS)
def update_station(data, station_id):
    """Edit a station of the staff member's county (a platform admin: any); ``is_active:
    false`` takes it out of service, ``true`` back in. Moving it to another county needs the
    right to set up stations there (else 403)."""
    return present_station(stations.update_station(current_user(), station_id, **data))
