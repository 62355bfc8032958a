"""A household's payouts asked for at the same instant never take more than it has: many
requests (WeChat transfers and bank payouts, distinct Idempotency-Keys, together more than is
available), the same request sent several times at once (one key), and a county batch running
while households ask. The app runs under gunicorn (several worker processes, several threads
each) on the test run's own database, SQLite or PostgreSQL, with WeChat Pay pointed at the
loopback fake. Refused requests answer 409 (insufficient_balance, bank_payout_pending), never a
5xx, and ``flask ledger check`` finds nothing after.

The last tests replay, in one process and deterministically, the interleaving the gunicorn runs
can only hit by chance: twins with one Idempotency-Key that both looked for the key before either
committed.
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import uuid
from unittest import mock

import pytest
from sqlalchemy import select

from models import LedgerTransaction, PaymentAnomaly, Payout, db
from services import idempotency, ledger, ledger_check, payouts
from tests.factories import GUZHEN
from tests.gunicorn import serving
from tests.money import Money, record_bank_account
from tests.shopping import API


@pytest.fixture
def server(app, tmp_path, pay):
    """Gunicorn on the test database, WeChat Pay on against the fake (the settings ``pay``
    gives the app in this process, as environment)."""
    cfg = app.config
    wechat = {
        key: str(cfg[key])
        for key in (
            "WECHATPAY_API_BASE",
            "WECHATPAY_MCHID",
            "WECHATPAY_APIV3_KEY",
            "WECHATPAY_PRIVATE_KEY_PATH",
            "WECHATPAY_CERT_SERIAL",
            "WECHATPAY_PUBLIC_KEY_PATH",
            "WECHATPAY_PUBLIC_KEY_ID",
            "WECHAT_APPID",
            "PUBLIC_BASE_URL",
        )
    }
    with serving(
        tmp_path,
        DATABASE_URL=cfg["SQLALCHEMY_DATABASE_URI"],
        PII_ENCRYPTION_KEY=cfg["PII_ENCRYPTION_KEY"],
        GUNICORN_WORKERS="3",
        GUNICORN_THREADS="4",
        RATELIMIT_ENABLED="0",
        WECHATPAY_ENABLED="1",
        **wechat,
    ) as port:
        yield port


def _post(port: int, token: str, path: str, body: dict, key: str) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(
        "POST",
        f"{API}{path}",
        body=json.dumps(body),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        },
    )
    response = conn.getresponse()
    payload = json.loads(response.read() or b"{}")
    conn.close()
    return response.status, payload


def _at_once(calls) -> list:
    """Each call in its own thread, released together; their results in the calls' order."""
    start = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        start.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(r is not None for r in results), "a request never came back"
    return results


def _with_money(chain, network, *, price_fen: int, quantity: int, bank: bool = True):
    """A household whose part completed (its money available), with a bank account on file:
    (the farmer, the household's id, what is available)."""
    money = Money(chain, network)
    part, household_id = money.sold(price_fen=price_fen, quantity=quantity)
    if bank:
        record_bank_account(chain.client, network.staff, household_id)
    available = money.balance(part.offer.farmer, household_id)["available_fen"]
    assert available == price_fen * quantity
    return part.offer.farmer, household_id, available


def _payouts_of(app, household_id: int) -> list[Payout]:
    with app.app_context():
        found = db.session.scalars(
            select(Payout).where(Payout.seller_id == household_id).order_by(Payout.id)
        ).all()
        db.session.expunge_all()
        return list(found)


def _books_hold(app) -> None:
    with app.app_context():
        assert [str(d) for d in ledger_check.run(ask_provider=False)] == []


def _balance(app, household_id: int) -> ledger.Balance:
    with app.app_context():
        return ledger.balance_of(ledger.household(household_id))


def _kept(app, household_id: int, had: int) -> list[Payout]:
    """What was taken never exceeds what the household had; the rest is still available."""
    taken = [p for p in _payouts_of(app, household_id) if p.state.value != "failed"]
    balance = _balance(app, household_id)
    assert sum(p.amount_fen for p in taken) <= had
    assert balance.available_fen == had - sum(p.amount_fen for p in taken)
    assert balance.in_flight_fen == sum(p.amount_fen for p in taken)
    assert min(balance.__dict__.values()) >= 0
    return taken


REFUSED = {"insufficient_balance", "bank_payout_pending"}


