"""Households (建档立卡户), their consents and member binding."""

from flask import current_app
from flask.views import MethodView

from api.auth import current_user, protected
from api.blueprint import Blueprint
from api.extensions import limiter
from api.presenters import present_household
from api.schemas.households import (
    ConsentIn,
    ConsentOut,
    HouseholdIn,
    HouseholdOut,
    HouseholdPatch,
    InviteOut,
    JoinIn,
    MemberListOut,
)
from models.enums import Role
from services import households
from services.error_codes import CommonError, HouseholdError, RegionError

blp = Blueprint("households", __name__, url_prefix="/api/v1", description="建档立卡户")


@blp.route("/households")
class Households(MethodView):
    @protected(blp, Role.COUNTY_STAFF, Role.HELPER)
    @blp.arguments(HouseholdIn)
    @blp.response(201, HouseholdOut)
    @blp.errors(
        HouseholdError.OUT_OF_SCOPE,
        HouseholdError.HOUSEHOLD_EXISTS,
        HouseholdError.INVALID_ID_NUMBER,
        HouseholdError.INVALID_PHONE,
        RegionError.INVALID_REGION_CODE,
    )
    def post(self, data):
        """Register a household (county staff of its county, or the village's helper)."""
        household = households.create_household(current_user(), **data)
        return present_household(household, current_user())


@blp.route("/households/<int:household_id>")
class HouseholdById(MethodView):
    @protected(blp)
    @blp.response(200, HouseholdOut)
    @blp.errors(CommonError.NOT_FOUND)
    def get(self, household_id):
        """A household, for its members, helpers, county staff and platform admins."""
        return present_household(
            households.get_household(current_user(), household_id), current_user()
        )

    @protected(blp)
    @blp.arguments(HouseholdPatch, required=True)
    @blp.response(200, HouseholdOut)
    @blp.errors(
        CommonError.NOT_FOUND,
        CommonError.FORBIDDEN,
        HouseholdError.CONSENT_REQUIRED,
        HouseholdError.STAFF_ONLY_FIELD,
        HouseholdError.INVALID_PHONE,
    )
    def patch(self, data, household_id):
        """Edit name or phone; poverty status is for county staff only."""
        household = households.update_household(
            current_user(), household_id, fields=set(data), **data
        )
        return present_household(household, current_user())


@blp.route("/households/<int:household_id>/consents", methods=["POST"])
@protected(blp)
@blp.arguments(ConsentIn)
@blp.response(201, ConsentOut)
@blp.errors(
    CommonError.NOT_FOUND,
    HouseholdError.MEMBER_ONLY_CONSENT,
    HouseholdError.STAFF_ONLY_PAPER,
    HouseholdError.NOT_A_HELPER,
    HouseholdError.INVALID_EXPIRY,
)
def record_consent(data, household_id):
    """Record a household's consent for a helper to act on its behalf."""
    return households.record_consent(current_user(), household_id, **data)


@blp.route("/households/<int:household_id>/consents/<int:consent_id>/revoke", methods=["POST"])
@protected(blp)
@blp.response(200, ConsentOut)
@blp.errors(CommonError.NOT_FOUND, HouseholdError.REVOKE_FORBIDDEN)
def revoke_consent(household_id, consent_id):
    """Withdraw a consent (household members or county staff)."""
    return households.revoke_consent(current_user(), household_id, consent_id)


@blp.route("/households/<int:household_id>/member-invites", methods=["POST"])
@protected(blp)
@blp.response(201, InviteOut)
@blp.errors(CommonError.NOT_FOUND, CommonError.FORBIDDEN, HouseholdError.CONSENT_REQUIRED)
def create_member_invite(household_id):
    """A one-time code that lets a member bind their WeChat account to the household.

    Issued by county staff of its county, a member (for another family member) or a helper
    holding the household's consent to manage the shop."""
    code, invite = households.create_member_invite(current_user(), household_id)
    return {"code": code, "expires_at": invite.expires_at}


def _join_limit() -> str:
    return current_app.config["JOIN_RATE_LIMIT"]


@blp.route("/households/join", methods=["POST"])
@protected(blp)
@limiter.limit(_join_limit)
@blp.arguments(JoinIn)
@blp.response(200, HouseholdOut)
@blp.errors(
    HouseholdError.INVALID_INVITE_CODE,
    HouseholdError.INVITE_USED,
    HouseholdError.INVITE_NOT_FOR_YOU,
    CommonError.RATE_LIMITED,
)
def join_household(data):
    """Become a member of a household with an invitation code.

    Not for the code's issuer, nor for anyone serving the household officially (its county's
    staff, its helpers, unit, station and platform roles): 403 ``invite_not_redeemable``, and
    the code stays unused."""
    return present_household(
        households.join_household(current_user(), code=data["code"]), current_user()
    )


@blp.route("/households/<int:household_id>/members")
@protected(blp)
@blp.response(200, MemberListOut)
@blp.errors(CommonError.NOT_FOUND, CommonError.FORBIDDEN, HouseholdError.CONSENT_REQUIRED)
def list_members(household_id):
    """The household's members: when each joined, and with whose code.

    For its members, county staff of its county, platform admins and helpers holding its
    consent to manage the shop. Nicknames are masked."""
    return {"items": households.list_members(current_user(), household_id), "next_cursor": None}


@blp.route("/households/<int:household_id>/members/<int:user_id>/remove", methods=["POST"])
@protected(blp)
@blp.response(204)
@blp.errors(CommonError.NOT_FOUND, CommonError.FORBIDDEN)
def remove_member(household_id, user_id):
    """Take a member out of the household; their member role and every token are revoked.

    County staff of its county, or a member (another member, or themselves leaving)."""
    households.remove_member(current_user(), household_id, user_id)
