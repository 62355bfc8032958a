"""/api/v1/trace/{code} for a batch's code and a product's: what the hand-in, the inspection and
the shipment recorded, step by step, the product's latest batches, and nothing personal (masked
name, village, no household id, phone, operator or buyer)."""

from __future__ import annotations

from models import Product, Sku, db
from services import products as products_service
from services import trace
from tests.factories import VILLAGE_A, assert_error, statements_during
from tests.shopping import API

HOUSEHOLD_PHONE = "13805520001"  # tests.factories.World.household; the buyer's address too


def traced(client, code: str) -> dict:
    answer = client.get(f"{API}/trace/{code}")
    assert answer.status_code == 200, answer.json
    return answer.json


def handed_in(chain, network, part, **body) -> str:
    assert chain.accept(part).status_code == 200
    answer = chain.hand_in(network.village_point, part, network.village_operator, **body)
    assert answer.status_code == 201, answer.json
    return answer.json["batch"]["code"]


def keys_of(value) -> set[str]:
    """Every key anywhere in a JSON document."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_of(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_of(v)}
    return set()


def assert_nothing_personal(answer) -> None:
    text = answer.get_data(as_text=True)
    assert "李桂兰" not in text and "李**" in text
    assert HOUSEHOLD_PHONE not in text and "05525550001" not in text  # household, station
    assert "张三" not in text and "食堂后门" not in text  # the buyer's address
    assert "站点员" not in text and "买家" not in text  # operators' and buyers' names
    forbidden = {"household_id", "phone", "buyer", "buyer_id", "address", "operator", "actor"}
    assert not keys_of(answer.json) & forbidden
    assert not {k for k in keys_of(answer.json) if k.endswith("_by_id")}


# --- a batch's code ------------------------------------------------------------------------------


def test_a_batch_just_handed_in(chain, network, client):
    part = chain.paid()
    photo = chain.shopping.catalog.photo(network.village_operator)
    code = handed_in(chain, network, part, photo_media_id=photo, grade="特级", weight_g=12500)
    body = traced(client, code)
    assert body["kind"] == "batch" and body["code"] == code
    assert body["url"].endswith(f"/t/{code}")
    assert body["product"]["id"] == part.offer.product_id
    assert body["products"] == [{"id": part.offer.product_id, "title": "散养土鸡蛋"}]
    batch = body["batch"]
    assert batch["code"] == code
    assert (batch["weight_g"], batch["count"], batch["grade"]) == (12500, 30, "特级")
    assert batch["harvest_date"] == "2026-11-01"  # the listing's, as the hand-in took it
    assert batch["handed_in_at"]
    assert batch["photo"]["id"] == photo and batch["photo"]["variants"]
    assert batch["station"] == {
        "id": network.village_point,
        "name": f"village_point-{VILLAGE_A}",
        "kind": "village_point",
    }
    assert body["inspection"] is None and body["inspections"] == []
    assert body["shipped_at"] is None
    assert body["cold_chain"] == []  # eggs, and nobody recorded a temperature
    assert body["village"]["code"] == VILLAGE_A and body["village"]["name"].startswith("西南村")
    assert body["household_name"] == "李**"
    assert body["on_sale"] is True
    assert "batches" not in body


def test_a_batch_passed_and_shipped(chain, network, client):
    part = chain.paid()
    code = chain.through_inspection(network, part)
    passed = traced(client, code)
    assert passed["inspection"]["result"] == "pass"
    assert passed["inspection"]["reason"] == ""
    assert passed["inspection"]["report_photo"] is None
    assert passed["inspection"]["station"]["id"] == network.centre
    assert passed["inspection"]["inspected_at"]
    [record] = passed["inspections"]
    assert (record["batch_code"], record["result"]) == (code, "pass")
    assert record["inspected_at"] == passed["inspection"]["inspected_at"]
    assert passed["shipped_at"] is None
    assert chain.ship(part, network.centre_operator).status_code == 200
    shipped = traced(client, code)
    assert shipped["shipped_at"] and shipped["shipped_at"] >= shipped["inspection"]["inspected_at"]
    assert shipped["cold_chain"] == []
    # The parcel's carrier and tracking number are the buyer's business.
    assert "YT0000000001" not in str(shipped)


def test_a_failed_batch_shows_the_result_the_reason_and_the_report(chain, network, client):
    part = chain.paid()
    code = handed_in(chain, network, part)
    report = chain.shopping.catalog.photo(network.centre_operator)
    answer = chain.inspect(
        network.centre,
        code,
        network.centre_operator,
        result="fail",
        reason="破损严重",
        report_media_id=report,
    )
    assert answer.status_code == 201, answer.json
    body = traced(client, code)
    inspection = body["inspection"]
    assert inspection["result"] == "fail" and inspection["reason"] == "破损严重"
    assert inspection["report_photo"]["id"] == report
    assert inspection["station"] == {
        "id": network.centre,
        "name": "county_centre-340323",
        "kind": "county_centre",
    }
    assert body["shipped_at"] is None


def test_cold_chain_goods_show_the_temperature_at_each_step(chain, shopping, network, client):
    part = chain.paid(shopping.offer(title="冷鲜土鸡", cold_chain=True), quantity=1)
    part_id = part.shop_order_id
    assert chain.accept(part).status_code == 200
    body = {"shop_order_id": part_id, "weight_g": 1500, "count": 1, "grade": "一级"}
    answer = chain.post(
        f"/stations/{network.village_point}/hand-ins",
        network.village_operator,
        body | {"temperature_c": 3.0},
    )
    assert answer.status_code == 201, answer.json
    code = answer.json["batch"]["code"]
    # Before the parcel leaves: the hand-in's reading only.
    steps = traced(client, code)["cold_chain"]
    assert [(s["step"], s["temperature_c"]) for s in steps] == [("hand_in", 3.0)]
    assert chain.inspect(network.centre, code, network.centre_operator).status_code == 201
    ship = {"carrier": "SF", "tracking_no": "SF1234567890", "temperature_c": 2.5}
    answer = chain.post(f"/shop-orders/{part_id}/ship", network.centre_operator, ship)
    assert answer.status_code == 200, answer.json
    found = traced(client, code)
    assert found["product"]["cold_chain"] is True
    hand_in, shipped = found["cold_chain"]
    assert hand_in["step"] == "hand_in" and hand_in["temperature_c"] == 3.0
    assert hand_in["station"]["id"] == network.village_point
    assert hand_in["at"] == found["batch"]["handed_in_at"]
    assert shipped["step"] == "ship" and shipped["temperature_c"] == 2.5
    assert shipped["station"]["id"] == network.centre
    assert shipped["at"] == found["shipped_at"]
    assert found["batch"]["temperature_c"] == 3.0


def test_a_temperature_recorded_for_other_goods_shows_too(chain, network, client):
    part = chain.paid()
    code = handed_in(chain, network, part, temperature_c=4.5)
    steps = traced(client, code)["cold_chain"]
    assert [(s["step"], s["temperature_c"]) for s in steps] == [("hand_in", 4.5)]


def test_a_batch_of_several_products_lists_them_all(chain, shopping, network, client):
    offer = shopping.offer()
    duck = shopping.catalog.listed(offer.shop_id, offer.farmer, offer.staff, title="咸鸭蛋")
    with chain.app.app_context():
        duck_sku = db.session.scalar(db.select(Sku.id).where(Sku.product_id == duck))
    buyer, address = shopping.buyer()
    order = shopping.order(buyer, address, [(offer.sku_ids[0], 1), (duck_sku, 2)])
    shopping.pay_dev(buyer, order["id"])
    part_id = order["shop_orders"][0]["id"]
    assert chain.post(f"/shop-orders/{part_id}/accept", offer.farmer).status_code == 200
    body = {"shop_order_id": part_id, "weight_g": 3000, "count": 3, "grade": "一级"}
    answer = chain.post(
        f"/stations/{network.village_point}/hand-ins", network.village_operator, body
    )
    code = answer.json["batch"]["code"]
    found = traced(client, code)
    assert found["product"]["id"] == offer.product_id  # the first line's
    assert found["products"] == [
        {"id": offer.product_id, "title": "散养土鸡蛋"},
        {"id": duck, "title": "咸鸭蛋"},
    ]
    # Both products' records list the batch.
    for product_id in (offer.product_id, duck):
        with chain.app.app_context():
            product_code = db.session.get(Product, product_id).trace_code
        assert [b["code"] for b in traced(client, product_code)["batches"]] == [code]


def test_a_delisted_products_batch_still_answers(chain, network, client):
    part = chain.paid()
    code = chain.through_inspection(network, part)
    with chain.app.app_context():
        farmer = chain.world._actor(part.offer.farmer)
        products_service.delist_product(farmer, part.offer.product_id)
    body = traced(client, code)
    assert body["on_sale"] is False
    assert body["inspection"]["result"] == "pass"


def test_nothing_personal_on_either_record(chain, network, client):
    part = chain.paid()
    code = chain.through_inspection(network, part)
    chain.ship(part, network.centre_operator)
    assert_nothing_personal(client.get(f"{API}/trace/{code}"))
    product_code = traced(client, code)["product"]["trace_code"]
    assert_nothing_personal(client.get(f"{API}/trace/{product_code}"))


# --- a product's code ----------------------------------------------------------------------------


def test_a_product_lists_its_latest_batches_newest_first(chain, shopping, network, client, app):
    offer = shopping.offer()
    parts = [chain.paid(offer, quantity=1) for _ in range(3)]
    codes = [handed_in(chain, network, p, grade=f"{n}级") for n, p in enumerate(parts, 1)]
    assert chain.inspect(network.centre, codes[0], network.centre_operator).status_code == 201
    assert chain.ship(parts[0], network.centre_operator).status_code == 200
    failed = chain.inspect(
        network.centre, codes[1], network.centre_operator, result="fail", reason="个头太小"
    )
    assert failed.status_code == 201
    with app.app_context():
        product_code = db.session.get(Product, offer.product_id).trace_code
    body = traced(client, product_code)
    assert body["kind"] == "product"
    assert body["household_name"] == "李**" and body["village"]["code"] == VILLAGE_A
    assert body["product"]["trace_code"] == product_code
    rows = body["batches"]
    assert [b["code"] for b in rows] == codes[::-1]
    newest, middle, oldest = rows
    assert (newest["grade"], newest["inspection_result"], newest["shipped_at"]) == (
        "3级",
        None,
        None,
    )
    assert middle["inspection_result"] == "fail" and middle["shipped_at"] is None
    assert oldest["inspection_result"] == "pass" and oldest["shipped_at"]
    assert oldest["weight_g"] == 15000 and oldest["url"].endswith(f"/t/{codes[0]}")
    assert [(i["batch_code"], i["result"]) for i in body["inspections"]] == [
        (codes[1], "fail"),
        (codes[0], "pass"),
    ]
    assert body["inspections"][0]["reason"] == "个头太小"
    for absent in ("batch", "inspection", "cold_chain", "shipped_at"):
        assert absent not in body
    # At most the latest few, newest first.
    with app.app_context():
        assert [r.code for r in trace.latest_batches(offer.product_id, limit=2)] == codes[:0:-1]


def test_the_product_record_reads_its_batches_in_one_statement(chain, shopping, network, client):
    offer = shopping.offer()
    with chain.app.app_context():
        product_code = db.session.get(Product, offer.product_id).trace_code

    def statements() -> int:
        count, answer = statements_during(
            chain.app, lambda: client.get(f"{API}/trace/{product_code}")
        )
        assert answer.status_code == 200
        return count

    handed_in(chain, network, chain.paid(offer, quantity=1))
    one = statements()
    for _ in range(2):
        handed_in(chain, network, chain.paid(offer, quantity=1))
    assert statements() == one
    assert len(traced(client, product_code)["batches"]) == 3


def test_a_product_without_batches_lists_none(client, shopping):
    offer = shopping.offer()
    with shopping.app.app_context():
        product_code = db.session.get(Product, offer.product_id).trace_code
    body = traced(client, product_code)
    assert body["kind"] == "product" and body["batches"] == [] and body["inspections"] == []


# --- codes and labels ----------------------------------------------------------------------------


def test_an_unknown_code_is_404(client):
    assert_error(client.get(f"{API}/trace/AAAAAAAAAA"), 404, "trace_not_found")
    assert_error(client.get(f"{API}/trace/AAAAAAAAAA/qr"), 404, "trace_not_found")


def test_a_batch_label_prints(chain, network, client):
    code = handed_in(chain, network, chain.paid())
    svg = client.get(f"{API}/trace/{code}/qr")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert b"<svg" in svg.data
    png = client.get(f"{API}/trace/{code}/qr", query_string={"format": "png", "scale": 4})
    assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
    # The label the hand-in answered points at the same QR.
    batch = client.get(f"{API}/batches/{code}", headers=network.village_operator.headers)
    assert batch.status_code == 200, batch.json
    assert client.get(batch.json["label_url"]).data == svg.data
