"""upload_shipping_info and subscribe messages: MiniProgramClient against the loopback fake
WeChat, and the value rules of subscribe messages as a pure function."""

from __future__ import annotations

import json
import logging
import time

import pytest

from tests.fakes import FakeWeChat
from tests.fakes.wechat_server import SHIPPING_PATH, SUBSCRIBE_PATH
from tests.wechat.conftest import make_client
from wechat import AccessTokenInvalid, InvalidOpenId, WeChatBusy, WeChatError, WeChatUnavailable
from wechat.client import SHIPPING_ALREADY_UPLOADED, fit_subscribe_value, subscribe_amount

TEN = "一二三四五六七八九十"
LONG_TITLE = "桂兰家的散养土鸡蛋三十枚装林下散养每天现捡新鲜"


def shipping_body(**overrides) -> dict:
    return {
        "order_key": {"order_number_type": 2, "transaction_id": "4200000000202612150000000001"},
        "logistics_type": 1,
        "delivery_mode": 1,
        "shipping_list": [
            {
                "tracking_no": "SF1234567890",
                "express_company": "SF",
                "item_desc": "散养土鸡蛋",
                "contact": {"receiver_contact": "138****0001"},
            }
        ],
        "upload_time": "2026-12-15T13:29:35.120+08:00",
        "payer": {"openid": "o-buyer-1"},
    } | overrides


# -- upload_shipping_info ------------------------------------------------------------------


def test_upload_shipping_info_is_recorded(fake_wechat, client):
    body = shipping_body()

    assert client.upload_shipping_info(body) is None

    assert fake_wechat.shipping_uploads == [body]
    method, path, query = fake_wechat.requests[-1]
    assert (method, path) == ("POST", SHIPPING_PATH)
    assert query["access_token"].startswith("fake-at-")


def test_a_second_upload_for_one_payment_is_refused(fake_wechat, client):
    client.upload_shipping_info(shipping_body())

    with pytest.raises(WeChatError) as info:
        client.upload_shipping_info(shipping_body(upload_time="2026-12-16T09:00:00.000+08:00"))

    assert info.value.errcode in SHIPPING_ALREADY_UPLOADED
    assert len(fake_wechat.shipping_uploads) == 1


def test_the_same_payment_by_merchant_number_is_another_key(fake_wechat, client):
    by_mch = {"order_number_type": 1, "mchid": "1900000109", "out_trade_no": "NJ000000000001"}
    client.upload_shipping_info(shipping_body())
    client.upload_shipping_info(shipping_body(order_key=by_mch))

    assert [u["order_key"]["order_number_type"] for u in fake_wechat.shipping_uploads] == [2, 1]


@pytest.mark.parametrize(
    ("overrides", "errcode"),
    [
        ({"order_key": {"order_number_type": 1, "out_trade_no": "NJ1"}}, 268485196),
        ({"order_key": {"order_number_type": 2}}, 268485195),
        ({"order_key": {"order_number_type": 3}}, 268485194),
        ({"logistics_type": 9}, 10060005),
        ({"delivery_mode": 2}, 10060007),
        ({"logistics_type": 4, "delivery_mode": 2, "is_all_delivered": True}, 10060006),
        ({"shipping_list": [{"item_desc": "鸡蛋"}]}, 268485226),
        (
            {"shipping_list": [{"tracking_no": "1", "express_company": "SF", "item_desc": "x"}]},
            10060014,
        ),
        (
            {"shipping_list": [{"tracking_no": "1", "express_company": "YTO", "item_desc": ""}]},
            10060008,
        ),
        ({"upload_time": "2026-12-15 13:29:35"}, 268485216),
    ],
    ids=[
        "mchid-missing",
        "transaction-id-missing",
        "bad-number-type",
        "bad-logistics-type",
        "split-without-is-all-delivered",
        "pickup-split",
        "express-without-tracking",
        "sf-without-contact",
        "empty-item-desc",
        "naive-upload-time",
    ],
)
def test_the_fake_checks_the_body_like_wechat(fake_wechat, client, overrides, errcode):
    with pytest.raises(WeChatError) as info:
        client.upload_shipping_info(shipping_body(**overrides))

    assert info.value.errcode == errcode
    assert fake_wechat.shipping_uploads == []


