"""Shops (微店), as their owners see them."""

from flask.views import MethodView

from api.auth import current_user, documents, protected
from api.blueprint import Blueprint
from api.schemas.shops import ShopIn, ShopListOut, ShopOut, ShopPatch
from services import shops

blp = Blueprint("shops", __name__, url_prefix="/api/v1", description="微店")


@blp.route("/shops", methods=["POST"])
@blp.arguments(ShopIn)
@blp.response(201, ShopOut)
@documents(blp, 409)
@protected(blp)
def open_shop(data):
    """Open the household's shop (a member, or a helper with the household's consent)."""
    return shops.open_shop(current_user(), **data)


@blp.route("/shops/<int:shop_id>")
class ShopById(MethodView):
    @blp.response(200, ShopOut)
    @protected(blp)
    def get(self, shop_id):
        """The owner's view of a shop, whatever its status."""
        return shops.get_shop(current_user(), shop_id)

    @blp.arguments(ShopPatch)
    @blp.response(200, ShopOut)
    @documents(blp, 409)
    @protected(blp)
    def patch(self, data, shop_id):
        """Edit the shop; a rejected shop goes back to review."""
        return shops.update_shop(current_user(), shop_id, changes=data)


@blp.route("/me/shops")
@blp.response(200, ShopListOut)
@protected(blp, errors=())
def my_shops():
    """Shops the user runs, as a member or a consenting helper."""
    return {"items": shops.list_my_shops(current_user()), "next_cursor": None}
