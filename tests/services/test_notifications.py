"""Notifications after the commit: a log line by default, WeChat subscribe messages when
configured; never an exception to the act that sent them."""

from __future__ import annotations

import logging

import pytest

from models import Order, Refund, ShopOrder, User, db
from services import notifications
from tests.fakes.fixtures import forget_access_token
from tests.fulfilment import Part

SUBSCRIBE_PATH = "/cgi-bin/message/subscribe/send"


@pytest.fixture
def paid(request, shopping):
    """A paid order of one shop, two boxes at ¥45 (or at the price an indirect parameter
    names), dev method: how it was paid does not matter here."""
    offer = shopping.offer(price_fen=getattr(request, "param", 4500))
    buyer, address = shopping.buyer()
    order = shopping.order(buyer, address, [(offer.sku_ids[0], 2)])
    shopping.pay_dev(buyer, order["id"])
    return offer, buyer, order


@pytest.fixture
def by_wechat(app, fake_wechat, monkeypatch):
    """Subscribe messages through the fake WeChat, with every template set; no access token
    left in the app's cache (the fake forgot the one it issued)."""
    settings = {
        "NOTIFICATIONS_BACKEND": "wechat",
        "WECHAT_TMPL_NEW_SHOP_ORDER": "tmpl-new",
        "WECHAT_TMPL_SHIPPED": "tmpl-shipped",
        "WECHAT_TMPL_REFUND": "tmpl-refund",
        "WECHAT_MINIPROGRAM_STATE": "trial",
    }
    for key, value in settings.items():
        monkeypatch.setitem(app.config, key, value)
    forget_access_token(app)
    return fake_wechat


def openid_of(app, person) -> str:
    with app.app_context():
        return db.session.get(User, person.id).openid


def part_of(paid) -> Part:
    offer, buyer, order = paid
    return Part(order["id"], order["shop_orders"][0]["id"], buyer, offer)


def notify_new(app, shop_order_id: int) -> None:
    with app.app_context():
        notifications.notify_new_shop_order(db.session.get(ShopOrder, shop_order_id))
        notifications.wait_for_deliveries()


# --- the acts that tell the buyer ----------------------------------------------------------------
# Through the chain's acts (services/fulfilment.py, by the API): each tells the buyer after its
# commit; the messages it handed to the senders are waited for.


def shipped(chain, part: Part, carrier="SF") -> None:
    """No station in the county: the household accepts and sends the part by carrier."""
    answer = chain.ship_directly(part, carrier=carrier, tracking_no="SF1400000000001")
    assert answer.status_code == 200, answer.json
    notifications.wait_for_deliveries()


def picked_up(chain, part: Part) -> None:
    """Taken in at the village point, passed and handed over at the county centre's counter."""
    network = chain.network()
    chain.through_inspection(network, part)
    answer = chain.pick_up(network, part)
    assert answer.status_code == 200, answer.json
    notifications.wait_for_deliveries()


def rejected(app, chain, part: Part, reason="农户无法发货") -> int:
    """The household rejects the part: refunded (the dev method settles at once); the refund's
    id."""
    answer = chain.post(
        f"/shop-orders/{part.shop_order_id}/reject", part.offer.farmer, {"reason": reason}
    )
    assert answer.status_code == 200, answer.json
    notifications.wait_for_deliveries()
    with app.app_context():
        return db.session.scalar(
            db.select(Refund.id).where(Refund.shop_order_id == part.shop_order_id)
        )


# --- the log backend -----------------------------------------------------------------------------


def test_by_default_each_notification_is_one_log_line_of_ids(app, shopping, chain, caplog):
    # Two shops' parts: a shipped part is never refunded by an act, so the other one is.
    offers = [shopping.offer(), shopping.offer()]
    buyer, address = shopping.buyer()
    order = shopping.order(buyer, address, [(offer.sku_ids[0], 2) for offer in offers])
    shopping.pay_dev(buyer, order["id"])
    sent, refused = chain.parts(order, buyer, offers)

    with caplog.at_level(logging.INFO, logger="services.notifications"):
        notify_new(app, sent.shop_order_id)
        shipped(chain, sent)
        refund_id = rejected(app, chain, refused)

    lines = [r.getMessage() for r in caplog.records if r.name == "services.notifications"]
    part = sent.shop_order_id
    assert lines == [
        f"notification new_shop_order to user {sent.offer.farmer.id}: shop_order {part}",
        f"notification shipped to user {buyer.id}: shop_order {part}",
        f"notification refund to user {buyer.id}: refund {refund_id}",
    ]
    for line in lines:  # ids only: no names, phones, addresses or openids
        assert "张三" not in line and "1380552" not in line and "openid" not in line


