"""Refunds of transfer-paid (unit) orders go back by bank: county staff record them, and the
money leaves the seller's escrow in the ledger."""

import pytest

from tests.factories import Units, assert_error
from tests.money import Money
from tests.shopping import API

PAYEE = {
    "TRANSFER_PAYEE_NAME": "固镇县农家微店运营中心",
    "TRANSFER_PAYEE_BANK": "农业银行固镇支行",
    "TRANSFER_PAYEE_ACCOUNT": "12345678901234567",
}


@pytest.fixture
def transfer_paid(app, world, shopping, client):
    """A unit's order paid by a recorded transfer, then rejected by the farmer: its refund
    waits for staff to send it back by bank."""
    before = {key: app.config[key] for key in PAYEE}
    app.config.update(PAYEE)
    offer = shopping.offer()
    unit_id, admin = Units(world).verified()
    admin, address = shopping.buyer(admin)
    order = shopping.order(admin, address, [(offer.sku_ids[0], 2)], unit_id=unit_id)
    pay = client.post(
        f"{API}/orders/{order['id']}/pay", json={"method": "transfer"}, headers=admin.headers
    )
    assert pay.status_code == 200, pay.json
    recorded = client.post(
        f"{API}/admin/orders/{order['id']}/record-transfer",
        json={"bank_reference": "BANK-001", "amount_fen": order["total_fen"]},
        headers=offer.staff.headers,
    )
    assert recorded.status_code == 200, recorded.json
    part = order["shop_orders"][0]["id"]
    rejected = client.post(
        f"{API}/shop-orders/{part}/reject", json={"reason": "缺货"}, headers=offer.farmer.headers
    )
    assert rejected.status_code == 200, rejected.json
    yield order, offer, admin
    app.config.update(before)


def _refund(client, order, who):
    seen = client.get(f"{API}/orders/{order['id']}", headers=who.headers).json
    (refund,) = seen["refunds"]
    return refund


def test_staff_record_a_bank_refund_once(transfer_paid, client, chain, network, world):
    order, offer, admin = transfer_paid
    money = Money(chain, network)
    refund = _refund(client, order, admin)
    assert refund["state"] == "pending"
    household = money.household_of_offer(offer)
    assert money.balance(offer.farmer, household)["pending_fen"] == order["total_fen"]
    url = f"{API}/admin/orders/{order['id']}/refunds/{refund['id']}/record"
    body = {"bank_reference": "BANK-R-001"}
    assert_error(client.post(url, json=body, headers=world.staff("430822").headers), 404)
    assert_error(client.post(url, json=body, headers=world.admin().headers), 403)
    assert_error(client.post(url, json=body, headers=admin.headers), 403)
    done = client.post(url, json=body, headers=offer.staff.headers)
    assert done.status_code == 200, done.json
    assert done.json["refund_status"] == "refunded"
    assert done.json["refunds"][0]["state"] == "succeeded"
    assert money.balance(offer.farmer, household)["pending_fen"] == 0
    again = client.post(url, json=body, headers=offer.staff.headers)
    assert again.status_code == 200
    other = client.post(url, json={"bank_reference": "BANK-R-002"}, headers=offer.staff.headers)
    assert_error(other, 409, "invalid_state")
    assert money.differences() == []


def test_a_refund_of_another_order_is_not_found(transfer_paid, client, shopping):
    order, offer, admin = transfer_paid
    refund = _refund(client, order, admin)
    buyer, address = shopping.buyer()
    another = shopping.order(buyer, address, [(offer.sku_ids[0], 1)])
    url = f"{API}/admin/orders/{another['id']}/refunds/{refund['id']}/record"
    answer = client.post(url, json={"bank_reference": "BANK-R-003"}, headers=offer.staff.headers)
    assert_error(answer, 404)


def test_wechat_refunds_are_wechats_to_confirm(chain, client):
    part = chain.paid(quantity=1)  # the dev method: refunded at once
    rejected = chain.post(
        f"/shop-orders/{part.shop_order_id}/reject", part.offer.farmer, {"reason": "缺货"}
    )
    assert rejected.status_code == 200
    refund = _refund(client, {"id": part.order_id}, part.buyer)
    url = f"{API}/admin/orders/{part.order_id}/refunds/{refund['id']}/record"
    answer = client.post(
        url, json={"bank_reference": "BANK-R-004"}, headers=part.offer.staff.headers
    )
    assert_error(answer, 409, "invalid_state")
