"""Who an order's money reached: ``GET /orders/{id}/beneficiaries`` for a work unit's order over
three households' shops (a part completed, one pending, one rejected), the payout status of
each as its household is paid, never an unmasked name; and a unit's reach in a year against its
pledge (``GET /units/{id}/totals``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from tests.factories import SANGZHI, VILLAGE_A, VILLAGE_B, Person, Units, assert_error
from tests.fulfilment import Part
from tests.money import Money
from tests.shopping import API

TRANSFER_NOTIFY = f"{API}/payments/wechat/transfer-notify"
HEAD_NAME = "李桂兰"  # every test household's head (tests/factories.py)
VILLAGE_NAMES = {VILLAGE_A: "西南村村民委员会", VILLAGE_B: "东南村村民委员会"}


def this_year() -> int:
    return datetime.now(timezone(timedelta(hours=8))).year


@pytest.fixture
def money(chain, network):
    return Money(chain, network)


@dataclass
class UnitOrder:
    order: dict
    unit: int
    admin: Person
    buyer: Person  # a member of the unit
    completed: Part  # village A, ¥90: walked to completion
    pending: Part  # village B, ¥99: paid, not yet accepted
    rejected: Part  # village A, ¥100: the farmer could not supply it


@pytest.fixture
def unit_order(world, chain, network, money) -> UnitOrder:
    shopping = chain.shopping
    offers = [
        shopping.offer(village=VILLAGE_A, price_fen=4500),
        shopping.offer(village=VILLAGE_B, price_fen=3300),
        shopping.offer(village=VILLAGE_A, price_fen=2500),
    ]
    units = Units(world)
    unit, admin = units.verified(staff=network.staff)
    buyer, address = shopping.buyer(units.member(unit, admin))
    lines = [(o.sku_ids[0], q) for o, q in zip(offers, (2, 3, 4), strict=True)]
    order = shopping.order(buyer, address, lines, unit_id=unit)
    shopping.pay_dev(buyer, order["id"])
    completed, pending, rejected = chain.parts(order, buyer, offers)
    money.completed(completed)
    refused = chain.post(
        f"/shop-orders/{rejected.shop_order_id}/reject", rejected.offer.farmer, {"reason": "断货"}
    )
    assert refused.status_code == 200, refused.json
    return UnitOrder(order, unit, admin, buyer, completed, pending, rejected)


def complete_via_township(chain, network, money, part: Part) -> None:
    """A part of village B (no collection point there): handed in at the township's station,
    passed at the centre, shipped, received and its after-sales window closed."""
    assert chain.accept(part).status_code == 200
    handed = chain.hand_in(network.township, part, network.township_operator)
    assert handed.status_code == 201, handed.json
    code = handed.json["batch"]["code"]
    assert chain.inspect(network.centre, code, network.centre_operator).status_code == 201
    assert chain.ship(part, network.centre_operator).status_code == 200
    received = chain.post(f"/shop-orders/{part.shop_order_id}/confirm-receipt", part.buyer)
    assert received.status_code == 200, received.json
    money.complete_due()


def beneficiaries(client, person, order_id: int) -> dict[int, dict]:
    """The items, by ShopOrder id."""
    answer = client.get(f"{API}/orders/{order_id}/beneficiaries", headers=person.headers)
    assert answer.status_code == 200, answer.json
    return {item["shop_order_id"]: item for item in answer.json["items"]}


def village(code: str) -> dict:
    return {"code": code, "name": VILLAGE_NAMES[code]}


# --- beneficiaries ---------------------------------------------------------------------------


def test_each_household_the_order_reached_with_what_it_was_credited(client, money, unit_order):
    u = unit_order
    found = beneficiaries(client, u.buyer, u.order["id"])
    assert found == {
        u.completed.shop_order_id: {
            "shop_order_id": u.completed.shop_order_id,
            "village": village(VILLAGE_A),
            "name_masked": "李**",
            "amount_credited_fen": 9000,
            "payout_status": "available",
            "paid_at": None,
        },
        u.pending.shop_order_id: {
            "shop_order_id": u.pending.shop_order_id,
            "village": village(VILLAGE_B),
            "name_masked": "李**",
            "amount_credited_fen": 0,
            "payout_status": "pending",
            "paid_at": None,
        },
        u.rejected.shop_order_id: {
            "shop_order_id": u.rejected.shop_order_id,
            "village": village(VILLAGE_A),
            "name_masked": "李**",
            "amount_credited_fen": 0,
            "payout_status": "refunded",
            "paid_at": None,
        },
    }
    assert money.differences() == []


def test_the_answer_never_shows_a_name_or_number_unmasked(client, unit_order):
    u = unit_order
    for reader in (u.buyer, u.admin):
        answer = client.get(f"{API}/orders/{u.order['id']}/beneficiaries", headers=reader.headers)
        raw = answer.get_data(as_text=True)
        for personal in (HEAD_NAME, "桂兰", "13805520001", "张三"):
            assert personal not in raw, personal
        for item in answer.json["items"]:
            assert not {"household_id", "head_name", "phone", "id_number"} & set(item)


def test_a_pending_part_is_credited_once_it_completes(client, chain, network, money, unit_order):
    u = unit_order
    complete_via_township(chain, network, money, u.pending)
    found = beneficiaries(client, u.buyer, u.order["id"])
    assert found[u.pending.shop_order_id]["amount_credited_fen"] == 9900
    assert found[u.pending.shop_order_id]["payout_status"] == "available"
    assert money.differences() == []


def test_the_payout_status_follows_the_households_payout(client, pay, money, unit_order):
    u = unit_order
    farmer = u.completed.offer.farmer
    household = money.household_of(u.completed)
    asked = money.ask_payout(farmer, household, 9000, "wechat_transfer")
    assert asked.status_code == 201, asked.json
    item = beneficiaries(client, u.buyer, u.order["id"])[u.completed.shop_order_id]
    assert (item["payout_status"], item["paid_at"]) == ("in_flight", None)
    headers, body = pay.transfer_notification(asked.json["out_bill_no"])
    assert client.post(TRANSFER_NOTIFY, data=body, headers=headers).status_code == 200
    settled = client.get(f"{API}/payouts/{asked.json['id']}", headers=farmer.headers).json
    item = beneficiaries(client, u.buyer, u.order["id"])[u.completed.shop_order_id]
    assert item["payout_status"] == "paid"
    assert item["paid_at"] == settled["settled_at"]
    assert item["amount_credited_fen"] == 9000
    others = beneficiaries(client, u.admin, u.order["id"])
    assert others[u.pending.shop_order_id]["payout_status"] == "pending"
    assert others[u.rejected.shop_order_id]["payout_status"] == "refunded"
    assert money.differences() == []


def test_a_households_payouts_pay_its_oldest_credits_first(client, chain, pay, money, unit_order):
    u = unit_order
    farmer = u.completed.offer.farmer
    household = money.household_of(u.completed)
    later = chain.paid(u.completed.offer, quantity=1)  # another buyer, ¥45, completed after
    money.completed(later)
    asked = money.ask_payout(farmer, household, 9000, "wechat_transfer").json
    headers, body = pay.transfer_notification(asked["out_bill_no"])
    assert client.post(TRANSFER_NOTIFY, data=body, headers=headers).status_code == 200
    first = beneficiaries(client, u.buyer, u.order["id"])[u.completed.shop_order_id]
    assert first["payout_status"] == "paid" and first["paid_at"] is not None
    second = beneficiaries(client, later.buyer, later.order_id)[later.shop_order_id]
    assert (second["amount_credited_fen"], second["payout_status"]) == (4500, "available")
    assert second["paid_at"] is None
    assert money.differences() == []


def test_an_unpaid_order_reached_no_one_yet(client, chain):
    offer = chain.shopping.offer()
    buyer, address = chain.shopping.buyer()
    order = chain.shopping.order(buyer, address, [(offer.sku_ids[0], 1)])
    [item] = beneficiaries(client, buyer, order["id"]).values()
    assert (item["amount_credited_fen"], item["payout_status"]) == (0, "unpaid")


def test_the_buyer_and_the_units_admins_read_it_others_do_not(client, world, unit_order):
    u = unit_order
    for reader in (u.buyer, u.admin):
        assert len(beneficiaries(client, reader, u.order["id"])) == 3
    other_unit, other_admin = Units(world).verified()
    strangers = {
        "another buyer": world.user("买家"),
        "a colleague of the buyer": Units(world).member(u.unit, u.admin),
        "another unit's admin": other_admin,
        "a farmer of the order": u.completed.offer.farmer,
        "another county's staff": world.staff(SANGZHI),
    }
    for who, person in strangers.items():
        answer = client.get(f"{API}/orders/{u.order['id']}/beneficiaries", headers=person.headers)
        assert answer.status_code == 404, who
        assert_error(answer, 404, "not_found")
    missing = client.get(f"{API}/orders/999999/beneficiaries", headers=u.buyer.headers)
    assert_error(missing, 404, "not_found")


# --- a unit's reach --------------------------------------------------------------------------


def totals(client, person, unit: int, **query):
    return client.get(f"{API}/units/{unit}/totals", query_string=query, headers=person.headers)


def test_a_units_reach_in_the_year_against_its_pledge(client, chain, network, money, unit_order):
    u = unit_order
    year = this_year()
    part_total = {s["id"]: s["total_fen"] for s in u.order["shop_orders"]}
    bought = u.order["total_fen"] - part_total[u.rejected.shop_order_id]
    answer = totals(client, u.buyer, u.unit, year=year)
    assert answer.status_code == 200, answer.json
    assert answer.json == {
        "unit_id": u.unit,
        "year": year,
        "bought_fen": bought,
        "credited_fen": 9000,
        "households_reached": 2,  # the rejected part's household got nothing
        "villages_reached": 2,
        "pledge_fen": None,
        "pledge_left_fen": None,
    }
    pledged = client.put(
        f"{API}/units/{u.unit}/pledges/{year}", json={"amount_fen": 50_000}, headers=u.admin.headers
    )
    assert pledged.status_code == 200, pledged.json
    reach = totals(client, u.admin, u.unit, year=year).json
    assert (reach["pledge_fen"], reach["pledge_left_fen"]) == (50_000, 50_000 - bought)
    assert totals(client, u.admin, u.unit).json == reach  # this year by default
    complete_via_township(chain, network, money, u.pending)
    assert totals(client, u.admin, u.unit, year=year).json["credited_fen"] == 9000 + 9900


def test_a_pledge_the_unit_bought_beyond_leaves_nothing(client, unit_order):
    u = unit_order
    year = this_year()
    client.put(
        f"{API}/units/{u.unit}/pledges/{year}", json={"amount_fen": 10_000}, headers=u.admin.headers
    )
    reach = totals(client, u.admin, u.unit, year=year).json
    assert (reach["pledge_fen"], reach["pledge_left_fen"]) == (10_000, 0)


def test_another_year_shows_nothing_bought(client, unit_order):
    u = unit_order
    answer = totals(client, u.admin, u.unit, year=2021)
    assert answer.status_code == 200, answer.json
    assert answer.json | {"unit_id": 0} == {
        "unit_id": 0,
        "year": 2021,
        "bought_fen": 0,
        "credited_fen": 0,
        "households_reached": 0,
        "villages_reached": 0,
        "pledge_fen": None,
        "pledge_left_fen": None,
    }


def test_a_units_totals_are_for_its_people_and_its_countys_staff(
    client, world, network, unit_order
):
    u = unit_order
    year = this_year()
    for reader in (u.buyer, u.admin, network.staff, world.admin()):
        answer = totals(client, reader, u.unit, year=year)
        assert answer.status_code == 200, answer.json
        assert answer.json["credited_fen"] == 9000
    other_unit, other_admin = Units(world).verified()
    for stranger in (
        other_admin,
        Units(world).member(other_unit, other_admin),
        u.completed.offer.farmer,
        world.staff(SANGZHI),
        world.user(),
    ):
        assert_error(totals(client, stranger, u.unit, year=year), 404, "not_found")
    # The other unit sees its own: nothing bought.
    assert totals(client, other_admin, other_unit, year=year).json["bought_fen"] == 0
