"""The public catalog: listed products of approved shops, and the products behind trace codes
(the full record of a code, a batch's included, is ``services/trace.py``).

The list runs one statement whatever the page size (shop, household, village, cover photo and
SKU figures joined in), plus a look-up of a region filter's level the first time the process
sees that code.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, and_, bindparam, func, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import BindParameter

from models import Batch, Household, Media, Product, Region, Shop, Sku, db
from models.enums import Category, ProductStatus, RegionLevel, StockState
from services import cursors
from services.error_codes import ProductError, RegionError, ShopError
from services.errors import DomainError
from services.media import load_media
from services.regions import check_code_format

# Significant digits of a code at each level: 34 (安徽), 3403 (蚌埠), 340323 (固镇) ...
_PREFIX_LENGTH = {
    RegionLevel.PROVINCE: 2,
    RegionLevel.CITY: 4,
    RegionLevel.COUNTY: 6,
    RegionLevel.TOWNSHIP: 9,
    RegionLevel.VILLAGE: 12,
}
SORTS = ("newest", "best_selling")


@dataclass
class Page:
    items: list  # rows of CARD_COLUMNS
    next_cursor: str | None


# On sale: listed, in a shop that is open. ``is_on_sale`` says the same of a loaded product.
ON_SALE = and_(Product.status == ProductStatus.LISTED, Shop.is_open)


def _public():
    return select(Product).join(Shop, Shop.id == Product.shop_id).where(ON_SALE)


# One row per feed card: the product's card fields, its shop and village, the household's
# name, the cover photo's variants and the SKU figures the card shows, computed by the database.
_ACTIVE_SKUS = (Sku.product_id == Product.id) & Sku.is_active
_Cover = aliased(Media, name="cover")
CARD_COLUMNS = (
    Product.id,
    Product.title,
    Product.category,
    Product.unit,
    Product.listed_at,
    Product.sales_count,
    Shop.id.label("shop_id"),
    Shop.name.label("shop_name"),
    Household.head_name,
    Region.code.label("village_code"),
    Region.name.label("village_name"),
    _Cover.variants.label("cover_variants"),
    select(func.min(Sku.price_fen)).where(_ACTIVE_SKUS).scalar_subquery().label("price_from_fen"),
    select(func.coalesce(func.sum(Sku.stock), 0))
    .where(_ACTIVE_SKUS)
    .scalar_subquery()
    .label("stock_total"),
)
# What every feed statement starts from; ``_feed_statement`` adds the filters.
_FEED = (
    select(*CARD_COLUMNS)
    .join(Shop, Shop.id == Product.shop_id)
    .join(Household, Household.id == Product.household_id)
    .join(Region, Region.code == Product.village_code)
    .outerjoin(_Cover, _Cover.id == Product.cover_media_id)
    .where(ON_SALE)
)


def list_products(
    *,
    region: str | None = None,
    category: Category | None = None,
    q: str | None = None,
    sort: str = "newest",
    cursor: str | None = None,
    limit: int = 20,
) -> Page:
    """Feed cards, read as plain rows in one statement: no ORM objects to build for a page
    nobody edits."""
    params: dict = {"limit": limit + 1}
    if region:
        params["region_prefix"] = _region_prefix(region)
    if category:
        params["category"] = category
    term = (q or "").strip()
    if term:
        params["term"] = f"%{_escape_like(term)}%"
    if cursor:
        params["after_value"], params["after_id"] = _decode_cursor(cursor, sort)
    statement = _feed_statement(sort, frozenset(params))
    rows = db.session.execute(statement, params).all()
    items, more = list(rows[:limit]), len(rows) > limit
    next_cursor = _encode_cursor(items[-1], sort) if more and items else None
    return Page(items, next_cursor)


@functools.lru_cache(maxsize=64)
def _feed_statement(sort: str, filters: frozenset[str]):
    """The feed statement for one combination of filters, built once with bound parameters:
    building a statement costs more than SQLite takes to run it."""
    query = _FEED
    if "region_prefix" in filters:
        query = query.where(Product.village_code.startswith(bindparam("region_prefix")))
    if "category" in filters:
        query = query.where(Product.category == bindparam("category"))
    if "term" in filters:
        query = query.where(
            or_(
                Product.title.like(bindparam("term"), escape=_LIKE_ESCAPE),
                Product.story.like(bindparam("term"), escape=_LIKE_ESCAPE),
            )
        )
    key_column = Product.listed_at if sort == "newest" else Product.sales_count
    if "after_id" in filters:
        after: BindParameter[Any] = bindparam("after_value")
        query = query.where(
            or_(key_column < after, and_(key_column == after, Product.id < bindparam("after_id")))
        )
    return query.order_by(key_column.desc(), Product.id.desc()).limit(
        bindparam("limit", type_=Integer)
    )


_LIKE_ESCAPE = "/"


def _escape_like(term: str) -> str:
    """A keyword is matched literally: '%' and '_' typed by a shopper are not wildcards."""
    for char in (_LIKE_ESCAPE, "%", "_"):
        term = term.replace(char, _LIKE_ESCAPE + char)
    return term


def get_product(product_id: int) -> tuple[Product, dict[int, Media]]:
    product = db.session.scalar(_public().where(Product.id == product_id))
    if product is None:
        raise ProductError.PRODUCT_UNAVAILABLE()
    return product, load_photos([product])


def get_shop(shop_id: int, *, limit: int = 50) -> tuple[Shop, list[Product], dict[int, Media]]:
    shop = db.session.get(Shop, shop_id)
    if shop is None or not shop.is_open:
        raise ShopError.SHOP_UNAVAILABLE()
    products = list(
        db.session.scalars(
            _public()
            .where(Product.shop_id == shop.id)
            .order_by(Product.listed_at.desc(), Product.id.desc())
            .limit(limit)
        )
    )
    return shop, products, load_photos(products)


# Codes are issued on first approval; a product never listed has none to answer.
_TRACED = Product.listed_at.is_not(None)


def traced_product(code: str) -> Product | None:
    """The product whose label carries ``code``, delisted or not (a printed label outlives a
    listing)."""
    return db.session.scalar(select(Product).where(_TRACED, Product.trace_code == code))


def require_trace_code(code: str) -> None:
    """404 unless ``code`` is a trace code that answers (what a label may be printed for): a
    product's, or a batch's handed in at a station."""
    of_product = select(Product.id).where(_TRACED, Product.trace_code == code).exists()
    of_batch = select(Batch.id).where(Batch.code == code).exists()
    if not db.session.scalar(select(or_(of_product, of_batch))):
        raise trace_not_found()


def trace_not_found() -> DomainError:
    return ProductError.TRACE_NOT_FOUND()


def load_photos(products: list[Product]) -> dict[int, Media]:
    return load_media(media_id for p in products for media_id in p.media_ids or [])


def _region_prefix(code: str) -> str:
    check_code_format(code, "region")
    prefix = _known_region_prefix(code)
    if prefix is None:
        raise RegionError.INVALID_REGION_CODE(errors={"region": ["未知地区"]})
    return prefix


@functools.lru_cache(maxsize=4096)
def _known_region_prefix_cached(code: str) -> str:
    region = db.session.get(Region, code)
    if region is None:
        raise LookupError(code)  # not cached: a code imported later is found then
    return code[: _PREFIX_LENGTH[region.level]]


def _known_region_prefix(code: str) -> str | None:
    """A code's level never changes once it exists (GB/T 2260), so known codes are kept."""
    try:
        return _known_region_prefix_cached(code)
    except LookupError:
        return None


def _encode_cursor(card, sort: str) -> str:
    value = card.listed_at.isoformat() if sort == "newest" else card.sales_count
    return cursors.encode(sort, value, card.id)


def _decode_cursor(cursor: str, sort: str):
    key = cursors.utc_time if sort == "newest" else cursors.count
    _, value, last_id = cursors.decode(cursor, cursors.exactly(sort), key, cursors.row_id)
    return value, last_id


# At most this many left: buyers are told stock is low.
LOW_STOCK = 5


def stock_state(stock: int) -> StockState:
    """What buyers are told of a stock level (the exact count is the household's business)."""
    if stock <= 0:
        return StockState.SOLD_OUT
    return StockState.LOW if stock <= LOW_STOCK else StockState.IN_STOCK


def is_on_sale(product: Product) -> bool:
    return product.status == ProductStatus.LISTED and product.shop.is_open
