"""/api/v1/shop-orders/{id}/accept|reject|ship|confirm-receipt, /stations/{id}/hand-ins,
/inspections, /shipments, /queue, /labels/{code} and the staff's overdue routes: every act,
every refusal (wrong station, wrong household, wrong state) and what each act records."""

from __future__ import annotations

from datetime import timedelta

from models import Batch, ShopOrder, db
from models.base import utcnow
from models.enums import ConsentPurpose, ShopOrderStatus
from services import fulfilment_jobs
from tests.factories import (
    GUZHEN,
    SANGZHI,
    SANGZHI_VILLAGE,
    VILLAGE_A,
    VILLAGE_B,
    assert_error,
    count_rows,
)
from tests.shopping import API


def status_of(app, shop_order_id: int) -> ShopOrderStatus:
    with app.app_context():
        return db.session.get(ShopOrder, shop_order_id).status


def actions(shop_order: dict) -> list[str]:
    return [e["action"] for e in shop_order["events"]]


# --- accept and reject ---------------------------------------------------------------------------


def test_the_farmer_accepts_and_the_goods_go_to_the_village_point(chain, network):
    part = chain.paid()
    answer = chain.accept(part)
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["status"] == "accepted"
    assert body["station"]["id"] == network.village_point
    assert len(body["label_code"]) == 12
    assert body["hand_in_by"] > body["accept_by"][:10]
    assert actions(body) == ["pay", "accept"]
    accept = body["events"][1]
    assert accept["actor"]["role"] == "farmer"
    assert accept["actor"]["name"].startswith("农") and "*" in accept["actor"]["name"]
    assert accept["station"] == {"id": network.village_point, "name": f"village_point-{VILLAGE_A}"}
    # The buyer sees the same events on the order.
    assert actions(chain.shop_order(part)) == ["pay", "accept"]


def test_accepting_twice_answers_the_first_acceptance(chain, network):
    part = chain.paid()
    first = chain.accept(part).json
    again = chain.accept(part)
    assert again.status_code == 200
    assert again.json["label_code"] == first["label_code"]
    assert actions(again.json) == ["pay", "accept"]


def test_the_farmer_may_name_another_station_of_the_county(chain, network):
    part = chain.paid()
    answer = chain.accept(part, station_id=network.township)
    assert answer.json["station"]["id"] == network.township


def test_a_station_of_another_county_or_a_counter_is_refused(chain, network, world):
    part = chain.paid()
    sangzhi = chain.station(world.staff(SANGZHI), kind="village_point", region_code=SANGZHI_VILLAGE)
    counter = chain.station(network.staff, kind="counter", region_code=GUZHEN)
    assert_error(chain.accept(part, station_id=sangzhi), 409, "wrong_station")
    assert_error(chain.accept(part, station_id=counter), 409, "wrong_station")
    assert_error(chain.accept(part, station_id=99999), 422, "unknown_station")
    assert status_of(chain.app, part.shop_order_id) == ShopOrderStatus.AWAITING_ACCEPTANCE


def test_only_the_household_or_a_consenting_helper_acts(chain, network, world):
    part = chain.paid()
    other = chain.paid()  # another household's farmer
    assert_error(chain.accept(part, by=other.offer.farmer), 404, "not_found")
    assert_error(chain.accept(part, by=part.buyer), 404, "not_found")
    helper = world.helper(VILLAGE_A)
    assert_error(chain.accept(part, by=helper), 403, "consent_required")
    with chain.app.app_context():
        household_id = db.session.get(ShopOrder, part.shop_order_id).household_id
    world.consent(household_id, helper, ConsentPurpose.HANDLE_ORDERS)
    answer = chain.accept(part, by=helper)
    assert answer.status_code == 200
    assert answer.json["events"][-1]["actor"]["role"] == "helper"


def test_anonymous_is_refused(client, chain, network):
    part = chain.paid()
    for act in ("accept", "reject", "ship", "confirm-receipt"):
        answer = client.post(f"{API}/shop-orders/{part.shop_order_id}/{act}", json={})
        assert_error(answer, 401, "unauthorized")


