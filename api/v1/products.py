"""Listings as their households (and helpers) manage them."""

from flask.views import MethodView

from api.auth import current_user, protected
from api.blueprint import Blueprint
from api.product_presenters import present_product, present_products
from api.schemas.products import (
    ModerationHistoryOut,
    ProductContentIn,
    ProductListOut,
    ProductOut,
    SkuOut,
    StockIn,
)
from services import products
from services.error_codes import CommonError, HouseholdError, ProductError, ShopError

blp = Blueprint("products", __name__, url_prefix="/api/v1", description="产品（农户管理）")

# What acting on a listing can answer: it is not yours to see, or yours to see but not to change.
ACT_ERRORS = (
    CommonError.NOT_FOUND,
    CommonError.FORBIDDEN,
    HouseholdError.CONSENT_REQUIRED,
    CommonError.INVALID_STATE,
)
EDIT_ERRORS = (
    *ACT_ERRORS,
    ShopError.SHOP_NOT_OPEN,
    ProductError.UNKNOWN_SKU,
    ProductError.DUPLICATE_SPEC,
    ProductError.DUPLICATE_PHOTO,
    ProductError.UNKNOWN_MEDIA,
)


@blp.route("/shops/<int:shop_id>/products")
class ShopProducts(MethodView):
    @protected(blp)
    @blp.arguments(ProductContentIn)
    @blp.response(201, ProductOut)
    @blp.errors(*EDIT_ERRORS)
    def post(self, data, shop_id):
        """Start a listing (a draft); nothing is public until county staff approve it."""
        return present_product(
            products.create_product(current_user(), shop_id=shop_id, content=data)
        )

    @protected(blp)
    @blp.response(200, ProductListOut)
    @blp.errors(CommonError.NOT_FOUND)
    def get(self, shop_id):
        """All listings of a shop, whatever their status (owner's view)."""
        items = products.list_shop_products(current_user(), shop_id)
        return {"items": present_products(items), "next_cursor": None}


@blp.route("/products/<int:product_id>")
class ProductById(MethodView):
    @protected(blp)
    @blp.response(200, ProductOut)
    @blp.errors(CommonError.NOT_FOUND)
    def get(self, product_id):
        """A listing with its live content, its draft and the last rejection's reason."""
        return present_product(products.get_product(current_user(), product_id))

    @protected(blp)
    @blp.arguments(ProductContentIn, required=True)
    @blp.response(200, ProductOut)
    @blp.errors(*EDIT_ERRORS, ProductError.REVIEW_PENDING)
    def patch(self, data, product_id):
        """Edit the draft; a listed product keeps showing its approved content meanwhile."""
        return present_product(products.update_product(current_user(), product_id, content=data))


@blp.route("/products/<int:product_id>/submit", methods=["POST"])
@protected(blp)
@blp.response(200, ProductOut)
@blp.errors(*ACT_ERRORS, ShopError.SHOP_NOT_OPEN, ProductError.INCOMPLETE_LISTING)
def submit_product(product_id):
    """Send the draft to county review (after an automatic pre-check)."""
    return present_product(products.submit_product(current_user(), product_id))


@blp.route("/products/<int:product_id>/delist", methods=["POST"])
@protected(blp)
@blp.response(200, ProductOut)
@blp.errors(*ACT_ERRORS)
def delist_product(product_id):
    """Take a listed product off sale."""
    return present_product(products.delist_product(current_user(), product_id))


@blp.route("/products/<int:product_id>/moderation-history")
@protected(blp)
@blp.response(200, ModerationHistoryOut)
@blp.errors(CommonError.NOT_FOUND)
def moderation_history(product_id):
    """Every edit, submission, check and decision: who, when, what, why."""
    return {"items": products.moderation_history(current_user(), product_id), "next_cursor": None}


@blp.route("/skus/<int:sku_id>", methods=["PATCH"])
@protected(blp)
@blp.arguments(StockIn)
@blp.response(200, SkuOut)
@blp.errors(CommonError.NOT_FOUND, CommonError.FORBIDDEN, HouseholdError.CONSENT_REQUIRED)
def set_stock(data, sku_id):
    """Change stock at once (stock needs no review)."""
    return products.set_stock(current_user(), sku_id, stock=data["stock"])
