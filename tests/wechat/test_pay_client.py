"""WeChatPayClient's API calls against the loopback fake WeChat Pay
(tests/fakes/wechat_pay_server.py): signing, answers verified, idempotency, errors.
Callbacks are in test_pay_notifications.py."""

from __future__ import annotations

import base64
import pickle
import socket
from datetime import UTC, datetime

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.wechat_pay_keys import parse_authorization
from tests.fakes.wechat_pay_server import FORGERIES, FakeWeChatPay
from wechat import (
    PayAuthError,
    PayBusy,
    PayError,
    PayNotEnough,
    PayNotFound,
    PayOrderClosed,
    PayOrderPaid,
    PayRequestInvalid,
    PayResponseForged,
    PayUnavailable,
    WeChatPayClient,
)

NOTIFY_URL = "https://shop.example.cn/api/v1/pay/notify"
REFUND_URL = "https://shop.example.cn/api/v1/pay/refund-notify"


@pytest.fixture
def pay(fake_wechat_pay: FakeWeChatPay) -> WeChatPayClient:
    return WeChatPayClient(**fake_wechat_pay.client_options(timeout=2.0))


def place(pay: WeChatPayClient, out_trade_no: str = "NJ20250520000001", **overrides) -> str:
    options = {
        "out_trade_no": out_trade_no,
        "description": "农家土鸡蛋 30枚",
        "amount_fen": 1250,
        "payer_openid": "o-buyer-1",
        "notify_url": NOTIFY_URL,
    }
    return pay.jsapi_prepay(**(options | overrides))


def refund(pay: WeChatPayClient, out_refund_no: str = "RF20250520000001", **overrides):
    options = {
        "out_trade_no": "NJ20250520000001",
        "out_refund_no": out_refund_no,
        "refund_fen": 500,
        "total_fen": 1250,
        "reason": "缺货退款",
        "notify_url": REFUND_URL,
    }
    return pay.refund(**(options | overrides))


def other_private_key_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


# -- signing -------------------------------------------------------------------------------


def test_prepay_is_signed_and_sends_what_it_signed(fake_wechat_pay, pay):
    expire = datetime(2025, 5, 20, 5, 29, 35)  # naive: UTC, sent in Beijing time

    prepay_id = place(pay, time_expire=expire, attach="order:17")

    assert prepay_id.startswith("wx")
    [seen] = fake_wechat_pay.requests
    assert (seen.method, seen.path, seen.signed) == ("POST", "/v3/pay/transactions/jsapi", True)
    assert seen.headers["Accept"] == "application/json"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["Wechatpay-Serial"] == fake_wechat_pay.public_key_id
    auth = parse_authorization(seen.headers["Authorization"])
    assert auth is not None
    assert auth["mchid"] == fake_wechat_pay.mchid
    assert auth["serial_no"] == fake_wechat_pay.merchant_serial
    assert len(auth["nonce_str"]) == 32
    assert seen.json() == {
        "appid": fake_wechat_pay.appid,
        "mchid": fake_wechat_pay.mchid,
        "description": "农家土鸡蛋 30枚",
        "out_trade_no": "NJ20250520000001",
        "time_expire": "2025-05-20T13:29:35+08:00",
        "attach": "order:17",
        "notify_url": NOTIFY_URL,
        "amount": {"total": 1250, "currency": "CNY"},
        "payer": {"openid": "o-buyer-1"},
    }
    assert "农家".encode() in seen.body  # raw UTF-8, the bytes that were signed


def test_path_and_query_are_signed_as_sent(fake_wechat_pay, pay):
    # | and * are allowed in out_trade_no and percent-encoded in the path.
    place(pay, out_trade_no="NJ|2025*0001")

    transaction = pay.query_transaction("NJ|2025*0001")

    assert transaction.out_trade_no == "NJ|2025*0001"
    query = fake_wechat_pay.requests[-1]
    assert query.uri == (
        f"/v3/pay/transactions/out-trade-no/NJ%7C2025%2A0001?mchid={fake_wechat_pay.mchid}"
    )
    assert query.signed and query.body == b""


