"""Orders through HTTP: placing across shops, stock taken once, idempotency, views, cancelling,
expiry, the dev payment method."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models import Order, Sku, db
from models.base import utcnow
from services import orders as orders_service
from tests.factories import VILLAGE_B, assert_error, audit_rows
from tests.shopping import API, Shopping


@pytest.fixture
def shopping(world, catalog, client):
    return Shopping(world, catalog, client)


def test_an_order_across_two_shops_splits_into_shop_orders(shopping):
    first, second = shopping.offer(stock=10), shopping.offer(stock=10, village=VILLAGE_B)
    buyer, address = shopping.buyer()
    order = shopping.order(
        buyer, address, [(first.sku_ids[0], 2), (second.sku_ids[1], 1), (first.sku_ids[1], 3)]
    )
    assert order["status"] == "pending_payment"
    assert order["refund_status"] == "none"
    assert [s["shop_id"] for s in order["shop_orders"]] == [first.shop_id, second.shop_id]
    one, two = order["shop_orders"]
    assert [(ln["sku_id"], ln["quantity"]) for ln in one["lines"]] == [
        (first.sku_ids[0], 2),
        (first.sku_ids[1], 3),
    ]
    assert one["goods_fen"] == 2 * 4500 + 3 * 8500
    assert two["goods_fen"] == 8500
    assert order["total_fen"] == one["total_fen"] + two["total_fen"] == 2 * 4500 + 4 * 8500
    assert order["address"]["region_name"] and order["address"]["phone"] == "13805520001"
    assert shopping.stock(first.sku_ids[0]) == 8
    assert shopping.stock(first.sku_ids[1]) == 7
    assert shopping.stock(second.sku_ids[1]) == 9
    assert len(audit_rows(shopping.app, "order.place")) == 1


def test_prices_are_kept_as_they_were(shopping, client):
    offer = shopping.offer()
    buyer, address = shopping.buyer()
    order = shopping.order(buyer, address, [(offer.sku_ids[0], 1)])
    with shopping.app.app_context():
        db.session.get(Sku, offer.sku_ids[0]).price_fen = 9999
        db.session.commit()
    again = client.get(f"{API}/orders/{order['id']}", headers=buyer.headers).json
    assert again["shop_orders"][0]["lines"][0]["price_fen"] == 4500


def test_short_stock_fails_the_whole_order_and_says_what_is_left(shopping):
    offer = shopping.offer(stock=3)
    buyer, address = shopping.buyer()
    answer = shopping.place(buyer, address, [(offer.sku_ids[1], 1), (offer.sku_ids[0], 5)])
    body = assert_error(answer, 409, "insufficient_stock")
    assert body["errors"]["lines"] == {"1": ["仅剩 3 件"]}
    assert body["errors"]["available"] == {"1": 3}
    # Nothing half-written: the line that fitted got its stock back.
    assert shopping.stock(offer.sku_ids[1]) == 3
    assert shopping.stock(offer.sku_ids[0]) == 3
    with shopping.app.app_context():
        assert db.session.query(Order).count() == 0


def test_the_same_key_returns_the_same_order_and_another_body_is_refused(shopping):
    offer = shopping.offer(stock=10)
    buyer, address = shopping.buyer()
    first = shopping.place(buyer, address, [(offer.sku_ids[0], 2)], key="k-1")
    again = shopping.place(buyer, address, [(offer.sku_ids[0], 2)], key="k-1")
    assert first.status_code == 201 and again.status_code == 201
    assert again.json["id"] == first.json["id"]
    assert shopping.stock(offer.sku_ids[0]) == 8  # taken once
    other = shopping.place(buyer, address, [(offer.sku_ids[0], 3)], key="k-1")
    assert_error(other, 422, "idempotency_key_reused")
    # Another buyer may use the same key for their own order.
    someone, their_address = shopping.buyer()
    theirs = shopping.place(someone, their_address, [(offer.sku_ids[0], 1)], key="k-1")
    assert theirs.status_code == 201 and theirs.json["id"] != first.json["id"]


def test_an_order_needs_an_idempotency_key(shopping, client):
    offer = shopping.offer()
    buyer, address = shopping.buyer()
    body = {"lines": [{"sku_id": offer.sku_ids[0], "quantity": 1}], "address_id": address}
    assert_error(
        client.post(f"{API}/orders", json=body, headers=buyer.headers),
        428,
        "idempotency_key_required",
    )
    too_long = buyer.headers | {"Idempotency-Key": "x" * 129}
    assert_error(
        client.post(f"{API}/orders", json=body, headers=too_long), 422, "idempotency_key_invalid"
    )


@pytest.mark.parametrize("change", ["delist", "suspend_shop", "inactive_sku"])
def test_only_what_is_on_sale_can_be_bought(shopping, client, change):
    offer = shopping.offer()
    buyer, address = shopping.buyer()
    if change == "delist":
        client.post(f"{API}/products/{offer.product_id}/delist", headers=offer.farmer.headers)
    elif change == "suspend_shop":
        client.post(
            f"{API}/admin/shops/{offer.shop_id}/suspend",
            json={"reason": "核查"},
            headers=offer.staff.headers,
        )
    else:
        with shopping.app.app_context():
            db.session.get(Sku, offer.sku_ids[0]).is_active = False
            db.session.commit()
    body = assert_error(
        shopping.place(buyer, address, [(offer.sku_ids[0], 1)]), 409, "sku_unavailable"
    )
    assert body["errors"]["lines"] == {"0": ["已下架或暂停销售"]}


def test_a_sku_twice_is_refused(shopping):
    offer = shopping.offer()
    buyer, address = shopping.buyer()
    answer = shopping.place(buyer, address, [(offer.sku_ids[0], 1), (offer.sku_ids[0], 2)])
    assert_error(answer, 422, "duplicate_line")


def test_someone_elses_address_is_refused(shopping):
    offer = shopping.offer()
    buyer, _ = shopping.buyer()
    _, their_address = shopping.buyer()
    answer = shopping.place(buyer, their_address, [(offer.sku_ids[0], 1)])
    assert_error(answer, 422, "address_not_found")


def test_an_invoice_is_for_unit_orders(shopping):
    offer = shopping.offer()
    buyer, address = shopping.buyer()
    invoice = {"title": "某某单位", "tax_number": "91340300MA2N0X0X0X"}
    answer = shopping.place(buyer, address, [(offer.sku_ids[0], 1)], invoice=invoice)
    assert_error(answer, 422, "invoice_needs_unit")


def test_buyer_sees_own_orders_only(shopping, client):
    offer = shopping.offer()
    buyer, address = shopping.buyer()
    other, other_address = shopping.buyer()
    mine = shopping.order(buyer, address, [(offer.sku_ids[0], 1)])
    theirs = shopping.order(other, other_address, [(offer.sku_ids[0], 1)])
    listed = client.get(f"{API}/orders", headers=buyer.headers).json
    assert [o["id"] for o in listed["items"]] == [mine["id"]]
    assert_error(client.get(f"{API}/orders/{theirs['id']}", headers=buyer.headers), 404)
    assert_error(client.get(f"{API}/orders/{mine['id']}"), 401, "unauthorized")


def test_dev_payment_marks_paid_and_the_farmer_sees_it(shopping, client):
    offer = shopping.offer()
    buyer, address = shopping.buyer()
    order = shopping.order(buyer, address, [(offer.sku_ids[0], 2)])
    shop_url = f"{API}/shops/{offer.shop_id}/orders"
    assert client.get(shop_url, headers=offer.farmer.headers).json["items"] == []  # unpaid
    paid = shopping.pay_dev(buyer, order["id"])
    assert paid["status"] == "paid" and paid["paid_at"]
    assert paid["shop_orders"][0]["status"] == "awaiting_acceptance"
    assert [(p["method"], p["status"]) for p in paid["payments"]] == [("dev", "succeeded")]
    seen = client.get(shop_url, headers=offer.farmer.headers).json["items"]
    assert [(s["order_id"], s["status"]) for s in seen] == [(order["id"], "awaiting_acceptance")]
    assert seen[0]["address"]["detail"] == "食堂后门"
    again = client.post(
        f"{API}/orders/{order['id']}/pay", json={"method": "dev"}, headers=buyer.headers
    )
    assert_error(again, 409, "already_paid")


def test_cancelling_an_unpaid_order_returns_the_stock(shopping, client):
    offer = shopping.offer(stock=5)
    buyer, address = shopping.buyer()
    order = shopping.order(buyer, address, [(offer.sku_ids[0], 4)])
    assert shopping.stock(offer.sku_ids[0]) == 1
    url = f"{API}/orders/{order['id']}/cancel"
    cancelled = client.post(url, json={"reason": "买错了"}, headers=buyer.headers)
    assert cancelled.status_code == 200, cancelled.json
    assert cancelled.json["status"] == "cancelled"
    assert cancelled.json["shop_orders"][0]["status"] == "cancelled"
    assert shopping.stock(offer.sku_ids[0]) == 5
    twice = client.post(url, json={}, headers=buyer.headers)
    assert twice.status_code == 200 and shopping.stock(offer.sku_ids[0]) == 5


def test_cancelling_a_paid_order_refunds_it(shopping, client):
    offer = shopping.offer(stock=5)
    buyer, address = shopping.buyer()
    order = shopping.order(buyer, address, [(offer.sku_ids[0], 2)])
    shopping.pay_dev(buyer, order["id"])
    cancelled = client.post(
        f"{API}/orders/{order['id']}/cancel", json={}, headers=buyer.headers
    ).json
    assert cancelled["status"] == "cancelled"
    assert shopping.stock(offer.sku_ids[0]) == 5
    refreshed = client.get(f"{API}/orders/{order['id']}", headers=buyer.headers).json
    assert refreshed["refund_status"] == "refunded"
    assert [(r["amount_fen"], r["state"]) for r in refreshed["refunds"]] == [(9000, "succeeded")]


def test_someone_else_cannot_cancel(shopping, client, world):
    offer = shopping.offer()
    buyer, address = shopping.buyer()
    order = shopping.order(buyer, address, [(offer.sku_ids[0], 1)])
    stranger = world.user()
    answer = client.post(f"{API}/orders/{order['id']}/cancel", json={}, headers=stranger.headers)
    assert_error(answer, 404, "not_found")


def test_expiry_returns_stock_once(shopping, app):
    offer = shopping.offer(stock=5)
    buyer, address = shopping.buyer()
    order = shopping.order(buyer, address, [(offer.sku_ids[0], 3)])
    with app.app_context():
        later = utcnow() + timedelta(minutes=31)
        assert orders_service.expire_orders(now=utcnow()) == 0
        assert orders_service.expire_orders(now=later) == 1
        assert orders_service.expire_orders(now=later) == 0
        assert db.session.get(Order, order["id"]).status == "expired"
    assert shopping.stock(offer.sku_ids[0]) == 5


def test_the_cart_keeps_lines_and_says_what_can_still_be_bought(shopping, client):
    offer = shopping.offer()
    buyer, _ = shopping.buyer()
    put = client.put(
        f"{API}/cart",
        json={"lines": [{"sku_id": s, "quantity": 2} for s in offer.sku_ids]},
        headers=buyer.headers,
    )
    assert put.status_code == 200, put.json
    assert put.json["total_fen"] == 2 * 4500 + 2 * 8500
    client.post(f"{API}/products/{offer.product_id}/delist", headers=offer.farmer.headers)
    cart = client.get(f"{API}/cart", headers=buyer.headers).json
    assert [line["available"] for line in cart["lines"]] == [False, False]
    assert cart["total_fen"] == 0
    empty = client.put(f"{API}/cart", json={"lines": []}, headers=buyer.headers).json
    assert empty == {"lines": [], "total_fen": 0}


def test_addresses_down_to_the_township(shopping, client, world):
    buyer = world.user()
    county_level = client.post(
        f"{API}/me/addresses",
        json={
            "name": "李四",
            "phone": "13805520002",
            "region_code": "340323000000",
            "detail": "x号",
        },
        headers=buyer.headers,
    )
    assert county_level.status_code == 422
    _, address = shopping.buyer(buyer)
    listed = client.get(f"{API}/me/addresses", headers=buyer.headers).json["items"]
    assert [(a["id"], a["is_default"]) for a in listed] == [(address, True)]
    stranger = world.user()
    assert_error(
        client.patch(
            f"{API}/me/addresses/{address}", json={"name": "王五"}, headers=stranger.headers
        ),
        404,
        "not_found",
    )


# --- unit orders, transfers and staff views ----------------------------------------------------


@pytest.fixture
def units(world):
    from tests.factories import Units

    return Units(world)


INVOICE = {"title": "固镇县第一中学", "tax_number": "12340300MB1234567X"}


def test_a_unit_member_buys_for_the_unit_and_its_admin_sees_it(shopping, units, client):
    offer = shopping.offer()
    unit_id, admin = units.verified()
    member = units.member(unit_id, admin)
    member, address = shopping.buyer(member)
    order = shopping.order(
        member, address, [(offer.sku_ids[0], 3)], unit_id=unit_id, invoice=INVOICE
    )
    assert order["unit_id"] == unit_id and order["invoice"] == INVOICE
    seen_by_admin = client.get(f"{API}/orders", headers=admin.headers).json["items"]
    assert [o["id"] for o in seen_by_admin] == [order["id"]]
    assert client.get(f"{API}/orders/{order['id']}", headers=admin.headers).status_code == 200
    # Another unit's member sees nothing of it.
    other_unit, other_admin = units.verified()
    outsider = units.member(other_unit, other_admin)
    assert client.get(f"{API}/orders", headers=outsider.headers).json["items"] == []
    assert_error(client.get(f"{API}/orders/{order['id']}", headers=outsider.headers), 404)
    assert_error(client.get(f"{API}/orders/{order['id']}", headers=other_admin.headers), 404)


def test_only_members_of_a_verified_unit_buy_for_it(shopping, units):
    offer = shopping.offer()
    unit_id, admin = units.verified()
    stranger, address = shopping.buyer()
    answer = shopping.place(stranger, address, [(offer.sku_ids[0], 1)], unit_id=unit_id)
    assert_error(answer, 403, "not_unit_member")
    pending, pending_admin = units.register()
    pending_admin, their_address = shopping.buyer(pending_admin)
    answer = shopping.place(pending_admin, their_address, [(offer.sku_ids[0], 1)], unit_id=pending)
    assert_error(answer, 409, "unit_not_verified")


def test_a_unit_pays_by_transfer_recorded_by_county_staff(shopping, units, client, app):
    offer = shopping.offer()
    unit_id, admin = units.verified()
    admin, address = shopping.buyer(admin)
    order = shopping.order(admin, address, [(offer.sku_ids[0], 2)], unit_id=unit_id)
    without_payee = client.post(
        f"{API}/orders/{order['id']}/pay", json={"method": "transfer"}, headers=admin.headers
    )
    assert_error(without_payee, 422, "payment_method_unavailable")
    app.config.update(
        TRANSFER_PAYEE_NAME="固镇县农家微店运营中心",
        TRANSFER_PAYEE_BANK="农业银行固镇支行",
        TRANSFER_PAYEE_ACCOUNT="12345678901234567",
    )
    announced = client.post(
        f"{API}/orders/{order['id']}/pay", json={"method": "transfer"}, headers=admin.headers
    ).json
    transfer = announced["transfer"]
    assert transfer["amount_fen"] == order["total_fen"] and transfer["reference"]
    # An announced transfer keeps the order from expiring for TRANSFER_WAIT_DAYS.
    with app.app_context():
        assert orders_service.expire_orders(now=utcnow() + timedelta(days=1)) == 0
    url = f"{API}/admin/orders/{order['id']}/record-transfer"
    wrong = client.post(
        url, json={"bank_reference": "BANK-001", "amount_fen": 1}, headers=offer.staff.headers
    )
    assert_error(wrong, 422, "transfer_amount_mismatch")
    recorded = client.post(
        url,
        json={"bank_reference": "BANK-001", "amount_fen": order["total_fen"]},
        headers=offer.staff.headers,
    )
    assert recorded.status_code == 200, recorded.json
    assert recorded.json["status"] == "paid" and recorded.json["payment_method"] == "transfer"
    again = client.post(
        url,
        json={"bank_reference": "BANK-001", "amount_fen": order["total_fen"]},
        headers=offer.staff.headers,
    )
    assert_error(again, 409, "already_paid")
    app.config.update(TRANSFER_PAYEE_ACCOUNT="")


def test_transfer_is_for_unit_orders_and_recorded_by_the_county(shopping, client, world):
    offer = shopping.offer()
    buyer, address = shopping.buyer()
    order = shopping.order(buyer, address, [(offer.sku_ids[0], 1)])
    answer = client.post(
        f"{API}/orders/{order['id']}/pay", json={"method": "transfer"}, headers=buyer.headers
    )
    assert_error(answer, 422, "transfer_for_units")
    body = {"bank_reference": "BANK-002", "amount_fen": order["total_fen"]}
    url = f"{API}/admin/orders/{order['id']}/record-transfer"
    other_county = world.staff("430822")
    assert_error(client.post(url, json=body, headers=other_county.headers), 404)
    assert_error(client.post(url, json=body, headers=world.admin().headers), 403)
    assert_error(client.post(url, json=body, headers=buyer.headers), 403, "forbidden")


def test_county_staff_see_their_county_orders_only(shopping, client, world):
    offer = shopping.offer()
    buyer, address = shopping.buyer()
    order = shopping.order(buyer, address, [(offer.sku_ids[0], 1)])
    mine = client.get(f"{API}/admin/orders", headers=offer.staff.headers).json["items"]
    assert [o["id"] for o in mine] == [order["id"]]
    elsewhere = world.staff("430822")
    assert client.get(f"{API}/admin/orders", headers=elsewhere.headers).json["items"] == []
    assert client.get(f"{API}/orders/{order['id']}", headers=offer.staff.headers).status_code == 200
    assert_error(client.get(f"{API}/orders/{order['id']}", headers=elsewhere.headers), 404)


def test_a_helper_needs_the_handle_orders_consent_to_see_shop_orders(shopping, client, world):
    from models.enums import ConsentPurpose

    offer = shopping.offer()
    helper = world.helper()
    url = f"{API}/shops/{offer.shop_id}/orders"
    assert_error(client.get(url, headers=helper.headers), 403, "consent_required")
    with shopping.app.app_context():
        from models import Shop

        household = db.session.get(Shop, offer.shop_id).household_id
    world.consent(household, helper, ConsentPurpose.HANDLE_ORDERS)
    assert client.get(url, headers=helper.headers).status_code == 200
    assert_error(client.get(url, headers=world.user().headers), 404)


def test_a_unit_s_paid_orders_count_toward_its_pledge(shopping, units, client):
    offer = shopping.offer()
    unit_id, admin = units.verified()
    admin, address = shopping.buyer(admin)
    year = utcnow().astimezone().year
    client.put(
        f"{API}/units/{unit_id}/pledges/{year}", json={"amount_fen": 100_000}, headers=admin.headers
    )
    paid = shopping.order(admin, address, [(offer.sku_ids[0], 2)], unit_id=unit_id)
    shopping.pay_dev(admin, paid["id"])
    shopping.order(admin, address, [(offer.sku_ids[0], 1)], unit_id=unit_id)  # not paid
    refunded = shopping.order(admin, address, [(offer.sku_ids[1], 1)], unit_id=unit_id)
    shopping.pay_dev(admin, refunded["id"])
    client.post(f"{API}/orders/{refunded['id']}/cancel", json={}, headers=admin.headers)
    pledges = client.get(f"{API}/units/{unit_id}/pledges", headers=admin.headers).json
    [this_year] = [p for p in pledges["items"] if p["year"] == year]
    assert this_year["bought_fen"] == paid["total_fen"]


def test_a_shop_order_can_be_refunded_on_its_own(shopping, app):
    """The money of one part (its acts, reject, fail or cancel, are tests/api/test_fulfilment.py)
    goes back once; the order counts it as a partial refund."""
    from models import ShopOrder
    from services import payments
    from services.errors import InvalidState
    from tests.factories import VILLAGE_B

    first, second = shopping.offer(), shopping.offer(village=VILLAGE_B)
    buyer, address = shopping.buyer()
    order = shopping.order(buyer, address, [(first.sku_ids[0], 1), (second.sku_ids[0], 2)])
    shopping.pay_dev(buyer, order["id"])
    with app.app_context():
        rejected = db.session.get(ShopOrder, order["shop_orders"][1]["id"])
        refund = payments.refund_shop_order(rejected, reason="农户无法供货")
        db.session.commit()
        payments.send_pending_refunds(rejected.order)
        assert refund.amount_fen == rejected.total_fen == 2 * 4500
        with pytest.raises(InvalidState):
            payments.refund_shop_order(rejected, reason="again")  # once
        db.session.rollback()
        db.session.refresh(rejected)
        assert rejected.refund_status == "refunded"
        assert rejected.refunded_fen == 2 * 4500
        kept = db.session.get(ShopOrder, order["shop_orders"][0]["id"])
        assert kept.refund_status == "none"
        assert kept.order.refund_status == "partial"
        assert kept.order.refunded_fen == 2 * 4500


def test_the_household_never_sees_orders_that_were_never_paid(shopping, client, app):
    offer = shopping.offer()
    buyer, address = shopping.buyer()
    cancelled = shopping.order(buyer, address, [(offer.sku_ids[0], 1)])
    client.post(f"{API}/orders/{cancelled['id']}/cancel", json={}, headers=buyer.headers)
    expired = shopping.order(buyer, address, [(offer.sku_ids[0], 1)])
    with app.app_context():
        orders_service.expire_orders(now=utcnow() + timedelta(hours=1))
    paid = shopping.order(buyer, address, [(offer.sku_ids[0], 1)])
    shopping.pay_dev(buyer, paid["id"])
    seen = client.get(f"{API}/shops/{offer.shop_id}/orders", headers=offer.farmer.headers).json
    assert [s["order_id"] for s in seen["items"]] == [paid["id"]]
    assert expired["id"] not in [s["order_id"] for s in seen["items"]]


def test_concurrent_retries_with_one_key_make_one_order(shopping, app):
    import threading

    offer = shopping.offer(stock=10)
    buyer, address = shopping.buyer()
    start = threading.Barrier(4)
    answers = []

    def place():
        start.wait()
        client = app.test_client()
        answers.append(
            client.post(
                f"{API}/orders",
                json={
                    "lines": [{"sku_id": offer.sku_ids[0], "quantity": 2}],
                    "address_id": address,
                },
                headers=buyer.headers | {"Idempotency-Key": "same-key"},
            )
        )

    threads = [threading.Thread(target=place) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(a.status_code for a in answers) == [201] * 4
    assert len({a.json["id"] for a in answers}) == 1
    assert shopping.stock(offer.sku_ids[0]) == 8
