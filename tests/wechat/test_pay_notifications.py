"""WeChatPayClient.verify_notification against callbacks built by the fake WeChat Pay
(tests/fakes/wechat_pay_notify.py): what is accepted, and each reason to reject."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.datastructures import Headers

from tests.fakes.wechat_pay_server import FakeWeChatPay
from wechat import NOTIFICATION_REJECT_REASONS, NotificationRejected, WeChatPayClient

ORDER = "NJ20250520000001"


@pytest.fixture
def pay(fake_wechat_pay: FakeWeChatPay) -> WeChatPayClient:
    return WeChatPayClient(**fake_wechat_pay.client_options())


@pytest.fixture
def order(fake_wechat_pay: FakeWeChatPay, pay: WeChatPayClient) -> str:
    pay.jsapi_prepay(
        out_trade_no=ORDER,
        description="农家土鸡蛋 30枚",
        amount_fen=1250,
        payer_openid="o-buyer-1",
        notify_url="https://shop.example.cn/api/v1/pay/notify",
    )
    return ORDER


@pytest.fixture
def refunded(fake_wechat_pay: FakeWeChatPay, pay: WeChatPayClient, order: str) -> str:
    fake_wechat_pay.pay(order)
    pay.refund(
        out_trade_no=order,
        out_refund_no="RF20250520000001",
        refund_fen=500,
        total_fen=1250,
        reason="缺货退款",
        notify_url="https://shop.example.cn/api/v1/pay/refund-notify",
    )
    return "RF20250520000001"


def rejection(pay: WeChatPayClient, headers, body: bytes, **kwargs) -> str:
    with pytest.raises(NotificationRejected) as caught:
        pay.verify_notification(headers, body, **kwargs)
    assert caught.value.reason in NOTIFICATION_REJECT_REASONS
    return caught.value.reason


# -- accepted ------------------------------------------------------------------------------


def test_payment_notification(fake_wechat_pay, pay, order):
    headers, body = fake_wechat_pay.notification("good", out_trade_no=order)

    notification = pay.verify_notification(headers, body)

    assert notification.event_type == "TRANSACTION.SUCCESS"
    assert notification.resource_type == "encrypt-resource"
    assert notification.summary == "支付成功"
    assert notification.refund is None
    transaction = notification.transaction
    assert transaction is not None
    assert (transaction.out_trade_no, transaction.trade_state) == (order, "SUCCESS")
    assert transaction.amount_total_fen == 1250 and transaction.payer_total_fen == 1250
    assert (transaction.mchid, transaction.appid) == (fake_wechat_pay.mchid, fake_wechat_pay.appid)
    assert transaction.payer_openid == "o-buyer-1"
    assert transaction.transaction_id == fake_wechat_pay.order(order)["transaction_id"]
    assert notification.resource["out_trade_no"] == order
    # What WeChat Pay sends: an encrypted resource, never the order in clear.
    envelope = json.loads(body)
    assert envelope["resource"]["algorithm"] == "AEAD_AES_256_GCM"
    assert order not in body.decode()
    assert headers["Wechatpay-Signature-Type"] == "WECHATPAY2-SHA256-RSA2048"


@pytest.mark.parametrize(
    ("event", "status"),
    [("REFUND.SUCCESS", "SUCCESS"), ("REFUND.ABNORMAL", "ABNORMAL"), ("REFUND.CLOSED", "CLOSED")],
)
def test_refund_notifications(fake_wechat_pay, pay, refunded, event, status):
    headers, body = fake_wechat_pay.notification(event=event, out_refund_no=refunded)

    notification = pay.verify_notification(headers, body)

    assert notification.event_type == event and notification.transaction is None
    refund = notification.refund
    assert refund is not None
    assert (refund.out_refund_no, refund.status) == (refunded, status)
    assert (refund.refund_fen, refund.total_fen, refund.out_trade_no) == (500, 1250, ORDER)
    assert (refund.success_time is not None) == (status == "SUCCESS")
    assert pay.query_refund(refunded).status == status  # the fake's books agree


def test_a_redelivery_has_the_same_id(fake_wechat_pay, pay, order):
    first = pay.verify_notification(*fake_wechat_pay.notification("good", out_trade_no=order))
    again = pay.verify_notification(*fake_wechat_pay.notification("duplicate", out_trade_no=order))

    assert again.id == first.id
    assert again.resource == first.resource


def test_headers_in_any_case_and_as_flask_gives_them(fake_wechat_pay, pay, order):
    headers, body = fake_wechat_pay.notification(out_trade_no=order)

    lower = {name.lower(): value for name, value in headers.items()}
    assert pay.verify_notification(lower, body).transaction is not None
    assert pay.verify_notification(Headers(headers), body).transaction is not None


@pytest.mark.parametrize("kind", ["wrong_amount", "unknown_order", "wrong_mchid", "wrong_appid"])
def test_genuine_but_wrong_for_our_order_is_left_to_the_caller(fake_wechat_pay, pay, order, kind):
    # Signed by WeChat Pay, so verification passes; the app compares with its own order.
    out_trade_no = None if kind == "unknown_order" else order
    headers, body = fake_wechat_pay.notification(kind, out_trade_no=out_trade_no)

    transaction = pay.verify_notification(headers, body).transaction

    assert transaction is not None
    mismatch = {
        "wrong_amount": transaction.amount_total_fen != 1250,
        "unknown_order": transaction.out_trade_no != order,
        "wrong_mchid": transaction.mchid != fake_wechat_pay.mchid,
        "wrong_appid": transaction.appid != fake_wechat_pay.appid,
    }
    assert mismatch[kind]


# -- rejected ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("bad_signature", "bad_signature"),
        ("signtest_probe", "bad_signature"),
        ("wrong_serial", "wrong_serial"),
        ("stale", "stale"),
        ("undecryptable", "undecryptable"),
        ("malformed", "malformed"),
    ],
)
def test_bad_notifications_are_rejected(fake_wechat_pay, pay, order, kind, reason):
    headers, body = fake_wechat_pay.notification(kind, out_trade_no=order)

    assert rejection(pay, headers, body) == reason


def test_the_signature_probe_is_named(fake_wechat_pay, pay, order):
    headers, body = fake_wechat_pay.notification("signtest_probe", out_trade_no=order)

    assert headers["Wechatpay-Signature"].startswith("WECHATPAY/SIGNTEST/")
    with pytest.raises(NotificationRejected, match="signature probe"):
        pay.verify_notification(headers, body)


def test_stale_in_both_directions(fake_wechat_pay, pay, order):
    headers, body = fake_wechat_pay.notification(out_trade_no=order)
    now = datetime.now(UTC)

    assert pay.verify_notification(headers, body, now=now + timedelta(minutes=4))
    assert pay.verify_notification(headers, body, now=now - timedelta(minutes=4))
    assert rejection(pay, headers, body, now=now + timedelta(minutes=6)) == "stale"
    assert rejection(pay, headers, body, now=now - timedelta(minutes=6)) == "stale"
    wide = timedelta(minutes=10)
    assert pay.verify_notification(headers, body, now=now + timedelta(minutes=6), max_skew=wide)
    naive_utc = now.replace(tzinfo=None) + timedelta(minutes=6)
    assert rejection(pay, headers, body, now=naive_utc) == "stale"


def test_a_notification_signed_in_the_future_is_stale(fake_wechat_pay, pay, order):
    later = datetime.now(UTC) + timedelta(minutes=10)
    headers, body = fake_wechat_pay.notification(out_trade_no=order, timestamp=later)

    assert rejection(pay, headers, body) == "stale"


def test_a_body_changed_after_signing_is_rejected(fake_wechat_pay, pay, order):
    headers, body = fake_wechat_pay.notification(out_trade_no=order)

    assert rejection(pay, headers, body.replace(b"TRANSACTION", b"TRANSACTIOM")) == "bad_signature"
    assert rejection(pay, headers, body + b"\n") == "bad_signature"


@pytest.mark.parametrize(
    "header", ["Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Serial"]
)
def test_missing_headers_are_rejected(fake_wechat_pay, pay, order, header):
    headers, body = fake_wechat_pay.notification(out_trade_no=order)
    del headers[header]

    expected = "wrong_serial" if header == "Wechatpay-Serial" else "bad_signature"
    assert rejection(pay, headers, body) == expected


def test_another_signature_type_is_rejected(fake_wechat_pay, pay, order):
    headers, body = fake_wechat_pay.notification(out_trade_no=order)

    headers["Wechatpay-Signature-Type"] = "WECHATPAY2-SM2-WITH-SM3"
    assert rejection(pay, headers, body) == "bad_signature"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "malformed"),
        (b'{"id": "EV-1", "event_type": "TRANSACTION.SUCCESS"}', "malformed"),
        (b'{"id": "EV-1", "resource": {"algorithm": "AES-CBC"}}', "undecryptable"),
        (b'{"id": "EV-1", "resource": {"algorithm": "AEAD_AES_256_GCM", "nonce": 1}}', "malformed"),
    ],
)
def test_signed_but_unusable_bodies_are_rejected(fake_wechat_pay, pay, body, reason):
    headers = fake_wechat_pay.signed_headers(body)

    assert rejection(pay, headers, body) == reason