def test_an_unpaid_shop_order_is_nobodys_business(chain, shopping):
    offer = shopping.offer()
    buyer, address = shopping.buyer()
    order = shopping.order(buyer, address, [(offer.sku_ids[0], 1)])
    answer = chain.post(f"/shop-orders/{order['shop_orders'][0]['id']}/accept", offer.farmer)
    assert_error(answer, 404, "not_found")


def test_rejecting_refunds_that_part_and_keeps_its_stock_off_sale(chain, shopping, network):
    offer = shopping.offer(stock=10)
    part = chain.paid(offer, quantity=3)
    assert shopping.stock(offer.sku_ids[0]) == 7
    answer = chain.post(
        f"/shop-orders/{part.shop_order_id}/reject", offer.farmer, {"reason": "鸡蛋不够"}
    )
    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "rejected"
    assert answer.json["refund_status"] == "refunded"  # the dev method refunds at once
    assert answer.json["refunded_fen"] == answer.json["total_fen"]
    assert actions(answer.json) == ["pay", "reject", "refunded"]
    assert answer.json["events"][1]["data"] == {"reason": "鸡蛋不够"}
    assert shopping.stock(offer.sku_ids[0]) == 7
    order = chain.client.get(f"{API}/orders/{part.order_id}", headers=part.buyer.headers).json
    assert order["refund_status"] == "refunded"
    assert order["refunded_fen"] == order["total_fen"]
    # Rejected is final: nothing more happens to it.
    assert_error(chain.accept(part), 409, "invalid_state")


def test_a_reason_is_required_to_reject(chain, network):
    part = chain.paid()
    answer = chain.post(
        f"/shop-orders/{part.shop_order_id}/reject", part.offer.farmer, {"reason": " "}
    )
    assert answer.status_code == 422
    assert status_of(chain.app, part.shop_order_id) == ShopOrderStatus.AWAITING_ACCEPTANCE


def test_one_part_rejected_leaves_the_order_partly_refunded(chain, shopping, network):
    first, second = shopping.offer(), shopping.offer()
    buyer, address = shopping.buyer()
    order = shopping.order(buyer, address, [(first.sku_ids[0], 1), (second.sku_ids[0], 2)])
    shopping.pay_dev(buyer, order["id"])
    part_of = {s["shop_id"]: s["id"] for s in order["shop_orders"]}
    rejected = chain.post(
        f"/shop-orders/{part_of[first.shop_id]}/reject", first.farmer, {"reason": "没货"}
    )
    assert rejected.status_code == 200
    seen = chain.client.get(f"{API}/orders/{order['id']}", headers=buyer.headers).json
    assert seen["refund_status"] == "partial"
    assert seen["refunded_fen"] == rejected.json["total_fen"] < seen["total_fen"]
    # The other farmer accepts; the buyer can no longer cancel the whole order.
    assert (
        chain.post(f"/shop-orders/{part_of[second.shop_id]}/accept", second.farmer).status_code
        == 200
    )
    cancel = chain.post(f"/orders/{order['id']}/cancel", buyer, {"reason": "不要了"})
    assert_error(cancel, 409, "order_in_fulfilment")


def test_the_buyer_may_cancel_while_nothing_is_accepted(chain, shopping, network):
    offer = shopping.offer(stock=10)
    part = chain.paid(offer, quantity=2)
    answer = chain.post(f"/orders/{part.order_id}/cancel", part.buyer, {"reason": "买错了"})
    assert answer.status_code == 200, answer.json
    assert answer.json["shop_orders"][0]["status"] == "cancelled"
    assert shopping.stock(offer.sku_ids[0]) == 10


# --- hand-in -------------------------------------------------------------------------------------


def test_hand_in_makes_a_batch_with_its_own_trace_code(chain, network):
    part = chain.paid()
    chain.accept(part)
    answer = chain.hand_in(network.village_point, part, network.village_operator, temperature_c=4.5)
    assert answer.status_code == 201, answer.json
    batch = answer.json["batch"]
    assert len(batch["code"]) == 10
    assert batch["url"].endswith(f"/t/{batch['code']}")
    assert batch["label_url"] == f"/api/v1/trace/{batch['code']}/qr"
    assert (batch["weight_g"], batch["count"], batch["grade"]) == (15000, 30, "一级")
    assert answer.json["shop_order"]["status"] == "handed_in"
    assert (
        "address" not in answer.json["shop_order"] or answer.json["shop_order"]["address"] is None
    )
    shop_order = chain.shop_order(part)
    assert shop_order["batch_code"] == batch["code"]
    event = shop_order["events"][-1]
    assert event["action"] == "hand_in"
    assert event["actor"]["role"] == "station_operator"
    assert event["station"]["id"] == network.village_point
    assert event["data"] == {
        "batch_code": batch["code"],
        "weight_g": 15000,
        "count": 30,
        "grade": "一级",
        "temperature_c": 4.5,
    }


