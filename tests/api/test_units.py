"""/api/v1/units and /api/v1/admin/units: registration, review, members and pledges."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from models import RoleGrant, UnitInvite, UnitPledge, WorkUnit, db
from models.enums import Role, UnitKind
from services import units as units_service
from tests.factories import (
    GUZHEN,
    SANGZHI,
    SANGZHI_VILLAGE,
    VILLAGE_A,
    Units,
    assert_error,
    audit_rows,
    count_rows,
    unit_body,
    valid_uscc,
)

URL = "/api/v1/units"
ADMIN_URL = "/api/v1/admin/units"
TOWNSHIP = "340323101000"  # 固镇县 王庄镇
# Village collectives (N2: 村级集体经济组织) of 固镇县, with their right check characters.
N_CODE = "N2340323MF0412873D"


@pytest.fixture
def units(world):
    return Units(world)


def register(client, person, **overrides):
    return client.post(URL, json=unit_body(**overrides), headers=person.headers)


def stored_unit(app, unit_id: int) -> dict:
    with app.app_context():
        unit = db.session.get(WorkUnit, unit_id)
        return {c.name: getattr(unit, c.name) for c in WorkUnit.__table__.columns}


def unit_grants(app) -> list[tuple[int, str, int]]:
    with app.app_context():
        grants = db.session.scalars(select(RoleGrant).where(RoleGrant.unit_id.is_not(None)))
        return sorted((g.user_id, g.role.value, g.unit_id) for g in grants)


def unit_roles(client, person) -> list[tuple[str, int]]:
    me = client.get("/api/v1/me", headers=person.headers).json
    return sorted(
        (r["role"], r["scope"]["unit_id"]) for r in me["roles"] if r["role"].startswith("unit_")
    )


# --- registration ---------------------------------------------------------------------------


def test_registering_makes_the_caller_admin_of_a_pending_unit(app, client, world):
    person = world.user("老周")
    response = register(client, person, name="  固镇县第一中学 ")
    assert response.status_code == 201, response.json
    body = response.json
    assert body["name"] == "固镇县第一中学"
    assert body["kind"] == "学校"
    assert body["status"] == "pending" and body["status_reason"] == ""
    assert body["region"] == {"code": GUZHEN, "name": "固镇县"}
    assert body["county_code"] == GUZHEN
    assert body["contact_phone"] == "13905520101"
    assert body["reviewed_at"] is None
    assert unit_roles(client, person) == [("unit_admin", body["id"])]
    mine = client.get("/api/v1/me/units", headers=person.headers).json
    assert [(i["unit"]["id"], i["role"]) for i in mine["items"]] == [(body["id"], "unit_admin")]
    [row] = audit_rows(app, "unit.register")
    assert row["actor_id"] == person.id and row["object_id"] == str(body["id"])
    assert row["detail"] == {"kind": "学校", "county_code": GUZHEN}


def test_code_and_phone_are_normalised(app, client, world):
    code = valid_uscc()
    spaced = " ".join([code[:2].lower(), code[2:8], code[8:].lower()])
    response = register(client, world.user(), uscc=spaced, contact_phone="+86 139-0552-0199")
    assert response.status_code == 201, response.json
    assert response.json["uscc"] == code
    assert response.json["contact_phone"] == "13905520199"


def test_a_village_collective_registers_with_its_n_code(client, world):
    response = register(
        client,
        world.user(),
        uscc=N_CODE,
        kind="其他",
        region_code=VILLAGE_A,
        name="西南村股份经济合作社",
    )
    assert response.status_code == 201, response.json
    assert response.json["uscc"] == N_CODE
    assert response.json["region"] == {"code": VILLAGE_A, "name": "西南村村民委员会"}
    assert response.json["county_code"] == GUZHEN


def test_a_township_is_a_region_too(client, world):
    response = register(client, world.user(), region_code=TOWNSHIP)
    assert response.status_code == 201, response.json
    assert response.json["county_code"] == GUZHEN


@pytest.mark.parametrize(
    "uscc",
    [
        "N2340323MF0412873E",  # wrong check character
        "91110000I00037341L",  # a forbidden letter
        "B1340323MF04128730",  # no such registration authority
        "12340323MB1937250",  # 17 characters
        "",
    ],
)
def test_an_invalid_code_is_refused(app, client, world, uscc):
    body = assert_error(register(client, world.user(), uscc=uscc), 422, "invalid_uscc")
    assert set(body["errors"]) == {"uscc"}
    assert count_rows(app, WorkUnit) == 0
    assert unit_grants(app) == []


def test_a_code_registers_once(app, client, world):
    code = valid_uscc()
    assert register(client, world.user(), uscc=code).status_code == 201
    again = register(client, world.user(), uscc=f" {code.lower()} ")
    body = assert_error(again, 409, "unit_exists")
    assert set(body["errors"]) == {"uscc"}
    assert count_rows(app, WorkUnit) == 1


@pytest.mark.parametrize(
    "region_code",
    ["340323999999", "340000", "340300", "12345", "3403231012000"],
    ids=["unknown", "province", "city", "malformed", "too-long"],
)
def test_the_region_must_be_a_county_township_or_village(app, client, world, region_code):
    response = register(client, world.user(), region_code=region_code)
    if len(region_code) > 12:
        assert_error(response, 422, "validation_error")
    else:
        body = assert_error(response, 422, "invalid_region_code")
        assert set(body["errors"]) == {"region_code"}
    assert count_rows(app, WorkUnit) == 0


@pytest.mark.parametrize(
    "phone", ["", "1390552010", "23905520101", "电话", "139  0552 0101", "139--05520101"]
)
def test_a_contact_phone_is_required_and_checked(app, client, world, phone):
    body = assert_error(register(client, world.user(), contact_phone=phone), 422, "invalid_phone")
    assert set(body["errors"]) == {"contact_phone"}
    assert count_rows(app, WorkUnit) == 0


def test_registration_validates_its_body(client, world):
    person = world.user()
    body = unit_body()
    del body["contact_name"]
    missing = assert_error(client.post(URL, json=body, headers=person.headers), 422)
    assert missing["error"] == "validation_error" and "contact_name" in missing["errors"]["json"]
    assert_error(register(client, person, kind="公司"), 422, "validation_error")
    assert_error(register(client, person, name=" "), 422, "validation_error")
    assert_error(register(client, person, budget=1), 422, "unknown_field")
    assert_error(client.post(URL, headers=person.headers), 422, "missing_body")
    assert_error(client.post(URL, json=unit_body()), 401, "unauthorized")


# --- reading --------------------------------------------------------------------------------


def test_who_sees_a_unit(client, world, units):
    unit, admin = units.verified()
    member = units.member(unit, admin)
    for viewer in (admin, member, world.staff(GUZHEN), world.admin()):
        response = client.get(f"{URL}/{unit}", headers=viewer.headers)
        assert response.status_code == 200, response.json
        assert response.json["id"] == unit and response.json["status"] == "verified"
    other_unit_admin = units.verified(region_code=SANGZHI, uscc=valid_uscc(county=SANGZHI))[1]
    for stranger in (world.user(), world.staff(SANGZHI), world.helper(), other_unit_admin):
        assert_error(client.get(f"{URL}/{unit}", headers=stranger.headers), 404, "not_found")
    assert_error(client.get(f"{URL}/{unit + 1000}", headers=admin.headers), 404, "not_found")
    assert_error(client.get(f"{URL}/{unit}"), 401, "unauthorized")


def test_my_units_lists_every_unit_with_my_role(client, world, units):
    person = world.user()
    assert client.get("/api/v1/me/units", headers=person.headers).json == {
        "items": [],
        "next_cursor": None,
    }
    first, first_admin = units.verified()
    own, _ = units.register(by=person)
    units.member(first, first_admin, person)
    third, third_admin = units.verified(region_code=SANGZHI, uscc=valid_uscc(county=SANGZHI))
    units.member(third, third_admin, person)
    items = client.get("/api/v1/me/units", headers=person.headers).json["items"]
    assert [(i["unit"]["id"], i["role"]) for i in items] == [
        (first, "unit_member"),
        (own, "unit_admin"),
        (third, "unit_member"),
    ]


# --- editing --------------------------------------------------------------------------------


def test_the_admin_edits_name_address_and_contact(app, client, world, units):
    unit, admin = units.verified()
    changes = {
        "name": "固镇县第一中学（新校区）",
        "address": "固镇县城关镇淮河路9号",
        "contact_name": "王老师",
        "contact_phone": "139 0552 0102",
    }
    response = client.patch(f"{URL}/{unit}", json=changes, headers=admin.headers)
    assert response.status_code == 200, response.json
    assert {k: response.json[k] for k in changes} == changes | {"contact_phone": "13905520102"}
    assert response.json["status"] == "verified"
    [row] = audit_rows(app, "unit.update")
    assert row["actor_id"] == admin.id
    assert row["detail"] == {
        "previous": "verified",
        "state": "verified",
        "fields": ["address", "contact_name", "contact_phone", "name"],
    }


def test_only_the_admin_edits(app, client, world, units):
    unit, admin = units.verified()
    member = units.member(unit, admin)
    patch = {"name": "别的名字"}
    for person in (member, world.staff(GUZHEN), world.admin()):
        response = client.patch(f"{URL}/{unit}", json=patch, headers=person.headers)
        assert_error(response, 403, "forbidden")
    for person in (world.user(), world.staff(SANGZHI)):
        assert_error(client.patch(f"{URL}/{unit}", json=patch, headers=person.headers), 404)
    assert stored_unit(app, unit)["name"] == "固镇县第一中学"


def test_identity_is_locked_once_verified(app, client, world, units):
    unit, admin = units.verified()
    code = stored_unit(app, unit)["uscc"]
    for change in (
        {"uscc": valid_uscc()},
        {"kind": "医院"},
        {"region_code": TOWNSHIP},
        {"name": "新名字", "uscc": valid_uscc()},
    ):
        response = client.patch(f"{URL}/{unit}", json=change, headers=admin.headers)
        body = assert_error(response, 409, "unit_identity_locked")
        assert set(body["errors"]) == set(change) - {"name"}
    assert stored_unit(app, unit)["uscc"] == code
    assert stored_unit(app, unit)["name"] == "固镇县第一中学"
    # Sending what is already there changes nothing, so it is not refused.
    same = {"uscc": code.lower(), "kind": "学校", "region_code": GUZHEN}
    assert client.patch(f"{URL}/{unit}", json=same, headers=admin.headers).status_code == 200


def test_a_pending_unit_corrects_its_identity(app, client, world, units):
    unit, admin = units.register()
    change = {"uscc": N_CODE, "kind": "其他", "region_code": SANGZHI_VILLAGE}
    response = client.patch(f"{URL}/{unit}", json=change, headers=admin.headers)
    assert response.status_code == 200, response.json
    assert response.json["uscc"] == N_CODE
    assert response.json["county_code"] == SANGZHI
    # It now waits for 桑植县, not 固镇县.
    assert_error(client.get(f"{URL}/{unit}", headers=world.staff(GUZHEN).headers), 404)
    assert client.get(f"{URL}/{unit}", headers=world.staff(SANGZHI).headers).status_code == 200


def test_edits_are_validated_before_anything_changes(app, client, world, units):
    taken = units.register()[0]
    unit, admin = units.register()
    before = stored_unit(app, unit)
    taken_code = stored_unit(app, taken)["uscc"]
    cases = [
        ({"name": "新名字", "uscc": taken_code}, 409, "unit_exists"),
        ({"name": "新名字", "uscc": "N2340323MF0412873E"}, 422, "invalid_uscc"),
        ({"name": "新名字", "region_code": "340000"}, 422, "invalid_region_code"),
        ({"name": "新名字", "contact_phone": ""}, 422, "invalid_phone"),
        ({"name": "新名字", "contact_phone": "12345"}, 422, "invalid_phone"),
        ({"status": "verified"}, 422, "unknown_field"),
        ({"name": ""}, 422, "validation_error"),
    ]
    for change, status, error in cases:
        response = client.patch(f"{URL}/{unit}", json=change, headers=admin.headers)
        assert_error(response, status, error)
    assert_error(client.patch(f"{URL}/{unit}", headers=admin.headers), 422, "missing_body")
    assert stored_unit(app, unit) == before
    assert audit_rows(app, "unit.update") == []


def test_a_rejected_unit_goes_back_to_review_when_edited(app, client, world, units):
    unit, admin = units.register()
    staff = world.staff(GUZHEN)
    reason = {"reason": "名称与证书不符"}
    assert (
        client.post(f"{ADMIN_URL}/{unit}/reject", json=reason, headers=staff.headers).json["status"]
        == "rejected"
    )
    response = client.patch(f"{URL}/{unit}", json={"name": "固镇县一中"}, headers=admin.headers)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "pending"
    assert response.json["status_reason"] == "名称与证书不符"  # what was wrong, until reviewed
    verified = client.post(f"{ADMIN_URL}/{unit}/verify", json={}, headers=staff.headers)
    assert verified.json["status"] == "verified" and verified.json["status_reason"] == ""


# --- review ---------------------------------------------------------------------------------


def test_county_staff_verify_a_unit_of_their_county(app, client, world, units):
    unit, admin = units.register()
    staff = world.staff(GUZHEN)
    response = client.post(f"{ADMIN_URL}/{unit}/verify", headers=staff.headers)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "verified"
    assert response.json["reviewed_at"] is not None
    assert stored_unit(app, unit)["reviewed_by_id"] == staff.id
    [row] = audit_rows(app, "unit.verify")
    assert row["actor_id"] == staff.id and row["object_type"] == "unit"
    assert row["detail"] == {
        "previous": "pending",
        "state": "verified",
        "reason": "",
        "reviewed_as": "county_staff",
    }
    # Verified, the unit's admin may invite colleagues.
    assert client.post(f"{URL}/{unit}/invites", headers=admin.headers).status_code == 201


def test_a_platform_admin_may_verify_a_unit_and_it_is_audited(app, client, world, units):
    unit, _ = units.register(region_code=SANGZHI_VILLAGE, uscc=valid_uscc(county=SANGZHI))
    admin = world.admin()
    response = client.post(f"{ADMIN_URL}/{unit}/verify", json={}, headers=admin.headers)
    assert response.status_code == 200, response.json
    [row] = audit_rows(app, "unit.verify")
    assert row["actor_id"] == admin.id
    assert row["detail"]["reviewed_as"] == "platform_admin"


def test_review_refusals(app, client, world, units):
    unit, admin = units.register()
    member_of_nothing = world.user()
    path = f"{ADMIN_URL}/{unit}/verify"
    assert_error(client.post(path, headers=world.staff(SANGZHI).headers), 404, "not_found")
    assert_error(client.post(path, headers=admin.headers), 403, "forbidden")
    assert_error(client.post(path, headers=member_of_nothing.headers), 403, "forbidden")
    assert_error(client.post(path), 401, "unauthorized")
    missing = f"{ADMIN_URL}/{unit + 1000}/verify"
    assert_error(client.post(missing, headers=world.staff(GUZHEN).headers), 404, "not_found")
    assert stored_unit(app, unit)["status"].value == "pending"


def test_nobody_reviews_their_own_unit(app, client, world):
    staff = world.staff(GUZHEN)
    response = register(client, staff)  # a county clerk registers their own office
    assert response.status_code == 201, response.json
    unit = response.json["id"]
    for action, body in (("verify", {}), ("reject", {"reason": "自己审自己"})):
        answer = client.post(f"{ADMIN_URL}/{unit}/{action}", json=body, headers=staff.headers)
        assert_error(answer, 403, "unit_review_own")
    assert (
        client.post(f"{ADMIN_URL}/{unit}/verify", headers=world.staff(GUZHEN).headers).status_code
        == 200
    )


def test_a_unit_is_reviewed_once(client, world, units):
    unit, _ = units.verified()
    staff = world.staff(GUZHEN)
    for action, body in (("verify", {}), ("reject", {"reason": "重复"})):
        answer = client.post(f"{ADMIN_URL}/{unit}/{action}", json=body, headers=staff.headers)
        refused = assert_error(answer, 409, "invalid_state")
        assert refused["errors"] == {"state": ["verified"], "action": [action]}


def test_rejecting_needs_a_reason(app, client, world, units):
    unit, _ = units.register()
    staff = world.staff(GUZHEN)
    path = f"{ADMIN_URL}/{unit}/reject"
    for body in ({}, {"reason": "   "}, {"reason": None}):
        assert_error(client.post(path, json=body, headers=staff.headers), 422, "reason_required")
    response = client.post(path, json={"reason": " 证照模糊 "}, headers=staff.headers)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "rejected"
    assert response.json["status_reason"] == "证照模糊"
    [row] = audit_rows(app, "unit.reject")
    assert row["detail"]["reason"] == "证照模糊"


def test_the_review_list(client, world, units):
    staff = world.staff(GUZHEN)
    first, _ = units.register()
    verified, _ = units.verified()
    second, _ = units.register(region_code=TOWNSHIP)
    far, _ = units.register(region_code=SANGZHI, uscc=valid_uscc(county=SANGZHI))

    def ids(person, query=""):
        response = client.get(f"{ADMIN_URL}{query}", headers=person.headers)
        assert response.status_code == 200, response.json
        return [u["id"] for u in response.json["items"]]

    assert ids(staff, "?status=pending") == [first, second]
    assert ids(staff) == [first, verified, second]
    assert ids(world.staff(SANGZHI), "?status=pending") == [far]
    assert ids(world.admin(), "?status=pending") == [first, second, far]

    page = client.get(f"{ADMIN_URL}?status=pending&limit=1", headers=staff.headers).json
    assert [u["id"] for u in page["items"]] == [first]
    rest = client.get(
        f"{ADMIN_URL}?status=pending&limit=1&cursor={page['next_cursor']}", headers=staff.headers
    ).json
    assert [u["id"] for u in rest["items"]] == [second] and rest["next_cursor"] is None

    response = client.get(f"{ADMIN_URL}?cursor=bm9wZQ", headers=staff.headers)
    assert_error(response, 422, "invalid_cursor")
    assert_error(client.get(f"{ADMIN_URL}?status=done", headers=staff.headers), 422)
    assert_error(client.get(ADMIN_URL, headers=world.user().headers), 403, "forbidden")
    assert_error(client.get(ADMIN_URL), 401, "unauthorized")


# --- member codes and joining ---------------------------------------------------------------


def invite(client, unit_id: int, admin) -> str:
    response = client.post(f"{URL}/{unit_id}/invites", headers=admin.headers)
    assert response.status_code == 201, response.json
    return response.json["code"]


def join(client, code, person):
    return client.post(f"{URL}/join", json={"code": code}, headers=person.headers)


def test_the_admin_of_a_verified_unit_issues_codes(app, client, world, units):
    unit, admin = units.verified()
    response = client.post(f"{URL}/{unit}/invites", headers=admin.headers)
    assert response.status_code == 201, response.json
    code = response.json["code"]
    assert re.fullmatch(r"[0-9]{8}", code)
    expires = datetime.fromisoformat(response.json["expires_at"])
    assert timedelta(days=6) < expires - datetime.now(UTC) <= timedelta(days=7)
    with app.app_context():
        [stored] = db.session.scalars(select(UnitInvite)).all()
        assert stored.unit_id == unit and stored.created_by_id == admin.id
        assert code not in stored.code_hash  # only a hash is kept
        invite_id = stored.id
    [row] = audit_rows(app, "unit.invite_member")
    assert row["actor_id"] == admin.id and row["detail"] == {"invite_id": invite_id}


def test_who_may_not_issue_codes(app, client, world, units):
    pending, pending_admin = units.register()
    assert_error(
        client.post(f"{URL}/{pending}/invites", headers=pending_admin.headers),
        409,
        "unit_not_verified",
    )
    unit, admin = units.verified()
    member = units.member(unit, admin)
    for person in (member, world.staff(GUZHEN), world.admin()):
        response = client.post(f"{URL}/{unit}/invites", headers=person.headers)
        assert_error(response, 403, "forbidden")
    for person in (world.user(), world.staff(SANGZHI), pending_admin):
        assert_error(client.post(f"{URL}/{unit}/invites", headers=person.headers), 404)
    assert_error(client.post(f"{URL}/{unit}/invites"), 401, "unauthorized")
    assert count_rows(app, UnitInvite) == 1  # the one units.member used


def test_joining_with_a_code_makes_a_member(app, client, world, units):
    unit, admin = units.verified()
    code = invite(client, unit, admin)
    colleague = world.user("小王")
    assert_error(client.get(f"{URL}/{unit}", headers=colleague.headers), 404)

    response = join(client, code, colleague)
    assert response.status_code == 200, response.json
    assert response.json["id"] == unit
    assert unit_roles(client, colleague) == [("unit_member", unit)]
    assert client.get(f"{URL}/{unit}", headers=colleague.headers).status_code == 200
    with app.app_context():
        stored = db.session.scalar(select(UnitInvite))
        assert stored.used_by_id == colleague.id and stored.used_at is not None
        invite_id = stored.id
    [row] = audit_rows(app, "unit.join")
    assert row["actor_id"] == colleague.id and row["object_id"] == str(unit)
    assert row["detail"] == {"invite_id": invite_id, "issued_by_id": admin.id}

    # Retried by the same person: harmless. Anyone else: the code is spent.
    assert join(client, code, colleague).status_code == 200
    assert_error(join(client, code, world.user()), 409, "invite_used")
    assert len(audit_rows(app, "unit.join")) == 1


def test_a_code_already_in_the_unit_leaves_unused(client, world, units):
    unit, admin = units.verified()
    code = invite(client, unit, admin)
    assert join(client, code, admin).status_code == 200  # the admin belongs already
    assert unit_roles(client, admin) == [("unit_admin", unit)]
    newcomer = world.user()
    assert join(client, code, newcomer).status_code == 200
    assert unit_roles(client, newcomer) == [("unit_member", unit)]


def test_wrong_and_expired_codes(app, client, world, units):
    unit, admin = units.verified()
    code = invite(client, unit, admin)
    person = world.user()
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    assert_error(join(client, wrong, person), 422, "invalid_invite_code")
    assert_error(join(client, "1234567", person), 422, "validation_error")
    with app.app_context():
        stored = db.session.scalar(select(UnitInvite))
        stored.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        db.session.commit()
    assert_error(join(client, code, person), 422, "invalid_invite_code")
    assert unit_roles(client, person) == []
    assert_error(client.post(f"{URL}/join", json={"code": code}), 401, "unauthorized")


def test_a_household_code_is_no_unit_code(client, world, units):
    household = world.household(village=VILLAGE_A)
    staff = world.staff(GUZHEN)
    response = client.post(f"/api/v1/households/{household}/member-invites", headers=staff.headers)
    assert response.status_code == 201
    assert_error(join(client, response.json["code"], world.user()), 422, "invalid_invite_code")


def test_a_code_is_worth_no_more_than_its_issuers_standing(client, world, units):
    unit, admin = units.verified()
    second_admin = world.grant(world.user(), Role.UNIT_ADMIN, unit_id=unit)
    code = invite(client, unit, second_admin)
    removed = client.post(f"{URL}/{unit}/members/{second_admin.id}/remove", headers=admin.headers)
    assert removed.status_code == 204
    assert_error(join(client, code, world.user()), 422, "invalid_invite_code")


def test_a_user_may_belong_to_several_units(client, world, units):
    person = world.user()
    first, first_admin = units.verified()
    second, second_admin = units.verified(region_code=SANGZHI, uscc=valid_uscc(county=SANGZHI))
    assert join(client, invite(client, first, first_admin), person).status_code == 200
    assert join(client, invite(client, second, second_admin), person).status_code == 200
    assert unit_roles(client, person) == [("unit_member", first), ("unit_member", second)]


def test_joining_is_rate_limited(app, client, world, monkeypatch):
    """Eight-digit codes must not be guessable by brute force."""
    from api.extensions import limiter

    monkeypatch.setitem(app.config, "JOIN_RATE_LIMIT", "3 per minute")
    limiter.reset()
    person = world.user()
    try:
        codes = [join(client, f"{i:08d}", person) for i in range(4)]
        assert [r.status_code for r in codes] == [422, 422, 422, 429]
        assert_error(codes[-1], 429, "rate_limited")
    finally:
        limiter.reset()


# --- members --------------------------------------------------------------------------------


def members(client, unit_id: int, person):
    return client.get(f"{URL}/{unit_id}/members", headers=person.headers)


def remove(client, unit_id: int, user_id: int, person):
    return client.post(f"{URL}/{unit_id}/members/{user_id}/remove", headers=person.headers)


def test_the_member_list(client, world, units):
    unit, admin = units.verified(by=world.user("周建国"))
    colleague = units.member(unit, admin, world.user("王小红"))
    response = members(client, unit, colleague)
    assert response.status_code == 200, response.json
    items = response.json["items"]
    assert [(m["user_id"], m["role"], m["nickname_masked"]) for m in items] == [
        (admin.id, "unit_admin", "周**"),
        (colleague.id, "unit_member", "王**"),
    ]
    assert items[0]["granted_by_id"] == admin.id and items[1]["granted_by_id"] == admin.id
    assert items[0]["joined_at"] <= items[1]["joined_at"]
    for viewer in (admin, world.staff(GUZHEN), world.admin()):
        assert members(client, unit, viewer).json["items"] == items
    for stranger in (world.user(), world.staff(SANGZHI)):
        assert_error(members(client, unit, stranger), 404, "not_found")


def test_the_admin_removes_a_member_and_their_tokens_end(app, client, world, units):
    unit, admin = units.verified()
    colleague = units.member(unit, admin)
    assert remove(client, unit, colleague.id, admin).status_code == 204
    assert_error(client.get("/api/v1/me", headers=colleague.headers), 401, "token_invalid")
    [row] = audit_rows(app, "unit.remove_member")
    assert row["actor_id"] == admin.id
    assert row["detail"] == {"user_id": colleague.id, "roles": ["unit_member"], "tokens_revoked": 1}
    assert [m["user_id"] for m in members(client, unit, admin).json["items"]] == [admin.id]
    with app.app_context():
        assert not db.session.scalars(
            select(RoleGrant).where(RoleGrant.user_id == colleague.id, RoleGrant.unit_id == unit)
        ).all()


def test_a_member_may_leave_but_not_remove_others(client, world, units):
    unit, admin = units.verified()
    first, second = units.member(unit, admin), units.member(unit, admin)
    assert_error(remove(client, unit, second.id, first), 403, "forbidden")
    assert_error(remove(client, unit, admin.id, first), 403, "forbidden")
    assert remove(client, unit, first.id, first).status_code == 204
    assert_error(client.get(f"{URL}/{unit}", headers=first.headers), 401, "token_invalid")


def test_who_may_not_remove_members(client, world, units):
    unit, admin = units.verified()
    colleague = units.member(unit, admin)
    for person in (world.staff(GUZHEN), world.admin()):
        assert_error(remove(client, unit, colleague.id, person), 403, "forbidden")
    for person in (world.user(), world.staff(SANGZHI)):
        assert_error(remove(client, unit, colleague.id, person), 404, "not_found")
    assert_error(remove(client, unit, world.user().id, admin), 404, "not_found")
    assert_error(client.post(f"{URL}/{unit}/members/{colleague.id}/remove"), 401)
    assert client.get(f"{URL}/{unit}", headers=colleague.headers).status_code == 200


def test_the_last_admin_stays(client, world, units):
    unit, admin = units.verified()
    body = assert_error(remove(client, unit, admin.id, admin), 409, "last_unit_admin")
    assert body["message"]
    second = world.grant(world.user(), Role.UNIT_ADMIN, unit_id=unit)
    assert remove(client, unit, admin.id, admin).status_code == 204  # one admin is left
    assert_error(remove(client, unit, second.id, second), 409, "last_unit_admin")


# --- pledges --------------------------------------------------------------------------------


def pledge(client, unit_id: int, year: int, amount, person):
    return client.put(
        f"{URL}/{unit_id}/pledges/{year}", json={"amount_fen": amount}, headers=person.headers
    )


def test_the_admin_pledges_and_everyone_who_sees_the_unit_reads_it(app, client, world, units):
    unit, admin = units.verified()
    member = units.member(unit, admin)
    response = pledge(client, unit, 2026, 5_000_000, admin)
    assert response.status_code == 200, response.json
    assert {k: response.json[k] for k in ("year", "amount_fen", "bought_fen", "set_by_id")} == {
        "year": 2026,
        "amount_fen": 5_000_000,
        "bought_fen": 0,
        "set_by_id": admin.id,
    }
    assert pledge(client, unit, 2025, 3_000_000, admin).status_code == 200
    changed = pledge(client, unit, 2026, 8_000_000, admin)
    assert changed.json["amount_fen"] == 8_000_000
    assert count_rows(app, UnitPledge) == 2
    rows = audit_rows(app, "unit.pledge")
    assert [r["detail"] for r in rows] == [
        {"year": 2026, "amount_fen": 5_000_000, "previous_fen": None},
        {"year": 2025, "amount_fen": 3_000_000, "previous_fen": None},
        {"year": 2026, "amount_fen": 8_000_000, "previous_fen": 5_000_000},
    ]
    for viewer in (admin, member, world.staff(GUZHEN), world.admin()):
        listed = client.get(f"{URL}/{unit}/pledges", headers=viewer.headers)
        assert listed.status_code == 200, listed.json
        assert [(p["year"], p["amount_fen"], p["bought_fen"]) for p in listed.json["items"]] == [
            (2026, 8_000_000, 0),
            (2025, 3_000_000, 0),
        ]
    for stranger in (world.user(), world.staff(SANGZHI)):
        assert_error(client.get(f"{URL}/{unit}/pledges", headers=stranger.headers), 404)


def test_bought_comes_from_unit_totals(client, world, units, monkeypatch):
    """The seam the orders change fills in: every pledge reads its year's purchases there."""
    unit, admin = units.verified()
    pledge(client, unit, 2026, 5_000_000, admin)

    def bought(unit_id, year):
        return units_service.UnitTotals(unit_id=unit_id, year=year, bought_fen=1_234_500)

    monkeypatch.setattr(units_service, "unit_totals", bought)
    listed = client.get(f"{URL}/{unit}/pledges", headers=admin.headers).json["items"]
    assert [(p["year"], p["bought_fen"]) for p in listed] == [(2026, 1_234_500)]
    assert pledge(client, unit, 2026, 6_000_000, admin).json["bought_fen"] == 1_234_500


