"""Server-rendered pages: the public H5 storefront (and, later, the county console).

Pages read the public catalog through ``services``; an id or code the public may not see
answers the storefront's 404 page. ``render_error_page`` is also what the app answers every
failed request outside ``/api/`` with (see ``api/errors.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import Blueprint, render_template

from models import Product
from models.enums import InspectionResult, StationKind, StockState
from services import catalog, pii, shops
from services import trace as trace_records
from services.errors import NotFound
from storefront import photos
from storefront.errors import render_error_page
from storefront.filters import yuan

__all__ = ["bp", "render_error_page"]

bp = Blueprint(
    "storefront",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/storefront",
)
bp.add_app_template_filter(yuan, "yuan")

# How each stock state reads on a page (the rule that decides it is ``catalog.stock_state``).
STOCK_LABELS = {
    StockState.IN_STOCK: "有货",
    StockState.LOW: "库存紧张",
    StockState.SOLD_OUT: "已售罄",
}


@dataclass(frozen=True)
class Spec:
    name: str
    price_fen: int
    stock: int

    @property
    def sold_out(self) -> bool:
        return catalog.stock_state(self.stock) == StockState.SOLD_OUT

    @property
    def stock_label(self) -> str:
        return STOCK_LABELS[catalog.stock_state(self.stock)]


@dataclass(frozen=True)
class Offer:
    """What a page says about a listing's price and stock, from its active specs."""

    specs: list[Spec]

    @classmethod
    def of(cls, product: Product) -> Offer:
        return cls([Spec(s.spec_name, s.price_fen, s.stock) for s in product.skus if s.is_active])

    @property
    def price_from_fen(self) -> int | None:
        return min((s.price_fen for s in self.specs), default=None)

    @property
    def has_more_prices(self) -> bool:
        return len({s.price_fen for s in self.specs}) > 1

    @property
    def sold_out(self) -> bool:
        return all(s.sold_out for s in self.specs)


@dataclass(frozen=True)
class Card:
    """A listing in a shop's grid."""

    id: int
    title: str
    cover: photos.Photo | None
    offer: Offer

    @property
    def price_from_fen(self) -> int | None:
        return self.offer.price_from_fen

    @property
    def has_more_prices(self) -> bool:
        return self.offer.has_more_prices

    @property
    def sold_out(self) -> bool:
        return self.offer.sold_out


@bp.get("/")
def home():
    return render_template("storefront/home.html", shops=shops.list_public_shops(limit=30))


@bp.get("/shops/<int:shop_id>")
def shop(shop_id: int):
    """An approved shop: who runs it, where, its story and what it has on sale."""
    try:
        found, products, media = catalog.get_shop(shop_id)
    except NotFound:
        return render_error_page(404)
    household = found.household
    items = [Card(p.id, p.title, photos.cover(p.media_ids, media), Offer.of(p)) for p in products]
    return render_template(
        "storefront/shop.html",
        shop=found,
        household_name=pii.mask_name(household.head_name),
        village_name=household.village.name,
        items=items,
        photo_sizes=photos.GRID_CELL,
    )


@bp.get("/products/<int:product_id>")
def product(product_id: int):
    """A listing on sale: its photos, specs with prices, stock and where it comes from."""
    try:
        found, media = catalog.get_product(product_id)
    except NotFound:
        return render_error_page(404)
    offer = Offer.of(found)
    return render_template(
        "storefront/product.html",
        product=found,
        photos=photos.photos(found.media_ids, media),
        photo_sizes=photos.FULL_WIDTH,
        specs=offer.specs,
        price_from_fen=offer.price_from_fen,
        has_more_prices=offer.has_more_prices,
        sold_out=offer.sold_out,
        household_name=pii.mask_name(found.shop.household.head_name),
    )


# How the trace page names what it shows.
STATION_KINDS = {
    StationKind.VILLAGE_POINT: "村级服务点",
    StationKind.TOWNSHIP_STATION: "乡镇服务站",
    StationKind.COUNTY_CENTRE: "县级运营中心",
    StationKind.COUNTER: "线下专柜",
}
INSPECTION_RESULTS = {InspectionResult.PASS: "合格", InspectionResult.FAIL: "不合格"}
COLD_CHAIN_STEPS = {"hand_in": "交货入站", "ship": "出库发货"}
_BEIJING = timezone(timedelta(hours=8))


def _beijing(at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A recorded moment as a reader in China reads it."""
    return at.astimezone(_BEIJING).strftime(fmt) if at else ""


@bp.get("/t/<code>")
def trace(code: str):
    """The page a printed QR label opens: where the product came from and who grew it; for a
    batch's label, what the hand-in, the inspection and the shipment recorded."""
    try:
        found = trace_records.get_trace(code)
    except NotFound:
        return render_error_page(404)
    common = {
        "code": code,
        "product": found.product,
        "household_name": found.household_name,
        "village_name": found.village.name,
        "on_sale": catalog.is_on_sale(found.product),
        "photo": photos.cover(found.product.media_ids, found.media),
        "photo_sizes": photos.FULL_WIDTH,
        "when": _beijing,
        "station_kinds": STATION_KINDS,
        "results": INSPECTION_RESULTS,
    }
    if isinstance(found, trace_records.ProductTrace):
        return render_template("storefront/trace.html", batches=found.batches, **common)
    batch = found.batch
    return render_template(
        "storefront/trace.html",
        batch=batch,
        products=found.products,
        batch_photo=photos.photo(found.media.get(batch.photo_media_id or 0)),
        report_photo=photos.photo(found.media.get(batch.report_media_id or 0)),
        inspection_station=found.inspection_station,
        shipped_at=found.shipped_at,
        cold_chain=found.cold_chain,
        cold_chain_steps=COLD_CHAIN_STEPS,
        **common,
    )