def test_handing_in_twice_answers_the_same_batch(chain, network):
    part = chain.paid()
    chain.accept(part)
    first = chain.hand_in(network.village_point, part, network.village_operator)
    again = chain.hand_in(network.village_point, part, network.village_operator)
    assert again.status_code == 201
    assert again.json["batch"]["code"] == first.json["batch"]["code"]
    assert count_rows(chain.app, Batch) == 1


def test_hand_in_refusals_change_nothing(chain, network, world):
    part = chain.paid()
    # Not accepted yet.
    answer = chain.hand_in(network.village_point, part, network.village_operator)
    assert_error(answer, 409, "invalid_state")
    chain.accept(part)
    # Another village's point: not where the farmer said.
    other_point = chain.station(network.staff, kind="village_point", region_code=VILLAGE_B)
    answer = chain.hand_in(other_point, part, chain.operator(other_point))
    assert_error(answer, 409, "wrong_station")
    # A station of another county does not know the ShopOrder.
    sangzhi = chain.station(world.staff(SANGZHI), kind="village_point", region_code=SANGZHI_VILLAGE)
    answer = chain.hand_in(sangzhi, part, chain.operator(sangzhi))
    assert_error(answer, 422, "unknown_shop_order")
    # Someone else's station; a farmer; a missing station.
    assert_error(
        chain.hand_in(network.village_point, part, network.township_operator), 403, "forbidden"
    )
    assert_error(chain.hand_in(network.village_point, part, part.offer.farmer), 403, "forbidden")
    assert_error(chain.hand_in(99999, part, network.village_operator), 404, "not_found")
    # A photo the operator never uploaded.
    answer = chain.hand_in(
        network.village_point, part, network.village_operator, photo_media_id=99999
    )
    assert_error(answer, 422, "unknown_photo")
    assert count_rows(chain.app, Batch) == 0
    assert status_of(chain.app, part.shop_order_id) == ShopOrderStatus.ACCEPTED


def test_the_county_centre_takes_goods_meant_for_a_village_point(chain, network):
    part = chain.paid()
    chain.accept(part)
    answer = chain.hand_in(network.centre, part, network.centre_operator)
    assert answer.status_code == 201, answer.json


def test_cold_chain_goods_need_their_temperature(chain, shopping, network, world):
    part = chain.paid(shopping.offer(cold_chain=True), quantity=1)
    part_id = part.shop_order_id
    assert chain.accept(part).status_code == 200
    body = {"shop_order_id": part_id, "weight_g": 500, "count": 1, "grade": "一级"}
    answer = chain.post(
        f"/stations/{network.village_point}/hand-ins", network.village_operator, body
    )
    assert_error(answer, 422, "cold_chain_record_required")
    answer = chain.post(
        f"/stations/{network.village_point}/hand-ins",
        network.village_operator,
        body | {"temperature_c": 3.0},
    )
    assert answer.status_code == 201
    code = answer.json["batch"]["code"]
    chain.post(
        f"/stations/{network.centre}/inspections",
        network.centre_operator,
        {"batch_code": code, "result": "pass"},
    )
    ship = {"carrier": "SF", "tracking_no": "SF1234567890"}
    answer = chain.post(f"/shop-orders/{part_id}/ship", network.centre_operator, ship)
    assert_error(answer, 422, "cold_chain_record_required")
    answer = chain.post(
        f"/shop-orders/{part_id}/ship", network.centre_operator, ship | {"temperature_c": 2.5}
    )
    assert answer.status_code == 200
    assert answer.json["events"][-1]["data"]["temperature_c"] == 2.5


