"""Payouts by WeChat 商家转账 against the fake WeChat Pay: the request and its answer, how a
bill ends (notification or ``flask payouts poll``), forged and repeated notifications, unclear
answers kept under the same bill number, the payee's name from ¥2,000, the daily cap, the
balance and the Idempotency-Key, who may ask and who may read. After everything that moves
money the ledger's own check finds no difference."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from models import (
    IdempotencyKey,
    LedgerTransaction,
    PaymentAnomaly,
    Payout,
    User,
    db,
)
from models.base import utcnow
from models.enums import ConsentPurpose
from tests.factories import SANGZHI, assert_error
from tests.money import Money
from tests.shopping import API

TRANSFER_NOTIFY = f"{API}/payments/wechat/transfer-notify"


@pytest.fixture
def money(chain, network):
    return Money(chain, network)


@pytest.fixture
def sold(pay, money):
    """A household with ¥90 available (WeChat Pay on): (its farmer, its id)."""
    part, household = money.sold(price_fen=4500, quantity=2)
    return part.offer.farmer, household


def openid_of(app, person) -> str:
    with app.app_context():
        return db.session.get(User, person.id).openid


def notify(client, pay, out_bill_no: str, kind: str = "good"):
    headers, body = pay.transfer_notification(out_bill_no, kind)
    return client.post(TRANSFER_NOTIFY, data=body, headers=headers)


def poll(app) -> str:
    """``flask payouts poll`` run a few minutes after the bills were last touched."""
    with app.app_context():
        db.session.execute(update(Payout).values(updated_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["payouts", "poll"])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def payout(client, person, payout_id: int) -> dict:
    answer = client.get(f"{API}/payouts/{payout_id}", headers=person.headers)
    assert answer.status_code == 200, answer.json
    return answer.json


def creates(pay) -> list[dict]:
    return [r.json() for r in pay.requests if r.kind == "transfer_create"]


def kinds(pay) -> list[str]:
    return [r.kind for r in pay.requests if r.kind and r.kind.startswith("transfer")]


def balance_of(money, person, household) -> tuple[int, int, int, int]:
    b = money.balance(person, household)
    return b["pending_fen"], b["available_fen"], b["in_flight_fen"], b["paid_out_fen"]


def provider_check(app):
    """``flask ledger check``, WeChat asked about every open and recent bill."""
    return app.test_cli_runner().invoke(args=["ledger", "check"])


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


# --- asking ----------------------------------------------------------------------------------


def test_a_transfer_waits_for_the_farmer_with_what_the_mini_program_needs(app, pay, money, sold):
    farmer, household = sold
    asked = money.ask_payout(farmer, household, 5000, "wechat_transfer")
    assert asked.status_code == 201, asked.json
    body = asked.json
    assert body["state"] == "wait_user_confirm"
    assert (body["amount_fen"], body["requested_fen"]) == (5000, 5000)
    assert (body["household_id"], body["channel"]) == (household, "wechat_transfer")
    assert body["out_bill_no"] == f"NJP{body['id']:012d}"
    assert body["package_info"]
    assert body["confirm_params"] == {
        "mchId": pay.mchid,
        "appId": pay.appid,
        "package": body["package_info"],
        "openId": openid_of(app, farmer),
    }
    [sent] = creates(pay)
    assert sent["out_bill_no"] == body["out_bill_no"]
    assert sent["openid"] == openid_of(app, farmer)
    assert sent["transfer_amount"] == 5000
    assert sent["appid"] == pay.appid
    assert sent["notify_url"] == "https://nongjia.test/api/v1/payments/wechat/transfer-notify"
    assert sent["transfer_scene_id"] == app.config["WECHATPAY_TRANSFER_SCENE_ID"]
    assert sent["transfer_scene_report_infos"] == json.loads(
        app.config["WECHATPAY_TRANSFER_REPORT_INFOS"]
    )
    assert "user_name" not in sent
    assert pay.transfer_record(body["out_bill_no"])["state"] == "WAIT_USER_CONFIRM"
    assert balance_of(money, farmer, household) == (0, 4000, 5000, 0)
    assert money.differences() == []


def test_the_money_goes_to_the_member_who_asks(app, world, pay, money, sold):
    farmer, household = sold
    spouse = world.farmer(household)
    asked = money.ask_payout(spouse, household, 3000, "wechat_transfer")
    assert asked.status_code == 201, asked.json
    assert creates(pay)[0]["openid"] == openid_of(app, spouse)
    assert asked.json["confirm_params"]["openId"] == openid_of(app, spouse)


@pytest.mark.parametrize("how", ["notification", "poll"])
def test_a_transfer_the_farmer_confirms_is_paid_out(app, client, pay, money, sold, how):
    farmer, household = sold
    asked = money.ask_payout(farmer, household, 5000, "wechat_transfer").json
    if how == "notification":
        told = notify(client, pay, asked["out_bill_no"])
        assert (told.status_code, told.json["code"]) == (200, "SUCCESS")
    else:
        pay.confirm_transfer(asked["out_bill_no"])
        assert poll(app) == "checked 1 transfer(s); 0 still open"
    done = payout(client, farmer, asked["id"])
    assert done["state"] == "success"
    assert done["provider_state"] == "SUCCESS"
    assert done["settled_at"] is not None
    assert done["package_info"] is None and done["confirm_params"] is None
    assert balance_of(money, farmer, household) == (0, 4000, 0, 5000)
    assert money.differences() == []
    checked = provider_check(app)
    assert (checked.exit_code, checked.output.strip()) == (0, "ledger ok")


@pytest.mark.parametrize("how", ["notification", "poll"])
@pytest.mark.parametrize(
    ("end", "state", "reason"),
    [("fail", "failed", "NAME_NOT_CORRECT"), ("cancel", "cancelled", "")],
)
def test_a_transfer_that_fails_or_is_refused_gives_the_money_back(
    app, client, pay, money, sold, how, end, state, reason
):
    farmer, household = sold
    asked = money.ask_payout(farmer, household, 5000, "wechat_transfer").json
    if end == "fail":
        pay.fail_transfer(asked["out_bill_no"], reason)
    else:
        pay.user_cancel_transfer(asked["out_bill_no"])
    if how == "notification":
        assert notify(client, pay, asked["out_bill_no"]).status_code == 200
    else:
        assert poll(app) == "checked 1 transfer(s); 0 still open"
    done = payout(client, farmer, asked["id"])
    assert done["state"] == state
    assert done["fail_reason"] == reason
    assert done["settled_at"] is None
    assert balance_of(money, farmer, household) == (0, 9000, 0, 0)
    with app.app_context():
        causes = set(
            db.session.scalars(
                select(LedgerTransaction.cause).where(LedgerTransaction.payout_id == asked["id"])
            )
        )
    assert causes == {f"payout:{asked['id']}:sent", f"payout:{asked['id']}:reversed"}
    assert money.differences() == []
    again = money.ask_payout(farmer, household, 9000, "wechat_transfer")  # all of it, again
    assert again.status_code == 201, again.json
    assert money.differences() == []


def test_a_repeated_notification_changes_nothing(app, client, pay, money, sold):
    farmer, household = sold
    asked = money.ask_payout(farmer, household, 5000, "wechat_transfer").json
    assert notify(client, pay, asked["out_bill_no"]).status_code == 200
    entries = count(app, LedgerTransaction)
    for _ in range(2):
        again = notify(client, pay, asked["out_bill_no"], "duplicate")
        assert (again.status_code, again.json["code"]) == (200, "SUCCESS")
    assert poll(app) == "checked 0 transfer(s); 0 still open"
    assert count(app, LedgerTransaction) == entries
    assert count(app, PaymentAnomaly) == 0
    assert payout(client, farmer, asked["id"])["state"] == "success"
    assert balance_of(money, farmer, household) == (0, 4000, 0, 5000)
    assert money.differences() == []


@pytest.mark.parametrize("kind", ["bad_signature", "wrong_serial", "stale", "unsigned"])
def test_a_forged_notification_is_refused_and_changes_nothing(app, client, pay, money, sold, kind):
    farmer, household = sold
    asked = money.ask_payout(farmer, household, 5000, "wechat_transfer").json
    if kind == "unsigned":
        _, body = pay.transfer_notification(asked["out_bill_no"])
        told = client.post(TRANSFER_NOTIFY, data=body, headers={"Content-Type": "application/json"})
    else:
        told = notify(client, pay, asked["out_bill_no"], kind)
    assert told.status_code == 401
    assert told.json["code"] == "FAIL"
    assert payout(client, farmer, asked["id"])["state"] == "wait_user_confirm"
    assert balance_of(money, farmer, household) == (0, 4000, 5000, 0)
    assert count(app, PaymentAnomaly) == 0
    assert money.differences() == []
    # The fake's bill did end (SUCCESS): asking WeChat shows the difference, the poll mends it.
    checked = provider_check(app)
    assert checked.exit_code == 1
    assert checked.output.splitlines() == [
        f"payout_provider {asked['out_bill_no']}: expected SUCCESS, got wait_user_confirm"
    ]
    poll(app)
    assert payout(client, farmer, asked["id"])["state"] == "success"
    assert money.differences() == []


@pytest.mark.parametrize(
    ("kind", "anomaly"),
    [("wrong_amount", "payout_amount_mismatch"), ("wrong_mchid", "wrong_merchant")],
)
def test_a_genuine_notification_that_does_not_fit_the_bill_is_recorded_not_applied(
    app, client, pay, money, sold, kind, anomaly
):
    farmer, household = sold
    asked = money.ask_payout(farmer, household, 5000, "wechat_transfer").json
    assert notify(client, pay, asked["out_bill_no"], kind).status_code == 200
    assert payout(client, farmer, asked["id"])["state"] == "wait_user_confirm"
    with app.app_context():
        assert [a.kind for a in db.session.scalars(select(PaymentAnomaly))] == [anomaly]
    assert balance_of(money, farmer, household) == (0, 4000, 5000, 0)
    assert money.differences() == []


def test_a_notification_for_an_unknown_bill_is_recorded(app, client, pay):
    headers, body = pay.transfer_notification(None, "unknown_order")
    assert client.post(TRANSFER_NOTIFY, data=body, headers=headers).status_code == 200
    with app.app_context():
        assert [a.kind for a in db.session.scalars(select(PaymentAnomaly))] == ["unknown_payout"]


# --- unclear answers -------------------------------------------------------------------------


def _lose_the_answer(pay, monkeypatch, app, how: str, processed: bool) -> None:
    if how == "system_error":
        pay.fail_next("transfer_create", 500, "SYSTEM_ERROR", processed=processed)
    else:
        monkeypatch.setitem(app.config, "WECHAT_TIMEOUT", 0.5)
        pay.hang_next("transfer_create", 1.5, processed=processed)


@pytest.mark.parametrize("how", ["system_error", "timeout"])
def test_an_unclear_answer_keeps_the_bill_number_and_the_poll_asks_first(
    app, client, pay, money, sold, monkeypatch, how
):
    farmer, household = sold
    _lose_the_answer(pay, monkeypatch, app, how, processed=True)
    asked = money.ask_payout(farmer, household, 5000, "wechat_transfer")
    assert asked.status_code == 202, asked.json
    assert asked.json["state"] == "unclear"
    number = asked.json["out_bill_no"]
    assert number == f"NJP{asked.json['id']:012d}"
    assert asked.json["package_info"] is None and asked.json["confirm_params"] is None
    assert pay.transfers_made() == 1  # WeChat made it; the answer was lost
    assert balance_of(money, farmer, household) == (0, 4000, 5000, 0)
    assert money.differences() == []
    monkeypatch.setitem(app.config, "WECHAT_TIMEOUT", 2.0)
    assert poll(app) == "checked 1 transfer(s); 1 still open"  # now waiting for the farmer
    assert kinds(pay) == ["transfer_create", "transfer_query", "transfer_create"]
    assert {c["out_bill_no"] for c in creates(pay)} == {number}
    assert pay.transfers_made() == 1
    waiting = payout(client, farmer, asked.json["id"])
    assert waiting["state"] == "wait_user_confirm"
    assert waiting["out_bill_no"] == number
    assert waiting["confirm_params"]["package"] == waiting["package_info"]
    assert notify(client, pay, number).status_code == 200
    assert payout(client, farmer, asked.json["id"])["state"] == "success"
    assert balance_of(money, farmer, household) == (0, 4000, 0, 5000)
    assert money.differences() == []


def test_a_notification_settles_an_unclear_payout_without_a_poll(app, client, pay, money, sold):
    farmer, household = sold
    pay.fail_next("transfer_create", 500, "SYSTEM_ERROR", processed=True)
    asked = money.ask_payout(farmer, household, 5000, "wechat_transfer")
    assert asked.json["state"] == "unclear"
    assert notify(client, pay, asked.json["out_bill_no"]).status_code == 200  # the farmer took it
    done = payout(client, farmer, asked.json["id"])
    assert (done["state"], done["out_bill_no"]) == ("success", asked.json["out_bill_no"])
    assert balance_of(money, farmer, household) == (0, 4000, 0, 5000)
    assert poll(app) == "checked 0 transfer(s); 0 still open"
    assert len(creates(pay)) == 1 and pay.transfers_made() == 1
    assert money.differences() == []


@pytest.mark.parametrize("how", ["system_error", "timeout"])
def test_an_unclear_answer_before_wechat_made_the_bill_is_sent_again_with_its_number(
    app, client, pay, money, sold, monkeypatch, how
):
    farmer, household = sold
    _lose_the_answer(pay, monkeypatch, app, how, processed=False)
    asked = money.ask_payout(farmer, household, 5000, "wechat_transfer")
    assert asked.status_code == 202, asked.json
    number = asked.json["out_bill_no"]
    assert pay.transfers_made() == 0
    monkeypatch.setitem(app.config, "WECHAT_TIMEOUT", 2.0)
    checked = provider_check(app)  # no bill at WeChat yet: to be sent again, not a difference
    assert (checked.exit_code, checked.output.strip()) == (0, "ledger ok")
    poll(app)
    assert kinds(pay)[-2:] == ["transfer_query", "transfer_create"]
    assert {c["out_bill_no"] for c in creates(pay)} == {number}
    assert pay.transfers_made() == 1
    assert pay.transfer_record(number)["transfer_amount"] == 5000
    assert payout(client, farmer, asked.json["id"])["state"] == "wait_user_confirm"
    pay.confirm_transfer(number)
    poll(app)
    assert payout(client, farmer, asked.json["id"])["state"] == "success"
    assert money.differences() == []


def test_a_definite_refusal_fails_the_payout_and_gives_the_money_back(
    app, client, pay, money, sold
):
    farmer, household = sold
    pay.fail_next("transfer_create", 400, "INVALID_REQUEST")
    asked = money.ask_payout(farmer, household, 5000, "wechat_transfer")
    assert asked.status_code == 201, asked.json
    assert asked.json["state"] == "failed"
    assert "INVALID_REQUEST" in asked.json["fail_reason"]
    assert balance_of(money, farmer, household) == (0, 9000, 0, 0)
    assert poll(app) == "checked 0 transfer(s); 0 still open"
    assert pay.transfers_made() == 0
    assert money.differences() == []
    checked = provider_check(app)  # WeChat has no such bill: it agrees with "failed"
    assert (checked.exit_code, checked.output.strip()) == (0, "ledger ok")


def test_not_enough_merchant_balance_is_retried_later_with_the_same_number(
    app, client, pay, money, sold
):
    farmer, household = sold
    pay.fail_next("transfer_create", 403, "NOT_ENOUGH", times=2)
    asked = money.ask_payout(farmer, household, 5000, "wechat_transfer")
    assert asked.status_code == 202, asked.json
    assert asked.json["state"] == "unclear"
    number = asked.json["out_bill_no"]
    assert balance_of(money, farmer, household) == (0, 4000, 5000, 0)  # set aside meanwhile
    assert poll(app) == "checked 1 transfer(s); 1 still open"  # still not enough
    assert payout(client, farmer, asked.json["id"])["state"] == "unclear"
    assert poll(app) == "checked 1 transfer(s); 1 still open"  # topped up: waiting for the farmer
    assert payout(client, farmer, asked.json["id"])["state"] == "wait_user_confirm"
    assert [c["out_bill_no"] for c in creates(pay)] == [number] * 3
    assert pay.transfers_made() == 1
    assert money.differences() == []


# --- the payee's name, the daily cap, the balance --------------------------------------------


@pytest.mark.parametrize(("amount", "name"), [(200_000, "李桂兰"), (199_999, None)])
def test_the_household_heads_name_goes_with_transfers_from_2000_yuan(app, pay, money, amount, name):
    part, household = money.sold(price_fen=125_000, quantity=2)
    asked = money.ask_payout(part.offer.farmer, household, amount, "wechat_transfer")
    assert asked.status_code == 201, asked.json
    assert pay.transfer_user_name(asked.json["out_bill_no"]) == name
    [request] = [r for r in pay.requests if r.kind == "transfer_create"]
    assert "李桂兰".encode() not in request.body  # encrypted, never in clear
    if name:
        assert request.headers["Wechatpay-Serial"] == pay.public_key_id
    assert money.differences() == []


def test_the_daily_cap_pays_part_today_and_leaves_the_rest_available(
    app, client, pay, money, sold, monkeypatch
):
    farmer, household = sold
    monkeypatch.setitem(app.config, "PAYOUT_DAILY_CAP_FEN", 5000)
    asked = money.ask_payout(farmer, household, 8000, "wechat_transfer")
    assert asked.status_code == 201, asked.json
    assert (asked.json["amount_fen"], asked.json["requested_fen"]) == (5000, 8000)
    assert creates(pay)[0]["transfer_amount"] == 5000
    assert balance_of(money, farmer, household) == (0, 4000, 5000, 0)
    second = money.ask_payout(farmer, household, 1000, "wechat_transfer")
    assert_error(second, 409, "payout_daily_cap_reached")
    assert pay.transfers_made() == 1
    # Tomorrow the rest may go.
    with app.app_context():
        db.session.execute(update(Payout).values(created_at=utcnow() - timedelta(days=1)))
        db.session.commit()
    tomorrow = money.ask_payout(farmer, household, 3000, "wechat_transfer")
    assert tomorrow.status_code == 201, tomorrow.json
    assert tomorrow.json["amount_fen"] == 3000
    assert balance_of(money, farmer, household) == (0, 1000, 8000, 0)
    assert money.differences() == []


def test_a_failed_transfer_does_not_count_against_the_cap(
    app, client, pay, money, sold, monkeypatch
):
    farmer, household = sold
    monkeypatch.setitem(app.config, "PAYOUT_DAILY_CAP_FEN", 5000)
    asked = money.ask_payout(farmer, household, 5000, "wechat_transfer").json
    pay.fail_transfer(asked["out_bill_no"])
    notify(client, pay, asked["out_bill_no"])
    again = money.ask_payout(farmer, household, 5000, "wechat_transfer")
    assert again.status_code == 201, again.json
    assert again.json["amount_fen"] == 5000
    assert money.differences() == []


def test_more_than_available_is_refused_and_writes_nothing(app, pay, money, sold):
    farmer, household = sold
    before = count(app, LedgerTransaction)
    answer = money.ask_payout(farmer, household, 9001, "wechat_transfer")
    body = assert_error(answer, 409, "insufficient_balance")
    assert body["errors"] == {"available_fen": ["9000"]}
    assert count(app, Payout) == 0
    assert count(app, LedgerTransaction) == before
    assert count(app, IdempotencyKey, IdempotencyKey.scope == "payout.request") == 0
    assert pay.transfers_made() == 0 and creates(pay) == []
    assert balance_of(money, farmer, household) == (0, 9000, 0, 0)
    everything = money.ask_payout(farmer, household, 9000, "wechat_transfer")
    assert everything.status_code == 201, everything.json  # all that is there may go
    assert money.differences() == []


def test_money_in_flight_is_not_available_twice(app, pay, money, sold):
    farmer, household = sold
    assert money.ask_payout(farmer, household, 6000, "wechat_transfer").status_code == 201
    assert_error(
        money.ask_payout(farmer, household, 3001, "wechat_transfer"), 409, "insufficient_balance"
    )
    assert money.ask_payout(farmer, household, 3000, "wechat_transfer").status_code == 201
    assert balance_of(money, farmer, household) == (0, 0, 9000, 0)
    assert money.differences() == []


def test_pending_money_cannot_be_paid_out(app, chain, pay, money):
    part = chain.paid(chain.shopping.offer(price_fen=4500), quantity=2)  # not yet completed
    household = money.household_of(part)
    answer = money.ask_payout(part.offer.farmer, household, 10, "wechat_transfer")
    assert_error(answer, 409, "insufficient_balance")
    assert money.differences() == []


def test_too_small_a_transfer_is_refused(pay, money, sold):
    farmer, household = sold
    assert_error(money.ask_payout(farmer, household, 9, "wechat_transfer"), 422, "payout_too_small")


# --- Idempotency-Key -----------------------------------------------------------------------


def test_the_same_key_and_body_give_the_same_payout_and_one_bill(app, client, pay, money, sold):
    farmer, household = sold
    first = money.ask_payout(farmer, household, 5000, "wechat_transfer", key="k-1")
    again = money.ask_payout(farmer, household, 5000, "wechat_transfer", key="k-1")
    assert first.status_code == 201, first.json
    assert again.status_code in (200, 201), again.json
    assert again.json["id"] == first.json["id"]
    assert again.json["out_bill_no"] == first.json["out_bill_no"]
    assert count(app, Payout) == 1
    assert pay.transfers_made() == 1 and len(creates(pay)) == 1
    assert balance_of(money, farmer, household) == (0, 4000, 5000, 0)
    other = money.ask_payout(farmer, household, 4000, "wechat_transfer", key="k-1")
    assert_error(other, 422, "idempotency_key_reused")
    assert money.differences() == []


def test_a_payout_request_needs_an_idempotency_key(client, pay, money, sold):
    farmer, household = sold
    answer = client.post(
        f"{API}/households/{household}/payouts",
        json={"amount_fen": 5000, "channel": "wechat_transfer"},
        headers=farmer.headers,
    )
    assert_error(answer, 428, "idempotency_key_required")
    assert money.balance(farmer, household)["available_fen"] == 9000


# --- who may ask ---------------------------------------------------------------------------


def test_a_helper_may_not_take_a_households_money_to_their_own_wechat(app, world, pay, money, sold):
    farmer, household = sold
    helper = world.helper()
    world.consent(household, helper, ConsentPurpose.VIEW_FINANCES)
    answer = money.ask_payout(helper, household, 5000, "wechat_transfer")
    assert_error(answer, 403, "payout_needs_member")
    assert count(app, Payout) == 0 and pay.transfers_made() == 0
    assert money.differences() == []


def test_staff_see_the_money_but_do_not_move_it(app, network, pay, money, sold):
    farmer, household = sold
    for channel in ("wechat_transfer", "bank"):
        answer = money.ask_payout(network.staff, household, 5000, channel)
        assert_error(answer, 403, "forbidden")
    assert count(app, Payout) == 0


def test_strangers_cannot_ask_for_a_households_money(app, world, pay, money, sold):
    farmer, household = sold
    for person in (
        world.farmer(world.household()),
        world.helper(),
        world.staff(SANGZHI),
        world.admin(),
        world.user(),
    ):
        assert_error(money.ask_payout(person, household, 5000, "wechat_transfer"), 404)
    assert count(app, Payout) == 0


def test_without_wechat_pay_a_transfer_is_unavailable(app, money):
    assert app.config["WECHATPAY_ENABLED"] is False
    part, household = money.sold()
    answer = money.ask_payout(part.offer.farmer, household, 5000, "wechat_transfer")
    assert_error(answer, 422, "payout_channel_unavailable")
    assert count(app, Payout) == 0
    assert money.balance(part.offer.farmer, household)["available_fen"] == 9000


# --- reading payouts -----------------------------------------------------------------------


def test_payouts_are_read_by_those_who_see_the_households_money(
    app, client, world, network, pay, money, sold
):
    farmer, household = sold
    first = money.ask_payout(farmer, household, 3000, "wechat_transfer").json
    notify(client, pay, first["out_bill_no"])
    second = money.ask_payout(farmer, household, 2000, "wechat_transfer").json
    helper = world.helper()
    world.consent(household, helper, ConsentPurpose.VIEW_FINANCES)
    for reader in (farmer, world.farmer(household), helper, network.staff):
        one = client.get(f"{API}/payouts/{first['id']}", headers=reader.headers)
        assert one.status_code == 200, one.json
        assert (one.json["state"], one.json["amount_fen"]) == ("success", 3000)
        listed = client.get(f"{API}/households/{household}/payouts", headers=reader.headers)
        assert listed.status_code == 200, listed.json
        assert [(p["id"], p["state"]) for p in listed.json["items"]] == [
            (second["id"], "wait_user_confirm"),
            (first["id"], "success"),
        ]
    no_consent = world.helper()
    world.consent(household, no_consent, ConsentPurpose.MANAGE_SHOP)
    for stranger in (
        no_consent,
        world.helper(),
        world.farmer(world.household()),
        world.staff(SANGZHI),
        world.admin(),
        world.user(),
    ):
        assert_error(client.get(f"{API}/payouts/{first['id']}", headers=stranger.headers), 404)
        assert_error(
            client.get(f"{API}/households/{household}/payouts", headers=stranger.headers), 404
        )
    assert_error(client.get(f"{API}/payouts/999999", headers=farmer.headers), 404)
    assert money.differences() == []
