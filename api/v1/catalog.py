"""The public catalog and trace codes (no login needed)."""

from flask import Response, current_app

from api.blueprint import Blueprint
from api.feed_cache import cached_page
from api.product_presenters import (
    present_catalog_item,
    present_photos,
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
from models import Station
from services import catalog, trace, trace_labels
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
    """The public trace record behind a printed label (一品一码): a product's code (its latest
    batches), or a batch's (its hand-in, inspection, shipping and cold-chain records)."""
    found = trace.get_trace(trace_code)
    if isinstance(found, trace.BatchTrace):
        return _present_batch_trace(trace_code, found)
    return _present_product_trace(trace_code, found)


def _present_trace(code: str, found: trace.ProductTrace | trace.BatchTrace) -> dict:
    return {
        "code": code,
        "url": trace_labels.trace_url(code),
        "product": present_public_product(found.product, found.media),
        "on_sale": catalog.is_on_sale(found.product),
        "village": {"code": found.village.code, "name": found.village.name},
        "household_name": found.household_name,
    }


def _present_product_trace(code: str, found: trace.ProductTrace) -> dict:
    return _present_trace(code, found) | {
        "kind": "product",
        "batches": [
            {
                "code": row.code,
                "url": trace_labels.trace_url(row.code),
                "handed_in_at": row.handed_in_at,
                "weight_g": row.weight_g,
                "grade": row.grade,
                "inspection_result": row.inspection_result,
                "shipped_at": row.shipped_at,
            }
            for row in found.batches
        ],
        "inspections": [
            {
                "batch_code": row.code,
                "result": row.inspection_result,
                "reason": row.inspection_reason,
                "inspected_at": row.inspected_at,
            }
            for row in found.batches
            if row.inspection_result is not None
        ],
    }


def _present_batch_trace(code: str, found: trace.BatchTrace) -> dict:
    batch = found.batch
    inspection = batch.inspection_result and {
        "result": batch.inspection_result,
        "reason": batch.inspection_reason,
        "report_photo": _photo(batch.report_media_id, found.media),
        "inspected_at": batch.inspected_at,
        "station": _station(found.inspection_station),
    }
    return _present_trace(code, found) | {
        "kind": "batch",
        "batch": {
            "code": batch.code,
            "handed_in_at": batch.handed_in_at,
            "weight_g": batch.weight_g,
            "count": batch.count,
            "grade": batch.grade,
            "harvest_date": batch.harvest_date,
            "temperature_c": batch.temperature_c,
            "photo": _photo(batch.photo_media_id, found.media),
            "station": _station(batch.station),
        },
        "products": [{"id": p.id, "title": p.title} for p in found.products],
        "inspection": inspection or None,
        "inspections": [inspection | {"batch_code": batch.code}] if inspection else [],
        "shipped_at": found.shipped_at,
        "cold_chain": [
            {
                "step": step.step,
                "temperature_c": step.temperature_c,
                "at": step.at,
                "station": _station(step.station),
            }
            for step in found.cold_chain
        ],
    }


def _photo(media_id: int | None, media: dict) -> dict | None:
    if media_id is None:
        return None
    return next(iter(present_photos([media_id], media)), None)


def _station(station: Station | None) -> dict | None:
    """A station as the public sees it: which one, never who works there or its phone."""
    if station is None:
        return None
    return {"id": station.id, "name": station.name, "kind": station.kind}


@blp.route("/trace/<trace_code>/qr")
@blp.arguments(QrQuery, location="query")
@blp.response(200, description="QR image (image/svg+xml or image/png) of the trace URL")
@blp.errors(ProductError.TRACE_NOT_FOUND)
def trace_qr(args, trace_code):
    """A printable label: the QR code of the storefront trace page."""
    data, mimetype = trace_labels.qr_image(trace_code, fmt=args["format"], scale=args["scale"])
    return Response(data, mimetype=mimetype, headers={"Cache-Control": "public, max-age=86400"})