def test_unit_totals_is_zero_until_orders_exist(app, units):
    unit, _ = units.verified()
    with app.app_context():
        assert units_service.unit_totals(unit, 2026) == units_service.UnitTotals(unit, 2026, 0)


def test_who_may_not_pledge(app, client, world, units):
    pending, pending_admin = units.register()
    assert_error(pledge(client, pending, 2026, 100, pending_admin), 409, "unit_not_verified")
    unit, admin = units.verified()
    member = units.member(unit, admin)
    for person in (member, world.staff(GUZHEN), world.admin()):
        assert_error(pledge(client, unit, 2026, 100, person), 403, "forbidden")
    for person in (world.user(), world.staff(SANGZHI), pending_admin):
        assert_error(pledge(client, unit, 2026, 100, person), 404, "not_found")
    assert_error(client.put(f"{URL}/{unit}/pledges/2026", json={"amount_fen": 1}), 401)
    assert count_rows(app, UnitPledge) == 0


def test_pledge_values(app, client, world, units):
    unit, admin = units.verified()
    for year in (2015, 2100, 0):
        assert_error(pledge(client, unit, year, 100, admin), 404, "not_found")
    for amount in (-1, 10**12 + 1, 1.5, "100", None, True):
        assert_error(pledge(client, unit, 2026, amount, admin), 422, "validation_error")
    path = f"{URL}/{unit}/pledges/2026"
    assert_error(client.put(path, headers=admin.headers), 422, "missing_body")
    assert_error(client.put(path, json={}, headers=admin.headers), 422, "validation_error")
    assert count_rows(app, UnitPledge) == 0
    assert pledge(client, unit, 2016, 0, admin).status_code == 200
    assert pledge(client, unit, 2099, 10**12, admin).status_code == 200


