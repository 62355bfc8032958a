"""The fulfilment chain through the API, for tests: a county network of stations with their
operators, paid ShopOrders, and each act along the way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from models.base import utcnow
from models.enums import Role
from services import fulfilment_jobs
from tests.factories import GUZHEN, VILLAGE_A, Person, World
from tests.shopping import API, TOWNSHIP, Offer, Shopping


@dataclass
class Network:
    """固镇县's network: a village point in VILLAGE_A, the township's station and the county
    centre, each with an operator; the county's staff created them."""

    staff: Person
    village_point: int
    township: int
    centre: int
    village_operator: Person
    township_operator: Person
    centre_operator: Person


@dataclass
class Part:
    """A paid order and its one ShopOrder, with who bought it and who sells it."""

    order_id: int
    shop_order_id: int
    buyer: Person
    offer: Offer


class Chain:
    def __init__(self, world: World, shopping: Shopping, client) -> None:
        self.world = world
        self.shopping = shopping
        self.client = client
        self.app = world.app

    # --- stations -------------------------------------------------------------------------------

    def station(self, staff: Person, *, kind: str, region_code: str, **extra) -> int:
        body = {
            "kind": kind,
            "name": f"{kind}-{region_code}",
            "region_code": region_code,
            "address": "村委会东侧",
            "lat": 33.3 + len(region_code) * 0.001,
            "lng": 117.3,
            "opening_hours": "08:00-18:00",
            "phone": "05525550001",
        } | extra
        answer = self.client.post(f"{API}/admin/stations", json=body, headers=staff.headers)
        assert answer.status_code == 201, answer.json
        return answer.json["id"]

    def operator(self, station_id: int) -> Person:
        return self.world.grant(
            self.world.user("站点员"), Role.STATION_OPERATOR, station_id=station_id
        )

    def network(self, *, staff: Person | None = None) -> Network:
        staff = staff or self.world.staff(GUZHEN)
        village_point = self.station(staff, kind="village_point", region_code=VILLAGE_A)
        township = self.station(staff, kind="township_station", region_code=TOWNSHIP)
        centre = self.station(staff, kind="county_centre", region_code=GUZHEN)
        return Network(
            staff,
            village_point,
            township,
            centre,
            self.operator(village_point),
            self.operator(township),
            self.operator(centre),
        )

    # --- orders ---------------------------------------------------------------------------------

    def paid(self, offer: Offer | None = None, *, quantity: int = 2, buyer=None) -> Part:
        offer = offer or self.shopping.offer()
        buyer, address = buyer or self.shopping.buyer()
        order = self.shopping.order(buyer, address, [(offer.sku_ids[0], quantity)])
        self.shopping.pay_dev(buyer, order["id"])
        return Part(order["id"], order["shop_orders"][0]["id"], buyer, offer)

    def parts(self, order: dict, buyer: Person, offers: list[Offer]) -> list[Part]:
        """The ShopOrders of an order placed (and paid) elsewhere, in the order of ``offers``."""
        part_of = {s["shop_id"]: s["id"] for s in order["shop_orders"]}
        return [Part(order["id"], part_of[o.shop_id], buyer, o) for o in offers]

    # --- acts -----------------------------------------------------------------------------------

    def post(self, path: str, person: Person, body: dict | None = None):
        return self.client.post(f"{API}{path}", json=body or {}, headers=person.headers)

    def accept(self, part: Part, by: Person | None = None, **body):
        return self.post(f"/shop-orders/{part.shop_order_id}/accept", by or part.offer.farmer, body)

    def hand_in(self, station: int, part: Part, operator: Person, **body):
        payload = (
            {"shop_order_id": part.shop_order_id, "weight_g": 15000, "count": 30}
            | {"grade": "一级"}
            | body
        )
        return self.post(f"/stations/{station}/hand-ins", operator, payload)

    def inspect(self, station: int, batch_code: str, operator: Person, **body):
        return self.post(
            f"/stations/{station}/inspections",
            operator,
            {"batch_code": batch_code, "result": "pass"} | body,
        )

    def ship(self, part: Part, by: Person, **body):
        payload = {"carrier": "YTO", "tracking_no": "YT0000000001"} | body
        return self.post(f"/shop-orders/{part.shop_order_id}/ship", by, payload)

    def ship_directly(self, part: Part, **body):
        """Accepted with no station in the county to take it, then sent by the household with
        a carrier: the answer to the shipping act."""
        accepted = self.accept(part)
        assert accepted.status_code == 200, accepted.json
        assert accepted.json["station"] is None, "a station of the county takes these goods in"
        return self.ship(part, part.offer.farmer, **body)

    def pick_up(self, network: Network, part: Part):
        """The county centre hands an inspected part over at its counter (no carrier)."""
        return self.post(
            f"/shop-orders/{part.shop_order_id}/ship", network.centre_operator, {"method": "pickup"}
        )

    def ship_together(self, network: Network, parts: list[Part], **body):
        """The county centre sends inspected parts bound for one address in one parcel."""
        payload = {"carrier": "YTO", "tracking_no": "YT0000000001"} | body
        payload["shop_order_ids"] = [part.shop_order_id for part in parts]
        return self.post(f"/stations/{network.centre}/shipments", network.centre_operator, payload)

    def fail_inspection(self, network: Network, part: Part, reason: str = "破损超过一成"):
        """Accepted, handed in at the village point and failed at the centre (refunded)."""
        assert self.accept(part).status_code == 200
        handed = self.hand_in(network.village_point, part, network.village_operator)
        assert handed.status_code == 201, handed.json
        code = handed.json["batch"]["code"]
        return self.inspect(
            network.centre, code, network.centre_operator, result="fail", reason=reason
        )

    def cancel_overdue(self, part: Part, staff: Person, reason: str = "农户未按时接单"):
        """Left unaccepted past its deadline (the deadline job run a day late), then cancelled
        by the county's staff (refunded)."""
        hours = self.app.config["ACCEPT_WITHIN_HOURS"] + 24
        with self.app.app_context():
            fulfilment_jobs.flag_overdue(now=utcnow() + timedelta(hours=hours))
        return self.post(
            f"/admin/shop-orders/{part.shop_order_id}/cancel", staff, {"reason": reason}
        )

    def through_inspection(self, network: Network, part: Part) -> str:
        """Accepted, handed in at the village point and passed: the batch code."""
        assert self.accept(part).status_code == 200
        handed = self.hand_in(network.village_point, part, network.village_operator)
        assert handed.status_code == 201, handed.json
        code = handed.json["batch"]["code"]
        assert self.inspect(network.centre, code, network.centre_operator).status_code == 201
        return code

    def shop_order(self, part: Part) -> dict:
        answer = self.client.get(f"{API}/orders/{part.order_id}", headers=part.buyer.headers)
        assert answer.status_code == 200, answer.json
        return next(s for s in answer.json["shop_orders"] if s["id"] == part.shop_order_id)