def test_unified_delivery_takes_one_item_and_split_at_most_fifteen(fake_wechat, client):
    item = {"tracking_no": "YT1", "express_company": "YTO", "item_desc": "鸡蛋"}
    with pytest.raises(WeChatError) as two:
        client.upload_shipping_info(shipping_body(shipping_list=[item, item]))
    with pytest.raises(WeChatError) as sixteen:
        client.upload_shipping_info(
            shipping_body(delivery_mode=2, is_all_delivered=True, shipping_list=[item] * 16)
        )

    assert (two.value.errcode, sixteen.value.errcode) == (268485228, 10060024)


def test_an_unmasked_contact_is_refused(fake_wechat, client):
    item = shipping_body()["shipping_list"][0] | {"contact": {"receiver_contact": "13805520001"}}

    with pytest.raises(WeChatError):
        client.upload_shipping_info(shipping_body(shipping_list=[item]))


def test_shipping_failures_are_injected_and_mapped(fake_wechat, client):
    fake_wechat.fail_next_shipping(10060001, times=1)
    with pytest.raises(WeChatError) as unknown:
        client.upload_shipping_info(shipping_body())
    fake_wechat.fail_next_shipping(-1, times=2)  # busy, retried once, busy again
    with pytest.raises(WeChatBusy):
        client.upload_shipping_info(shipping_body())
    fake_wechat.fail_next_shipping(http_status=500)
    with pytest.raises(WeChatUnavailable):
        client.upload_shipping_info(shipping_body())

    assert unknown.value.errcode == 10060001
    assert fake_wechat.shipping_uploads == []
    client.upload_shipping_info(shipping_body())  # nothing left queued
    assert len(fake_wechat.shipping_uploads) == 1


def test_a_hanging_upload_times_out(fake_wechat):
    client = make_client(fake_wechat, timeout=0.3)
    client.access_token()  # the token fetch is not the call that hangs
    fake_wechat.hang_next_shipping(1.0)

    with pytest.raises(WeChatUnavailable):
        client.upload_shipping_info(shipping_body())
    # The request reached WeChat all the same: the outcome of a timeout is unknown.
    deadline = time.monotonic() + 5
    while not fake_wechat.shipping_uploads and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(fake_wechat.shipping_uploads) == 1


def test_an_expired_token_is_fetched_again_once(fake_wechat, client):
    client.access_token()
    fake_wechat.expire_tokens()

    client.upload_shipping_info(shipping_body())

    assert fake_wechat.calls(SHIPPING_PATH) == 2
    assert fake_wechat.calls("/cgi-bin/stable_token") == 2


def test_shipping_without_a_valid_token_is_refused(fake_wechat):
    response = _raw_post(fake_wechat, SHIPPING_PATH, shipping_body(), token="forged")

    assert response["errcode"] == 40001
    assert fake_wechat.shipping_uploads == []


# -- subscribe messages --------------------------------------------------------------------


def test_subscribe_message_is_sent_with_values_wrapped(fake_wechat, client):
    sent = client.send_subscribe_message(
        touser="o-buyer-1",
        template_id="tmpl-shipped",
        data={"character_string1": "NJ000000000042", "thing2": "顺丰速运", "amount3": "¥12.50"},
        page="pages/order/detail?id=42",
        miniprogram_state="trial",
    )

    assert sent is True
    [message] = fake_wechat.subscribe_messages
    assert message == {
        "touser": "o-buyer-1",
        "template_id": "tmpl-shipped",
        "miniprogram_state": "trial",
        "lang": "zh_CN",
        "page": "pages/order/detail?id=42",
        "data": {
            "character_string1": {"value": "NJ000000000042"},
            "thing2": {"value": "顺丰速运"},
            "amount3": {"value": "¥12.50"},
        },
    }
    assert fake_wechat.requests[-1][1] == SUBSCRIBE_PATH