def test_the_log_backend_never_calls_wechat(app, paid, fake_wechat):
    notify_new(app, paid[2]["shop_orders"][0]["id"])

    assert fake_wechat.calls(SUBSCRIBE_PATH) == 0


# --- the WeChat backend --------------------------------------------------------------------------


def test_every_household_member_hears_of_a_new_shop_order(app, paid, world, by_wechat):
    offer, _, order = paid
    with app.app_context():
        household_id = db.session.get(ShopOrder, order["shop_orders"][0]["id"]).household_id
        trade_no = db.session.get(Order, order["id"]).out_trade_no
    second = world.farmer(household_id)

    notify_new(app, order["shop_orders"][0]["id"])

    messages = by_wechat.subscribe_messages
    assert sorted(m["touser"] for m in messages) == sorted(
        [openid_of(app, offer.farmer), openid_of(app, second)]
    )
    part = order["shop_orders"][0]["id"]
    assert messages[0]["template_id"] == "tmpl-new"
    assert messages[0]["page"] == f"pages/shop-order/detail?id={part}"
    assert messages[0]["miniprogram_state"] == "trial"
    assert messages[0]["data"] == {
        "character_string1": {"value": trade_no},
        "thing2": {"value": "散养土鸡蛋"},
        "amount3": {"value": f"¥{order['total_fen'] // 100}.{order['total_fen'] % 100:02d}"},
    }


def test_a_member_who_did_not_subscribe_is_skipped_quietly(app, paid, world, by_wechat, caplog):
    offer, _, order = paid
    by_wechat.unsubscribe(openid_of(app, offer.farmer))

    with caplog.at_level(logging.INFO, logger="services.notifications"):
        notify_new(app, order["shop_orders"][0]["id"])

    assert by_wechat.subscribe_messages == []
    assert by_wechat.calls(SUBSCRIBE_PATH) == 1
    assert any("not subscribed" in r.getMessage() for r in caplog.records)


def test_the_buyer_hears_the_carrier_and_tracking_number(app, paid, chain, by_wechat):
    _, buyer, order = paid

    shipped(chain, part_of(paid))

    [message] = by_wechat.subscribe_messages
    assert message["touser"] == openid_of(app, buyer)
    assert message["template_id"] == "tmpl-shipped"
    assert message["page"] == f"pages/order/detail?id={order['id']}"
    assert message["data"]["thing2"] == {"value": "顺丰速运"}
    assert message["data"]["character_string3"] == {"value": "SF1400000000001"}


def test_a_pickup_says_so(app, paid, chain, by_wechat):
    picked_up(chain, part_of(paid))

    [message] = by_wechat.subscribe_messages
    assert message["data"]["thing2"] == {"value": "到站自提"}


@pytest.mark.parametrize("paid", [625], indirect=True)  # two boxes at ¥6.25
def test_the_buyer_hears_of_a_refund(app, paid, chain, by_wechat):
    _, buyer, order = paid

    rejected(app, chain, part_of(paid), reason="农户无法发货")

    [message] = by_wechat.subscribe_messages
    assert message["touser"] == openid_of(app, buyer)
    assert message["data"]["amount2"] == {"value": "¥12.50"}
    assert message["data"]["thing3"] == {"value": "农户无法发货"}


def test_a_template_not_set_sends_nothing(app, paid, chain, by_wechat, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_TMPL_SHIPPED", "")

    shipped(chain, part_of(paid))

    assert by_wechat.calls(SUBSCRIBE_PATH) == 0


@pytest.mark.parametrize("trouble", ["http_500", "errcode_47003", "errcode_40037", "crash"])
def test_no_trouble_reaches_the_act(app, paid, chain, by_wechat, monkeypatch, caplog, trouble):
    if trouble == "http_500":
        by_wechat.fail_next_http(500, path=SUBSCRIBE_PATH)
    elif trouble.startswith("errcode_"):
        errcode = int(trouble.removeprefix("errcode_"))
        by_wechat.fail_next(
            errcode, "argument invalid! data.thing2.value invalid", path=SUBSCRIBE_PATH
        )
    else:

        def broken():
            raise RuntimeError("a bug")

        monkeypatch.setattr(notifications, "wechat_client", broken)

    with caplog.at_level(logging.WARNING):
        shipped(chain, part_of(paid))  # the act answers 200

    assert by_wechat.subscribe_messages == []
    assert any(r.levelno >= logging.WARNING for r in caplog.records)
    if trouble == "errcode_47003":
        assert any("data.thing2.value invalid" in r.getMessage() for r in caplog.records)


def test_a_part_without_a_parcel_sends_nothing(app, paid, by_wechat):
    with app.app_context():
        notifications.notify_shipped(db.session.get(ShopOrder, paid[2]["shop_orders"][0]["id"]))
        notifications.wait_for_deliveries()

    assert by_wechat.calls(SUBSCRIBE_PATH) == 0
