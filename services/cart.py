"""A server-side cart: a unit admin builds a large order over days, on phone and PC alike.

``PUT /cart`` replaces the whole cart (what the client shows is what is kept); reading it tells
for each line whether it can still be bought, and at what price now.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select

from models import CartItem, Product, Shop, Sku, User, db
from models.enums import StockState
from services import catalog
from services.error_codes import OrderError, ProductError

MAX_CART_LINES = 1000


@dataclass(frozen=True)
class CartLine:
    sku_id: int
    quantity: int
    product_id: int
    shop_id: int
    title: str
    spec_name: str
    price_fen: int
    available: bool  # on sale now (listed, shop open, spec active)
    stock_state: StockState


def get_cart(actor: User) -> list[CartLine]:
    rows = db.session.execute(
        select(CartItem, Sku, Product, Shop)
        .join(Sku, Sku.id == CartItem.sku_id)
        .join(Product, Product.id == Sku.product_id)
        .join(Shop, Shop.id == Product.shop_id)
        .where(CartItem.user_id == actor.id)
        .order_by(CartItem.id)
    ).all()
    return [
        CartLine(
            sku_id=sku.id,
            quantity=item.quantity,
            product_id=product.id,
            shop_id=shop.id,
            title=product.title,
            spec_name=sku.spec_name,
            price_fen=sku.price_fen,
            available=sku.is_active and catalog.is_on_sale(product),
            stock_state=catalog.stock_state(sku.stock),
        )
        for item, sku, product, shop in rows
    ]


def replace_cart(actor: User, *, lines: list[tuple[int, int]]) -> list[CartLine]:
    """The cart becomes exactly ``lines`` ([(sku_id, quantity)]): SKUs must exist (a line that
    has gone off sale meanwhile is kept, marked unavailable, so the buyer sees what changed)."""
    seen: dict[int, int] = {}
    for index, (sku_id, _) in enumerate(lines):
        if sku_id in seen:
            raise OrderError.DUPLICATE_LINE(
                errors={"lines": {str(index): [f"与第 {seen[sku_id] + 1} 行重复"]}}
            )
        seen[sku_id] = index
    known = set(db.session.scalars(select(Sku.id).where(Sku.id.in_(seen))))
    unknown = {str(seen[s]): ["规格不存在"] for s in seen if s not in known}
    if unknown:
        raise ProductError.UNKNOWN_SKU(errors={"lines": unknown})
    db.session.execute(delete(CartItem).where(CartItem.user_id == actor.id))
    for sku_id, quantity in lines:
        db.session.add(CartItem(user_id=actor.id, sku_id=sku_id, quantity=quantity))
    db.session.commit()
    return get_cart(actor)


def total_fen(lines: list[CartLine]) -> int:
    """What the lines that can still be bought cost now."""
    return sum(line.price_fen * line.quantity for line in lines if line.available)