# --- inspection ----------------------------------------------------------------------------------


def test_inspection_passes_at_the_county_centre(chain, network):
    part = chain.paid()
    code = chain.through_inspection(network, part)
    seen = chain.shop_order(part)
    assert seen["status"] == "inspected"
    assert actions(seen) == ["pay", "accept", "hand_in", "pass"]
    assert seen["events"][-1]["station"]["id"] == network.centre
    assert seen["events"][-1]["data"]["batch_code"] == code


def test_inspection_refusals(chain, network, world):
    part = chain.paid()
    chain.accept(part)
    code = chain.hand_in(network.village_point, part, network.village_operator).json["batch"][
        "code"
    ]
    # Only a county centre inspects.
    answer = chain.inspect(network.village_point, code, network.village_operator)
    assert_error(answer, 409, "not_county_centre")
    assert_error(
        chain.inspect(network.centre, "nosuchcode", network.centre_operator), 422, "unknown_batch"
    )
    # Another county's centre does not know the batch.
    sangzhi_staff = world.staff(SANGZHI)
    sangzhi = chain.station(sangzhi_staff, kind="county_centre", region_code=SANGZHI)
    assert_error(chain.inspect(sangzhi, code, chain.operator(sangzhi)), 422, "unknown_batch")
    # A failure needs a reason.
    answer = chain.inspect(network.centre, code, network.centre_operator, result="fail")
    assert_error(answer, 422, "reason_required")
    assert status_of(chain.app, part.shop_order_id) == ShopOrderStatus.HANDED_IN


def test_a_failed_inspection_refunds_that_part(chain, network):
    part = chain.paid()
    chain.accept(part)
    code = chain.hand_in(network.village_point, part, network.village_operator).json["batch"][
        "code"
    ]
    answer = chain.inspect(
        network.centre, code, network.centre_operator, result="fail", reason="破损严重"
    )
    assert answer.status_code == 201, answer.json
    assert answer.json["batch"]["inspection_result"] == "fail"
    seen = chain.shop_order(part)
    assert seen["status"] == "inspection_failed"
    assert seen["refund_status"] == "refunded"
    assert actions(seen)[-2:] == ["fail", "refunded"]
    assert seen["events"][-2]["data"]["reason"] == "破损严重"


# --- shipping and receipt ------------------------------------------------------------------------


def test_the_centre_ships_and_the_buyer_confirms(chain, network, world):
    part = chain.paid()
    chain.through_inspection(network, part)
    answer = chain.ship(part, network.centre_operator)
    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "shipped"
    assert answer.json["shipment"]["tracking_no"] == "YT0000000001"
    assert answer.json["events"][-1]["data"]["carrier"] == "YTO"
    # Someone else cannot confirm; the buyer can, once.
    stranger = world.user("路人")
    confirm = f"/shop-orders/{part.shop_order_id}/confirm-receipt"
    assert_error(chain.post(confirm, stranger), 404, "not_found")
    answer = chain.post(confirm, part.buyer)
    assert answer.status_code == 200
    assert answer.json["status"] == "delivered"
    assert chain.post(confirm, part.buyer).status_code == 200  # a retry answers the same


def test_shipping_refusals(chain, network):
    part = chain.paid()
    chain.accept(part)
    # The centre ships only inspected goods; the farmer may not skip the station here.
    assert_error(chain.ship(part, network.centre_operator), 409, "invalid_state")
    assert_error(chain.ship(part, part.offer.farmer), 409, "direct_shipping_not_allowed")
    chain.hand_in(network.village_point, part, network.village_operator)
    answer = chain.ship(part, network.centre_operator, tracking_no=None, carrier="")
    assert answer.status_code == 422
    assert_error(
        chain.post(f"/shop-orders/{part.shop_order_id}/confirm-receipt", part.buyer),
        409,
        "invalid_state",
    )


def test_direct_shipping_where_no_station_serves_the_village(chain):
    part = chain.paid()  # no station exists at all
    accepted = chain.accept(part).json
    assert accepted["station"] is None
    assert accepted["events"][-1]["data"] == {"direct": True}
    answer = chain.ship(part, part.offer.farmer)
    assert answer.status_code == 200, answer.json
    assert answer.json["events"][-1]["station"] is None
    assert answer.json["events"][-1]["actor"]["role"] == "farmer"