def test_unsigned_request_is_refused_with_a_signed_401(fake_wechat_pay):
    response = requests.post(
        fake_wechat_pay.base_url + "/v3/pay/transactions/jsapi",
        json={"out_trade_no": "NJ20250520000001"},
        timeout=2,
    )

    assert response.status_code == 401
    assert response.json()["code"] == "SIGN_ERROR"
    assert response.headers["Wechatpay-Serial"] == fake_wechat_pay.public_key_id
    assert fake_wechat_pay.order("NJ20250520000001") is None


class TamperingSession(requests.Session):
    """Changes the amount after the client signed the request."""

    def send(self, request, **kwargs):
        request.body = request.body.replace(b'"total":1250', b'"total":1')
        request.headers["Content-Length"] = str(len(request.body))
        return super().send(request, **kwargs)


def test_tampered_request_is_refused(fake_wechat_pay):
    pay = WeChatPayClient(**fake_wechat_pay.client_options(session=TamperingSession()))

    with pytest.raises(PayAuthError) as caught:
        place(pay)

    assert (caught.value.code, caught.value.http_status) == ("SIGN_ERROR", 401)
    assert caught.value.verified  # the 401 itself was signed by WeChat Pay
    assert isinstance(caught.value, PayRequestInvalid)
    assert fake_wechat_pay.requests[-1].signed is False
    assert fake_wechat_pay.order("NJ20250520000001") is None


@pytest.mark.parametrize(
    "overrides",
    [{"private_key_pem": "other"}, {"cert_serial": "0" * 40}, {"mchid": "1900000999"}],
    ids=["wrong-key", "wrong-serial", "wrong-mchid"],
)
def test_wrong_merchant_credentials_are_refused(fake_wechat_pay, overrides):
    if overrides.get("private_key_pem") == "other":
        overrides = {"private_key_pem": other_private_key_pem()}
    pay = WeChatPayClient(**fake_wechat_pay.client_options(**overrides))

    with pytest.raises(PayAuthError, match="SIGN_ERROR"):
        pay.query_transaction("NJ20250520000001")


