"""WeChat Pay end to end against the fake WeChat Pay server: prepay, notifications (good,
duplicate, concurrent duplicates, stale, forged, wrong serial, wrong amount, unknown order),
active queries, cancellation with refund, refund notifications; corporate transfers."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from models import Order, PaymentAnomaly, Refund, db
from models.base import utcnow
from services import orders as orders_service
from tests.factories import assert_error, audit_rows, count_rows
from tests.shopping import API, Shopping

NOTIFY = f"{API}/payments/wechat/notify"
REFUND_NOTIFY = f"{API}/payments/wechat/refund-notify"


@pytest.fixture
def shopping(world, catalog, client):
    return Shopping(world, catalog, client)


@pytest.fixture
def placed(shopping):
    offer = shopping.offer(stock=10)
    buyer, address = shopping.buyer()
    order = shopping.order(buyer, address, [(offer.sku_ids[0], 2)])
    return offer, buyer, order


def trade_no(app, order_id: int) -> str:
    with app.app_context():
        return db.session.get(Order, order_id).out_trade_no


def order_row(app, order_id: int) -> Order:
    with app.app_context():
        order = db.session.get(Order, order_id)
        db.session.expunge(order)
        return order


def prepay(client, buyer, order_id):
    return client.post(
        f"{API}/orders/{order_id}/pay", json={"method": "wechat"}, headers=buyer.headers
    )


def test_prepay_gives_signed_pay_params_and_asking_twice_charges_once(app, client, pay, placed):
    _, buyer, order = placed
    first = prepay(client, buyer, order["id"])
    assert first.status_code == 200, first.json
    params = first.json["pay_params"]
    assert set(params) == {"timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["package"].startswith("prepay_id=") and params["signType"] == "RSA"
    message = f"{pay.appid}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n"
    import base64

    load_pem_public_key(pay.merchant_public_key_pem).verify(
        base64.b64decode(params["paySign"]), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    second = prepay(client, buyer, order["id"])
    assert second.json["pay_params"]["package"] == params["package"]
    assert pay.calls("prepay") == 1  # the prepay is reused while it is valid
    sent = pay.order(trade_no(app, order["id"]))
    assert sent["amount"]["total"] == order["total_fen"]


def test_a_good_notification_marks_paid_once(app, client, pay, placed):
    offer, buyer, order = placed
    prepay(client, buyer, order["id"])
    headers, body = pay.notification("good", out_trade_no=trade_no(app, order["id"]))
    answer = client.post(NOTIFY, data=body, headers=headers)
    assert (answer.status_code, answer.json["code"]) == (200, "SUCCESS")
    paid = client.get(f"{API}/orders/{order['id']}", headers=buyer.headers).json
    assert paid["status"] == "paid"
    assert paid["shop_orders"][0]["status"] == "awaiting_acceptance"
    assert [(p["method"], p["status"]) for p in paid["payments"]] == [("wechat", "succeeded")]
    duplicate = pay.notification("duplicate", out_trade_no=trade_no(app, order["id"]))
    assert client.post(NOTIFY, data=duplicate[1], headers=duplicate[0]).status_code == 200
    assert len(audit_rows(app, "order.pay")) == 1
    assert count_rows(app, PaymentAnomaly) == 0


def test_concurrent_duplicate_notifications_change_the_order_once(app, pay, placed):
    _, buyer, order = placed
    app.test_client().post(
        f"{API}/orders/{order['id']}/pay", json={"method": "wechat"}, headers=buyer.headers
    )
    headers, body = pay.notification("good", out_trade_no=trade_no(app, order["id"]))
    start = threading.Barrier(6)
    statuses: list[int] = []

    def deliver():
        start.wait()
        statuses.append(app.test_client().post(NOTIFY, data=body, headers=headers).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert statuses == [200] * 6
    assert order_row(app, order["id"]).status == "paid"
    assert len(audit_rows(app, "order.pay")) == 1
    # The same money told six times at once: no refund, no anomaly, one payment.
    assert count_rows(app, Refund) == 0
    assert count_rows(app, PaymentAnomaly) == 0
    with app.app_context():
        from models import Payment

        assert [p.status for p in db.session.query(Payment)] == ["succeeded"]


def test_the_buyer_asking_while_the_notification_lands_pays_once(app, pay, placed):
    _, buyer, order = placed
    app.test_client().post(
        f"{API}/orders/{order['id']}/pay", json={"method": "wechat"}, headers=buyer.headers
    )
    no = trade_no(app, order["id"])
    pay.pay(no)
    headers, body = pay.notification("good", out_trade_no=no)
    start = threading.Barrier(4)

    def notify():
        start.wait()
        app.test_client().post(NOTIFY, data=body, headers=headers)

    def ask():
        start.wait()
        app.test_client().post(f"{API}/orders/{order['id']}/payment-status", headers=buyer.headers)

    threads = [threading.Thread(target=t) for t in (notify, ask, notify, ask)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert order_row(app, order["id"]).status == "paid"
    assert count_rows(app, Refund) == 0
    assert count_rows(app, PaymentAnomaly) == 0


@pytest.mark.parametrize(
    "kind", ["stale", "bad_signature", "wrong_serial", "signtest_probe", "undecryptable"]
)
def test_a_notification_that_fails_verification_changes_nothing(app, client, pay, placed, kind):
    _, buyer, order = placed
    prepay(client, buyer, order["id"])
    headers, body = pay.notification(kind, out_trade_no=trade_no(app, order["id"]))
    answer = client.post(NOTIFY, data=body, headers=headers)
    assert answer.status_code == 401
    assert answer.json["code"] == "FAIL" and answer.json["message"]
    assert order_row(app, order["id"]).status == "pending_payment"
    assert count_rows(app, PaymentAnomaly) == 0


def test_a_notification_from_the_future_is_refused_too(app, client, pay, placed):
    _, buyer, order = placed
    prepay(client, buyer, order["id"])
    later = utcnow() + timedelta(minutes=6)
    headers, body = pay.notification(
        "good", out_trade_no=trade_no(app, order["id"]), timestamp=later
    )
    assert client.post(NOTIFY, data=body, headers=headers).status_code == 401
    assert order_row(app, order["id"]).status == "pending_payment"


@pytest.mark.parametrize(
    ("kind", "anomaly"),
    [
        ("wrong_amount", "amount_mismatch"),
        ("wrong_mchid", "wrong_merchant"),
        ("wrong_appid", "wrong_merchant"),
    ],
)
def test_a_verified_but_inconsistent_notification_is_recorded_not_applied(
    app, client, pay, placed, kind, anomaly
):
    _, buyer, order = placed
    prepay(client, buyer, order["id"])
    headers, body = pay.notification(kind, out_trade_no=trade_no(app, order["id"]))
    assert client.post(NOTIFY, data=body, headers=headers).status_code == 200
    assert order_row(app, order["id"]).status == "pending_payment"
    with app.app_context():
        assert [a.kind for a in db.session.query(PaymentAnomaly)] == [anomaly]


def test_a_notification_for_an_unknown_order_is_recorded(app, client, pay):
    headers, body = pay.notification("unknown_order")
    assert client.post(NOTIFY, data=body, headers=headers).status_code == 200
    with app.app_context():
        assert [a.kind for a in db.session.query(PaymentAnomaly)] == ["unknown_order"]


def test_the_buyer_coming_back_asks_wechat(app, client, pay, placed):
    _, buyer, order = placed
    prepay(client, buyer, order["id"])
    url = f"{API}/orders/{order['id']}/payment-status"
    assert client.post(url, headers=buyer.headers).json["status"] == "pending_payment"
    pay.pay(trade_no(app, order["id"]))
    assert client.post(url, headers=buyer.headers).json["status"] == "paid"


def test_wechat_down_during_payment_status_is_503_and_changes_nothing(app, client, pay, placed):
    _, buyer, order = placed
    prepay(client, buyer, order["id"])
    pay.fail_next("query", 500, "SYSTEM_ERROR")
    answer = client.post(f"{API}/orders/{order['id']}/payment-status", headers=buyer.headers)
    assert_error(answer, 503, "payment_unavailable")
    assert order_row(app, order["id"]).status == "pending_payment"


def test_expiry_asks_wechat_first_and_closes_what_was_not_paid(app, client, pay, shopping):
    offer = shopping.offer(stock=5)
    buyer, address = shopping.buyer()
    unpaid = shopping.order(buyer, address, [(offer.sku_ids[0], 1)])
    paid = shopping.order(buyer, address, [(offer.sku_ids[0], 1)])
    for order in (unpaid, paid):
        prepay(client, buyer, order["id"])
    pay.pay(trade_no(app, paid["id"]))  # paid, but the notification never came
    with app.app_context():
        assert orders_service.expire_orders(now=utcnow() + timedelta(hours=1)) == 1
    assert order_row(app, unpaid["id"]).status == "expired"
    assert order_row(app, paid["id"]).status == "paid"
    assert pay.calls("close") == 1
    assert shopping.stock(offer.sku_ids[0]) == 4


def test_expiry_leaves_an_order_wechat_cannot_speak_for(app, client, pay, placed, shopping):
    offer, buyer, order = placed
    prepay(client, buyer, order["id"])
    pay.fail_next("query", 500, "SYSTEM_ERROR")
    with app.app_context():
        assert orders_service.expire_orders(now=utcnow() + timedelta(hours=1)) == 0
    assert order_row(app, order["id"]).status == "pending_payment"
    assert shopping.stock(offer.sku_ids[0]) == 8


def test_money_for_an_expired_order_is_recorded_and_refunded(app, client, pay, placed):
    _, buyer, order = placed
    prepay(client, buyer, order["id"])
    no = trade_no(app, order["id"])
    # The expiry job closed it while WeChat was slow to tell: the buyer paid anyway.
    with app.app_context():
        db.session.get(Order, order["id"]).status = "expired"
        db.session.commit()
    headers, body = pay.notification("good", out_trade_no=no)
    assert client.post(NOTIFY, data=body, headers=headers).status_code == 200
    with app.app_context():
        assert [a.kind for a in db.session.query(PaymentAnomaly)] == ["paid_after_close"]
        [refund] = db.session.query(Refund).all()
        assert refund.amount_fen == order["total_fen"] and refund.shop_order_id is None
    assert pay.refund_record(refund.out_refund_no)["amount"]["refund"] == order["total_fen"]


def test_cancelling_a_paid_order_refunds_through_wechat(app, client, pay, placed, shopping):
    offer, buyer, order = placed
    prepay(client, buyer, order["id"])
    headers, body = pay.notification("good", out_trade_no=trade_no(app, order["id"]))
    client.post(NOTIFY, data=body, headers=headers)
    cancelled = client.post(f"{API}/orders/{order['id']}/cancel", json={}, headers=buyer.headers)
    assert cancelled.json["status"] == "cancelled"
    assert cancelled.json["refund_status"] == "pending"
    assert shopping.stock(offer.sku_ids[0]) == 10
    [refund] = cancelled.json["refunds"]
    assert refund["state"] == "pending" and refund["amount_fen"] == order["total_fen"]
    with app.app_context():
        refund_no = db.session.get(Refund, refund["id"]).out_refund_no
    headers, body = pay.notification("good", event="REFUND.SUCCESS", out_refund_no=refund_no)
    assert client.post(REFUND_NOTIFY, data=body, headers=headers).status_code == 200
    done = client.get(f"{API}/orders/{order['id']}", headers=buyer.headers).json
    assert done["refund_status"] == "refunded"
    assert done["refunds"][0]["state"] == "succeeded"
    again = pay.notification("duplicate", event="REFUND.SUCCESS", out_refund_no=refund_no)
    assert client.post(REFUND_NOTIFY, data=again[1], headers=again[0]).status_code == 200
    assert len(audit_rows(app, "refund.succeeded")) == 1


def test_a_refund_wechat_did_not_confirm_keeps_its_number(app, client, pay, placed):
    _, buyer, order = placed
    prepay(client, buyer, order["id"])
    headers, body = pay.notification("good", out_trade_no=trade_no(app, order["id"]))
    client.post(NOTIFY, data=body, headers=headers)
    pay.fail_next("refund", 500, "SYSTEM_ERROR")
    client.post(f"{API}/orders/{order['id']}/cancel", json={}, headers=buyer.headers)
    with app.app_context():
        [refund] = db.session.query(Refund).all()
        number = refund.out_refund_no
        from services import payments

        assert payments.retry_pending_refunds(older_than=timedelta(0)) == 1
        db.session.refresh(refund)
        assert refund.out_refund_no == number
    assert pay.refund_record(number) is not None


def test_paying_needs_a_wechat_identity_and_wechat_pay_on(app, client, pay, placed, world):
    _, buyer, order = placed
    app.config["WECHATPAY_ENABLED"] = False
    answer = prepay(client, buyer, order["id"])
    assert_error(answer, 422, "payment_method_unavailable")
    app.config["WECHATPAY_ENABLED"] = True
    app.config["DEV_PAYMENTS_ENABLED"] = False
    try:
        dev = client.post(
            f"{API}/orders/{order['id']}/pay", json={"method": "dev"}, headers=buyer.headers
        )
        assert_error(dev, 422, "payment_method_unavailable")
    finally:
        app.config["DEV_PAYMENTS_ENABLED"] = True


def test_only_the_buyer_pays_by_wechat(app, client, pay, placed, world):
    _, _, order = placed
    stranger = world.user()
    assert_error(prepay(client, stranger, order["id"]), 404, "not_found")
