"""WeChat's shipping information for orders paid through WeChat Pay: made once when the last
part ships (refunded parts count as done), sent after the commit to the fake WeChat, retried
while it fails, and listed to the county's staff."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlalchemy import select, update

from models import Order, Payment, ShippingUpload, Sku, User, db
from models.base import utcnow
from models.enums import ShipMethod, ShippingUploadStatus
from services import payments, shipping_uploads
from services.wechat_gateway import wechat_client
from tests.factories import SANGZHI, SANGZHI_VILLAGE, assert_error, count_rows
from tests.fulfilment import Network, Part
from tests.shopping import API, Offer

NOTIFY = f"{API}/payments/wechat/notify"
LIST = f"{API}/admin/shipping-uploads"


# --- the acts ------------------------------------------------------------------------------------
# Every part gets where it goes through the chain's acts (services/fulfilment.py, by the API):
# shipped by its household where the county has no station, or taken in, inspected and sent by
# the county centre; rejected, failed or cancelled with its refund. The act makes the upload in
# its transaction and sends it after the commit.


def paid_by_wechat(app, chain, pay, offers, buyer=None) -> tuple[dict, list[Part]]:
    """An order with one line of each offer (one ShopOrder per shop), paid through the fake
    WeChat Pay (prepay, then its notification); its parts in the order of ``offers``."""
    client = chain.client
    buyer, address = chain.shopping.buyer(buyer)
    order = chain.shopping.order(buyer, address, [(offer.sku_ids[0], 1) for offer in offers])
    answer = client.post(
        f"{API}/orders/{order['id']}/pay", json={"method": "wechat"}, headers=buyer.headers
    )
    assert answer.status_code == 200, answer.json
    with app.app_context():
        trade_no = db.session.get(Order, order["id"]).out_trade_no
    headers, body = pay.notification("good", out_trade_no=trade_no)
    assert client.post(NOTIFY, data=body, headers=headers).status_code == 200
    return order, chain.parts(order, buyer, offers)


def ship(
    app, chain, part: Part, *, carrier: str = "YTO", tracking_no: str = "YT7000000000001"
) -> int | None:
    """No station in the county: the household accepts its part and sends it by carrier. The
    id of the order's upload after the act (None: nothing due)."""
    shipped = chain.ship_directly(part, carrier=carrier, tracking_no=tracking_no)
    assert shipped.status_code == 200, shipped.json
    return upload_id(app, part.order_id)


def from_centre(
    app,
    chain,
    network: Network,
    parts: list[Part],
    *,
    method: ShipMethod = ShipMethod.EXPRESS,
    carrier: str = "YTO",
    tracking_no: str = "YT7000000000001",
) -> int | None:
    """The parts, taken in at the village point and passed, leave the county centre: in one
    parcel, or (``PICKUP``, one part) over its counter. The id of the order's upload after the
    act (None: nothing due)."""
    for part in parts:
        chain.through_inspection(network, part)
    if method == ShipMethod.PICKUP:
        [part] = parts
        shipped = chain.pick_up(network, part)
    elif len(parts) == 1:
        shipped = chain.ship(
            parts[0], network.centre_operator, carrier=carrier, tracking_no=tracking_no
        )
    else:
        shipped = chain.ship_together(network, parts, carrier=carrier, tracking_no=tracking_no)
    assert shipped.status_code == (201 if len(parts) > 1 else 200), shipped.json
    return upload_id(app, parts[0].order_id)


def rejected(app, chain, part: Part) -> int | None:
    """The household rejects its part (refunded). The id of the order's upload after the act."""
    answer = chain.post(
        f"/shop-orders/{part.shop_order_id}/reject", part.offer.farmer, {"reason": "鸡蛋不够了"}
    )
    assert answer.status_code == 200, answer.json
    return upload_id(app, part.order_id)


def an_hour_later(monkeypatch) -> None:
    """The uploads' clock an hour on: the sweep's quiet time and the retry delay have passed."""
    later = utcnow() + timedelta(hours=1)
    monkeypatch.setattr(shipping_uploads, "utcnow", lambda: later)


