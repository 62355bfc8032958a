"""Many buyers, the last units of one SKU, at the same instant: exactly as many orders as there
were units, stock never below zero, no 5xx. The app runs under gunicorn (several worker
processes, several threads each) against the test run's own database, SQLite or PostgreSQL."""

from __future__ import annotations

import http.client
import json
import threading
import uuid

import pytest

from tests.gunicorn import serving_the_test_database
from tests.shopping import Shopping

UNITS = 5
BUYERS = 24


@pytest.fixture
def server(app, tmp_path):
    with serving_the_test_database(app, tmp_path) as port:
        yield port


def _order(port: int, token: str, body: dict) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(
        "POST",
        "/api/v1/orders",
        body=json.dumps(body),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": uuid.uuid4().hex,
        },
    )
    response = conn.getresponse()
    payload = json.loads(response.read() or b"{}")
    conn.close()
    return response.status, payload


def test_the_last_units_are_sold_exactly_once(world, catalog, client, server):
    shopping = Shopping(world, catalog, client)
    offer = shopping.offer(stock=UNITS)
    sku = offer.sku_ids[0]
    buyers = [shopping.buyer() for _ in range(BUYERS)]
    start = threading.Barrier(BUYERS)
    answers: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def buy(person, address):
        body = {"lines": [{"sku_id": sku, "quantity": 1}], "address_id": address}
        start.wait()
        answer = _order(server, person.token, body)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=buy, args=buyer) for buyer in buyers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    statuses = sorted(status for status, _ in answers)
    assert len(answers) == BUYERS
    assert statuses.count(201) == UNITS, statuses
    assert statuses.count(409) == BUYERS - UNITS, statuses
    assert {body.get("error") for status, body in answers if status == 409} == {
        "insufficient_stock"
    }
    assert shopping.stock(sku) == 0
