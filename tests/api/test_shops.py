"""/api/v1/shops and /api/v1/me/shops: opening, the owner's view, editing, isolation."""

from __future__ import annotations

import pytest

from models import Shop, User, db
from models.enums import ConsentPurpose, Role
from services import shops as shop_service
from tests.factories import (
    GUZHEN,
    SANGZHI,
    VILLAGE_A,
    VILLAGE_B,
    assert_error,
    audit_rows,
    count_rows,
)

URL = "/api/v1/shops"


def stored(app, shop_id: int) -> dict:
    with app.app_context():
        shop = db.session.get(Shop, shop_id)
        return {"name": shop.name, "story": shop.story, "status": shop.status.value}


def review(app, shop_id: int, staff, *actions: str) -> None:
    """Move a shop through county review with the service, as production would."""
    with app.app_context():
        for action in actions:
            shop_service.review_shop(
                db.session.get(User, staff.id), shop_id, action=action, reason="原因"
            )


@pytest.fixture
def household(world):
    """A verified household of village A and one of its members."""
    household_id = world.household(village=VILLAGE_A)
    return household_id, world.farmer(household_id)


# --- opening ------------------------------------------------------------------------------


def test_member_opens_a_pending_shop(app, client, world, household):
    household_id, member = household
    response = client.post(
        URL,
        json={
            "household_id": household_id,
            "name": "桂兰家的土鸡蛋",
            "intro": "散养土鸡蛋",
            "story": "我家住在西南村……",
        },
        headers=member.headers,
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["household_id"] == household_id
    assert body["status"] == "pending"
    assert body["status_reason"] == ""
    assert body["county_code"] == GUZHEN
    assert (body["name"], body["intro"], body["story"]) == (
        "桂兰家的土鸡蛋",
        "散养土鸡蛋",
        "我家住在西南村……",
    )
    [row] = audit_rows(app, "shop.open")
    assert row["actor_id"] == member.id
    assert row["on_behalf_of"] is None
    assert row["object_id"] == str(body["id"])


def test_helper_with_consent_opens_on_behalf(app, client, world, household):
    household_id, _ = household
    helper = world.helper(VILLAGE_A)
    world.consent(household_id, helper, ConsentPurpose.MANAGE_SHOP)
    response = client.post(
        URL, json={"household_id": household_id, "name": "代开的店"}, headers=helper.headers
    )
    assert response.status_code == 201, response.json
    assert response.json["status"] == "pending"
    [row] = audit_rows(app, "shop.open")
    assert row["actor_id"] == helper.id
    assert row["on_behalf_of"] == household_id
    with app.app_context():
        assert db.session.get(Shop, response.json["id"]).created_by_id == helper.id


@pytest.mark.parametrize("purposes", [(), (ConsentPurpose.MANAGE_PRODUCTS,)])
def test_helper_without_consent_cannot_open(app, client, world, household, purposes):
    household_id, _ = household
    helper = world.helper(VILLAGE_A)
    if purposes:
        world.consent(household_id, helper, *purposes)
    response = client.post(
        URL, json={"household_id": household_id, "name": "代开的店"}, headers=helper.headers
    )
    assert_error(response, 403, "consent_required")
    assert count_rows(app, Shop) == 0


@pytest.mark.parametrize(
    "who", ["buyer", "other_member", "helper_other_village", "staff_other_county"]
)
def test_unrelated_user_gets_404(app, client, world, household, who):
    household_id, _ = household
    actor = {
        "buyer": lambda: world.user(),
        "other_member": lambda: world.farmer(world.household(village=VILLAGE_B)),
        "helper_other_village": lambda: world.helper(VILLAGE_B),
        "staff_other_county": lambda: world.staff(SANGZHI),
    }[who]()
    response = client.post(
        URL, json={"household_id": household_id, "name": "别人的店"}, headers=actor.headers
    )
    assert_error(response, 404, "not_found")
    assert count_rows(app, Shop) == 0


def test_unknown_household_is_404(client, world):
    response = client.post(
        URL, json={"household_id": 999999, "name": "店"}, headers=world.user().headers
    )
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize("who", ["staff", "platform_admin"])
def test_staff_and_admins_see_but_cannot_open(app, client, world, household, who):
    household_id, _ = household
    actor = world.staff(GUZHEN) if who == "staff" else world.admin()
    response = client.post(
        URL, json={"household_id": household_id, "name": "店"}, headers=actor.headers
    )
    assert_error(response, 403, "forbidden")
    assert count_rows(app, Shop) == 0


def test_unverified_household_cannot_open(app, client, world):
    helper = world.helper(VILLAGE_A)
    household_id = world.household(village=VILLAGE_A, by=helper)  # pending verification
    member = world.farmer(household_id)
    response = client.post(
        URL, json={"household_id": household_id, "name": "店"}, headers=member.headers
    )
    assert_error(response, 409, "household_not_verified")
    assert count_rows(app, Shop) == 0


def test_second_shop_for_the_household_is_409(app, client, world, household):
    household_id, member = household
    world.shop(household_id, by=member)
    helper = world.helper(VILLAGE_A)
    world.consent(household_id, helper)
    for actor in (member, helper):
        response = client.post(
            URL, json={"household_id": household_id, "name": "第二家"}, headers=actor.headers
        )
        assert_error(response, 409, "shop_exists")
    assert count_rows(app, Shop) == 1
    assert len(audit_rows(app, "shop.open")) == 1


def test_open_requires_a_token(app, client, household):
    household_id, _ = household
    response = client.post(URL, json={"household_id": household_id, "name": "店"})
    assert_error(response, 401, "unauthorized")


@pytest.mark.parametrize(
    "body,field,error",
    [
        ({"story": "故" * 2001}, "story", "validation_error"),
        ({"intro": "介" * 201}, "intro", "validation_error"),
        ({"name": "名" * 41}, "name", "validation_error"),
        ({"name": "   "}, "name", "validation_error"),
        ({"name": None}, "name", "validation_error"),
        ({"household_id": "1"}, "household_id", "validation_error"),
        ({"household_id": 0}, "household_id", "validation_error"),
        ({"household_id": 1.5}, "household_id", "validation_error"),
        ({"status": "approved"}, "status", "unknown_field"),
        ({"county_code": SANGZHI}, "county_code", "unknown_field"),
    ],
)
def test_bad_shop_input_is_422(app, client, household, body, field, error):
    household_id, member = household
    data = {"household_id": household_id, "name": "店"} | body
    response = client.post(URL, json=data, headers=member.headers)
    errors = assert_error(response, 422, error)["errors"]
    assert field in errors["json"]
    assert count_rows(app, Shop) == 0


def test_story_of_2000_chars_is_accepted(client, household):
    household_id, member = household
    response = client.post(
        URL,
        json={"household_id": household_id, "name": "店", "story": "故" * 2000},
        headers=member.headers,
    )
    assert response.status_code == 201
    assert len(response.json["story"]) == 2000


# --- owner's view -------------------------------------------------------------------------


@pytest.fixture
def shop(world, household):
    household_id, member = household
    return world.shop(household_id, by=member), household_id, member


@pytest.mark.parametrize(
    "who", ["member", "helper_of_village", "consenting_helper", "staff", "platform_admin"]
)
def test_get_shop_by_those_in_scope(client, world, shop, who):
    shop_id, household_id, member = shop
    viewer = {
        "member": lambda: member,
        "helper_of_village": lambda: world.helper(VILLAGE_A),
        "consenting_helper": lambda: world.helper(VILLAGE_A),
        "staff": lambda: world.staff(GUZHEN),
        "platform_admin": world.admin,
    }[who]()
    if who == "consenting_helper":
        world.consent(household_id, viewer)
    response = client.get(f"{URL}/{shop_id}", headers=viewer.headers)
    assert response.status_code == 200, response.json
    assert response.json["id"] == shop_id
    assert response.json["status"] == "pending"  # owners see their shop whatever its status


@pytest.mark.parametrize(
    "who", ["other_member", "helper_other_village", "staff_other_county", "buyer"]
)
def test_get_shop_hidden_from_others(client, world, shop, who):
    shop_id, _, _ = shop
    viewer = {
        "other_member": lambda: world.farmer(world.household(village=VILLAGE_A)),
        "helper_other_village": lambda: world.helper(VILLAGE_B),
        "staff_other_county": lambda: world.staff(SANGZHI),
        "buyer": lambda: world.user(),
    }[who]()
    assert_error(client.get(f"{URL}/{shop_id}", headers=viewer.headers), 404, "not_found")


def test_get_unknown_shop_is_404_and_anonymous_401(client, world, shop):
    shop_id, _, member = shop
    assert_error(client.get(f"{URL}/999999", headers=member.headers), 404, "not_found")
    assert_error(client.get(f"{URL}/{shop_id}"), 401, "unauthorized")


# --- editing ------------------------------------------------------------------------------


def test_member_edits_the_shop(app, client, shop):
    shop_id, _, member = shop
    response = client.patch(
        f"{URL}/{shop_id}", json={"name": "新店名", "story": "新的故事"}, headers=member.headers
    )
    assert response.status_code == 200, response.json
    assert response.json["name"] == "新店名"
    assert response.json["story"] == "新的故事"
    assert response.json["status"] == "pending"
    assert stored(app, shop_id)["name"] == "新店名"
    [row] = audit_rows(app, "shop.update")
    assert row["actor_id"] == member.id and row["on_behalf_of"] is None
    assert row["detail"] == {"fields": ["name", "story"], "previous": "pending", "state": "pending"}


def test_consenting_helper_edits_on_behalf(app, client, world, shop):
    shop_id, household_id, _ = shop
    helper = world.helper(VILLAGE_A)
    world.consent(household_id, helper)
    response = client.patch(f"{URL}/{shop_id}", json={"intro": "代为修改"}, headers=helper.headers)
    assert response.status_code == 200, response.json
    [row] = audit_rows(app, "shop.update")
    assert row["actor_id"] == helper.id and row["on_behalf_of"] == household_id


@pytest.mark.parametrize(
    "who,status,error",
    [
        ("helper_without_consent", 403, "consent_required"),
        ("staff", 403, "forbidden"),
        ("platform_admin", 403, "forbidden"),
        ("other_member", 404, "not_found"),
        ("staff_other_county", 404, "not_found"),
        ("helper_other_village", 404, "not_found"),
        ("buyer", 404, "not_found"),
    ],
)
def test_edit_refused(app, client, world, shop, who, status, error):
    shop_id, _, _ = shop
    actor = {
        "helper_without_consent": lambda: world.helper(VILLAGE_A),
        "staff": lambda: world.staff(GUZHEN),
        "platform_admin": world.admin,
        "other_member": lambda: world.farmer(world.household(village=VILLAGE_A)),
        "staff_other_county": lambda: world.staff(SANGZHI),
        "helper_other_village": lambda: world.helper(VILLAGE_B),
        "buyer": lambda: world.user(),
    }[who]()
    response = client.patch(f"{URL}/{shop_id}", json={"name": "抢来的店"}, headers=actor.headers)
    assert_error(response, status, error)
    assert stored(app, shop_id)["name"] == "桂兰家的土鸡蛋"
    assert audit_rows(app, "shop.update") == []


def test_editing_a_rejected_shop_sends_it_back_to_review(app, client, world, shop):
    shop_id, _, member = shop
    review(app, shop_id, world.staff(GUZHEN), "reject")
    assert stored(app, shop_id)["status"] == "rejected"
    response = client.patch(f"{URL}/{shop_id}", json={"name": "改好的名字"}, headers=member.headers)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "pending"
    assert stored(app, shop_id) | {"story": None} == {
        "name": "改好的名字",
        "story": None,
        "status": "pending",
    }
    [row] = audit_rows(app, "shop.update")
    assert (row["detail"]["previous"], row["detail"]["state"]) == ("rejected", "pending")


def test_editing_an_approved_shop_keeps_it_approved(app, client, world, shop):
    shop_id, _, member = shop
    review(app, shop_id, world.staff(GUZHEN), "approve")
    response = client.patch(f"{URL}/{shop_id}", json={"intro": "新介绍"}, headers=member.headers)
    assert response.status_code == 200
    assert response.json["status"] == "approved"


def test_editing_a_suspended_shop_is_409(app, client, world, shop):
    shop_id, household_id, member = shop
    review(app, shop_id, world.staff(GUZHEN), "approve", "suspend")
    helper = world.helper(VILLAGE_A)
    world.consent(household_id, helper)
    for actor in (member, helper):
        response = client.patch(f"{URL}/{shop_id}", json={"name": "换个名"}, headers=actor.headers)
        assert_error(response, 409, "shop_suspended")
    assert stored(app, shop_id) == {"name": "桂兰家的土鸡蛋", "story": "", "status": "suspended"}
    assert audit_rows(app, "shop.update") == []


@pytest.mark.parametrize(
    "body,error",
    [
        ({"story": "故" * 2001}, "validation_error"),
        ({"name": ""}, "validation_error"),
        ({"status": "approved"}, "unknown_field"),
        ({"household_id": 2}, "unknown_field"),
    ],
)
def test_bad_edit_is_422(app, client, shop, body, error):
    shop_id, _, member = shop
    response = client.patch(f"{URL}/{shop_id}", json=body, headers=member.headers)
    assert_error(response, 422, error)
    assert stored(app, shop_id) == {"name": "桂兰家的土鸡蛋", "story": "", "status": "pending"}


# --- /me/shops ----------------------------------------------------------------------------


def my_shop_ids(client, person) -> list[int]:
    response = client.get("/api/v1/me/shops", headers=person.headers)
    assert response.status_code == 200, response.json
    assert response.json["next_cursor"] is None
    return [s["id"] for s in response.json["items"]]


def test_my_shops_for_a_member(client, world, shop):
    shop_id, _, member = shop
    world.shop(world.household(village=VILLAGE_A))  # someone else's shop
    assert my_shop_ids(client, member) == [shop_id]


def test_my_shops_for_a_consenting_helper(app, client, world, shop):
    shop_id, household_id, _ = shop
    helper = world.helper(VILLAGE_A)
    assert my_shop_ids(client, helper) == []  # in scope, but no consent yet
    consent_id = world.consent(household_id, helper)
    other = world.household(village=VILLAGE_A)
    world.shop(other)  # a shop of the village he has no consent for
    third = world.household(village=VILLAGE_A)
    world.shop(third)
    world.consent(third, helper, ConsentPurpose.HANDLE_ORDERS)  # wrong purpose
    assert my_shop_ids(client, helper) == [shop_id]

    staff = world.staff(GUZHEN)
    response = client.post(
        f"/api/v1/households/{household_id}/consents/{consent_id}/revoke", headers=staff.headers
    )
    assert response.status_code == 200
    assert my_shop_ids(client, helper) == []


def test_my_shops_for_a_household_scoped_helper(client, world, shop):
    shop_id, household_id, _ = shop
    helper = world.grant(world.user(), Role.HELPER, household_id=household_id)
    world.consent(household_id, helper)
    assert my_shop_ids(client, helper) == [shop_id]


@pytest.mark.parametrize("who", ["buyer", "staff", "platform_admin"])
def test_my_shops_empty_for_others(client, world, shop, who):
    person = {
        "buyer": world.user,
        "staff": lambda: world.staff(GUZHEN),
        "platform_admin": world.admin,
    }[who]()
    assert my_shop_ids(client, person) == []


def test_my_shops_requires_a_token(client):
    assert_error(client.get("/api/v1/me/shops"), 401, "unauthorized")