def upload_id(app, order_id: int) -> int | None:
    row = upload_row(app, order_id)
    return row.id if row is not None else None


def titled_offer(app, shopping, shop: int, farmer, staff, title: str) -> Offer:
    """A listing of the shop under its own title."""
    product = shopping.catalog.listed(shop, farmer, staff, title=title)
    with app.app_context():
        skus = db.session.scalars(select(Sku.id).where(Sku.product_id == product).order_by(Sku.id))
        return Offer(shop, product, list(skus), farmer, staff)


def upload_row(app, order_id: int) -> ShippingUpload | None:
    with app.app_context():
        row = db.session.scalar(select(ShippingUpload).where(ShippingUpload.order_id == order_id))
        if row is not None:
            db.session.expunge(row)
        return row


def payment_of(app, order_id: int) -> Payment:
    with app.app_context():
        payment = db.session.scalar(select(Payment).where(Payment.order_id == order_id))
        db.session.expunge(payment)
        return payment


# --- when an upload is made ----------------------------------------------------------------------


def test_nothing_is_uploaded_until_the_last_part_ships(app, chain, pay, wechat, shopping):
    offers = [shopping.offer(), shopping.offer()]
    order, (first, second) = paid_by_wechat(app, chain, pay, offers)

    assert ship(app, chain, first, tracking_no="YT7000000000001") is None
    assert upload_row(app, order["id"]) is None and wechat.shipping_uploads == []

    made = ship(app, chain, second, carrier="ZTO", tracking_no="ZT7000000000002")

    row = upload_row(app, order["id"])
    assert made is not None and row.id == made and row.status == ShippingUploadStatus.UPLOADED
    assert row.uploaded_at is not None and row.attempts == 0 and row.last_error == ""
    [body] = wechat.shipping_uploads
    payment = payment_of(app, order["id"])
    assert body["order_key"] == {"order_number_type": 2, "transaction_id": payment.external_id}
    assert (body["logistics_type"], body["delivery_mode"], body["is_all_delivered"]) == (1, 2, True)
    assert [(i["express_company"], i["tracking_no"]) for i in body["shipping_list"]] == [
        ("YTO", "YT7000000000001"),
        ("ZTO", "ZT7000000000002"),
    ]
    assert all(i["item_desc"] == "散养土鸡蛋" and "contact" not in i for i in body["shipping_list"])
    assert body["payer"] == {"openid": payment.payer_openid}
    assert datetime.fromisoformat(body["upload_time"]).utcoffset() == timedelta(hours=8)


def test_one_parcel_is_a_unified_delivery_and_sf_gets_the_masked_phone(
    app, chain, pay, wechat, shopping
):
    network = chain.network()
    offers = [shopping.offer(), shopping.offer()]
    _, parts = paid_by_wechat(app, chain, pay, offers)

    from_centre(app, chain, network, parts, carrier="SF", tracking_no="SF1400000000001")

    [body] = wechat.shipping_uploads
    assert (body["logistics_type"], body["delivery_mode"]) == (1, 1)
    assert "is_all_delivered" not in body
    assert body["shipping_list"] == [
        {
            "tracking_no": "SF1400000000001",
            "express_company": "SF",
            "item_desc": "散养土鸡蛋",
            "contact": {"receiver_contact": "138****0001"},
        }
    ]


def test_refunded_parts_count_as_done(app, chain, pay, wechat, shopping):
    network = chain.network()
    offers = [shopping.offer(), shopping.offer(), shopping.offer()]
    order, (refused, sent, failed) = paid_by_wechat(app, chain, pay, offers)

    assert rejected(app, chain, refused) is None  # nothing shipped yet
    assert from_centre(app, chain, network, [sent]) is None  # one part still waits
    answer = chain.fail_inspection(network, failed)

    assert answer.status_code == 201, answer.json
    assert upload_id(app, order["id"]) is not None
    [body] = wechat.shipping_uploads
    assert body["delivery_mode"] == 1 and len(body["shipping_list"]) == 1


