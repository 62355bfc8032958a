"""services.shops against a real database: the review state machine, opening, owner lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from models import AuditEvent, Consent, Shop, User, db
from models.enums import ConsentPurpose, ShopStatus
from services import shops
from services.errors import Conflict, InvalidInput, InvalidState
from services.lifecycles import SHOP
from tests.factories import GUZHEN, VILLAGE_A, sangzhi_village

PATH_TO = {
    ShopStatus.PENDING: [],
    ShopStatus.APPROVED: ["approve"],
    ShopStatus.REJECTED: ["reject"],
    ShopStatus.SUSPENDED: ["approve", "suspend"],
}


def user(person) -> User:
    return db.session.get(User, person.id)


def shop_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Shop))


@pytest.fixture
def staff(world):
    return world.staff(GUZHEN)


@pytest.fixture
def shop_id(world):
    return world.shop(world.household(village=VILLAGE_A))


@pytest.mark.parametrize("state", list(ShopStatus))
@pytest.mark.parametrize("action", ["approve", "reject", "suspend"])
def test_review_enforces_the_transition_table(ctx, staff, shop_id, state, action):
    for step in PATH_TO[state]:
        shops.review_shop(user(staff), shop_id, action=step, reason="原因")
    shop = db.session.get(Shop, shop_id)
    assert shop.status == state
    reason_before, events_before = (
        shop.status_reason,
        db.session.scalar(select(func.count()).select_from(AuditEvent)),
    )

    row = SHOP.table.get((state, action))
    if row is not None:
        target = row.target
        reviewed = shops.review_shop(user(staff), shop_id, action=action, reason="核查结论")
        assert reviewed.status == target
        assert reviewed.status_reason == "核查结论"
        assert reviewed.reviewed_by_id == staff.id
        assert reviewed.reviewed_at is not None
    else:
        with pytest.raises(InvalidState) as raised:
            shops.review_shop(user(staff), shop_id, action=action, reason="核查结论")
        assert raised.value.code == "invalid_state"
        db.session.commit()  # a caller committing afterwards writes nothing of the attempt
        db.session.expire_all()
        shop = db.session.get(Shop, shop_id)
        assert (shop.status, shop.status_reason) == (state, reason_before)
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events_before


@pytest.mark.parametrize(
    "state,after",
    [
        (ShopStatus.PENDING, ShopStatus.PENDING),
        (ShopStatus.APPROVED, ShopStatus.APPROVED),
        (ShopStatus.REJECTED, ShopStatus.PENDING),  # the "resubmit" row of the table
    ],
)
def test_owner_edit_resubmits_only_a_rejected_shop(ctx, world, staff, state, after):
    household_id = world.household(village=VILLAGE_A)
    member = world.farmer(household_id)
    shop_id = world.shop(household_id, by=member)
    for step in PATH_TO[state]:
        shops.review_shop(user(staff), shop_id, action=step, reason="原因")
    shop = shops.update_shop(user(member), shop_id, changes={"intro": "新介绍"})
    assert shop.status == after
    assert shop.intro == "新介绍"


def test_owner_cannot_edit_a_suspended_shop(ctx, world, staff):
    household_id = world.household(village=VILLAGE_A)
    member = world.farmer(household_id)
    shop_id = world.shop(household_id, by=member, approve_by=staff)
    shops.review_shop(user(staff), shop_id, action="suspend", reason="食品安全抽检")
    with pytest.raises(InvalidState) as raised:
        shops.update_shop(user(member), shop_id, changes={"name": "换名重来"})
    assert raised.value.code == "shop_suspended"
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Shop, shop_id).name == "桂兰家的土鸡蛋"


def test_reason_is_required_before_anything_changes(ctx, staff, shop_id):
    for action in ("reject", "suspend"):
        with pytest.raises(InvalidInput) as raised:
            shops.review_shop(user(staff), shop_id, action=action, reason=" \n ")
        assert raised.value.code == "reason_required"
    assert db.session.get(Shop, shop_id).status == ShopStatus.PENDING


def test_unverified_household_cannot_open_and_nothing_is_written(ctx, world):
    household_id = world.household(village=VILLAGE_A, by=world.helper(VILLAGE_A))
    member = world.farmer(household_id)
    with pytest.raises(InvalidState) as raised:
        shops.open_shop(user(member), household_id=household_id, name="店")
    assert raised.value.code == "household_not_verified"
    db.session.commit()
    assert shop_count() == 0


def test_second_shop_is_refused(ctx, world):
    household_id = world.household()
    member = world.farmer(household_id)
    shops.open_shop(user(member), household_id=household_id, name="第一家")
    with pytest.raises(Conflict) as raised:
        shops.open_shop(user(member), household_id=household_id, name="第二家")
    assert raised.value.code == "shop_exists"
    db.session.commit()
    assert shop_count() == 1


def test_shop_takes_the_county_of_its_household(ctx, world):
    shop_id = world.shop(world.household(village=sangzhi_village()))
    assert db.session.get(Shop, shop_id).county_code == "430822"


def test_my_shops_skips_expired_revoked_and_other_purpose_consents(app, ctx, world):
    helper = world.helper(VILLAGE_A)
    active, expired, revoked, wrong_purpose = (world.household() for _ in range(4))
    shop_ids = {h: world.shop(h) for h in (active, expired, revoked, wrong_purpose)}
    world.consent(active, helper)
    expired_consent = world.consent(expired, helper)
    revoked_consent = world.consent(revoked, helper)
    world.consent(wrong_purpose, helper, ConsentPurpose.VIEW_FINANCES)

    db.session.get(Consent, expired_consent).expires_at = datetime.now(UTC) - timedelta(hours=1)
    db.session.get(Consent, revoked_consent).revoked_at = datetime.now(UTC)
    db.session.commit()

    assert [s.id for s in shops.list_my_shops(user(helper))] == [shop_ids[active]]
    assert shops.list_my_shops(user(world.user())) == []


def test_public_list_shows_approved_shops_only(ctx, world, staff):
    pending = world.shop(world.household())
    approved = world.shop(world.household(), approve_by=staff)
    suspended = world.shop(world.household(), approve_by=staff)
    shops.review_shop(user(staff), suspended, action="suspend", reason="暂停")
    elsewhere = world.shop(
        world.household(village=sangzhi_village()), approve_by=world.staff("430822")
    )
    listed = [s.id for s in shops.list_public_shops()]
    assert approved in listed and elsewhere in listed
    assert pending not in listed and suspended not in listed
    assert [s.id for s in shops.list_public_shops(county_code=GUZHEN)] == [approved]
