"""Listings: drafts, submission, county review, delisting and stock.

The household edits ``Product.draft``; approval copies the draft onto the live columns the
public sees (see models/products.py). Stock changes go straight to the live SKUs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, func, or_, select

from models import Media, ModerationEvent, Product, Shop, Sku, User, db
from models.base import utcnow
from models.enums import (
    Category,
    ConsentPurpose,
    ProductStatus,
    RejectReason,
    ReviewState,
)
from services import access, codes, cursors, lifecycle, lifecycles, precheck
from services import media as media_service
from services.error_codes import CommonError, ProductError, ShopError

MAX_PHOTOS = 9
MAX_SKUS = 20
CONTENT_FIELDS = (
    "title",
    "category",
    "description",
    "story",
    "unit",
    "harvest_date",
    "presale_ship_date",
    "cold_chain",
    "media_ids",
    "skus",
)
# What the farmer reads next to a rejection: how to fix it, in plain words.
FIX_HINTS = {
    RejectReason.BLURRY_PHOTO: "请在光线充足的地方重新拍照，让产品占满画面。",
    RejectReason.UNTRUE_DESCRIPTION: "请按实际情况填写产地、规格和收获时间。",
    RejectReason.ABNORMAL_PRICE: "请参考当地市场价格重新定价。",
    RejectReason.PROHIBITED: "请删除违规内容后再提交。",
    RejectReason.NOT_OWN_PRODUCE: "只能销售本户自产的产品，如有疑问请联系帮扶干部。",
    RejectReason.OTHER: "请按审核意见修改后再提交。",
}


def _owned_product(actor: User, product_id: int) -> tuple[Product, int | None]:
    """The product and, when a helper acts, the household it is acted for (404/403 rules)."""
    product = db.session.get(Product, product_id)
    if product is None:
        raise CommonError.NOT_FOUND()
    acting = access.act_for(actor, product.shop.household, ConsentPurpose.MANAGE_PRODUCTS)
    return product, acting.on_behalf_of


def get_product(actor: User, product_id: int) -> Product:
    """The owner's view: members, helpers in scope, county staff, platform admins."""
    product = db.session.get(Product, product_id)
    if product is None or not access.can_view_household(actor, product.shop.household):
        raise CommonError.NOT_FOUND()
    return product


def list_shop_products(actor: User, shop_id: int) -> list[Product]:
    shop = db.session.get(Shop, shop_id)
    if shop is None or not access.can_view_household(actor, shop.household):
        raise CommonError.NOT_FOUND()
    return list(
        db.session.scalars(select(Product).where(Product.shop_id == shop.id).order_by(Product.id))
    )


def create_product(actor: User, *, shop_id: int, content: dict) -> Product:
    shop = db.session.get(Shop, shop_id)
    if shop is None:
        raise CommonError.NOT_FOUND()
    acting = access.act_for(actor, shop.household, ConsentPurpose.MANAGE_PRODUCTS)
    if not shop.accepts_listings:
        raise ShopError.SHOP_NOT_OPEN()
    draft = _normalise_draft(actor, {"media_ids": [], "skus": []} | content, product=None)
    household = shop.household
    product = Product(
        shop_id=shop.id,
        household_id=household.id,
        county_code=household.county_code,
        village_code=household.village_code,
        draft=draft,
        created_by_id=actor.id,
    )
    lifecycles.PRODUCT.write(product, lifecycles.PRODUCT.initial)
    db.session.add(product)
    db.session.flush()
    _event(product, actor, "create", on_behalf_of=acting.on_behalf_of)
    db.session.commit()
    return product


def update_product(actor: User, product_id: int, *, content: dict) -> Product:
    product, on_behalf = _owned_product(actor, product_id)
    lifecycle.check(lifecycles.PRODUCT, product, "edit")
    draft = _normalise_draft(actor, product.draft | content, product=product)
    _move(product, "edit", actor, on_behalf_of=on_behalf, note=",".join(sorted(content)))
    product.draft = draft
    db.session.commit()
    return product


def set_stock(actor: User, sku_id: int, *, stock: int) -> Sku:
    """Stock is not public content: it changes at once, without review."""
    sku = db.session.get(Sku, sku_id)
    if sku is None:
        raise CommonError.NOT_FOUND()
    _, on_behalf = _owned_product(actor, sku.product_id)
    sku.stock = stock
    _event(sku.product, actor, "stock", on_behalf_of=on_behalf, note=f"sku {sku.id}: {stock}")
    db.session.commit()
    return sku


