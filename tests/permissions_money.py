"""Money for the permission matrix and the fuzzer, built through the services as the rest of
their scenes are: a sale walked to completion (its household's money becomes available), a
household's bank account, a bank payout, and a county's bank batch. Plain values come back
(ids, numbers), never live model objects."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta

from models import Household, Order, User, db
from models.base import utcnow
from models.enums import InspectionResult, PaymentMethod, PayoutChannel, ShipMethod
from services import (
    addresses,
    fulfilment,
    fulfilment_jobs,
    orders,
    payments,
    payout_batches,
    payouts,
)
from services.idempotency import Idempotency
from services.orders import Line
from tests.factories import VILLAGE_A, Person

_keys = itertools.count(1)

# A 惠农一卡通 number as a county's bank writes it (19 digits, spaces between groups).
ACCOUNT_NUMBER = "6230 5200 1234 5678 901"
ACCOUNT_DIGITS = ACCOUNT_NUMBER.replace(" ", "")


@dataclass(frozen=True)
class Stations:
    """Where a county with stations takes the goods in: a household's goods are handed in at
    ``hand_in_at`` and inspected and shipped at the county centre."""

    hand_in_at: int
    hand_in_operator: Person
    centre: int
    centre_operator: Person


def _user(person: Person) -> User:
    user = db.session.get(User, person.id)
    assert user is not None
    return user


def address(app, buyer: Person, *, phone: str = "13805520019", name: str = "采购员") -> int:
    with app.app_context():
        return addresses.add_address(
            _user(buyer), name=name, phone=phone, region_code=VILLAGE_A, detail="单位食堂"
        ).id


def completed_sale(
    app,
    *,
    buyer: Person,
    address_id: int,
    farmer: Person,
    sku_id: int,
    quantity: int = 1,
    unit_id: int | None = None,
    stations: Stations | None = None,
) -> tuple[int, int]:
    """The buyer's order of the SKU (for their unit, if given), paid by the dev method,
    accepted, taken through the county's stations (or shipped directly by the household where
    the county has none that takes it), confirmed received, and completed by the deadline job
    run after the after-sales window: (order id, ShopOrder id). The deadline job moves every
    part that is due, so callers make other parts after this one."""
    with app.app_context():
        order = orders.place_order(
            _user(buyer),
            lines=[Line(sku_id, quantity)],
            address_id=address_id,
            unit_id=unit_id,
            idempotency=Idempotency.of(f"sale-{next(_keys)}", "order.create", {"sku": sku_id}),
        )
        payments.pay_order(_user(buyer), order, method=PaymentMethod.DEV)
        order_id, part = order.id, order.shop_orders[0].id
        accepted = fulfilment.accept(_user(farmer), part)
        express = fulfilment.Parcel(ShipMethod.EXPRESS, carrier="YTO", tracking_no="YT0000000001")
        if stations is None:
            assert accepted.station_id is None, "a station of the county takes these goods"
            fulfilment.ship(_user(farmer), part, parcel=express)
        else:
            batch = fulfilment.hand_in(
                _user(stations.hand_in_operator),
                stations.hand_in_at,
                shop_order_id=part,
                weight_g=1000,
                count=1,
                grade="一级",
            )
            fulfilment.inspect(
                _user(stations.centre_operator),
                stations.centre,
                batch_code=batch.code,
                result=InspectionResult.PASS,
            )
            fulfilment.ship(_user(stations.centre_operator), part, parcel=express)
        fulfilment.confirm_receipt(_user(buyer), part)
        days = app.config["AFTER_SALES_DAYS"] + 1
        fulfilment_jobs.run_deadlines(now=utcnow() + timedelta(days=days))
        return order_id, part


def bank_account(app, staff: Person, household_id: int) -> None:
    """The household's 惠农一卡通, recorded by its county's staff."""
    with app.app_context():
        payout_batches.set_bank_account(
            _user(staff),
            household_id,
            bank_name="固镇县农村商业银行",
            account_name="李桂兰",
            account_number=ACCOUNT_NUMBER,
        )


def bank_payout(app, person: Person, household_id: int, amount_fen: int) -> int:
    """A bank payout the household asked for (waiting for the county's next batch)."""
    with app.app_context():
        data = {"amount_fen": amount_fen, "channel": PayoutChannel.BANK}
        return payouts.request_payout(
            _user(person),
            household_id,
            request=Idempotency.of(f"payout-{next(_keys)}", "payout.request", data),
            **data,
        ).payout.id


def batch(app, staff: Person, county_code: str) -> tuple[int, list[int]]:
    """The county's bank batch (the payouts households asked for, and every household at or
    above the default threshold): its id and its lines' ids."""
    with app.app_context():
        run = payout_batches.create_batch(
            _user(staff),
            county_code=county_code,
            threshold_fen=None,
            purpose="农产品销售货款",
            request=None,
        )
        return run.batch.id, [line.id for line in payout_batches.lines_of(run.batch)]


def head_of(app, household_id: int) -> tuple[str, str]:
    """The household head's name and the household's phone, in full."""
    with app.app_context():
        household = db.session.get(Household, household_id)
        assert household is not None and household.phone
        return household.head_name, household.phone


def buyer_of(app, order_id: int) -> tuple[str, str]:
    """The name and phone the order is delivered to, in full."""
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order is not None and order.address
        return order.address["name"], order.address["phone"]
