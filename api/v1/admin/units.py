"""County staff (and platform admins): the units to review, verification and rejection."""

from api.auth import STAFF_ROLES, current_user, protected
from api.blueprint import Blueprint
from api.schemas.shops import ReasonIn, ReviewIn
from api.schemas.units import UnitListOut, UnitOut, UnitQuery
from services import units
from services.error_codes import CommonError, ShopError, UnitError

blp = Blueprint("admin_units", __name__, url_prefix="/api/v1/admin", description="县级：单位审核")

UNIT_REVIEW_ERRORS = (CommonError.NOT_FOUND, CommonError.INVALID_STATE, UnitError.OWN_UNIT_REVIEW)


@blp.route("/units")
@protected(blp, *STAFF_ROLES)
@blp.arguments(UnitQuery, location="query")
@blp.response(200, UnitListOut)
@blp.errors(CommonError.INVALID_CURSOR)
def list_units(args):
    """Units of the staff member's counties (every unit, for a platform admin), oldest first,
    optionally of one status (``?status=pending`` is the review queue); cursor pagination."""
    items, next_cursor = units.units_for_review(current_user(), **args)
    return {"items": items, "next_cursor": next_cursor}


@blp.route("/units/<int:unit_id>/verify", methods=["POST"])
@protected(blp, *STAFF_ROLES)
@blp.arguments(ReviewIn)
@blp.response(200, UnitOut)
@blp.errors(*UNIT_REVIEW_ERRORS)
def verify_unit(data, unit_id):
    """Verify a pending unit: county staff of its county, or a platform admin (audited). Not
    for someone who belongs to the unit."""
    return units.review_unit(
        current_user(), unit_id, action="verify", reason=data.get("reason", "")
    )


@blp.route("/units/<int:unit_id>/reject", methods=["POST"])
@protected(blp, *STAFF_ROLES)
@blp.arguments(ReasonIn)
@blp.response(200, UnitOut)
@blp.errors(*UNIT_REVIEW_ERRORS, ShopError.REASON_REQUIRED)
def reject_unit(data, unit_id):
    """Reject a pending unit with a reason its admins will read; they correct it and it comes
    back to review."""
    return units.review_unit(
        current_user(), unit_id, action="reject", reason=data.get("reason", "")
    )
