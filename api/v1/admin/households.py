"""County staff: verify households and reveal an ID number (audited)."""

from api.auth import STAFF_ROLES, current_user, protected
from api.blueprint import Blueprint
from api.presenters import present_household
from api.schemas.households import HouseholdOut, IdNumberOut, IdNumberQuery
from services import households
from services.error_codes import CommonError, HouseholdError

blp = Blueprint(
    "admin_households", __name__, url_prefix="/api/v1/admin", description="县级：农户核实"
)


@blp.route("/households/<int:household_id>/verify", methods=["POST"])
@protected(blp, *STAFF_ROLES)
@blp.response(200, HouseholdOut)
@blp.errors(CommonError.NOT_FOUND, HouseholdError.ADMIN_READ_ONLY)
def verify_household(household_id):
    """Mark a household's registration as checked by county staff."""
    return present_household(
        households.verify_household(current_user(), household_id), current_user()
    )


@blp.route("/households/<int:household_id>/id-number")
@protected(blp, *STAFF_ROLES)
@blp.arguments(IdNumberQuery, location="query")
@blp.response(200, IdNumberOut)
@blp.errors(CommonError.NOT_FOUND, HouseholdError.ADMIN_READ_ONLY)
def reveal_id_number(args, household_id):
    """The full ID number, for county staff of the household's county; every call is audited."""
    number = households.reveal_id_number(current_user(), household_id, reason=args["reason"])
    return {"household_id": household_id, "id_number": number}
