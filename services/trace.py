"""The public trace record behind a code (一品一码): a product's code, or a batch's.

A batch's record is what the work wrote along the way, never typed by the seller afterwards:
the hand-in at a station (weight, count, grade, photo, temperature), the county centre's
inspection (result, reason, report photo) and the shipment (date, temperature). A product's
record lists its latest batches. Both answer after the product is delisted: the record stays
true. The public sees villages and masked names only (no household id, phone or operator).

A batch's record takes a handful of statements whatever it holds; a product's list of batches
is one statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from models import (
    Batch,
    Household,
    Media,
    OrderLine,
    Product,
    Region,
    Shipment,
    ShopOrder,
    Station,
    db,
)
from services import catalog, pii
from services.media import load_media

# How many of a product's batches its trace record lists, newest first.
LATEST_BATCHES = 10

# One row per batch in a product's record: what the list shows, nothing more.
BATCH_ROW_COLUMNS = (
    Batch.code,
    Batch.handed_in_at,
    Batch.weight_g,
    Batch.grade,
    Batch.inspection_result,
    Batch.inspection_reason,
    Batch.inspected_at,
    ShopOrder.shipped_at,
)


@dataclass(frozen=True)
class ProductRef:
    id: int
    title: str  # as bought (the line's title)


@dataclass(frozen=True)
class ColdChainStep:
    """A temperature recorded along the way: at the hand-in, or when the parcel left."""

    step: str  # "hand_in" | "ship"
    temperature_c: float | None
    at: datetime
    station: Station | None  # None: shipped by the household itself


@dataclass(frozen=True)
class ProductTrace:
    product: Product
    media: dict[int, Media]
    village: Region
    household_name: str  # masked: 李**
    batches: list  # rows of BATCH_ROW_COLUMNS, newest first


@dataclass(frozen=True)
class BatchTrace:
    batch: Batch
    product: Product  # the first product of the batch's ShopOrder
    products: list[ProductRef]  # every product of it, in the order bought
    media: dict[int, Media]  # the product's photos, the hand-in photo and the report
    village: Region
    household_name: str  # masked: 李**
    inspection_station: Station | None
    shipped_at: datetime | None
    cold_chain: list[ColdChainStep]


def get_trace(code: str) -> ProductTrace | BatchTrace:
    """The record behind ``code``: 404 ``trace_not_found`` for a code nobody issued."""
    product = catalog.traced_product(code)
    if product is not None:
        return ProductTrace(
            product=product,
            media=catalog.load_photos([product]),
            village=product.village,
            household_name=pii.mask_name(product.shop.household.head_name),
            batches=latest_batches(product.id),
        )
    return _batch_trace(code)


def latest_batches(product_id: int, *, limit: int = LATEST_BATCHES) -> list:
    """The product's latest batches (of ShopOrders with a line of it), newest first, as rows."""
    of_product = select(OrderLine.shop_order_id).where(OrderLine.product_id == product_id)
    return list(
        db.session.execute(
            select(*BATCH_ROW_COLUMNS)
            .join(ShopOrder, ShopOrder.id == Batch.shop_order_id)
            .where(Batch.shop_order_id.in_(of_product))
            .order_by(Batch.handed_in_at.desc(), Batch.id.desc())
            .limit(limit)
        )
    )


def _batch_trace(code: str) -> BatchTrace:
    row = db.session.execute(
        select(Batch, ShopOrder.shipped_at, ShopOrder.shipment_id)
        .join(ShopOrder, ShopOrder.id == Batch.shop_order_id)
        .where(Batch.code == code)
    ).first()
    if row is None:
        raise catalog.trace_not_found()
    batch, shipped_at, shipment_id = row
    lines = db.session.execute(
        select(OrderLine.product_id, OrderLine.title)
        .where(OrderLine.shop_order_id == batch.shop_order_id)
        .order_by(OrderLine.id)
    ).all()
    refs: dict[int, ProductRef] = {}
    for line in lines:
        refs.setdefault(line.product_id, ProductRef(line.product_id, line.title))
    products = {p.id: p for p in db.session.scalars(select(Product).where(Product.id.in_(refs)))}
    product = products[next(iter(refs))]
    shipment = db.session.get(Shipment, shipment_id) if shipment_id is not None else None
    stations = _stations(batch.inspection_station_id, shipment.station_id if shipment else None)
    photo_ids = [batch.photo_media_id, batch.report_media_id]
    media = load_media([*(product.media_ids or []), *(i for i in photo_ids if i is not None)])
    return BatchTrace(
        batch=batch,
        product=product,
        products=list(refs.values()),
        media=media,
        village=_village(batch, product),
        household_name=_household_name(batch, product),
        inspection_station=stations.get(batch.inspection_station_id),
        shipped_at=shipped_at,
        cold_chain=_cold_chain(
            batch,
            shipment,
            stations,
            cold=any(p.cold_chain for p in products.values()),
        ),
    )


def _stations(*ids: int | None) -> dict[int | None, Station]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {s.id: s for s in db.session.scalars(select(Station).where(Station.id.in_(wanted)))}


def _village(batch: Batch, product: Product) -> Region:
    """Where the goods came from: the household's village at the hand-in."""
    if batch.village_code is None or batch.village_code == product.village_code:
        return product.village
    return db.session.get(Region, batch.village_code) or product.village


def _household_name(batch: Batch, product: Product) -> str:
    """The masked name of the household that handed the goods in (the shop's, if none is
    recorded)."""
    head_name = None
    if batch.household_id is not None:
        head_name = db.session.scalar(
            select(Household.head_name).where(Household.id == batch.household_id)
        )
    return pii.mask_name(head_name or product.shop.household.head_name)


def _cold_chain(
    batch: Batch, shipment: Shipment | None, stations: dict, *, cold: bool
) -> list[ColdChainStep]:
    """The temperatures recorded, step by step: for cold-chain goods every step taken (a
    missing reading shows as such), otherwise only if someone recorded one."""
    steps = [ColdChainStep("hand_in", batch.temperature_c, batch.handed_in_at, batch.station)]
    if shipment is not None:
        steps.append(
            ColdChainStep(
                "ship",
                shipment.temperature_c,
                shipment.shipped_at,
                stations.get(shipment.station_id),
            )
        )
    if cold or any(s.temperature_c is not None for s in steps):
        return steps
    return []
