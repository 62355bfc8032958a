"""/api/v1/admin: shop review, household verification and the audited ID-number reveal."""

from __future__ import annotations

import pytest

from models import AuditEvent, Household, Shop, db
from services.lifecycles import SHOP
from tests.factories import (
    GUZHEN,
    SANGZHI,
    VILLAGE_A,
    assert_error,
    audit_rows,
    count_rows,
    valid_id_number,
)

ADMIN = "/api/v1/admin"
STATES = ["pending", "approved", "rejected", "suspended"]
# How to reach each state from a freshly opened (pending) shop.
PATH_TO = {
    "pending": [],
    "approved": ["approve"],
    "rejected": ["reject"],
    "suspended": ["approve", "suspend"],
}


def shop_state(app, shop_id: int) -> dict:
    with app.app_context():
        shop = db.session.get(Shop, shop_id)
        return {
            "status": shop.status.value,
            "status_reason": shop.status_reason,
            "reviewed_by_id": shop.reviewed_by_id,
        }


def act(client, shop_id: int, action: str, person, reason: str | None = "信息不实"):
    body = {} if reason is None else {"reason": reason}
    return client.post(f"{ADMIN}/shops/{shop_id}/{action}", json=body, headers=person.headers)


@pytest.fixture
def staff(world):
    return world.staff(GUZHEN)


@pytest.fixture
def shop_id(world):
    return world.shop(world.household(village=VILLAGE_A))


# --- shop review --------------------------------------------------------------------------


def test_staff_approves_a_pending_shop(app, client, staff, shop_id):
    response = act(client, shop_id, "approve", staff, reason=None)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "approved"
    assert response.json["status_reason"] == ""
    state = shop_state(app, shop_id)
    assert state["status"] == "approved" and state["reviewed_by_id"] == staff.id
    [row] = audit_rows(app, "shop.approve")
    assert row["actor_id"] == staff.id
    assert (row["object_type"], row["object_id"]) == ("shop", str(shop_id))
    assert row["detail"] == {"reason": "", "previous": "pending", "state": "approved"}


@pytest.mark.parametrize("action,target", [("reject", "rejected"), ("suspend", "suspended")])
def test_reject_and_suspend_record_the_reason(app, client, staff, shop_id, action, target):
    if action == "suspend":
        assert act(client, shop_id, "approve", staff, reason=None).status_code == 200
    response = act(client, shop_id, action, staff, reason="  图片与实物不符  ")
    assert response.status_code == 200, response.json
    assert response.json["status"] == target
    assert response.json["status_reason"] == "图片与实物不符"
    assert shop_state(app, shop_id)["status_reason"] == "图片与实物不符"
    [row] = audit_rows(app, f"shop.{action}")
    assert row["actor_id"] == staff.id
    assert row["detail"]["reason"] == "图片与实物不符"
    assert row["detail"]["state"] == target


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", ["approve", "reject", "suspend"])
def test_transitions_follow_the_table(app, client, staff, shop_id, state, action):
    for step in PATH_TO[state]:
        assert act(client, shop_id, step, staff).status_code == 200
    assert shop_state(app, shop_id)["status"] == state
    before = count_rows(app, AuditEvent)

    response = act(client, shop_id, action, staff)
    row = SHOP.table.get((state, action))
    if row is not None:
        assert response.status_code == 200, response.json
        assert response.json["status"] == row.target.value
        assert shop_state(app, shop_id)["status"] == row.target.value
        assert count_rows(app, AuditEvent) == before + 1
    else:
        body = assert_error(response, 409, "invalid_state")
        assert body["errors"] == {"state": [state], "action": [action]}
        assert shop_state(app, shop_id)["status"] == state
        assert count_rows(app, AuditEvent) == before


def test_suspending_a_pending_shop_is_409(app, client, staff, shop_id):
    assert_error(act(client, shop_id, "suspend", staff), 409, "invalid_state")
    assert shop_state(app, shop_id) == {
        "status": "pending",
        "status_reason": "",
        "reviewed_by_id": None,
    }


def test_suspended_shop_can_be_reinstated(client, staff, shop_id):
    for step in ("approve", "suspend"):
        assert act(client, shop_id, step, staff).status_code == 200
    response = act(client, shop_id, "approve", staff, reason="已整改")
    assert response.status_code == 200
    assert response.json["status"] == "approved"


@pytest.mark.parametrize("action", ["reject", "suspend"])
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_reject_or_suspend_without_reason_is_422(app, client, staff, shop_id, action, reason):
    if action == "suspend":
        assert act(client, shop_id, "approve", staff, reason=None).status_code == 200
    before = shop_state(app, shop_id)
    body = assert_error(act(client, shop_id, action, staff, reason=reason), 422, "reason_required")
    assert "reason" in body["errors"]
    assert shop_state(app, shop_id) == before
    assert audit_rows(app, f"shop.{action}") == []