def test_subscribe_message_without_page_sends_none(fake_wechat, client):
    client.send_subscribe_message(touser="o-1", template_id="t", data={"thing1": "到了"})

    assert "page" not in fake_wechat.subscribe_messages[0]


def test_an_unsubscribed_user_is_not_an_error(fake_wechat, client):
    fake_wechat.unsubscribe("o-refuser")

    sent = client.send_subscribe_message(
        touser="o-refuser", template_id="t", data={"thing1": "到了"}
    )

    assert sent is False
    assert fake_wechat.subscribe_messages == []


def test_long_values_are_cut_before_sending(fake_wechat, client):
    client.send_subscribe_message(
        touser="o-1",
        template_id="t",
        data={
            "thing1": LONG_TITLE,
            "character_string2": "单号 NJ-1",
        },
    )

    data = fake_wechat.subscribe_messages[0]["data"]
    assert len(data["thing1"]["value"]) == 20 and data["thing1"]["value"].endswith("…")
    assert data["character_string2"]["value"] == "NJ-1"


def test_a_value_that_cannot_be_fitted_is_not_sent(fake_wechat, client):
    with pytest.raises(ValueError):
        client.send_subscribe_message(touser="o-1", template_id="t", data={"amount1": "十二元"})

    assert fake_wechat.calls(SUBSCRIBE_PATH) == 0


def test_47003_is_logged_and_raised(fake_wechat, client, caplog):
    fake_wechat.fail_next(47003, "argument invalid! data.thing2.value invalid", path=SUBSCRIBE_PATH)

    with caplog.at_level(logging.ERROR, logger="wechat.client"), pytest.raises(WeChatError) as info:
        client.send_subscribe_message(touser="o-1", template_id="t", data={"thing2": "x"})

    assert info.value.errcode == 47003
    assert any("data.thing2.value invalid" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("errcode", "exc_type"),
    [(40003, InvalidOpenId), (40037, WeChatError), (41030, WeChatError), (45009, WeChatError)],
)
def test_subscribe_errcodes_raise(fake_wechat, client, errcode, exc_type):
    fake_wechat.fail_next(errcode, path=SUBSCRIBE_PATH)

    with pytest.raises(exc_type) as info:
        client.send_subscribe_message(touser="o-1", template_id="t", data={"thing1": "x"})

    assert info.value.errcode == errcode


def test_the_fake_refuses_what_wechat_refuses(fake_wechat):
    client = make_client(fake_wechat)
    token = client.access_token()
    good = {"touser": "o-1", "template_id": "t", "data": {"thing1": {"value": "x"}}}
    too_long = {"thing1": {"value": "x" * 21}}

    answers = [
        _raw_post(fake_wechat, SUBSCRIBE_PATH, good | {"touser": ""}, token=token),
        _raw_post(fake_wechat, SUBSCRIBE_PATH, good | {"template_id": ""}, token=token),
        _raw_post(fake_wechat, SUBSCRIBE_PATH, good | {"lang": "fr"}, token=token),
        _raw_post(fake_wechat, SUBSCRIBE_PATH, good | {"data": too_long}, token=token),
        _raw_post(fake_wechat, SUBSCRIBE_PATH, good, token="forged"),
    ]

    assert [a["errcode"] for a in answers] == [40003, 40037, 47003, 47003, 40001]
    assert "data.thing1.value" in answers[3]["errmsg"]
    assert fake_wechat.subscribe_messages == []


def test_reset_forgets_uploads_messages_and_unsubscriptions(fake_wechat, client):
    client.upload_shipping_info(shipping_body())
    fake_wechat.unsubscribe("o-1")
    fake_wechat.reset()

    assert fake_wechat.shipping_uploads == [] and fake_wechat.subscribe_messages == []
    fresh = make_client(fake_wechat)
    assert fresh.send_subscribe_message(touser="o-1", template_id="t", data={"thing1": "x"})
    fresh.upload_shipping_info(shipping_body())  # the payment is unknown again


