"""WeChatPayClient's 商家转账 calls (wechat/pay_transfers.py) against the loopback fake WeChat Pay
(tests/fakes/wechat_pay_server.py, wechat_pay_transfers.py): create, query, cancel, how a bill
ends, unclear outcomes, the payee's encrypted name, and the MCHTRANSFER.BILL.FINISHED callback."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tests.fakes.wechat_pay_server import FORGERIES, FakeWeChatPay
from tests.fakes.wechat_pay_transfers import REPORT_INFOS_MISSING
from wechat import (
    NotificationRejected,
    PayAuthError,
    PayBusy,
    PayNotEnough,
    PayNotFound,
    PayRequestInvalid,
    PayResponseForged,
    PayUnavailable,
    WeChatPayClient,
)
from wechat.pay import USER_NAME_REQUIRED_FROM_FEN
from wechat.pay_models import Malformed, TransferBill, parse_transfer_bill

NOTIFY_URL = "https://shop.example.cn/api/v1/pay/transfer-notify"
BILL = "TB20250520000001"
REPORT_INFOS = [
    {"info_type": "岗位类型", "info_content": "农产品供货"},
    {"info_type": "报酬说明", "info_content": "5月第3周货款结算"},
]
TRANSFERS_PATH = "/v3/fund-app/mch-transfer/transfer-bills"


@pytest.fixture
def pay(fake_wechat_pay: FakeWeChatPay) -> WeChatPayClient:
    return WeChatPayClient(**fake_wechat_pay.client_options(timeout=2.0))


def transfer(pay: WeChatPayClient, out_bill_no: str = BILL, **overrides) -> TransferBill:
    options = {
        "out_bill_no": out_bill_no,
        "openid": "o-farmer-1",
        "amount_fen": 12345,
        "remark": "农家土鸡蛋货款",
        "notify_url": NOTIFY_URL,
        "scene_id": "1005",
        "report_infos": REPORT_INFOS,
        "user_recv_perception": "劳务报酬",
    }
    return pay.create_transfer_bill(**(options | overrides))


def raw_create(pay: WeChatPayClient, fake: FakeWeChatPay, **changes):
    """A signed create whose body the client would never send (to check the fake's rules)."""
    body = {
        "appid": fake.appid,
        "out_bill_no": BILL,
        "transfer_scene_id": "1005",
        "openid": "o-farmer-1",
        "transfer_amount": 12345,
        "transfer_remark": "货款",
        "notify_url": NOTIFY_URL,
        "transfer_scene_report_infos": REPORT_INFOS,
    }
    body = {key: value for key, value in (body | changes).items() if value is not None}
    return pay._call("POST", TRANSFERS_PATH, body=body)


# -- create --------------------------------------------------------------------------------


def test_create_is_signed_and_sends_what_it_signed(fake_wechat_pay, pay):
    bill = transfer(pay)

    [seen] = fake_wechat_pay.requests
    assert (seen.method, seen.path, seen.kind, seen.signed) == (
        "POST",
        TRANSFERS_PATH,
        "transfer_create",
        True,
    )
    assert seen.headers["Wechatpay-Serial"] == fake_wechat_pay.public_key_id
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.json() == {
        "appid": fake_wechat_pay.appid,
        "out_bill_no": BILL,
        "transfer_scene_id": "1005",
        "openid": "o-farmer-1",
        "transfer_amount": 12345,
        "transfer_remark": "农家土鸡蛋货款",
        "notify_url": NOTIFY_URL,
        "user_recv_perception": "劳务报酬",
        "transfer_scene_report_infos": REPORT_INFOS,
    }
    assert "user_name" not in seen.json()  # below ¥2,000 and none given: none sent
    assert "农家".encode() in seen.body  # raw UTF-8, the bytes that were signed
    assert bill.out_bill_no == BILL


def test_a_transfer_that_succeeds(fake_wechat_pay, pay):
    created = transfer(pay)

    assert created.state == "WAIT_USER_CONFIRM"
    assert created.package_info  # for wx.requestMerchantTransfer
    assert created.transfer_bill_no and created.transfer_bill_no.startswith("1330")
    assert created.create_time is not None and created.create_time.tzinfo == UTC
    assert (created.final, created.succeeded) == (False, False)
    assert created.amount_fen is None and created.openid is None  # not in a create answer
    waiting = pay.query_transfer_bill(BILL)
    assert (waiting.state, waiting.final, waiting.package_info) == (
        "WAIT_USER_CONFIRM",
        False,
        None,
    )

    fake_wechat_pay.confirm_transfer(BILL)  # the farmer confirmed in the mini-program
    done = pay.query_transfer_bill(BILL)

    assert (done.state, done.final, done.succeeded) == ("SUCCESS", True, True)
    assert done.transfer_bill_no == created.transfer_bill_no
    assert (done.amount_fen, done.openid, done.mchid) == (
        12345,
        "o-farmer-1",
        fake_wechat_pay.mchid,
    )
    assert done.fail_reason is None
    assert done.update_time is not None and done.update_time >= created.create_time
    assert fake_wechat_pay.transfer_record(BILL)["state"] == "SUCCESS"


def test_a_transfer_that_fails(fake_wechat_pay, pay):
    transfer(pay)

    fake_wechat_pay.fail_transfer(BILL, reason="NAME_NOT_CORRECT")
    failed = pay.query_transfer_bill(BILL)

    assert (failed.state, failed.final, failed.succeeded) == ("FAIL", True, False)
    assert failed.fail_reason == "NAME_NOT_CORRECT"
    # A FAIL bill stays FAIL; a new try needs a new out_bill_no.
    assert transfer(pay).state == "FAIL"
    assert transfer(pay, "TB20250520000002").state == "WAIT_USER_CONFIRM"
    assert fake_wechat_pay.transfers_made() == 2


def test_create_is_idempotent_by_out_bill_no(fake_wechat_pay, pay):
    first = transfer(pay)
    again = transfer(pay)

    assert again.transfer_bill_no == first.transfer_bill_no
    assert again.package_info == first.package_info
    assert fake_wechat_pay.transfers_made() == 1
    for change in ({"amount_fen": 12346}, {"openid": "o-farmer-2"}):
        with pytest.raises(PayRequestInvalid) as caught:
            transfer(pay, **change)
        assert (caught.value.code, caught.value.http_status) == ("INVALID_REQUEST", 400)
    assert fake_wechat_pay.transfer_record(BILL)["transfer_amount"] == 12345


# -- unclear outcomes ----------------------------------------------------------------------


def test_a_timeout_after_processing_then_query_and_the_same_number(fake_wechat_pay):
    pay = WeChatPayClient(**fake_wechat_pay.client_options(timeout=0.3))
    fake_wechat_pay.hang_next("transfer_create", 1.0)  # made; the answer is what gets lost

    with pytest.raises(PayUnavailable, match="Timeout"):
        transfer(pay)

    found = pay.query_transfer_bill(BILL)
    assert found.state == "WAIT_USER_CONFIRM"
    again = transfer(pay)  # never a new number after an unclear answer
    assert again.transfer_bill_no == found.transfer_bill_no and again.package_info
    assert fake_wechat_pay.transfers_made() == 1
    assert fake_wechat_pay.calls("transfer_create") == 2


def test_a_system_error_after_processing_hides_a_bill_made(fake_wechat_pay, pay):
    fake_wechat_pay.fail_next("transfer_create", 500, "SYSTEM_ERROR", processed=True)

    with pytest.raises(PayBusy) as caught:
        transfer(pay)

    assert isinstance(caught.value, PayUnavailable)
    assert pay.query_transfer_bill(BILL).state == "WAIT_USER_CONFIRM"
    assert transfer(pay).state == "WAIT_USER_CONFIRM"
    assert fake_wechat_pay.transfers_made() == 1


@pytest.mark.parametrize("how", ["timeout", "system_error", "proxy"])
def test_unclear_before_processing_leaves_no_bill(fake_wechat_pay, how):
    pay = WeChatPayClient(**fake_wechat_pay.client_options(timeout=0.3))
    if how == "timeout":
        fake_wechat_pay.hang_next("transfer_create", 1.0, processed=False)
    elif how == "system_error":
        fake_wechat_pay.fail_next("transfer_create", 500, "SYSTEM_ERROR")
    else:
        fake_wechat_pay.fail_next("transfer_create", 502, None)

    with pytest.raises(PayUnavailable):
        transfer(pay)

    with pytest.raises(PayNotFound) as caught:
        pay.query_transfer_bill(BILL)
    assert (caught.value.code, caught.value.http_status) == ("NOT_FOUND", 404)
    assert transfer(pay).state == "WAIT_USER_CONFIRM"  # the same number makes it now
    assert fake_wechat_pay.transfers_made() == 1


@pytest.mark.parametrize(
    ("status", "code", "exception", "unclear"),
    [
        (403, "NOT_ENOUGH", PayNotEnough, False),
        (429, "FREQUENCY_LIMITED", PayBusy, True),
        (403, "NO_AUTH", PayAuthError, False),
        (400, "PARAM_ERROR", PayRequestInvalid, False),
        (400, "INVALID_REQUEST", PayRequestInvalid, False),
    ],
)
def test_create_errors(fake_wechat_pay, pay, status, code, exception, unclear):
    fake_wechat_pay.fail_next("transfer_create", status, code)

    with pytest.raises(exception) as caught:
        transfer(pay)

    assert type(caught.value) is exception
    assert isinstance(caught.value, PayUnavailable) is unclear
    assert isinstance(caught.value, PayRequestInvalid) is not unclear
    assert (caught.value.code, caught.value.http_status) == (code, status)
    assert fake_wechat_pay.transfers_made() == 0


# -- the payee's name ----------------------------------------------------------------------


def test_user_name_is_sent_encrypted(fake_wechat_pay, pay):
    bill = transfer(pay, amount_fen=250_000, user_name="张三")

    assert bill.state == "WAIT_USER_CONFIRM"
    seen = fake_wechat_pay.requests[-1]
    sent = seen.json()["user_name"]
    assert "张三" not in sent and "张三".encode() not in seen.body
    assert fake_wechat_pay.decrypt_sensitive(sent) == "张三"
    assert fake_wechat_pay.transfer_user_name(BILL) == "张三"
    assert seen.headers["Wechatpay-Serial"] == fake_wechat_pay.public_key_id
    assert "user_name" not in fake_wechat_pay.transfer_record(BILL)
    # Encryption is randomised, so a repeat sends another ciphertext: still the same bill.
    assert transfer(pay, amount_fen=250_000, user_name="张三").transfer_bill_no == (
        bill.transfer_bill_no
    )


def test_user_name_below_the_threshold_is_optional(fake_wechat_pay, pay):
    assert USER_NAME_REQUIRED_FROM_FEN == 200_000 == pay.USER_NAME_REQUIRED_FROM_FEN

    transfer(pay, amount_fen=USER_NAME_REQUIRED_FROM_FEN - 1)
    assert "user_name" not in fake_wechat_pay.requests[-1].json()
    transfer(pay, "TB20250520000002", amount_fen=100, user_name="李四")
    assert fake_wechat_pay.transfer_user_name("TB20250520000002") == "李四"


@pytest.mark.parametrize("amount_fen", [USER_NAME_REQUIRED_FROM_FEN, 500_000])
def test_user_name_is_required_from_the_threshold(fake_wechat_pay, pay, amount_fen):
    with pytest.raises(ValueError, match="user_name is required"):
        transfer(pay, amount_fen=amount_fen)

    assert fake_wechat_pay.requests == []


def test_the_fake_checks_the_name_as_wechat_pay_does(fake_wechat_pay, pay):
    with pytest.raises(PayRequestInvalid, match="PARAM_ERROR"):
        raw_create(pay, fake_wechat_pay, transfer_amount=USER_NAME_REQUIRED_FROM_FEN)
    with pytest.raises(PayRequestInvalid, match="PARAM_ERROR"):  # sent in clear
        raw_create(pay, fake_wechat_pay, user_name="张三")
    assert fake_wechat_pay.transfers_made() == 0
    raw_create(pay, fake_wechat_pay, user_name=pay.sensitive_encrypt("张三"))
    assert fake_wechat_pay.transfer_user_name(BILL) == "张三"


# -- scene report infos --------------------------------------------------------------------


@pytest.mark.parametrize(
    "infos",
    [
        [],
        [{"info_type": "岗位类型"}],
        [{"info_type": "岗位类型", "info_content": ""}],
        [{"info_type": "岗位类型", "info_content": "供货", "extra": "x"}],
        ["岗位类型"],
    ],
)
def test_report_infos_are_required_before_any_request(fake_wechat_pay, pay, infos):
    with pytest.raises(ValueError, match="report_infos|info_content"):
        transfer(pay, report_infos=infos)

    assert fake_wechat_pay.requests == []


@pytest.mark.parametrize(
    "infos",
    [None, [], [{"info_type": "岗位类型", "info_content": "供货"}], [{"info_type": "活动名称"}]],
    ids=["missing", "empty", "scene-1005-needs-both", "not-a-pair"],
)
def test_the_fake_refuses_missing_report_infos(fake_wechat_pay, pay, infos):
    with pytest.raises(PayRequestInvalid) as caught:
        raw_create(pay, fake_wechat_pay, transfer_scene_report_infos=infos)

    assert (caught.value.code, caught.value.message) == ("PARAM_ERROR", REPORT_INFOS_MISSING)
    assert fake_wechat_pay.transfers_made() == 0


def test_the_fake_refuses_what_wechat_pay_refuses(fake_wechat_pay, pay):
    for changes in (
        {"notify_url": "http://shop.example.cn/notify"},
        {"transfer_remark": "备" * 33},
        {"transfer_amount": 0},
        {"openid": None},
        {"transfer_scene_id": None},
        {"out_bill_no": "TB-1"},
    ):
        with pytest.raises(PayRequestInvalid, match="PARAM_ERROR"):
            raw_create(pay, fake_wechat_pay, **changes)
    with pytest.raises(PayAuthError, match="APPID_MCHID_NOT_MATCH"):
        raw_create(pay, fake_wechat_pay, appid="wxanotherapp")
    assert fake_wechat_pay.transfers_made() == 0


# -- cancel --------------------------------------------------------------------------------


def test_cancel_a_bill_the_user_has_not_confirmed(fake_wechat_pay, pay):
    created = transfer(pay)

    cancelled = pay.cancel_transfer_bill(BILL)

    assert (cancelled.state, cancelled.final, cancelled.succeeded) == ("CANCELLED", True, False)
    assert cancelled.transfer_bill_no == created.transfer_bill_no
    assert cancelled.update_time is not None
    seen = fake_wechat_pay.requests[-1]
    assert (seen.method, seen.kind, seen.body) == ("POST", "transfer_cancel", b"")
    assert seen.path == f"{TRANSFERS_PATH}/out-bill-no/{BILL}/cancel"
    assert pay.query_transfer_bill(BILL).state == "CANCELLED"
    with pytest.raises(ValueError, match="CANCELLED"):
        fake_wechat_pay.confirm_transfer(BILL)  # too late for the user
    with pytest.raises(PayRequestInvalid, match="INVALID_REQUEST"):
        pay.cancel_transfer_bill(BILL)  # already final


def test_a_confirmed_bill_cannot_be_cancelled(fake_wechat_pay, pay):
    transfer(pay)
    fake_wechat_pay.confirm_transfer(BILL)

    with pytest.raises(PayRequestInvalid) as caught:
        pay.cancel_transfer_bill(BILL)

    assert (caught.value.code, caught.value.http_status) == ("INVALID_REQUEST", 400)
    assert pay.query_transfer_bill(BILL).state == "SUCCESS"
    with pytest.raises(PayNotFound):
        pay.cancel_transfer_bill("TB20250520009999")


def test_cancelled_by_the_user(fake_wechat_pay, pay):
    transfer(pay)

    fake_wechat_pay.user_cancel_transfer(BILL)  # refused, or let it lapse

    bill = pay.query_transfer_bill(BILL)
    assert (bill.state, bill.final, bill.succeeded) == ("CANCELLED", True, False)


def test_a_cancel_answer_in_another_state_is_unreadable(fake_wechat_pay, pay, monkeypatch):
    transfer(pay)
    book = fake_wechat_pay._transfers
    monkeypatch.setattr(book, "cancel", lambda no: (200, book.create_json(book.bills[no])))

    with pytest.raises(PayUnavailable, match="cancel answered state WAIT_USER_CONFIRM"):
        pay.cancel_transfer_bill(BILL)


# -- answers that are not what was asked -----------------------------------------------------


@pytest.mark.parametrize("kind", ["transfer_query", "transfer_create"])
@pytest.mark.parametrize("how", FORGERIES)
def test_a_forged_answer_is_refused(fake_wechat_pay, pay, kind, how):
    if kind == "transfer_query":
        transfer(pay)
    fake_wechat_pay.forge_next(kind, how)

    with pytest.raises(PayResponseForged) as caught:
        pay.query_transfer_bill(BILL) if kind == "transfer_query" else transfer(pay)

    assert caught.value.http_status == 200
    assert f"on {TRANSFERS_PATH}" in str(caught.value)


@pytest.mark.parametrize(
    "answer",
    [
        lambda bill: bill | {"out_bill_no": "TB20250520000002"},
        lambda bill: bill | {"mch_id": "1900000001"},
        lambda bill: {key: value for key, value in bill.items() if key != "state"},
        lambda bill: bill | {"transfer_amount": "12345"},
        lambda bill: bill | {"update_time": "yesterday"},
    ],
    ids=["another-bill", "another-merchant", "no-state", "amount-as-text", "bad-time"],
)
def test_an_unreadable_answer_is_unavailable(fake_wechat_pay, pay, monkeypatch, answer):
    transfer(pay)
    book = fake_wechat_pay._transfers
    monkeypatch.setattr(book, "query", lambda no: (200, answer(book.bill_json(book.bills[no]))))

    with pytest.raises(PayUnavailable, match="malformed answer") as caught:
        pay.query_transfer_bill(BILL)

    assert caught.value.verified  # signed by WeChat Pay, yet not what it documents


# -- arguments -----------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["", "T" * 33, "TB-1", "TB_1", "../x", "转账1", "TB 1"])
def test_bad_out_bill_no_is_refused_before_any_request(fake_wechat_pay, pay, number):
    with pytest.raises(ValueError, match="out_bill_no"):
        transfer(pay, number)
    with pytest.raises(ValueError, match="out_bill_no"):
        pay.query_transfer_bill(number)
    with pytest.raises(ValueError, match="out_bill_no"):
        pay.cancel_transfer_bill(number)

    assert fake_wechat_pay.requests == []


def test_arguments_are_checked_before_any_request(fake_wechat_pay, pay):
    with pytest.raises(ValueError, match="remark"):
        transfer(pay, remark="货" * 33)
    with pytest.raises(ValueError, match="remark"):
        transfer(pay, remark="")
    for amount in (0, -1, 12.5, True):
        with pytest.raises(ValueError, match="amount_fen"):
            transfer(pay, amount_fen=amount)
    for name in ("openid", "scene_id", "notify_url"):
        with pytest.raises(ValueError, match=name):
            transfer(pay, **{name: ""})
    assert fake_wechat_pay.requests == []

    assert transfer(pay, "T", remark="货" * 32).state == "WAIT_USER_CONFIRM"  # limits included
    assert transfer(pay, "T" * 32).state == "WAIT_USER_CONFIRM"


def test_optional_fields_are_left_out_when_not_given(fake_wechat_pay, pay):
    transfer(pay, user_recv_perception=None)

    assert "user_recv_perception" not in fake_wechat_pay.requests[-1].json()


# -- the parser ------------------------------------------------------------------------------


def test_parse_transfer_bill_is_strict():
    good = {
        "out_bill_no": BILL,
        "transfer_bill_no": "1330000071100999991182020050700019480001",
        "state": "SUCCESS",
        "mch_id": "1900000109",
        "transfer_amount": 12345,
        "openid": "o-farmer-1",
        "create_time": "2025-05-20T13:29:35+08:00",
        "update_time": "2025-05-20T13:31:00.120+08:00",
    }

    bill = parse_transfer_bill(good)

    assert bill.create_time == datetime(2025, 5, 20, 5, 29, 35, tzinfo=UTC)
    assert bill.update_time is not None and bill.update_time.tzinfo == UTC
    assert replace(bill, state="CANCELING").final is False  # not yet
    assert replace(bill, state="SOMETHING_NEW").final is False  # unknown: keep asking
    for broken in (
        {key: value for key, value in good.items() if key != "out_bill_no"},
        good | {"state": ""},
        good | {"transfer_amount": True},
        good | {"create_time": "2025-05-20 13:29:35"},
        good | {"openid": 7},
    ):
        with pytest.raises(Malformed):
            parse_transfer_bill(broken)


# -- the callback ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("end", "state"),
    [(None, "SUCCESS"), ("fail_transfer", "FAIL"), ("user_cancel_transfer", "CANCELLED")],
)
def test_transfer_notification(fake_wechat_pay, pay, end, state):
    created = transfer(pay)
    if end is not None:
        getattr(fake_wechat_pay, end)(BILL)

    headers, body = fake_wechat_pay.notification(
        "good", event="MCHTRANSFER.BILL.FINISHED", out_bill_no=BILL
    )
    notification = pay.verify_notification(headers, body)

    assert notification.event_type == "MCHTRANSFER.BILL.FINISHED"
    assert notification.resource_type == "encrypt-resource"
    assert notification.summary == "商家转账单据终态通知"
    assert notification.transaction is None and notification.refund is None
    bill = notification.transfer_bill
    assert bill is not None
    assert (bill.out_bill_no, bill.state, bill.final) == (BILL, state, True)
    assert bill.transfer_bill_no == created.transfer_bill_no
    assert (bill.amount_fen, bill.openid, bill.mchid) == (
        12345,
        "o-farmer-1",
        fake_wechat_pay.mchid,
    )
    assert (bill.fail_reason is not None) == (state == "FAIL")
    assert bill.create_time is not None and bill.update_time is not None
    assert pay.query_transfer_bill(BILL).state == state  # the fake's books agree
    envelope = json.loads(body)
    assert envelope["resource"]["original_type"] == "mch_payment"
    assert envelope["resource"]["associated_data"] == "mch_payment"
    assert BILL not in body.decode()  # encrypted, never in clear