def test_simultaneous_payouts_never_take_more_than_is_available(app, chain, network, server):
    farmer, household_id, had = _with_money(chain, network, price_fen=4500, quantity=2)
    path = f"/households/{household_id}/payouts"
    # 12 requests of ¥20 each, 3 of them by bank: ¥240 asked for, ¥90 there.
    channels = ["wechat_transfer"] * 9 + ["bank"] * 3
    answers = _at_once(
        [
            lambda c=c: _post(
                server,
                farmer.token,
                path,
                {"amount_fen": 2000, "channel": c},
                uuid.uuid4().hex,
            )
            for c in channels
        ]
    )
    statuses = sorted(status for status, _ in answers)
    assert all(status in (201, 409) for status in statuses), answers
    assert {body["error"] for status, body in answers if status == 409} <= REFUSED, answers
    made = [body for status, body in answers if status == 201]
    # Each request takes ¥20 while ¥20 is left: exactly four do, whichever they are.
    assert len(made) == had // 2000, answers
    for body, channel in ((b, b["channel"]) for b in made):
        assert body["state"] == (
            "wait_user_confirm" if channel == "wechat_transfer" else "requested"
        )
    taken = _kept(app, household_id, had)
    assert sorted(p.id for p in taken) == sorted(body["id"] for body in made)
    assert sum(1 for p in taken if p.channel.value == "bank") <= 1  # one waits for a batch
    _books_hold(app)


def test_uneven_simultaneous_payouts_never_overdraw(app, chain, network, server):
    farmer, household_id, had = _with_money(chain, network, price_fen=3333, quantity=3)
    path = f"/households/{household_id}/payouts"
    amounts = [4000, 3500, 2999, 2500, 1234, 1000, 999, 777, 500, 321, 100, 10]
    channels = ["bank" if i % 4 == 0 else "wechat_transfer" for i in range(len(amounts))]
    answers = _at_once(
        [
            lambda a=a, c=c: _post(
                server, farmer.token, path, {"amount_fen": a, "channel": c}, uuid.uuid4().hex
            )
            for a, c in zip(amounts, channels, strict=True)
        ]
    )
    assert all(status in (201, 409) for status, _ in answers), answers
    assert {body["error"] for status, body in answers if status == 409} <= REFUSED, answers
    made = [body for status, body in answers if status == 201]
    assert sum(body["amount_fen"] for body in made) <= had
    taken = _kept(app, household_id, had)
    assert sorted(p.id for p in taken) == sorted(body["id"] for body in made)
    # Whatever was refused for want of money asked more than was left at its turn.
    left = had - sum(body["amount_fen"] for body in made)
    for (status, body), amount in zip(answers, amounts, strict=True):
        if status == 409 and body["error"] == "insufficient_balance":
            assert amount > left
    _books_hold(app)


@pytest.mark.parametrize("channel", ["wechat_transfer", "bank"])
def test_one_request_sent_many_times_at_once_makes_one_payout(app, chain, network, server, channel):
    farmer, household_id, had = _with_money(chain, network, price_fen=4500, quantity=2)
    key = uuid.uuid4().hex
    body = {"amount_fen": had, "channel": channel}
    path = f"/households/{household_id}/payouts"
    answers = _at_once([lambda: _post(server, farmer.token, path, body, key)] * 8)
    assert all(status in (201, 409) for status, _ in answers), answers
    assert {b["error"] for status, b in answers if status == 409} <= REFUSED, answers
    [payout] = _kept(app, household_id, had)
    assert payout.amount_fen == had
    assert {b["id"] for status, b in answers if status == 201} == {payout.id}
    # Asked again once all is done: the same payout.
    status, again = _post(server, farmer.token, path, body, key)
    assert (status, again["id"]) == (201, payout.id)
    _books_hold(app)