@pytest.mark.parametrize(
    "body,error",
    [
        ({"reason": "因" * 501}, "validation_error"),
        ({"reason": 5}, "validation_error"),
        ({"status": "approved"}, "unknown_field"),
    ],
)
def test_bad_review_body_is_422(app, client, staff, shop_id, body, error):
    response = client.post(f"{ADMIN}/shops/{shop_id}/reject", json=body, headers=staff.headers)
    assert_error(response, 422, error)
    assert shop_state(app, shop_id)["status"] == "pending"


@pytest.mark.parametrize("action", ["approve", "reject", "suspend"])
@pytest.mark.parametrize(
    "who,status,error",
    [
        ("staff_other_county", 404, "not_found"),
        ("platform_admin", 403, "admin_read_only"),
        ("farmer", 403, "forbidden"),
        ("helper", 403, "forbidden"),
        ("buyer", 403, "forbidden"),
        ("anonymous", 401, "unauthorized"),
    ],
)
def test_review_refused(app, client, world, staff, shop_id, action, who, status, error):
    # Each action starts from a state it is legal from, so only the actor is wrong.
    if action == "suspend":
        assert act(client, shop_id, "approve", staff).status_code == 200
    headers = {
        "staff_other_county": lambda: world.staff(SANGZHI).headers,
        "platform_admin": lambda: world.admin().headers,
        "farmer": lambda: world.farmer(world.household()).headers,
        "helper": lambda: world.helper(VILLAGE_A).headers,
        "buyer": lambda: world.user().headers,
        "anonymous": lambda: {},
    }[who]()
    before = shop_state(app, shop_id)
    audits = count_rows(app, AuditEvent)
    response = client.post(
        f"{ADMIN}/shops/{shop_id}/{action}", json={"reason": "原因"}, headers=headers
    )
    assert_error(response, status, error)
    assert shop_state(app, shop_id) == before
    assert count_rows(app, AuditEvent) == audits


def test_platform_admin_is_told_it_is_read_only(client, world, shop_id):
    body = assert_error(act(client, shop_id, "approve", world.admin()), 403, "admin_read_only")
    assert body["message"] == "平台管理员只能查看"


def test_review_of_unknown_shop_is_404(client, staff):
    assert_error(act(client, 999999, "approve", staff), 404, "not_found")


def test_staff_review_only_their_own_county(app, client, world):
    guzhen_shop = world.shop(world.household(village=VILLAGE_A))
    sangzhi_shop = world.shop(world.household(village="430822100001"))
    sangzhi_staff = world.staff(SANGZHI)
    assert_error(act(client, guzhen_shop, "approve", sangzhi_staff), 404, "not_found")
    assert act(client, sangzhi_shop, "approve", sangzhi_staff).status_code == 200


# --- household verification ---------------------------------------------------------------


@pytest.fixture
def pending_household(world):
    return world.household(village=VILLAGE_A, by=world.helper(VILLAGE_A))


def verification(app, household_id: int) -> dict:
    with app.app_context():
        h = db.session.get(Household, household_id)
        return {"status": h.verification_status.value, "by": h.verified_by_id}


def test_staff_verifies_a_helper_registered_household(app, client, world, staff, pending_household):
    assert verification(app, pending_household) == {"status": "pending", "by": None}
    response = client.post(f"{ADMIN}/households/{pending_household}/verify", headers=staff.headers)
    assert response.status_code == 200, response.json
    assert response.json["verification_status"] == "verified"
    assert response.json["verified_at"] is not None
    assert verification(app, pending_household) == {"status": "verified", "by": staff.id}
    [row] = audit_rows(app, "household.verify")
    assert row["actor_id"] == staff.id and row["object_id"] == str(pending_household)

    # Verified, the household may now open its shop.
    member = world.farmer(pending_household)
    response = client.post(
        "/api/v1/shops",
        json={"household_id": pending_household, "name": "店"},
        headers=member.headers,
    )
    assert response.status_code == 201


def test_verify_is_idempotent(app, client, world, staff, pending_household):
    url = f"{ADMIN}/households/{pending_household}/verify"
    first = client.post(url, headers=staff.headers)
    second = client.post(url, headers=world.staff(GUZHEN).headers)
    assert first.status_code == second.status_code == 200
    assert second.json["verified_at"] == first.json["verified_at"]
    assert verification(app, pending_household)["by"] == staff.id
    assert len(audit_rows(app, "household.verify")) == 1