def test_an_order_refunded_entirely_gets_no_upload(app, chain, pay, wechat, shopping):
    offer = shopping.offer()
    order, [part] = paid_by_wechat(app, chain, pay, [offer])

    answer = chain.cancel_overdue(part, offer.staff)

    assert answer.status_code == 200 and answer.json["status"] == "cancelled", answer.json
    assert upload_id(app, order["id"]) is None
    assert count_rows(app, ShippingUpload) == 0


def test_prepared_twice_it_is_made_and_sent_once(app, chain, pay, wechat, shopping):
    order, [part] = paid_by_wechat(app, chain, pay, [shopping.offer()])
    made = ship(app, chain, part)

    with app.app_context():
        again = shipping_uploads.prepare(db.session.get(Order, order["id"]))
        assert again is not None and again.id == made
        assert not db.session.dirty and not db.session.new
        db.session.commit()
        assert shipping_uploads.send(made) is True

    assert count_rows(app, ShippingUpload) == 1
    assert len(wechat.shipping_uploads) == 1
    assert wechat.calls("/wxa/sec/order/upload_shipping_info") == 1


def test_pickups_are_one_unified_pickup_item(app, chain, pay, wechat, shopping):
    network = chain.network()
    offers = [shopping.offer(), shopping.offer()]
    _, (first, second) = paid_by_wechat(app, chain, pay, offers)

    assert from_centre(app, chain, network, [first], method=ShipMethod.PICKUP) is None
    assert from_centre(app, chain, network, [second], method=ShipMethod.PICKUP) is not None

    [body] = wechat.shipping_uploads
    assert (body["logistics_type"], body["delivery_mode"]) == (4, 1)
    assert body["shipping_list"] == [{"item_desc": "散养土鸡蛋"}]


def test_pickups_beside_parcels_are_left_out_of_the_parcel_list(app, chain, pay, wechat, shopping):
    network = chain.network()
    offers = [shopping.offer(), shopping.offer()]
    _, (first, second) = paid_by_wechat(app, chain, pay, offers)

    from_centre(app, chain, network, [first], method=ShipMethod.PICKUP)
    from_centre(app, chain, network, [second], tracking_no="YT9000000000009")

    [body] = wechat.shipping_uploads
    assert (body["logistics_type"], body["delivery_mode"]) == (1, 1)
    assert [item["tracking_no"] for item in body["shipping_list"]] == ["YT9000000000009"]


def test_without_a_transaction_id_the_merchant_number_names_the_payment(
    app, chain, pay, wechat, shopping
):
    order, [part] = paid_by_wechat(app, chain, pay, [shopping.offer()])
    ship(app, chain, part)
    with app.app_context():  # as if its payment had been recorded without a transaction id
        db.session.execute(update(Payment).values(external_id=None))
        row = db.session.get(Order, order["id"])
        body = shipping_uploads.shipping_body(row)
        expected = {"order_number_type": 1, "mchid": pay.mchid, "out_trade_no": row.out_trade_no}
        assert body["order_key"] == expected
        assert row.out_trade_no == payments.payment_no(row)
        db.session.rollback()


def test_long_titles_are_cut_to_120_characters(app, chain, pay, wechat, shopping):
    # One shop's four listings, bought together: more titles than WeChat takes.
    shop, farmer, staff = shopping.catalog.open_shop()
    titles = ["土" * 60] + [str(n) * 50 for n in range(3)]
    offers = [titled_offer(app, shopping, shop, farmer, staff, title) for title in titles]
    _, [part, *_] = paid_by_wechat(app, chain, pay, offers)

    ship(app, chain, part)

    item_desc = wechat.shipping_uploads[0]["shipping_list"][0]["item_desc"]
    assert len(item_desc) == 120 and item_desc[-1] == "…"
    assert item_desc.startswith("土" * 60 + "、" + "0" * 50 + "、")


def test_a_dev_paid_order_gets_no_upload(app, chain, pay, wechat, shopping):
    offer = shopping.offer()
    buyer, address = shopping.buyer()
    order = shopping.order(buyer, address, [(offer.sku_ids[0], 1)])
    shopping.pay_dev(buyer, order["id"])
    [part] = chain.parts(order, buyer, [offer])

    assert ship(app, chain, part) is None
    assert count_rows(app, ShippingUpload) == 0 and wechat.shipping_uploads == []


