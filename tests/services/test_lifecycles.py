"""Every lifecycle table, walked: each state is reachable, and every action a state does not
allow is refused with an InvalidState-kind error naming the state and the action, having
written nothing."""

from __future__ import annotations

from collections import deque

import pytest
from sqlalchemy import func, select

from models import (
    AuditEvent,
    Household,
    ModerationEvent,
    Order,
    Payout,
    Product,
    Shop,
    ShopOrder,
    User,
    WorkUnit,
    db,
)
from models.enums import PayoutChannel, SellerKind
from services import lifecycle
from services.errors import InvalidState
from services.lifecycles import LIFECYCLES, PRODUCT, SHOP
from tests.factories import VILLAGE_A, Units


def paths(machine) -> dict:
    """The shortest sequence of actions from the initial state to each reachable state."""
    found = {machine.initial: []}
    queue = deque([machine.initial])
    while queue:
        state = queue.popleft()
        for row in machine.transitions:
            if row.source == state and row.target not in found:
                found[row.target] = [*found[state], row.action]
                queue.append(row.target)
    return found


@pytest.mark.parametrize("machine", LIFECYCLES, ids=lambda m: m.name)
def test_every_state_is_reachable_from_the_initial_one(machine):
    assert machine.initial in machine.states
    assert set(paths(machine)) == set(machine.states)


@pytest.mark.parametrize("machine", LIFECYCLES, ids=lambda m: m.name)
def test_every_state_can_be_left_or_is_meant_to_be_final(machine):
    # No state is a trap by accident: each has a way out, or the table says it is the end.
    sources = {row.source for row in machine.transitions}
    assert set(machine.states) - sources == set(machine.final)
    assert set(machine.final) <= set(machine.states)


# How to make a fresh object of each lifecycle, at its initial state, through the services.
def _new_shop(world, catalog) -> int:
    return world.shop(world.household(village=VILLAGE_A))


def _new_product(world, catalog) -> int:
    staff = world.staff(VILLAGE_A[:6])
    household = world.household(village=VILLAGE_A, by=staff)
    farmer = world.farmer(household)
    shop = world.shop(household, by=farmer)
    return catalog.draft(shop, farmer)


def _new_unit(world, catalog) -> int:
    return Units(world).register()[0]


def _new_order(world, catalog) -> int:
    from services import addresses, orders
    from services.idempotency import Idempotency
    from services.orders import Line

    shop, farmer, staff = catalog.open_shop()
    product = catalog.listed(shop, farmer, staff)
    buyer = world.user()
    with world.app.app_context():
        user = db.session.get(User, buyer.id)
        address = addresses.add_address(
            user, name="买家", phone="13805520009", region_code=VILLAGE_A, detail="食堂"
        )
        order = orders.place_order(
            user,
            lines=[Line(db.session.get(Product, product).skus[0].id, 1)],
            address_id=address.id,
            idempotency=Idempotency.of("walk", "order.create", {}),
        )
        return order.id


def _new_shop_order(world, catalog) -> int:
    order_id = _new_order(world, catalog)
    with world.app.app_context():
        return db.session.get(Order, order_id).shop_orders[0].id


def _new_payout(world, catalog) -> int:
    """A bank payout row (the lifecycle's moves do not touch the ledger; the service does)."""
    household_id = world.household()
    with world.app.app_context():
        payout = Payout(
            seller_kind=SellerKind.HOUSEHOLD,
            seller_id=household_id,
            county_code=db.session.get(Household, household_id).county_code,
            channel=PayoutChannel.BANK,
            requested_fen=100,
            amount_fen=100,
            out_bill_no=f"NJPT{household_id:08d}",
        )
        db.session.add(payout)
        db.session.commit()
        return payout.id


FACTORIES = {
    "shop": (Shop, _new_shop),
    "product": (Product, _new_product),
    "unit": (WorkUnit, _new_unit),
    "order": (Order, _new_order),
    "shop_order": (ShopOrder, _new_shop_order),
    "payout": (Payout, _new_payout),
}


def test_every_lifecycle_has_a_factory_here():
    assert {machine.name for machine in LIFECYCLES} == set(FACTORIES)


def _written() -> tuple[int, int]:
    audit = db.session.scalar(select(func.count()).select_from(AuditEvent))
    moderation = db.session.scalar(select(func.count()).select_from(ModerationEvent))
    return audit, moderation


def refusals(machine):
    for state in sorted(machine.states, key=machine.label):
        refused = [a for a in sorted(machine.actions) if (state, a) not in machine.table]
        if refused:
            yield pytest.param(machine, state, refused, id=f"{machine.name}-{machine.label(state)}")


@pytest.mark.parametrize(
    ("machine", "state", "refused"), [p for m in LIFECYCLES for p in refusals(m)]
)
def test_actions_not_in_the_table_are_refused_without_writing(
    app, world, catalog, machine, state, refused
):
    model, factory = FACTORIES[machine.name]
    object_id = factory(world, catalog)
    with app.app_context():
        obj = db.session.get(model, object_id)
        for action in paths(machine)[state]:
            lifecycle.apply(machine, obj, action, actor=None)
        db.session.commit()
        before = _written()
        for action in refused:
            with pytest.raises(InvalidState) as raised:
                lifecycle.apply(machine, obj, action, actor=None)
            assert raised.value.errors == {"state": [machine.label(state)], "action": [action]}
            assert machine.read(obj) == state
            assert not db.session.new and not db.session.dirty
        db.session.rollback()
        assert _written() == before
        assert machine.read(db.session.get(model, object_id)) == state


def test_an_allowed_move_records_its_event(app, world, catalog):
    shop_id = _new_shop(world, catalog)
    with app.app_context():
        shop = db.session.get(Shop, shop_id)
        move = lifecycle.apply(SHOP, shop, "approve", actor=None, reason="")
        db.session.commit()
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "shop.approve")
        ).one()
        assert event.detail == {"previous": "pending", "state": "approved", "reason": ""}
        assert move.previous == SHOP.initial


def test_a_guard_refuses_before_anything_changes(app, world, catalog):
    product_id = _new_product(world, catalog)
    with app.app_context():
        product = db.session.get(Product, product_id)
        product.shop.status = "suspended"
        db.session.commit()
        with pytest.raises(InvalidState) as raised:
            lifecycle.apply(PRODUCT, product, "submit", actor=None)
        assert raised.value.code == "shop_not_open"
        assert PRODUCT.read(product) == PRODUCT.initial
