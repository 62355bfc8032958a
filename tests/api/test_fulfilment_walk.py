"""One unit order across three households, paid through (the fake) WeChat Pay, walked through
every station of the county: the events each act left, the trace page of a batch, and the
shipping information WeChat receives once the last part ships (its first upload fails and is
sent again by the retry job)."""

from __future__ import annotations

from datetime import timedelta

from models import Order, ShippingUpload, db
from models.enums import ShippingUploadStatus
from services import shipping_uploads
from tests.factories import GUZHEN, VILLAGE_A, VILLAGE_B, Units
from tests.fulfilment import Part
from tests.shopping import API

NOTIFY = f"{API}/payments/wechat/notify"


def test_a_unit_order_travels_from_three_villages_to_the_canteen(
    app, client, world, wechat, pay, shopping, chain, network
):
    mini = wechat
    # Three households: two in village A (its collection point), one in village B (no point
    # there: its goods go to the township's station).
    offers = [
        shopping.offer(village=VILLAGE_A),
        shopping.offer(village=VILLAGE_B),
        shopping.offer(village=VILLAGE_A),
    ]
    unit, unit_admin = Units(world).verified(staff=network.staff)
    buyer, address = shopping.buyer(unit_admin)
    order = shopping.order(buyer, address, [(o.sku_ids[0], 4) for o in offers], unit_id=unit)
    assert (
        client.post(
            f"{API}/orders/{order['id']}/pay", json={"method": "wechat"}, headers=buyer.headers
        ).status_code
        == 200
    )
    with app.app_context():
        trade_no = db.session.get(Order, order["id"]).out_trade_no
    headers, body = pay.notification("good", out_trade_no=trade_no)
    assert client.post(NOTIFY, data=body, headers=headers).status_code == 200

    part_of = {s["shop_id"]: s["id"] for s in order["shop_orders"]}
    parts = [Part(order["id"], part_of[o.shop_id], buyer, o) for o in offers]
    expected_station = [network.village_point, network.township, network.village_point]
    operator_of = {
        network.village_point: network.village_operator,
        network.township: network.township_operator,
    }
    codes = []
    for part, station in zip(parts, expected_station, strict=True):
        accepted = chain.accept(part)
        assert accepted.status_code == 200, accepted.json
        assert accepted.json["station"]["id"] == station
        handed = chain.hand_in(station, part, operator_of[station], weight_g=6000, count=4)
        assert handed.status_code == 201, handed.json
        codes.append(handed.json["batch"]["code"])
    # The centre's work list holds all three, waiting for inspection.
    queue = client.get(
        f"{API}/stations/{network.centre}/queue", headers=network.centre_operator.headers
    ).json
    assert {s["id"] for s in queue["awaiting_inspection"]} == {p.shop_order_id for p in parts}
    for code in codes:
        assert chain.inspect(network.centre, code, network.centre_operator).status_code == 201

    # One parcel to the canteen; WeChat is busy the first time.
    mini.fail_next_shipping(-1, times=2)
    shipped = chain.post(
        f"/stations/{network.centre}/shipments",
        network.centre_operator,
        {
            "carrier": "SF",
            "tracking_no": "SF1400000000001",
            "shop_order_ids": [p.shop_order_id for p in parts],
        },
    )
    assert shipped.status_code == 201, shipped.json
    with app.app_context():
        upload = db.session.scalar(
            db.select(ShippingUpload).where(ShippingUpload.order_id == order["id"])
        )
        assert upload.status == ShippingUploadStatus.PENDING
        assert upload.attempts == 1
    listed = client.get(
        f"{API}/admin/shipping-uploads?status=pending", headers=network.staff.headers
    ).json
    assert [u["order_id"] for u in listed["items"]] == [order["id"]]
    with app.app_context():
        assert shipping_uploads.retry_pending(older_than=timedelta(0)) == 1
        assert db.session.get(ShippingUpload, upload.id).status == ShippingUploadStatus.UPLOADED
    [sent] = mini.shipping_uploads
    assert sent["order_key"]["order_number_type"] in (1, 2)
    assert sent["logistics_type"] == 1
    assert sent["delivery_mode"] == 1
    [item] = sent["shipping_list"]
    assert item["tracking_no"] == "SF1400000000001"
    assert item["express_company"] == "SF"
    assert item["contact"]["receiver_contact"] == "138****0001"
    assert sent["payer"]["openid"]

    # The canteen confirms each part; every act is on the order the unit sees.
    for part in parts:
        answer = chain.post(f"/shop-orders/{part.shop_order_id}/confirm-receipt", buyer)
        assert answer.status_code == 200, answer.json
    seen = client.get(f"{API}/orders/{order['id']}", headers=buyer.headers).json
    for shop_order, station in zip(
        sorted(seen["shop_orders"], key=lambda s: [p.shop_order_id for p in parts].index(s["id"])),
        expected_station,
        strict=True,
    ):
        events = shop_order["events"]
        assert [e["action"] for e in events] == [
            "pay",
            "accept",
            "hand_in",
            "pass",
            "ship",
            "confirm",
        ]
        assert [e["station"]["id"] if e["station"] else None for e in events] == [
            None,
            station,
            station,
            network.centre,
            network.centre,
            None,
        ]
        assert [e["actor"]["role"] if e["actor"] else None for e in events] == [
            None,
            "farmer",
            "station_operator",
            "station_operator",
            "station_operator",
            "buyer",
        ]
        assert shop_order["status"] == "delivered"
        assert shop_order["shipment"]["id"] == shipped.json["id"]

    # The trace page of the township's batch tells its way, from the records.
    trace = client.get(f"{API}/trace/{codes[1]}").json
    assert trace["batch"]["code"] == codes[1]
    assert trace["batch"]["weight_g"] == 6000
    assert trace["batch"]["grade"] == "一级"
    assert trace["inspection"]["result"] == "pass"
    assert trace["shipped_at"] is not None
    assert trace["village"]["code"] == VILLAGE_B
    assert "*" in trace["household_name"]
    assert trace["village"]["code"][:6] == GUZHEN