def test_a_batch_and_the_households_own_requests_never_overdraw(app, chain, network, server):
    households = [
        _with_money(chain, network, price_fen=price, quantity=2) for price in (2500, 3100, 4700)
    ]
    batch = lambda: _post(  # noqa: E731
        server,
        network.staff.token,
        "/admin/payout-batches",
        {"county_code": GUZHEN, "threshold_fen": 100},
        uuid.uuid4().hex,
    )
    asks = [
        lambda f=farmer, h=household_id, a=amount, c=channel: _post(
            server,
            f.token,
            f"/households/{h}/payouts",
            {"amount_fen": a, "channel": c},
            uuid.uuid4().hex,
        )
        for farmer, household_id, had in households
        for amount, channel in (
            (had // 2, "wechat_transfer"),
            (had // 3, "bank"),
            (had // 2, "wechat_transfer"),
        )
    ]
    answers = _at_once([batch, *asks, batch])
    assert [status for status, _ in (answers[0], answers[-1])] == [201, 201], answers
    for status, body in answers[1:-1]:
        assert status in (201, 409), answers
        if status == 409:
            assert body["error"] in REFUSED, body
    for _, household_id, had in households:
        taken = _kept(app, household_id, had)
        in_batches = [p for p in taken if p.batch_id is not None]
        # One line per household per batch; a line takes all that was left at its turn.
        assert len({p.batch_id for p in in_batches}) == len(in_batches)
    _books_hold(app)


# --- the same key, twice at once, replayed deterministically --------------------------------


def _twins(app, chain, network, channel: str) -> tuple[list, int, int]:
    """Two requests with one Idempotency-Key for everything available, each having looked for
    the key before the other committed (held at a barrier right after ``idempotency.find``)."""
    farmer, household_id, had = _with_money(chain, network, price_fen=4500, quantity=2)
    key = uuid.uuid4().hex
    both_looked = threading.Barrier(2, timeout=10)
    lookups = itertools.count()
    find = idempotency.find

    def find_then_wait(actor, request):
        found = find(actor, request)
        if next(lookups) < 2:  # the first look of each twin
            both_looked.wait()
        return found

    def ask():
        client = app.test_client()
        answer = client.post(
            f"{API}/households/{household_id}/payouts",
            json={"amount_fen": had, "channel": channel},
            headers=farmer.headers | {"Idempotency-Key": key},
        )
        return answer.status_code, answer.get_json()

    with mock.patch("services.idempotency.find", find_then_wait):
        answers = _at_once([ask, ask])
    return answers, household_id, had


@pytest.mark.parametrize("channel", ["wechat_transfer", "bank"])
def test_twins_with_one_key_make_one_payout_and_never_overdraw(app, chain, network, pay, channel):
    answers, household_id, had = _twins(app, chain, network, channel)
    [payout] = _kept(app, household_id, had)
    assert payout.id in {body.get("id") for _, body in answers}, answers
    assert all(status in (201, 409) for status, _ in answers), answers
    assert {b["error"] for status, b in answers if status == 409} <= REFUSED, answers
    _books_hold(app)


@pytest.mark.parametrize("channel", ["wechat_transfer", "bank"])
def test_twins_with_one_key_both_get_the_payout(app, chain, network, pay, channel):
    answers, household_id, had = _twins(app, chain, network, channel)
    [payout] = _payouts_of(app, household_id)
    got = [(status, body.get("id"), body.get("error")) for status, body in answers]
    assert got == [(201, payout.id, None)] * 2


@pytest.mark.parametrize("outcome", ["success", "failed", "cancelled"])
def test_a_transfers_end_told_many_times_at_once_moves_its_money_once(
    app, chain, network, pay, server, outcome
):
    """WeChat's notification and its retries arrive together while ``flask payouts poll``
    asks about the same bill: the payout ends once, its money settled or given back once."""
    farmer, household_id, had = _with_money(chain, network, price_fen=4500, quantity=2)
    status, asked = _post(
        server,
        farmer.token,
        f"/households/{household_id}/payouts",
        {"amount_fen": 6000, "channel": "wechat_transfer"},
        uuid.uuid4().hex,
    )
    assert (status, asked["state"]) == (201, "wait_user_confirm"), asked
    bill = asked["out_bill_no"]
    if outcome == "success":
        pay.confirm_transfer(bill)
    elif outcome == "failed":
        pay.fail_transfer(bill)
    else:
        pay.user_cancel_transfer(bill)
    messages = [pay.transfer_notification(bill)] + [
        pay.transfer_notification(bill, "duplicate") for _ in range(5)
    ]

    def notify(message):
        headers, body = message
        conn = http.client.HTTPConnection("127.0.0.1", server, timeout=60)
        conn.request("POST", f"{API}/payments/wechat/transfer-notify", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        conn.close()
        return response.status

    def poll():
        with app.app_context():
            payouts.poll()
        return "polled"

    results = _at_once([lambda m=m: notify(m) for m in messages] + [poll])
    assert results == [200] * len(messages) + ["polled"], results
    [payout] = _payouts_of(app, household_id)
    assert payout.state.value == outcome
    balance = _balance(app, household_id)
    paid = 6000 if outcome == "success" else 0
    assert (balance.available_fen, balance.in_flight_fen, balance.paid_out_fen) == (
        had - paid,
        0,
        paid,
    )
    with app.app_context():
        steps = db.session.scalars(
            select(LedgerTransaction.cause).where(LedgerTransaction.payout_id == payout.id)
        ).all()
        anomalies = db.session.scalars(select(PaymentAnomaly.kind)).all()
    end = "settled" if outcome == "success" else "reversed"
    assert sorted(steps) == sorted([f"payout:{payout.id}:sent", f"payout:{payout.id}:{end}"])
    assert anomalies == []  # the same word told again is no disagreement
    _books_hold(app)