def submit_product(actor: User, product_id: int) -> Product:
    product, on_behalf = _owned_product(actor, product_id)
    lifecycle.check(lifecycles.PRODUCT, product, "submit")
    _check_complete(product.draft)
    verdict = precheck.check_listing(actor, product.draft)
    _move(product, "submit", actor, on_behalf_of=on_behalf, snapshot=product.draft)
    product.submitted_at = utcnow()
    product.flagged, product.flag_detail = verdict.flagged, verdict.detail
    if verdict.detail:
        _event(product, None, "precheck", note=verdict.detail)
    db.session.commit()
    return product


def delist_product(actor: User, product_id: int) -> Product:
    product, on_behalf = _owned_product(actor, product_id)
    _move(product, "delist", actor, on_behalf_of=on_behalf)
    db.session.commit()
    return product


# --- county review ---------------------------------------------------------------------------


def moderation_queue(
    actor: User, *, limit: int = 20, cursor: str | None = None
) -> tuple[list[Product], str | None]:
    """Drafts waiting for staff of the actor's counties, oldest first, and the next page's
    cursor. Flagged ones are marked, not put first: nothing waiting is public, and a clean
    listing that waits is a household not selling."""
    counties = actor.staff_county_codes
    if not counties:
        return [], None
    query = select(Product).where(
        Product.county_code.in_(counties), Product.review_state == ReviewState.PENDING
    )
    if cursor:
        after, last_id = cursors.decode(cursor, cursors.utc_time, cursors.row_id)
        query = query.where(
            or_(
                Product.submitted_at > after,
                and_(Product.submitted_at == after, Product.id > last_id),
            )
        )
    query = query.order_by(Product.submitted_at, Product.id).limit(limit + 1)
    rows = list(db.session.scalars(query))
    items, more = rows[:limit], len(rows) > limit
    if not (more and items):
        return items, None
    last = items[-1]
    submitted = last.submitted_at or utcnow()  # set by every submission; never None here
    return items, cursors.encode(submitted.isoformat(), last.id)


def _reviewable(actor: User, product_id: int) -> Product:
    product = db.session.get(Product, product_id)
    if product is None:
        raise CommonError.NOT_FOUND()
    access.require_staff_for(actor, product.shop.household)
    return product


def approve_product(actor: User, product_id: int, *, note: str = "") -> Product:
    product = _reviewable(actor, product_id)
    was_listed = product.status == ProductStatus.LISTED
    _move(product, "approve", actor, note=note, snapshot=product.draft)
    _publish_draft(product)
    if not was_listed:
        product.listed_at = utcnow()
    product.flagged, product.flag_detail = False, ""
    product.trace_code = product.trace_code or codes.new_trace_code()
    db.session.commit()
    return product


def reject_product(
    actor: User, product_id: int, *, reason_code: RejectReason, note: str = ""
) -> Product:
    product = _reviewable(actor, product_id)
    _move(product, "reject", actor, reason_code=reason_code, note=note, snapshot=product.draft)
    db.session.commit()
    return product


def moderation_history(actor: User, product_id: int) -> list[ModerationEvent]:
    product = get_product(actor, product_id)
    query = (
        select(ModerationEvent)
        .where(ModerationEvent.product_id == product.id)
        .order_by(ModerationEvent.id)
    )
    return list(db.session.scalars(query))


@dataclass
class ListingDetails:
    """What showing listings needs beyond their rows, read once for a whole page: every live
    and draft photo, and the latest rejection of each rejected listing."""

    media: dict[int, Media]
    rejections: dict[int, ModerationEvent]


def listing_details(products: list[Product]) -> ListingDetails:
    photo_ids = {
        media_id
        for p in products
        for media_id in [*(p.media_ids or []), *(p.draft.get("media_ids") or [])]
    }
    rejected = [p.id for p in products if p.review_state == ReviewState.REJECTED]
    rejections = {}
    if rejected:
        latest = (
            select(func.max(ModerationEvent.id))
            .where(ModerationEvent.product_id.in_(rejected), ModerationEvent.action == "reject")
            .group_by(ModerationEvent.product_id)
        )
        events = db.session.scalars(select(ModerationEvent).where(ModerationEvent.id.in_(latest)))
        rejections = {event.product_id: event for event in events}
    return ListingDetails(media_service.load_media(photo_ids), rejections)


# --- helpers ---------------------------------------------------------------------------------


def _move(product: Product, action: str, actor: User, **detail) -> None:
    """Move the listing along its lifecycle; the moderation history records the event."""
    lifecycle.apply(lifecycles.PRODUCT, product, action, actor=actor, record=_record, **detail)