# --- the demo ---------------------------------------------------------------------------------


def test_the_demo_has_a_verified_unit_with_an_admin_and_a_member(app, client):
    from services import demo

    with app.app_context():
        lines = demo.seed_demo()
    assert any("demo-unit-admin" in line and "demo-unit-member" in line for line in lines)
    admin = client.post("/api/v1/auth/dev-login", json={"openid": "demo-unit-admin"}).json
    headers = {"Authorization": f"Bearer {admin['token']}"}
    [mine] = client.get("/api/v1/me/units", headers=headers).json["items"]
    assert mine["role"] == "unit_admin" and mine["unit"]["status"] == "verified"
    unit = mine["unit"]["id"]
    roles = [m["role"] for m in client.get(f"{URL}/{unit}/members", headers=headers).json["items"]]
    assert roles == ["unit_admin", "unit_member"]
    [year] = client.get(f"{URL}/{unit}/pledges", headers=headers).json["items"]
    assert year["year"] == datetime.now(UTC).year


# --- the revision that brought units (its own SQLite file, like tests/services/test_migrations.py)

BEFORE_UNITS = "4ba65d11f32d"


@pytest.fixture
def migrate_app(tmp_path):
    import base64
    import secrets

    from api.app import create_app

    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'migrate.db'}",
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 1, "max_overflow": 0},
            "PII_ENCRYPTION_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "MEDIA_ROOT": str(tmp_path / "media"),
            "PASSWORD_HASH_CHEAP": True,
        }
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_grants_of_units_that_never_existed_go_with_their_tokens(migrate_app):
    """Before units had a table, `flask users grant --unit N` stored a bare id; the foreign key
    cannot hold it, so the revision takes those roles away (and the tokens, as any revoked role
    does), audited, and keeps every other grant."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from services import accounts, regions

    upgrade(revision=BEFORE_UNITS)
    regions.import_regions()
    buyer, _, _ = accounts.login_dev(openid="unit-buyer")
    # As the old `flask users grant --unit N` wrote them (the service now refuses a unit that
    # does not exist, so the rows are written as they were then).
    for role, unit in ((Role.UNIT_ADMIN, 5), (Role.UNIT_MEMBER, 6)):
        db.session.execute(
            text(
                "INSERT INTO role_grants (user_id, role, unit_id, created_at, updated_at) "
                "VALUES (:user, :role, :unit, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"user": buyer.id, "role": role.value, "unit": unit},
        )
    db.session.commit()
    other, _, _ = accounts.login_dev(openid="county-helper")
    accounts.grant_role(None, user_id=other.id, role=Role.HELPER, region_code=VILLAGE_A)
    buyer_id, other_id = buyer.id, other.id
    db.session.remove()

    upgrade()

    grants = text("SELECT user_id, role, unit_id FROM role_grants ORDER BY user_id, role")
    assert db.session.execute(grants).all() == [
        (buyer_id, "buyer", None),
        (other_id, "buyer", None),
        (other_id, "helper", None),
    ]
    live = text("SELECT user_id FROM auth_tokens WHERE revoked_at IS NULL")
    assert db.session.execute(live).scalars().all() == [other_id]
    events = text("SELECT object_id, detail FROM audit_events WHERE action = 'user.revoke_role'")
    assert [(o, json.loads(d)) for o, d in db.session.execute(events).all()] == [
        (
            str(buyer_id),
            {
                "role": "unit_admin",
                "unit_id": 5,
                "reason": "no such work unit",
                "tokens_revoked": 1,
            },
        ),
        (
            str(buyer_id),
            {
                "role": "unit_member",
                "unit_id": 6,
                "reason": "no such work unit",
                "tokens_revoked": 0,
            },
        ),
    ]
    assert db.session.execute(text("PRAGMA foreign_key_check")).all() == []
    db.session.remove()

    # Down and up again with a real unit: on the way down its admin's grant keeps the (now
    # bare) id; on the way up no unit stands behind it any more, and it goes the same way.
    from models import User
    from services import units as units_service

    data = unit_body(kind=UnitKind.SCHOOL)
    unit = units_service.register_unit(db.session.get(User, other_id), **data).id
    db.session.remove()
    downgrade(revision=BEFORE_UNITS)
    assert db.session.execute(grants).all()[-1] == (other_id, "unit_admin", unit)
    db.session.remove()
    upgrade()
    assert [r.role for r in db.session.execute(grants).all() if r.user_id == other_id] == [
        "buyer",
        "helper",
    ]
    assert db.session.execute(text("PRAGMA foreign_key_check")).all() == []
    assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
