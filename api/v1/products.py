"""Listings as their households (and helpers) manage them."""

from flask.views import MethodView

from api.auth import current_user, documents, protected
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

blp = Blueprint("products", __name__, url_prefix="/api/v1", description="产品（农户管理）")


@blp.route("/shops/<int:shop_id>/products")
class ShopProducts(MethodView):
    @blp.arguments(ProductContentIn)
    @blp.response(201, ProductOut)
    @documents(blp, 409)
    @protected(blp)
    def post(self, data, shop_id):
        """Start a listing (a draft); nothing is public until county staff approve it."""
        return present_product(
            products.create_product(current_user(), shop_id=shop_id, content=data)
        )

    @blp.response(200, ProductListOut)
    @protected(blp)
    def get(self, shop_id):
        """All listings of a shop, whatever their status (owner's view)."""
        items = products.list_shop_products(current_user(), shop_id)
        return {"items": present_products(items), "next_cursor": None}


@blp.route("/products/<int:product_id>")
class ProductById(MethodView):
    @blp.response(200, ProductOut)
    @protected(blp)
    def get(self, product_id):
        """A listing with its live content, its draft and the last rejection's reason."""
        return present_product(products.get_product(current_user(), product_id))

    @blp.arguments(ProductContentIn)
    @blp.response(200, ProductOut)
    @documents(blp, 409)
    @protected(blp)
    def patch(self, data, product_id):
        """Edit the draft; a listed product keeps showing its approved content meanwhile."""
        return present_product(products.update_product(current_user(), product_id, content=data))


@blp.route("/products/<int:product_id>/submit", methods=["POST"])
@blp.response(200, ProductOut)
@protected(blp, errors=(403, 404, 409))
def submit_product(product_id):
    """Send the draft to county review (after an automatic pre-check)."""
    return present_product(products.submit_product(current_user(), product_id))


@blp.route("/products/<int:product_id>/delist", methods=["POST"])
@blp.response(200, ProductOut)
@protected(blp, errors=(403, 404, 409))
def delist_product(product_id):
    """Take a listed product off sale."""
    return present_product(products.delist_product(current_user(), product_id))


@blp.route("/products/<int:product_id>/moderation-history")
@blp.response(200, ModerationHistoryOut)
@protected(blp)
def moderation_history(product_id):
    """Every edit, submission, check and decision: who, when, what, why."""
    return {"items": products.moderation_history(current_user(), product_id), "next_cursor": None}


@blp.route("/skus/<int:sku_id>", methods=["PATCH"])
@blp.arguments(StockIn)
@blp.response(200, SkuOut)
@protected(blp)
def set_stock(data, sku_id):
    """Change stock at once (stock needs no review)."""
    return products.set_stock(current_user(), sku_id, stock=data["stock"])