def _record(machine, actor: User | None, product: Product, move, detail: dict) -> None:
    _event(product, actor, move.transition.event, **detail)


def _normalise_draft(actor: User, draft: dict, *, product: Product | None) -> dict:
    """Keep only content fields, dates as ISO strings, SKU ids only of this product's SKUs."""
    draft = {key: draft.get(key) for key in CONTENT_FIELDS}
    for key in ("harvest_date", "presale_ship_date"):
        if isinstance(draft[key], date):
            draft[key] = draft[key].isoformat()
    if isinstance(draft["category"], Category):
        draft["category"] = draft["category"].value
    own_ids = {sku.id for sku in product.skus} if product else set()
    skus = []
    for sku in draft["skus"] or []:
        sku = dict(sku)
        if sku.get("id") is not None and sku["id"] not in own_ids:
            raise ProductError.UNKNOWN_SKU(errors={"skus": ["规格不存在"]})
        skus.append(sku)
    names = [s["spec_name"] for s in skus]
    if len(names) != len(set(names)):
        raise ProductError.DUPLICATE_SPEC(errors={"skus": ["有两个规格同名"]})
    draft["skus"] = skus
    draft["media_ids"] = list(draft["media_ids"] or [])
    _check_media(actor, draft["media_ids"], product=product)
    return draft


def _check_media(actor: User, media_ids: list[int], *, product: Product | None) -> None:
    """Photos the editor uploaded, or that the listing already shows (a helper's photos stay
    usable when the farmer edits); anyone else's photo is answered as unknown."""
    if len(media_ids) != len(set(media_ids)):
        raise ProductError.DUPLICATE_PHOTO(errors={"media_ids": ["同一张图片用了两次"]})
    usable = media_service.usable_media_ids(actor, media_ids)
    if product is not None:
        usable |= {*(product.media_ids or []), *(product.draft.get("media_ids") or [])}
    if missing := [i for i in media_ids if i not in usable]:
        raise ProductError.UNKNOWN_MEDIA(errors={"media_ids": missing})


def _check_complete(draft: dict) -> None:
    problems = {}
    if not (draft.get("title") or "").strip():
        problems["title"] = ["请填写产品名称"]
    if not draft.get("category"):
        problems["category"] = ["请选择类别"]
    if not draft.get("unit"):
        problems["unit"] = ["请填写单位"]
    if not 1 <= len(draft.get("media_ids") or []) <= MAX_PHOTOS:
        problems["media_ids"] = [f"请上传1到{MAX_PHOTOS}张照片"]
    if not 1 <= len(draft.get("skus") or []) <= MAX_SKUS:
        problems["skus"] = ["请至少填写一个规格和价格"]
    if problems:
        raise ProductError.INCOMPLETE_LISTING(errors=problems)


def _publish_draft(product: Product) -> None:
    draft = product.draft
    product.title = draft["title"]
    product.category = Category(draft["category"])
    product.description = draft.get("description") or ""
    product.story = draft.get("story") or ""
    product.unit = draft["unit"]
    product.harvest_date = _date(draft.get("harvest_date"))
    product.presale_ship_date = _date(draft.get("presale_ship_date"))
    product.cold_chain = bool(draft.get("cold_chain"))
    product.media_ids = list(draft["media_ids"])
    product.cover_media_id = product.media_ids[0]
    existing = {sku.id: sku for sku in product.skus}
    published = []
    for spec in draft["skus"]:
        sku = existing.get(spec.get("id"))
        if sku is None:
            sku = Sku(product=product, stock=spec.get("stock") or 0)
            db.session.add(sku)
        sku.spec_name, sku.price_fen, sku.is_active = spec["spec_name"], spec["price_fen"], True
        published.append(sku)
    db.session.flush()
    kept = {sku.id for sku in published}
    for sku in existing.values():
        if sku.id not in kept:
            sku.is_active = False
    # The draft now names the SKUs by id, so the next edit updates them instead of adding.
    product.draft = draft | {
        "skus": [
            {"id": s.id, "spec_name": s.spec_name, "price_fen": s.price_fen, "stock": s.stock}
            for s in published
        ]
    }


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _event(
    product: Product,
    actor: User | None,
    action: str,
    *,
    on_behalf_of=None,
    reason_code=None,
    note: str = "",
    snapshot: dict | None = None,
) -> None:
    db.session.add(
        ModerationEvent(
            product_id=product.id,
            actor_id=actor.id if actor else None,
            on_behalf_of_household_id=on_behalf_of,
            action=action,
            reason_code=reason_code,
            note=note[:500],
            snapshot=snapshot,
        )
    )