def test_the_county_allows_direct_shipping_of_a_category(chain, network, client, world):
    url = f"{API}/admin/regions/{GUZHEN}/direct-shipping"
    assert_error(
        client.put(url, json={"categories": ["禽蛋"]}, headers=world.staff(SANGZHI).headers),
        403,
        "forbidden",
    )
    answer = client.put(url, json={"categories": ["禽蛋"]}, headers=network.staff.headers)
    assert answer.status_code == 200
    assert client.get(url, headers=network.staff.headers).json["categories"] == ["禽蛋"]
    part = chain.paid()  # eggs
    chain.accept(part)
    answer = chain.ship(part, part.offer.farmer, method="express")
    assert answer.status_code == 200, answer.json


def test_consolidated_shipment_to_one_address(chain, network, shopping):
    buyer = shopping.buyer()
    first = chain.paid(buyer=buyer)
    second = chain.paid(buyer=buyer)
    for part in (first, second):
        chain.through_inspection(network, part)
    path = f"/stations/{network.centre}/shipments"
    body = {"carrier": "SF", "tracking_no": "SF100200300"}
    ids = [first.shop_order_id, second.shop_order_id]
    answer = chain.post(path, network.centre_operator, body | {"shop_order_ids": ids})
    assert answer.status_code == 201, answer.json
    assert answer.json["shop_order_ids"] == ids
    again = chain.post(path, network.centre_operator, body | {"shop_order_ids": ids})
    assert again.status_code == 201 and again.json["id"] == answer.json["id"]
    assert chain.shop_order(first)["shipment"]["id"] == answer.json["id"]


def test_parcels_to_different_places_are_not_consolidated(chain, network, shopping, client):
    buyer, address = shopping.buyer()
    first = chain.paid(buyer=(buyer, address))
    other_address = client.post(
        f"{API}/me/addresses",
        json={"name": "王五", "phone": "13805520002", "region_code": VILLAGE_B, "detail": "仓库"},
        headers=buyer.headers,
    ).json["id"]
    second = chain.paid(buyer=(buyer, other_address))
    for part in (first, second):
        chain.through_inspection(network, part)
    answer = chain.post(
        f"/stations/{network.centre}/shipments",
        network.centre_operator,
        {
            "carrier": "SF",
            "tracking_no": "SF100200301",
            "shop_order_ids": [first.shop_order_id, second.shop_order_id],
        },
    )
    assert_error(answer, 422, "shipment_mixed")
    assert status_of(chain.app, first.shop_order_id) == ShopOrderStatus.INSPECTED


# --- the station's work list and labels ----------------------------------------------------------


def test_the_queue_shows_each_stations_work(chain, network, client, world):
    expected, received, inspected = chain.paid(), chain.paid(), chain.paid()
    for part in (expected, received, inspected):
        chain.accept(part)
    chain.hand_in(network.village_point, received, network.village_operator)
    code = chain.hand_in(network.village_point, inspected, network.village_operator).json["batch"][
        "code"
    ]
    chain.inspect(network.centre, code, network.centre_operator)

    village = client.get(
        f"{API}/stations/{network.village_point}/queue", headers=network.village_operator.headers
    )
    assert village.status_code == 200
    assert [s["id"] for s in village.json["expected"]] == [expected.shop_order_id]
    assert [s["id"] for s in village.json["received"]] == [received.shop_order_id]
    assert village.json["ready_to_ship"] == []
    centre = client.get(
        f"{API}/stations/{network.centre}/queue", headers=network.centre_operator.headers
    )
    assert [s["id"] for s in centre.json["awaiting_inspection"]] == [received.shop_order_id]
    ready = centre.json["ready_to_ship"]
    assert [s["id"] for s in ready] == [inspected.shop_order_id]
    assert ready[0]["address"]["name"] == "张三"
    # Staff of the county see it; another station's operator and strangers do not.
    assert (
        client.get(
            f"{API}/stations/{network.centre}/queue", headers=network.staff.headers
        ).status_code
        == 200
    )
    assert_error(
        client.get(
            f"{API}/stations/{network.centre}/queue", headers=network.village_operator.headers
        ),
        403,
        "forbidden",
    )
    assert_error(
        client.get(f"{API}/stations/{network.centre}/queue", headers=world.staff(SANGZHI).headers),
        403,
        "forbidden",
    )
    assert_error(client.get(f"{API}/stations/{network.centre}/queue"), 401, "unauthorized")


