"""Work units (帮扶单位 / 采购单位): registration, members and yearly pledges."""

from datetime import datetime, timedelta, timezone

from flask import current_app
from flask.views import MethodView

from api.auth import current_user, protected
from api.blueprint import Blueprint
from api.extensions import limiter
from api.schemas.households import InviteOut, JoinIn
from api.schemas.ledger import ReachQuery, UnitReachOut
from api.schemas.units import (
    MyUnitListOut,
    PledgeIn,
    PledgeListOut,
    PledgeOut,
    UnitIn,
    UnitMemberListOut,
    UnitOut,
    UnitPatch,
)
from services import statements, units
from services.error_codes import CommonError, HouseholdError, RegionError, UnitError

blp = Blueprint("units", __name__, url_prefix="/api/v1", description="帮扶单位")

# The years a unit may pledge for, as the spec states them; any other is not found (404).
_YEAR = {
    "in": "path",
    "name": "year",
    "schema": {
        "type": "integer",
        "minimum": units.FIRST_PLEDGE_YEAR,
        "maximum": units.LAST_PLEDGE_YEAR,
    },
}


@blp.route("/units", methods=["POST"])
@protected(blp)
@blp.arguments(UnitIn)
@blp.response(201, UnitOut)
@blp.errors(
    UnitError.INVALID_USCC,
    UnitError.UNIT_EXISTS,
    RegionError.INVALID_REGION_CODE,
    HouseholdError.INVALID_PHONE,
)
def register_unit(data):
    """Register a work unit; the caller becomes its admin. It waits for verification by county
    staff of its county (or a platform admin) before it may invite members or pledge."""
    return units.register_unit(current_user(), **data)


@blp.route("/units/<int:unit_id>")
class UnitById(MethodView):
    @protected(blp)
    @blp.response(200, UnitOut)
    @blp.errors(CommonError.NOT_FOUND)
    def get(self, unit_id):
        """A unit, for its admins and members, county staff of its county and platform admins."""
        return units.get_unit(current_user(), unit_id)

    @protected(blp)
    @blp.arguments(UnitPatch, required=True)
    @blp.response(200, UnitOut)
    @blp.errors(
        CommonError.NOT_FOUND,
        CommonError.FORBIDDEN,
        UnitError.INVALID_USCC,
        UnitError.UNIT_EXISTS,
        UnitError.IDENTITY_LOCKED,
        RegionError.INVALID_REGION_CODE,
        HouseholdError.INVALID_PHONE,
    )
    def patch(self, data, unit_id):
        """Edit the unit (its admins). Code, kind and region only until it is verified; a
        rejected unit goes back to review."""
        return units.update_unit(current_user(), unit_id, changes=data)


@blp.route("/units/<int:unit_id>/invites", methods=["POST"])
@protected(blp)
@blp.response(201, InviteOut)
@blp.errors(CommonError.NOT_FOUND, CommonError.FORBIDDEN, UnitError.UNIT_NOT_VERIFIED)
def create_invite(unit_id):
    """A single-use 8-digit code (valid 7 days) that makes a colleague a member of the unit.
    For the admins of a verified unit."""
    code, invite = units.create_invite(current_user(), unit_id)
    return {"code": code, "expires_at": invite.expires_at}


def _join_limit() -> str:
    return current_app.config["JOIN_RATE_LIMIT"]


@blp.route("/units/join", methods=["POST"])
@protected(blp)
@limiter.limit(_join_limit)
@blp.arguments(JoinIn)
@blp.response(200, UnitOut)
@blp.errors(
    HouseholdError.INVALID_INVITE_CODE,
    HouseholdError.INVITE_USED,
    CommonError.RATE_LIMITED,
)
def join_unit(data):
    """Become a member of a unit with a code one of its admins issued."""
    return units.join_unit(current_user(), code=data["code"])


@blp.route("/units/<int:unit_id>/members")
@protected(blp)
@blp.response(200, UnitMemberListOut)
@blp.errors(CommonError.NOT_FOUND)
def list_members(unit_id):
    """The unit's admins and members, oldest first; nicknames masked."""
    return {"items": units.list_members(current_user(), unit_id), "next_cursor": None}


@blp.route("/units/<int:unit_id>/members/<int:user_id>/remove", methods=["POST"])
@protected(blp)
@blp.response(204)
@blp.errors(CommonError.NOT_FOUND, CommonError.FORBIDDEN, UnitError.LAST_ADMIN)
def remove_member(unit_id, user_id):
    """Take someone out of the unit (its admins; a member may leave): their unit roles and
    every token of theirs are revoked. The last admin cannot go."""
    units.remove_member(current_user(), unit_id, user_id)


@blp.route("/units/<int:unit_id>/pledges/<int:year>", methods=["PUT"], parameters=[_YEAR])
@protected(blp)
@blp.arguments(PledgeIn)
@blp.response(200, PledgeOut)
@blp.errors(CommonError.NOT_FOUND, CommonError.FORBIDDEN, UnitError.UNIT_NOT_VERIFIED)
def set_pledge(data, unit_id, year):
    """Set the unit's consumption-assistance commitment (预留份额) for a year, in fen.
    For the admins of a verified unit."""
    return units.set_pledge(current_user(), unit_id, year, amount_fen=data["amount_fen"])


@blp.route("/units/<int:unit_id>/pledges")
@protected(blp)
@blp.response(200, PledgeListOut)
@blp.errors(CommonError.NOT_FOUND)
def list_pledges(unit_id):
    """The unit's pledges, latest year first, each with what it bought that year."""
    return {"items": units.list_pledges(current_user(), unit_id), "next_cursor": None}


@blp.route("/units/<int:unit_id>/totals")
@protected(blp)
@blp.arguments(ReachQuery, location="query")
@blp.response(200, UnitReachOut)
@blp.errors(CommonError.NOT_FOUND)
def unit_totals(query, unit_id):
    """What the unit bought in a year (default: this year, Beijing time), what of it reached
    households' accounts, how many households and villages it reached, against its pledge.
    For the unit's own people and its county's staff."""
    year = query.get("year") or datetime.now(timezone(timedelta(hours=8))).year
    return statements.unit_reach(current_user(), unit_id, year)


@blp.route("/me/units")
@protected(blp)
@blp.response(200, MyUnitListOut)
def my_units():
    """The units the user belongs to, with their role in each."""
    return {"items": units.list_my_units(current_user()), "next_cursor": None}
