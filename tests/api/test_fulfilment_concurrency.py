"""Operators at one station scan the same goods at the same instant: exactly one hand-in is
recorded (one batch, one event), the others are told the state moved, no 5xx. Then the farmer's
rejection races the hand-in of the next ShopOrder's goods: one of the two acts wins, never both.
The app runs under gunicorn (several worker processes, several threads each) against the test
run's own database, SQLite or PostgreSQL."""

from __future__ import annotations

import http.client
import json
import threading

import pytest
from sqlalchemy import func, select

from models import Batch, Refund, ShopOrder, ShopOrderEvent, db
from models.enums import ShopOrderStatus
from tests.factories import Catalog
from tests.fulfilment import Chain
from tests.gunicorn import serving_the_test_database
from tests.shopping import Shopping

OPERATORS = 8


@pytest.fixture
def server(app, tmp_path):
    with serving_the_test_database(app, tmp_path) as port:
        yield port


def _post(port: int, token: str, path: str, body: dict) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(
        "POST",
        f"/api/v1{path}",
        body=json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status


def _at_once(calls) -> list[int]:
    start = threading.Barrier(len(calls))
    statuses: list[int] = []
    lock = threading.Lock()

    def run(call):
        start.wait()
        status = call()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def _count(app, query) -> int:
    with app.app_context():
        return db.session.scalar(query)


def test_one_parcel_is_taken_in_once(app, world, client, server):
    chain = Chain(world, Shopping(world, Catalog(world), client), client)
    network = chain.network()
    part = chain.paid()
    assert chain.accept(part).status_code == 200
    operators = [network.village_operator] + [
        chain.operator(network.village_point) for _ in range(OPERATORS - 1)
    ]
    body = {"shop_order_id": part.shop_order_id, "weight_g": 5000, "count": 10, "grade": "一级"}
    path = f"/stations/{network.village_point}/hand-ins"
    statuses = _at_once([lambda o=o: _post(server, o.token, path, body) for o in operators])
    assert sorted(statuses) == [201] + [409] * (OPERATORS - 1), statuses
    assert _count(app, select(func.count()).select_from(Batch)) == 1
    hand_ins = select(func.count()).where(
        ShopOrderEvent.shop_order_id == part.shop_order_id, ShopOrderEvent.action == "hand_in"
    )
    assert _count(app, hand_ins) == 1


def test_a_rejection_and_an_acceptance_never_both_happen(app, world, client, server):
    chain = Chain(world, Shopping(world, Catalog(world), client), client)
    chain.network()
    parts = [chain.paid() for _ in range(4)]
    for part in parts:
        farmer = part.offer.farmer
        accept = f"/shop-orders/{part.shop_order_id}/accept"
        reject = f"/shop-orders/{part.shop_order_id}/reject"
        statuses = _at_once(
            [
                lambda t=farmer.token, p=accept: _post(server, t, p, {}),
                lambda t=farmer.token, p=reject: _post(server, t, p, {"reason": "家里临时有事"}),
            ]
        )
        assert sorted(statuses) == [200, 409], statuses
        with app.app_context():
            shop_order = db.session.get(ShopOrder, part.shop_order_id)
            refunds = db.session.scalar(
                select(func.count()).where(Refund.shop_order_id == part.shop_order_id)
            )
            if shop_order.status == ShopOrderStatus.REJECTED:
                assert refunds == 1
            else:
                assert shop_order.status == ShopOrderStatus.ACCEPTED
                assert refunds == 0


def test_a_buyers_cancellation_and_a_farmers_acceptance_never_both_happen(
    app, world, client, server
):
    chain = Chain(world, Shopping(world, Catalog(world), client), client)
    for _ in range(4):
        part = chain.paid()
        accept = f"/shop-orders/{part.shop_order_id}/accept"
        cancel = f"/orders/{part.order_id}/cancel"
        statuses = _at_once(
            [
                lambda t=part.offer.farmer.token, p=accept: _post(server, t, p, {}),
                lambda t=part.buyer.token, p=cancel: _post(server, t, p, {"reason": "买错了"}),
            ]
        )
        assert sorted(statuses) == [200, 409], statuses
        with app.app_context():
            shop_order = db.session.get(ShopOrder, part.shop_order_id)
            refunds = db.session.scalar(
                select(func.count()).where(Refund.order_id == part.order_id)
            )
            if shop_order.status == ShopOrderStatus.CANCELLED:
                assert shop_order.order.status == "cancelled"
                assert refunds == 1
            else:
                assert shop_order.status == ShopOrderStatus.ACCEPTED
                assert shop_order.order.status == "paid"
                assert refunds == 0