def test_pay_params_verify_with_the_merchant_public_key(fake_wechat_pay, pay):
    prepay_id = place(pay)

    params = pay.pay_params(prepay_id)

    assert set(params) == {"timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["package"] == f"prepay_id={prepay_id}"
    assert params["signType"] == "RSA"
    assert params["timeStamp"].isdigit()
    assert abs(int(params["timeStamp"]) - datetime.now(UTC).timestamp()) < 60
    assert 0 < len(params["nonceStr"]) <= 32
    message = "\n".join(
        [fake_wechat_pay.appid, params["timeStamp"], params["nonceStr"], params["package"], ""]
    )
    public_key = serialization.load_pem_public_key(fake_wechat_pay.merchant_public_key_pem)
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(  # raises InvalidSignature if wrong
        base64.b64decode(params["paySign"]), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )


def test_sensitive_encrypt_is_readable_by_wechat_pay(fake_wechat_pay, pay):
    ciphertext = pay.sensitive_encrypt("张三")

    assert ciphertext != pay.sensitive_encrypt("张三")  # OAEP is randomised
    assert fake_wechat_pay.decrypt_sensitive(ciphertext) == "张三"


# -- orders --------------------------------------------------------------------------------


def test_prepay_is_idempotent_by_out_trade_no(fake_wechat_pay, pay):
    first = place(pay)
    again = place(pay)

    assert again == first
    with pytest.raises(PayRequestInvalid) as caught:
        place(pay, amount_fen=1300)
    assert (caught.value.code, caught.value.http_status) == ("INVALID_REQUEST", 400)
    assert fake_wechat_pay.order("NJ20250520000001")["amount"]["total"] == 1250


def test_query_before_and_after_payment(fake_wechat_pay, pay):
    place(pay)

    unpaid = pay.query_transaction("NJ20250520000001")
    assert (unpaid.trade_state, unpaid.paid) == ("NOTPAY", False)
    assert unpaid.transaction_id is None and unpaid.success_time is None
    assert unpaid.amount_total_fen == 1250

    fake_wechat_pay.pay("NJ20250520000001", payer_total_fen=1000)  # a 2.50 yuan coupon
    paid = pay.query_transaction("NJ20250520000001")

    assert (paid.trade_state, paid.paid) == ("SUCCESS", True)
    assert paid.transaction_id and paid.transaction_id.startswith("4200")
    assert (paid.amount_total_fen, paid.payer_total_fen, paid.currency) == (1250, 1000, "CNY")
    assert (paid.mchid, paid.appid) == (fake_wechat_pay.mchid, fake_wechat_pay.appid)
    assert paid.payer_openid == "o-buyer-1"
    assert paid.success_time is not None and paid.success_time.tzinfo == UTC


def test_query_of_an_unknown_order_is_not_found(pay):
    with pytest.raises(PayNotFound) as caught:
        pay.query_transaction("NJ20250520009999")

    assert (caught.value.code, caught.value.http_status) == ("ORDER_NOT_EXIST", 404)


def test_close_an_unpaid_order(fake_wechat_pay, pay):
    place(pay)

    assert pay.close_transaction("NJ20250520000001") is None
    assert pay.close_transaction("NJ20250520000001") is None  # closing again is fine

    assert pay.query_transaction("NJ20250520000001").trade_state == "CLOSED"
    with pytest.raises(PayOrderClosed):
        place(pay)


def test_a_paid_order_cannot_be_closed_or_ordered_again(fake_wechat_pay, pay):
    place(pay)
    fake_wechat_pay.pay("NJ20250520000001")

    with pytest.raises(PayOrderPaid):
        pay.close_transaction("NJ20250520000001")
    with pytest.raises(PayOrderPaid):
        place(pay)


def test_bad_numbers_are_refused_before_any_request(fake_wechat_pay, pay):
    with pytest.raises(ValueError, match="out_trade_no"):
        pay.query_transaction("../../v3/x")
    with pytest.raises(ValueError, match="amount_fen"):
        place(pay, amount_fen=12.5)
    with pytest.raises(ValueError, match="out_refund_no"):
        pay.query_refund("退款 1")
    with pytest.raises(ValueError, match="refund_fen exceeds"):
        refund(pay, refund_fen=2000)
    assert fake_wechat_pay.requests == []


# -- refunds -------------------------------------------------------------------------------


def test_refund_is_stable_by_out_refund_no_and_ends_when_wechat_says(fake_wechat_pay, pay):
    place(pay)
    fake_wechat_pay.pay("NJ20250520000001")

    accepted = refund(pay)
    again = refund(pay)

    assert accepted.status == "PROCESSING" and accepted.success_time is None
    assert again.refund_id == accepted.refund_id
    assert (accepted.refund_fen, accepted.total_fen) == (500, 1250)
    assert accepted.out_trade_no == "NJ20250520000001"
    assert pay.query_refund("RF20250520000001").status == "PROCESSING"

    fake_wechat_pay.complete_refund("RF20250520000001")
    done = pay.query_refund("RF20250520000001")

    assert (done.status, done.refund_id) == ("SUCCESS", accepted.refund_id)
    assert done.success_time is not None
    assert pay.query_transaction("NJ20250520000001").trade_state == "REFUND"


def test_refunds_beyond_the_total_are_not_enough(fake_wechat_pay, pay):
    place(pay)
    fake_wechat_pay.pay("NJ20250520000001")
    refund(pay, "RF1", refund_fen=1000)

    with pytest.raises(PayNotEnough) as caught:
        refund(pay, "RF2", refund_fen=300)

    assert (caught.value.code, caught.value.http_status) == ("NOT_ENOUGH", 403)
    assert refund(pay, "RF3", refund_fen=250).status == "PROCESSING"  # exactly what is left


def test_refund_refusals(fake_wechat_pay, pay):
    with pytest.raises(PayNotFound, match="RESOURCE_NOT_EXISTS"):
        refund(pay)
    place(pay)
    with pytest.raises(PayRequestInvalid, match="INVALID_REQUEST"):
        refund(pay)  # not paid
    fake_wechat_pay.pay("NJ20250520000001")
    refund(pay)
    with pytest.raises(PayRequestInvalid, match="INVALID_REQUEST"):
        refund(pay, refund_fen=600)  # the same number with another amount
    with pytest.raises(PayNotFound):
        pay.query_refund("RF-never")


# -- no usable answer ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "exception"),
    [(500, "SYSTEM_ERROR", PayBusy), (429, "FREQUENCY_LIMITED", PayBusy), (502, None, None)],
)
def test_server_errors_are_unavailable(fake_wechat_pay, pay, status, code, exception):
    fake_wechat_pay.fail_next("prepay", status, code)

    with pytest.raises(PayUnavailable) as caught:
        place(pay)

    assert type(caught.value) is (exception or PayUnavailable)
    assert (caught.value.code, caught.value.http_status) == (code, status)
    assert fake_wechat_pay.order("NJ20250520000001") is None
    assert place(pay)  # no automatic retry happened; the caller's retry goes through
    assert fake_wechat_pay.calls("prepay") == 2


