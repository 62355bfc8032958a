"""Shops (微店), as their owners see them."""

from flask.views import MethodView

from api.auth import current_user, protected
from api.blueprint import Blueprint
from api.schemas.shops import ShopIn, ShopListOut, ShopOut, ShopPatch
from services import shops
from services.error_codes import CommonError, HouseholdError, ShopError

blp = Blueprint("shops", __name__, url_prefix="/api/v1", description="微店")


@blp.route("/shops", methods=["POST"])
@protected(blp)
@blp.arguments(ShopIn)
@blp.response(201, ShopOut)
@blp.errors(
    CommonError.NOT_FOUND,
    CommonError.FORBIDDEN,
    HouseholdError.CONSENT_REQUIRED,
    ShopError.HOUSEHOLD_NOT_VERIFIED,
    ShopError.SHOP_EXISTS,
)
def open_shop(data):
    """Open the household's shop (a member, or a helper with the household's consent)."""
    return shops.open_shop(current_user(), **data)


@blp.route("/shops/<int:shop_id>")
class ShopById(MethodView):
    @protected(blp)
    @blp.response(200, ShopOut)
    @blp.errors(CommonError.NOT_FOUND)
    def get(self, shop_id):
        """The owner's view of a shop, whatever its status."""
        return shops.get_shop(current_user(), shop_id)

    @protected(blp)
    @blp.arguments(ShopPatch, required=True)
    @blp.response(200, ShopOut)
    @blp.errors(
        CommonError.NOT_FOUND,
        CommonError.FORBIDDEN,
        HouseholdError.CONSENT_REQUIRED,
        ShopError.SHOP_SUSPENDED,
    )
    def patch(self, data, shop_id):
        """Edit the shop; a rejected shop goes back to review."""
        return shops.update_shop(current_user(), shop_id, changes=data)


@blp.route("/me/shops")
@protected(blp)
@blp.response(200, ShopListOut)
def my_shops():
    """Shops the user runs, as a member or a consenting helper."""
    return {"items": shops.list_my_shops(current_user()), "next_cursor": None}
