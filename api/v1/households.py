"""Households (建档立卡户), their consents and member binding."""

from flask import current_app
from flask.views import MethodView

from api.auth import current_user, documents, protected
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
)
from models.enums import Role
from services import households

blp = Blueprint("households", __name__, url_prefix="/api/v1", description="建档立卡户")


@blp.route("/households")
class Households(MethodView):
    @blp.arguments(HouseholdIn)
    @blp.response(201, HouseholdOut)
    @documents(blp, 409)
    @protected(blp, Role.COUNTY_STAFF, Role.HELPER, errors=(403,))
    def post(self, data):
        """Register a household (county staff of its county, or the village's helper)."""
        household = households.create_household(current_user(), **data)
        return present_household(household, current_user())


@blp.route("/households/<int:household_id>")
class HouseholdById(MethodView):
    @blp.response(200, HouseholdOut)
    @protected(blp)
    def get(self, household_id):
        """A household, for its members, helpers, county staff and platform admins."""
        return present_household(
            households.get_household(current_user(), household_id), current_user()
        )

    @blp.arguments(HouseholdPatch)
    @blp.response(200, HouseholdOut)
    @protected(blp)
    def patch(self, data, household_id):
        """Edit name or phone; poverty status is for county staff only."""
        household = households.update_household(
            current_user(), household_id, fields=set(data), **data
        )
        return present_household(household, current_user())


@blp.route("/households/<int:household_id>/consents", methods=["POST"])
@blp.arguments(ConsentIn)
@blp.response(201, ConsentOut)
@protected(blp)
def record_consent(data, household_id):
    """Record a household's consent for a helper to act on its behalf."""
    return households.record_consent(current_user(), household_id, **data)


@blp.route("/households/<int:household_id>/consents/<int:consent_id>/revoke", methods=["POST"])
@blp.response(200, ConsentOut)
@protected(blp)
def revoke_consent(household_id, consent_id):
    """Withdraw a consent (household members or county staff)."""
    return households.revoke_consent(current_user(), household_id, consent_id)


@blp.route("/households/<int:household_id>/member-invites", methods=["POST"])
@blp.response(201, InviteOut)
@protected(blp)
def create_member_invite(household_id):
    """A one-time code that lets a member bind their WeChat account to the household."""
    code, invite = households.create_member_invite(current_user(), household_id)
    return {"code": code, "expires_at": invite.expires_at}


def _join_limit() -> str:
    return current_app.config["JOIN_RATE_LIMIT"]


@blp.route("/households/join", methods=["POST"])
@limiter.limit(_join_limit)
@blp.arguments(JoinIn)
@blp.response(200, HouseholdOut)
@documents(blp, 429)
@protected(blp, errors=(409,))
def join_household(data):
    """Become a member of a household with an invitation code."""
    return present_household(
        households.join_household(current_user(), code=data["code"]), current_user()
    )