def test_scanning_a_slip_or_a_batch_label(chain, network, client, world):
    part = chain.paid()
    label = chain.accept(part).json["label_code"]
    scanned = client.get(f"{API}/labels/{label}", headers=network.village_operator.headers)
    assert scanned.status_code == 200
    assert scanned.json["kind"] == "shop_order"
    assert scanned.json["shop_order"]["id"] == part.shop_order_id
    assert scanned.json["batch"] is None
    code = chain.hand_in(network.village_point, part, network.village_operator).json["batch"][
        "code"
    ]
    scanned = client.get(f"{API}/labels/{code}", headers=network.centre_operator.headers)
    assert scanned.json["kind"] == "batch"
    assert scanned.json["batch"]["code"] == code
    sangzhi = chain.station(world.staff(SANGZHI), kind="county_centre", region_code=SANGZHI)
    assert_error(
        client.get(f"{API}/labels/{code}", headers=chain.operator(sangzhi).headers),
        404,
        "label_not_found",
    )
    assert_error(
        client.get(f"{API}/labels/NOSUCHLABEL1", headers=network.staff.headers),
        404,
        "label_not_found",
    )
    assert_error(client.get(f"{API}/labels/{code}", headers=part.buyer.headers), 403, "forbidden")


# --- deadlines -----------------------------------------------------------------------------------


def test_missed_deadlines_are_flagged_and_staff_cancel_with_a_refund(chain, network, client, app):
    late, fine = chain.paid(), chain.paid()
    cancel = f"/admin/shop-orders/{late.shop_order_id}/cancel"
    assert_error(chain.post(cancel, network.staff, {"reason": "超时未接单"}), 409, "not_overdue")
    with app.app_context():
        run = fulfilment_jobs.run_deadlines(now=utcnow() + timedelta(hours=49))
        assert run.flagged == 2
        again = fulfilment_jobs.run_deadlines(now=utcnow() + timedelta(hours=49))
        assert again.flagged == 0
    listed = client.get(f"{API}/admin/shop-orders/overdue", headers=network.staff.headers).json
    assert [s["id"] for s in listed["items"]] == [late.shop_order_id, fine.shop_order_id]
    assert actions(listed["items"][0])[-1] == "overdue"
    answer = chain.post(cancel, network.staff, {"reason": "超时未接单"})
    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "cancelled"
    assert answer.json["refund_status"] == "refunded"
    # The other one is still the farmer's to accept (late, but accepted all the same).
    assert chain.accept(fine).status_code == 200


def test_hand_in_deadline_then_auto_confirmation_and_completion(chain, network, app):
    part = chain.paid()
    chain.through_inspection(network, part)
    chain.ship(part, network.centre_operator)
    with app.app_context():
        assert fulfilment_jobs.run_deadlines(now=utcnow() + timedelta(days=9)).confirmed == 0
        run = fulfilment_jobs.run_deadlines(now=utcnow() + timedelta(days=11))
        assert run.confirmed == 1
        assert status_of(app, part.shop_order_id) == ShopOrderStatus.DELIVERED
        later = fulfilment_jobs.run_deadlines(now=utcnow() + timedelta(days=30))
        assert later.completed == 1
    seen = chain.shop_order(part)
    assert seen["status"] == "completed"
    assert actions(seen)[-2:] == ["auto_confirm", "complete"]
    assert seen["events"][-1]["actor"] is None


def test_accepted_goods_not_handed_in_are_flagged(chain, network, app):
    part = chain.paid()
    chain.accept(part)
    with app.app_context():
        assert fulfilment_jobs.flag_overdue(now=utcnow() + timedelta(days=2)) == 0
        assert fulfilment_jobs.flag_overdue(now=utcnow() + timedelta(days=4)) == 1
    assert chain.shop_order(part)["overdue_since"] is not None


