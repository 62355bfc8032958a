"""County staff: approve, reject or suspend shops."""

from api.auth import STAFF_ROLES, current_user, protected
from api.blueprint import Blueprint
from api.schemas.shops import ReasonIn, ReviewIn, ShopOut
from services import shops
from services.error_codes import CommonError, HouseholdError, ShopError

blp = Blueprint("admin_shops", __name__, url_prefix="/api/v1/admin", description="县级：店铺审核")


SHOP_REVIEW_ERRORS = (
    CommonError.NOT_FOUND,
    HouseholdError.ADMIN_READ_ONLY,
    CommonError.INVALID_STATE,
    ShopError.REASON_REQUIRED,
)


def _review(shop_id: int, action: str, data: dict):
    return shops.review_shop(current_user(), shop_id, action=action, reason=data.get("reason", ""))


@blp.route("/shops/<int:shop_id>/approve", methods=["POST"])
@protected(blp, *STAFF_ROLES)
@blp.arguments(ReviewIn)
@blp.response(200, ShopOut)
@blp.errors(*SHOP_REVIEW_ERRORS)
def approve_shop(data, shop_id):
    """Approve a pending shop, or reinstate a suspended one."""
    return _review(shop_id, "approve", data)


@blp.route("/shops/<int:shop_id>/reject", methods=["POST"])
@protected(blp, *STAFF_ROLES)
@blp.arguments(ReasonIn)
@blp.response(200, ShopOut)
@blp.errors(*SHOP_REVIEW_ERRORS)
def reject_shop(data, shop_id):
    """Reject a pending shop with a reason the household will see."""
    return _review(shop_id, "reject", data)


@blp.route("/shops/<int:shop_id>/suspend", methods=["POST"])
@protected(blp, *STAFF_ROLES)
@blp.arguments(ReasonIn)
@blp.response(200, ShopOut)
@blp.errors(*SHOP_REVIEW_ERRORS)
def suspend_shop(data, shop_id):
    """Suspend an approved shop, with a reason."""
    return _review(shop_id, "suspend", data)