@pytest.mark.parametrize(
    "who,status,error",
    [
        ("staff_other_county", 404, "not_found"),
        ("platform_admin", 403, "admin_read_only"),
        ("helper", 403, "forbidden"),
        ("farmer", 403, "forbidden"),
        ("buyer", 403, "forbidden"),
        ("anonymous", 401, "unauthorized"),
    ],
)
def test_verify_refused(app, client, world, pending_household, who, status, error):
    headers = {
        "staff_other_county": lambda: world.staff(SANGZHI).headers,
        "platform_admin": lambda: world.admin().headers,
        "helper": lambda: world.helper(VILLAGE_A).headers,
        "farmer": lambda: world.farmer(pending_household).headers,
        "buyer": lambda: world.user().headers,
        "anonymous": lambda: {},
    }[who]()
    response = client.post(f"{ADMIN}/households/{pending_household}/verify", headers=headers)
    assert_error(response, status, error)
    assert verification(app, pending_household) == {"status": "pending", "by": None}
    assert audit_rows(app, "household.verify") == []


def test_verify_unknown_household_is_404(client, staff):
    assert_error(
        client.post(f"{ADMIN}/households/999999/verify", headers=staff.headers), 404, "not_found"
    )


# --- ID number reveal ---------------------------------------------------------------------


@pytest.fixture
def registered(world):
    number = valid_id_number()
    return world.household(village=VILLAGE_A, id_number=number), number


def reveal(client, household_id: int, headers, reason: str | None = "核对低保材料"):
    query = {} if reason is None else {"reason": reason}
    return client.get(
        f"{ADMIN}/households/{household_id}/id-number", query_string=query, headers=headers
    )


def test_staff_reveals_the_full_number_with_an_audit_row(app, client, staff, registered):
    household_id, number = registered
    response = reveal(client, household_id, staff.headers)
    assert response.status_code == 200, response.json
    assert response.json == {"household_id": household_id, "id_number": number}
    [row] = audit_rows(app, "household.reveal_id_number")
    assert row["actor_id"] == staff.id
    assert (row["object_type"], row["object_id"]) == ("household", str(household_id))
    assert row["detail"] == {"reason": "核对低保材料"}
    assert number not in str(row["detail"])

    # Every reveal is recorded, not only the first.
    assert reveal(client, household_id, staff.headers, reason="再次核对").status_code == 200
    assert [r["detail"]["reason"] for r in audit_rows(app, "household.reveal_id_number")] == [
        "核对低保材料",
        "再次核对",
    ]


@pytest.mark.parametrize("reason", [None, "", " ", "因", "因" * 201])
def test_reveal_without_a_proper_reason_is_422(app, client, staff, registered, reason):
    household_id, number = registered
    response = reveal(client, household_id, staff.headers, reason=reason)
    body = assert_error(response, 422, "validation_error")
    assert "reason" in body["errors"]["query"]
    assert number not in response.get_data(as_text=True)
    assert audit_rows(app, "household.reveal_id_number") == []


def test_reveal_with_unknown_query_parameter_is_422(app, client, staff, registered):
    household_id, _ = registered
    response = client.get(
        f"{ADMIN}/households/{household_id}/id-number",
        query_string={"reason": "核对材料", "full": "1"},
        headers=staff.headers,
    )
    assert_error(response, 422, "unknown_field")
    assert audit_rows(app, "household.reveal_id_number") == []


@pytest.mark.parametrize(
    "who,status,error",
    [
        ("staff_other_county", 404, "not_found"),
        ("platform_admin", 403, "admin_read_only"),
        ("helper", 403, "forbidden"),
        ("farmer", 403, "forbidden"),
        ("buyer", 403, "forbidden"),
        ("anonymous", 401, "unauthorized"),
    ],
)
def test_reveal_refused(app, client, world, registered, who, status, error):
    household_id, number = registered
    headers = {
        "staff_other_county": lambda: world.staff(SANGZHI).headers,
        "platform_admin": lambda: world.admin().headers,
        "helper": lambda: world.helper(VILLAGE_A).headers,
        "farmer": lambda: world.farmer(household_id).headers,
        "buyer": lambda: world.user().headers,
        "anonymous": lambda: {},
    }[who]()
    response = reveal(client, household_id, headers)
    assert_error(response, status, error)
    assert number not in response.get_data(as_text=True)
    assert audit_rows(app, "household.reveal_id_number") == []


def test_reveal_of_unknown_household_is_404(app, client, staff):
    assert_error(reveal(client, 999999, staff.headers), 404, "not_found")
    assert audit_rows(app, "household.reveal_id_number") == []