# --- sending -------------------------------------------------------------------------------------


def test_a_failed_upload_stays_pending_and_the_job_sends_it(app, chain, pay, wechat, shopping):
    order, [part] = paid_by_wechat(app, chain, pay, [shopping.offer()])
    wechat.fail_next_shipping(-1, times=2)  # busy, and busy again on the client's one retry

    made = ship(app, chain, part)

    row = upload_row(app, order["id"])
    assert row.id == made and row.status == ShippingUploadStatus.PENDING
    assert row.attempts == 1 and row.last_error.startswith("WeChat errcode -1")
    assert row.last_attempt_at is not None and row.uploaded_at is None
    wechat.fail_next_shipping(http_status=500)
    with app.app_context():
        assert shipping_uploads.send(made) is False
        assert shipping_uploads.retry_pending() == 0  # tried just now: not yet again
    row = upload_row(app, order["id"])
    assert row.attempts == 2 and "HTTP 500" in row.last_error
    assert "access_token" not in row.last_error

    with app.app_context():
        assert shipping_uploads.retry_pending(older_than=timedelta(0)) == 1
        assert shipping_uploads.retry_pending(older_than=timedelta(0)) == 0

    row = upload_row(app, order["id"])
    assert row.status == ShippingUploadStatus.UPLOADED and row.attempts == 2
    assert len(wechat.shipping_uploads) == 1


def test_a_hanging_wechat_is_a_failure_not_a_wait(app, chain, pay, wechat, shopping):
    order, [part] = paid_by_wechat(app, chain, pay, [shopping.offer()])
    app.config["WECHAT_TIMEOUT"], before = 0.3, app.config["WECHAT_TIMEOUT"]
    try:
        with app.app_context():
            wechat_client().access_token()  # the token fetch is not the call that hangs
        wechat.hang_next_shipping(1.0)
        ship(app, chain, part)
    finally:
        app.config["WECHAT_TIMEOUT"] = before
    deadline = time.monotonic() + 5  # the hung request lands at the fake all the same
    while not wechat.shipping_uploads and time.monotonic() < deadline:
        time.sleep(0.05)

    row = upload_row(app, order["id"])
    assert row.status == ShippingUploadStatus.PENDING and row.attempts == 1
    assert "Timeout" in row.last_error
    with app.app_context():  # WeChat got it after all: the next try learns so
        assert shipping_uploads.retry_pending(older_than=timedelta(0)) == 1
    assert upload_row(app, order["id"]).status == ShippingUploadStatus.UPLOADED


def test_wechat_already_having_it_counts_as_uploaded(app, chain, pay, wechat, shopping):
    order, [part] = paid_by_wechat(app, chain, pay, [shopping.offer()])
    wechat.fail_next_shipping(10060002)

    ship(app, chain, part)

    row = upload_row(app, order["id"])
    assert row.status == ShippingUploadStatus.UPLOADED and row.attempts == 0


def test_without_wechat_pay_nothing_is_sent_or_marked(app, chain, pay, wechat, shopping):
    order, [part] = paid_by_wechat(app, chain, pay, [shopping.offer()])
    app.config["WECHATPAY_ENABLED"] = False  # the pay fixture puts it back

    made = ship(app, chain, part)

    row = upload_row(app, order["id"])
    assert made is not None and row.id == made and row.status == ShippingUploadStatus.PENDING
    assert (row.attempts, row.last_attempt_at) == (0, None)
    with app.app_context():
        assert shipping_uploads.retry_pending(older_than=timedelta(0)) == 0
    assert wechat.calls("/wxa/sec/order/upload_shipping_info") == 0