def test_a_redelivered_transfer_notification_parses_the_same(fake_wechat_pay, pay):
    transfer(pay)

    first = pay.verify_notification(*fake_wechat_pay.transfer_notification(BILL))
    again = pay.verify_notification(*fake_wechat_pay.transfer_notification(BILL, "duplicate"))

    assert again.id == first.id
    assert again.transfer_bill == first.transfer_bill
    assert again.resource == first.resource


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
def test_bad_transfer_notifications_are_rejected(fake_wechat_pay, pay, kind, reason):
    transfer(pay)
    headers, body = fake_wechat_pay.transfer_notification(BILL, kind)

    with pytest.raises(NotificationRejected) as caught:
        pay.verify_notification(headers, body)

    assert caught.value.reason == reason


@pytest.mark.parametrize("kind", ["wrong_amount", "unknown_order", "wrong_mchid"])
def test_genuine_but_wrong_for_our_bill_is_left_to_the_caller(fake_wechat_pay, pay, kind):
    transfer(pay)
    out_bill_no = None if kind == "unknown_order" else BILL

    notification = pay.verify_notification(
        *fake_wechat_pay.transfer_notification(out_bill_no, kind)
    )
    bill = notification.transfer_bill

    assert bill is not None
    mismatch = {
        "wrong_amount": bill.amount_fen != 12345,
        "unknown_order": bill.out_bill_no != BILL,
        "wrong_mchid": bill.mchid != fake_wechat_pay.mchid,
    }
    assert mismatch[kind]


def test_a_transfer_notification_needs_a_bill(fake_wechat_pay):
    with pytest.raises(ValueError, match="first"):
        fake_wechat_pay.transfer_notification(BILL)
    with pytest.raises(ValueError, match="appid"):
        fake_wechat_pay.transfer_notification(BILL, "wrong_appid")


def test_reset_forgets_transfers(fake_wechat_pay, pay):
    transfer(pay)

    fake_wechat_pay.reset()

    assert fake_wechat_pay.transfers_made() == 0
    assert fake_wechat_pay.transfer_record(BILL) is None
