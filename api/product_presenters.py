"""Presenters of listings: the owner's view, the review queue and the public catalog."""

from __future__ import annotations

from models import Product, Shop
from models.enums import RejectReason, StockState
from services import catalog, pii
from services import products as products_service
from services.media import media_urls
from services.products import ListingDetails


def present_photos(media_ids: list[int], media: dict) -> list[dict]:
    return [{"id": i, "variants": media_urls(media[i])} for i in media_ids if i in media]


def _live(product: Product, media: dict) -> dict:
    return {
        "title": product.title,
        "category": product.category,
        "description": product.description,
        "story": product.story,
        "unit": product.unit,
        "harvest_date": product.harvest_date,
        "presale_ship_date": product.presale_ship_date,
        "cold_chain": product.cold_chain,
        "photos": present_photos(product.media_ids or [], media),
    }


def present_products(products: list[Product]) -> list[dict]:
    """A page of listings: their photos and rejections read once for the page, not per item."""
    details = products_service.listing_details(products)
    return [present_product(p, details) for p in products]


def present_product(product: Product, details: ListingDetails | None = None) -> dict:
    """The owner's and staff's view of a listing."""
    if details is None:
        details = products_service.listing_details([product])
    rejection = details.rejections.get(product.id)
    return {
        "id": product.id,
        "shop_id": product.shop_id,
        "household_id": product.household_id,
        "status": product.status,
        "review_state": product.review_state,
        "flagged": product.flagged,
        "flag_detail": product.flag_detail,
        "live": _live(product, details.media),
        "draft": product.draft,
        "skus": product.skus,
        "rejection": rejection
        and {
            "reason_code": rejection.reason_code,
            "note": rejection.note,
            "fix_hint": products_service.FIX_HINTS[rejection.reason_code or RejectReason.OTHER],
            "at": rejection.created_at,
        },
        "trace_code": product.trace_code,
        "listed_at": product.listed_at,
        "submitted_at": product.submitted_at,
        "created_at": product.created_at,
        "updated_at": product.updated_at,
    }


def present_queue(products: list[Product]) -> list[dict]:
    """The county's review queue: each listing with its draft photos and household status."""
    details = products_service.listing_details(products)
    return [_present_queue_item(p, details) for p in products]


def _present_queue_item(product: Product, details: ListingDetails) -> dict:
    household = product.shop.household
    return present_product(product, details) | {
        "household_status": household.poverty_status.value,
        "household_verification": household.verification_status.value,
        "village_name": product.village.name,
        "draft_photos": present_photos(product.draft.get("media_ids") or [], details.media),
    }


def present_public_product(product: Product, media: dict) -> dict:
    """What anyone may see: approved content only, the household's name masked."""
    household = product.shop.household
    return _live(product, media) | {
        "id": product.id,
        "skus": [
            {
                "id": sku.id,
                "spec_name": sku.spec_name,
                "price_fen": sku.price_fen,
                "stock_state": catalog.stock_state(sku.stock),
            }
            for sku in product.skus
            if sku.is_active
        ],
        "household_name": pii.mask_name(household.head_name),
        "village": {"code": product.village.code, "name": product.village.name},
        "shop": {"id": product.shop.id, "name": product.shop.name},
        "trace_code": product.trace_code,
        "listed_at": product.listed_at,
        "sales_count": product.sales_count,
    }


def present_public_shop(shop: Shop, products: list[Product], media: dict) -> dict:
    household = shop.household
    return {
        "id": shop.id,
        "name": shop.name,
        "intro": shop.intro,
        "story": shop.story,
        "household_name": pii.mask_name(household.head_name),
        "village": {"code": household.village.code, "name": household.village.name},
        "products": [present_public_product(p, media) for p in products],
    }


def _cover(variants: list[dict] | None, store) -> dict | None:
    if not variants:
        return None
    smallest = min(v["width"] for v in variants)
    urls = {v["format"]: store.url(v["key"]) for v in variants if v["width"] == smallest}
    return {"webp": urls.get("webp", ""), "jpeg": urls.get("jpeg", "")}


def present_catalog_item(card, store) -> dict:
    """A feed card from one row of ``services.catalog.CARD_COLUMNS``, in JSON types already
    (the feed skips marshmallow; ``CatalogItemOut`` documents the same shape)."""
    return {
        "id": card.id,
        "title": card.title,
        "category": card.category.value,
        "unit": card.unit,
        "cover": _cover(card.cover_variants, store),
        "price_from_fen": card.price_from_fen,
        "sold_out": catalog.stock_state(card.stock_total) == StockState.SOLD_OUT,
        "household_name": pii.mask_name(card.head_name),
        "village": {"code": card.village_code, "name": card.village_name},
        "shop": {"id": card.shop_id, "name": card.shop_name},
        "listed_at": card.listed_at and card.listed_at.isoformat(),
        "sales_count": card.sales_count,
    }