def test_the_job_makes_an_upload_concurrent_acts_missed(
    app, chain, pay, wechat, shopping, monkeypatch
):
    offers = [shopping.offer(), shopping.offer()]
    order, parts = paid_by_wechat(app, chain, pay, offers)
    # Two acts shipping the two parts at once (PostgreSQL, read committed) each see the other
    # part still waiting, and neither makes the upload. Acts run one after the other cannot
    # interleave that way, so the race is the one stand-in left: each act's ``prepare`` finds
    # nothing due; the rest of both acts is real.
    with monkeypatch.context() as racing:
        racing.setattr(shipping_uploads, "prepare", lambda order: None)
        for part in parts:
            assert ship(app, chain, part) is None

    with app.app_context():
        assert shipping_uploads.retry_pending(older_than=timedelta(0)) == 0  # still busy
    an_hour_later(monkeypatch)
    with app.app_context():
        assert shipping_uploads.retry_pending(older_than=timedelta(0)) == 1

    assert upload_row(app, order["id"]).status == ShippingUploadStatus.UPLOADED
    assert len(wechat.shipping_uploads) == 1


def test_the_cli_job_prints_the_count(app, chain, pay, wechat, shopping, monkeypatch):
    order, [part] = paid_by_wechat(app, chain, pay, [shopping.offer()])
    wechat.fail_next_shipping(10060012)
    ship(app, chain, part)
    an_hour_later(monkeypatch)

    result = app.test_cli_runner().invoke(args=["fulfilment", "retry-shipping-uploads"])

    assert result.exit_code == 0, result.output
    assert "shipping uploads sent: 1" in result.output
    assert upload_row(app, order["id"]).status == ShippingUploadStatus.UPLOADED


# --- staff's list --------------------------------------------------------------------------------


def test_staff_see_their_countys_uploads(app, client, chain, pay, wechat, shopping, world):
    here = shopping.offer()
    there = shopping.offer(village=SANGZHI_VILLAGE)
    local, [part] = paid_by_wechat(app, chain, pay, [here])
    wechat.fail_next_shipping(10060012)
    ship(app, chain, part)
    far, [far_part] = paid_by_wechat(app, chain, pay, [there])
    ship(app, chain, far_part)
    far_staff = world.staff(SANGZHI)
    admin = world.admin()

    mine = client.get(LIST, headers=here.staff.headers)
    theirs = client.get(LIST, headers=far_staff.headers)
    everything = client.get(LIST, headers=admin.headers)
    pending = client.get(LIST, query_string={"status": "pending"}, headers=admin.headers)

    assert mine.status_code == 200, mine.json
    [item] = mine.json["items"]
    assert item["order_id"] == local["id"] and item["status"] == "pending"
    assert item["attempts"] == 1 and item["last_error"].startswith("WeChat errcode 10060012")
    assert set(item) == {
        "id",
        "order_id",
        "status",
        "attempts",
        "last_error",
        "last_attempt_at",
        "uploaded_at",
        "created_at",
    }
    assert [i["order_id"] for i in theirs.json["items"]] == [far["id"]]
    assert [i["order_id"] for i in everything.json["items"]] == [far["id"], local["id"]]
    assert [i["order_id"] for i in pending.json["items"]] == [local["id"]]
    assert everything.json["next_cursor"] is None


def test_the_list_pages_newest_first(app, client, chain, pay, wechat, shopping, world):
    offer = shopping.offer()
    orders = []
    for _ in range(3):
        order, [part] = paid_by_wechat(app, chain, pay, [offer])
        ship(app, chain, part)
        orders.append(order["id"])

    seen, cursor = [], None
    while True:
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(LIST, query_string=query, headers=offer.staff.headers).json
        seen += [item["order_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == orders[::-1]


def test_the_list_is_for_staff_only(app, client, shopping, world):
    buyer, _ = shopping.buyer()
    staff = world.staff()

    assert_error(client.get(LIST), 401, "unauthorized")
    assert_error(client.get(LIST, headers=buyer.headers), 403, "forbidden")
    assert_error(
        client.get(LIST, query_string={"cursor": "bm9wZQ"}, headers=staff.headers),
        422,
        "invalid_cursor",
    )
    assert_error(client.get(LIST, query_string={"status": "lost"}, headers=staff.headers), 422)
    assert_error(client.get(LIST, query_string={"page": 2}, headers=staff.headers), 422)


def test_the_service_lists_nothing_for_someone_without_a_county(app, shopping):
    buyer, _ = shopping.buyer()
    with app.app_context():
        actor = db.session.get(User, buyer.id)
        assert shipping_uploads.list_uploads(actor) == ([], None)
