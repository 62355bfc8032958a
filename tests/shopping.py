"""Buying through the API, for tests: listed products with stock, buyers with an address,
orders placed with an ``Idempotency-Key``."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass

from models import Sku, db
from tests.factories import VILLAGE_A, Catalog, Person, World

API = "/api/v1"
TOWNSHIP = VILLAGE_A[:9] + "000"  # the township of VILLAGE_A


@dataclass
class Offer:
    """A listed product of an open shop, with its household's people."""

    shop_id: int
    product_id: int
    sku_ids: list[int]
    farmer: Person
    staff: Person


class Shopping:
    def __init__(self, world: World, catalog: Catalog, client) -> None:
        self.world = world
        self.catalog = catalog
        self.client = client
        self.app = world.app
        self._n = itertools.count(1)

    def offer(
        self, *, stock: int = 50, village: str = VILLAGE_A, price_fen: int = 4500, **listing
    ) -> Offer:
        """A listed product (``listing`` overrides its content, e.g. ``cold_chain=True``)."""
        shop, farmer, staff = self.catalog.open_shop(village=village)
        skus = [
            {"spec_name": "30枚装", "price_fen": price_fen, "stock": stock},
            {"spec_name": "60枚装", "price_fen": price_fen * 2 - 500, "stock": stock},
        ]
        product = self.catalog.listed(shop, farmer, staff, **({"skus": skus} | listing))
        with self.app.app_context():
            sku_ids = list(
                db.session.scalars(
                    db.select(Sku.id).where(Sku.product_id == product).order_by(Sku.id)
                )
            )
        return Offer(shop, product, sku_ids, farmer, staff)

    def buyer(self, person: Person | None = None) -> tuple[Person, int]:
        """A signed-in buyer and the id of their address."""
        person = person or self.world.user(f"买家{next(self._n)}")
        answer = self.client.post(
            f"{API}/me/addresses",
            json={
                "name": "张三",
                "phone": "13805520001",
                "region_code": VILLAGE_A,
                "detail": "食堂后门",
            },
            headers=person.headers,
        )
        assert answer.status_code == 201, answer.json
        return person, answer.json["id"]

    def place(self, buyer: Person, address_id: int, lines, *, key: str | None = None, **extra):
        body = {
            "lines": [{"sku_id": s, "quantity": q} for s, q in lines],
            "address_id": address_id,
            **extra,
        }
        headers = buyer.headers | {"Idempotency-Key": key or uuid.uuid4().hex}
        return self.client.post(f"{API}/orders", json=body, headers=headers)

    def order(self, buyer: Person, address_id: int, lines, **extra) -> dict:
        answer = self.place(buyer, address_id, lines, **extra)
        assert answer.status_code == 201, answer.json
        return answer.json

    def pay_dev(self, buyer: Person, order_id: int) -> dict:
        answer = self.client.post(
            f"{API}/orders/{order_id}/pay", json={"method": "dev"}, headers=buyer.headers
        )
        assert answer.status_code == 200, answer.json
        return answer.json["order"]

    def stock(self, sku_id: int) -> int:
        with self.app.app_context():
            return db.session.get(Sku, sku_id).stock