def test_token_refusal_is_raised_after_one_retry(fake_wechat, client):
    fake_wechat.fail_next(40001, times=2, path=SUBSCRIBE_PATH)

    with pytest.raises(AccessTokenInvalid):
        client.send_subscribe_message(touser="o-1", template_id="t", data={"thing1": "x"})


# -- the value rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "fitted"),
    [
        ("thing1", "散养土鸡蛋", "散养土鸡蛋"),
        (
            "thing2",
            "一二三四五六七八九十一二三四五六七八九十",
            "一二三四五六七八九十一二三四五六七八九十",
        ),
        (
            "thing2",
            "一二三四五六七八九十一二三四五六七八九十多",
            "一二三四五六七八九十一二三四五六七八九…",
        ),
        ("thing3", "  两行\n文字  ", "两行 文字"),
        ("thing4", "", "-"),
        ("character_string1", "NJ000000000042", "NJ000000000042"),
        ("character_string2", "订单 NJ-42#", "NJ-42#"),
        ("character_string3", "A" * 40, "A" * 32),
        ("amount1", "¥12.50", "¥12.50"),
        ("amount2", "12.50", "¥12.50"),
        ("amount3", "￥1,234.5元", "¥1234.5元"),
        ("phrase1", "配送中", "配送中"),
        ("phrase2", "已发货了呀哈哈", "已发货了呀"),
        ("phrase3", "OK 已签收", "已签收"),
        ("name1", "李桂兰", "李桂兰"),
        ("name2", "欧阳一二三四五六七八九", "欧阳一二三四五六七八"),
        ("name3", "Li Guilan", "Li Guilan"),
        ("number1", "12.5", "12.5"),
        ("phone_number1", "138-0552-0001", "138-0552-0001"),
        ("time1", "2026年12月15日 13:29", "2026年12月15日 13:29"),
        ("date2", "2026-12-15", "2026-12-15"),
        ("time3", "2026-12-15 08:00~12:00", "2026-12-15 08:00~12:00"),
        ("letter1", "abc123", "abc"),
        ("car_number1", "皖C12345X9", "皖C12345X"),
        ("symbol1", "#", "#"),
        ("enum1", "whatever", "whatever"),
    ],
)
def test_values_are_fitted_to_their_keyword(key, value, fitted):
    assert fit_subscribe_value(key, value) == fitted


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("amount1", "十二元"),
        ("amount1", "¥12345678901"),
        ("amount1", "¥12.345"),
        ("number1", "12a"),
        ("number1", "1" * 33),
        ("phone_number1", "1380552000112345678"),
        ("phone_number1", "电话138"),
        ("phrase1", "OK"),
        ("time1", "明天上午"),
        ("date1", ""),
        ("letter1", "123"),
        ("symbol1", "abc"),
    ],
)
def test_values_that_cannot_be_fitted_are_refused(key, value):
    with pytest.raises(ValueError):
        fit_subscribe_value(key, value)


def test_fitted_values_pass_the_fakes_rules(fake_wechat, client):
    data = {
        "thing1": LONG_TITLE,
        "character_string2": "订单号：NJ000000000042（请保存）",
        "amount3": "1,234.50",
        "phrase4": "已发货（顺丰）",
        "name5": "欧阳一二三四五六七八九",
    }

    assert client.send_subscribe_message(touser="o-1", template_id="t", data=data)


@pytest.mark.parametrize(("fen", "text"), [(0, "¥0.00"), (5, "¥0.05"), (1250, "¥12.50")])
def test_subscribe_amount(fen, text):
    assert subscribe_amount(fen) == text


def _raw_post(fake: FakeWeChat, path: str, body: dict, *, token: str) -> dict:
    import requests

    answer = requests.post(
        fake.base_url + path,
        params={"access_token": token},
        data=json.dumps(body, ensure_ascii=False).encode(),
        timeout=5,
    )
    return json.loads(answer.content)