def test_the_deadline_job_runs_from_the_command_line(app, chain, network):
    part = chain.paid()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["fulfilment", "deadlines"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "flagged: 0, confirmed: 0, completed: 0"
    with app.app_context():
        shop_order = db.session.get(ShopOrder, part.shop_order_id)
        shop_order.accept_by = utcnow() - timedelta(minutes=1)
        db.session.commit()
    result = runner.invoke(args=["fulfilment", "deadlines"])
    assert result.output.strip() == "flagged: 1, confirmed: 0, completed: 0"


def test_the_queue_reads_a_fixed_number_of_statements(chain, network, client, app):
    from tests.factories import statements_during

    url = f"{API}/stations/{network.centre}/queue"
    headers = network.centre_operator.headers

    def statements() -> int:
        count, answer = statements_during(app, lambda: client.get(url, headers=headers))
        assert answer.status_code == 200
        return count

    chain.through_inspection(network, chain.paid())
    one = statements()
    for _ in range(4):
        chain.through_inspection(network, chain.paid())
    assert statements() == one


# --- what each one is told -----------------------------------------------------------------------


def test_only_the_county_centre_and_staff_see_where_scanned_goods_go(chain, network, client):
    part = chain.paid()
    code = chain.through_inspection(network, part)
    for who in (network.village_operator, network.township_operator):
        scanned = client.get(f"{API}/labels/{code}", headers=who.headers).json
        assert scanned["shop_order"]["address"] is None
    counter = chain.station(network.staff, kind="counter", region_code=GUZHEN)
    scanned = client.get(f"{API}/labels/{code}", headers=chain.operator(counter).headers).json
    assert scanned["shop_order"]["address"] is None
    for who in (network.centre_operator, network.staff):
        scanned = client.get(f"{API}/labels/{code}", headers=who.headers).json
        assert scanned["shop_order"]["address"]["phone"] == "13805520001"


def test_a_retried_rejection_answers_the_first_one(chain, network):
    part = chain.paid()
    path = f"/shop-orders/{part.shop_order_id}/reject"
    first = chain.post(path, part.offer.farmer, {"reason": "鸡蛋不够"})
    again = chain.post(path, part.offer.farmer, {"reason": "鸡蛋不够"})
    assert again.status_code == 200, again.json
    assert again.json["refunded_fen"] == first.json["refunded_fen"] == first.json["total_fen"]
    assert actions(again.json) == ["pay", "reject", "refunded"]


def test_a_household_ships_by_carrier_only(chain):
    part = chain.paid()  # no station: direct shipping
    chain.accept(part)
    answer = chain.post(
        f"/shop-orders/{part.shop_order_id}/ship", part.offer.farmer, {"method": "pickup"}
    )
    assert_error(answer, 422, "tracking_required")
    assert status_of(chain.app, part.shop_order_id) == ShopOrderStatus.ACCEPTED


def test_goods_go_to_a_station_that_takes_them(chain, shopping, world):
    staff = world.staff(GUZHEN)
    # The village point takes grain only; the township station keeps goods cold.
    grain_only = chain.station(
        staff, kind="village_point", region_code=VILLAGE_A, categories=["粮油"]
    )
    cold = chain.station(
        staff, kind="township_station", region_code=VILLAGE_A[:9] + "000", cold_chain=True
    )
    part = chain.paid()  # eggs
    accepted = chain.accept(part).json
    assert accepted["station"]["id"] == cold
    other = chain.paid()
    assert_error(chain.accept(other, station_id=grain_only), 409, "wrong_station")


def test_a_station_households_were_sent_to_stays_open(chain, network, client):
    part = chain.paid()
    chain.accept(part)  # to the village point
    url = f"{API}/admin/stations/{network.village_point}"
    for change in ({"is_active": False}, {"categories": ["粮油"]}):
        answer = client.patch(url, json=change, headers=network.staff.headers)
        assert_error(answer, 409, "station_in_use")
    assert (
        client.patch(url, json={"phone": "05525550009"}, headers=network.staff.headers).status_code
        == 200
    )
    chain.hand_in(network.village_point, part, network.village_operator)
    answer = client.patch(url, json={"is_active": False}, headers=network.staff.headers)
    assert answer.status_code == 200
