"""The public catalog and trace codes (no login needed)."""

from flask import Response, current_app

from api.blueprint import Blueprint
from api.feed_cache import cached_page
from api.product_presenters import (
    present_catalog_item,
    present_public_product,
    present_public_shop,
)
from api.schemas.catalog import (
    CatalogPageOut,
    CatalogQuery,
    PublicProductOut,
    PublicShopOut,
    QrQuery,
    TraceOut,
)
from services import catalog, trace_labels
from services.error_codes import CommonError, ProductError, RegionError, ShopError
from services.media import storage

blp = Blueprint("catalog", __name__, url_prefix="/api/v1", description="公开商品目录与溯源")


@blp.route("/catalog/products")
@blp.arguments(CatalogQuery, location="query")
@blp.response(200, CatalogPageOut)
@blp.errors(CommonError.INVALID_CURSOR, RegionError.INVALID_REGION_CODE)
def list_products(args):
    """Listed products of approved shops: filter by region, category, keyword; newest or
    best-selling first; cursor pagination."""
    body, headers = cached_page(args, lambda: _encode_feed_page(args))
    return Response(body, mimetype="application/json", headers=headers)


def _encode_feed_page(args: dict) -> bytes:
    page = catalog.list_products(**args)
    store = storage()
    # Cards come out of the presenter in JSON types already: skipping the schema's dump halves
    # the cost of a page (``CatalogPageOut`` still documents the shape, and tests hold the two
    # together).
    body = {
        "items": [present_catalog_item(card, store) for card in page.items],
        "next_cursor": page.next_cursor,
    }
    return current_app.json.dumps(body, separators=(",", ":")).encode()


@blp.route("/catalog/products/<int:product_id>")
@blp.response(200, PublicProductOut)
@blp.errors(CommonError.NOT_FOUND, ProductError.PRODUCT_UNAVAILABLE)
def get_product(product_id):
    """A listed product's approved content, photos, specs and stock state."""
    product, media = catalog.get_product(product_id)
    return present_public_product(product, media)


@blp.route("/catalog/shops/<int:shop_id>")
@blp.response(200, PublicShopOut)
@blp.errors(CommonError.NOT_FOUND, ShopError.SHOP_UNAVAILABLE)
def get_shop(shop_id):
    """An approved shop and its listed products."""
    return present_public_shop(*catalog.get_shop(shop_id))


@blp.route("/trace/<trace_code>")
@blp.response(200, TraceOut)
@blp.errors(ProductError.TRACE_NOT_FOUND)
def get_trace(trace_code):
    """The public trace record behind a printed label (一品一码)."""
    product, media = catalog.get_trace(trace_code)
    return {
        "code": trace_code,
        "url": trace_labels.trace_url(trace_code),
        "product": present_public_product(product, media),
        "on_sale": catalog.is_on_sale(product),
        "inspections": [],
    }


@blp.route("/trace/<trace_code>/qr")
@blp.arguments(QrQuery, location="query")
@blp.response(200, description="QR image (image/svg+xml or image/png) of the trace URL")
@blp.errors(ProductError.TRACE_NOT_FOUND)
def trace_qr(args, trace_code):
    """A printable label: the QR code of the storefront trace page."""
    data, mimetype = trace_labels.qr_image(trace_code, fmt=args["format"], scale=args["scale"])
    return Response(data, mimetype=mimetype, headers={"Cache-Control": "public, max-age=86400"})