def test_a_timeout_is_unavailable_and_the_query_tells_the_outcome(fake_wechat_pay):
    pay = WeChatPayClient(**fake_wechat_pay.client_options(timeout=0.3))
    fake_wechat_pay.hang_next("prepay", 1.0)  # WeChat Pay took the order; the answer is lost

    with pytest.raises(PayUnavailable, match="Timeout"):
        place(pay)

    assert pay.query_transaction("NJ20250520000001").trade_state == "NOTPAY"
    assert place(pay)  # same out_trade_no, same terms: the same order
    assert fake_wechat_pay.calls("prepay") == 2


def test_a_timeout_before_processing_leaves_no_order(fake_wechat_pay):
    pay = WeChatPayClient(**fake_wechat_pay.client_options(timeout=0.3))
    fake_wechat_pay.hang_next("prepay", 1.0, processed=False)

    with pytest.raises(PayUnavailable):
        place(pay)

    with pytest.raises(PayNotFound):
        pay.query_transaction("NJ20250520000001")


def test_connection_refused_is_unavailable(fake_wechat_pay):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    pay = WeChatPayClient(**fake_wechat_pay.client_options(api_base=f"http://127.0.0.1:{port}"))

    with pytest.raises(PayUnavailable, match="ConnectionError") as caught:
        pay.query_transaction("NJ20250520000001")

    assert (caught.value.code, caught.value.http_status) == (None, None)


def test_an_unsigned_error_is_read_but_marked_unverified(fake_wechat_pay, pay):
    fake_wechat_pay.fail_next("query", 404, "ORDER_NOT_EXIST", signed=False)

    with pytest.raises(PayNotFound) as caught:
        pay.query_transaction("NJ20250520000001")

    assert caught.value.verified is False


# -- forged answers ------------------------------------------------------------------------


@pytest.mark.parametrize("how", FORGERIES)
def test_a_forged_answer_is_refused(fake_wechat_pay, pay, how):
    place(pay)
    fake_wechat_pay.pay("NJ20250520000001")
    fake_wechat_pay.forge_next("query", how)

    with pytest.raises(PayResponseForged) as caught:
        pay.query_transaction("NJ20250520000001")

    assert caught.value.http_status == 200
    assert "on /v3/pay/transactions/out-trade-no/" in str(caught.value)


def test_a_forged_empty_answer_is_refused(fake_wechat_pay, pay):
    place(pay)
    fake_wechat_pay.forge_next("close", "wrong_key")

    with pytest.raises(PayResponseForged):
        pay.close_transaction("NJ20250520000001")


def test_a_forged_error_is_refused(fake_wechat_pay, pay):
    fake_wechat_pay.forge_next("query", "wrong_serial")

    with pytest.raises(PayResponseForged) as caught:
        pay.query_transaction("NJ20250520000001")

    assert caught.value.http_status == 404


# -- the exceptions ------------------------------------------------------------------------


def test_pay_errors_pickle_and_keep_secrets_out(fake_wechat_pay, pay):
    fake_wechat_pay.fail_next("prepay", 400, "PARAM_ERROR", "description 过长")
    with pytest.raises(PayRequestInvalid) as caught:
        place(pay)

    copy = pickle.loads(pickle.dumps(caught.value))

    assert type(copy) is PayRequestInvalid
    assert (copy.code, copy.message, copy.http_status, copy.verified) == (
        "PARAM_ERROR",
        "description 过长",
        400,
        True,
    )
    for text in (str(copy), repr(copy), repr(pay)):
        assert fake_wechat_pay.apiv3_key not in text
        assert "PRIVATE KEY" not in text
    assert isinstance(copy, PayError)


def test_client_refuses_an_apiv3_key_of_the_wrong_length(fake_wechat_pay):
    with pytest.raises(ValueError, match="APIv3"):
        WeChatPayClient(**fake_wechat_pay.client_options(apiv3_key="short"))
