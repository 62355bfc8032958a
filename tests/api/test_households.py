"""/api/v1/households: registration, reading, editing, consents and member invites."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from models import AuditEvent, Consent, Household, HouseholdInvite, RoleGrant, Shop, db
from models.enums import ConsentPurpose, Role
from services.demo import demo_id_number
from tests.factories import (
    GUZHEN,
    SANGZHI,
    VILLAGE_A,
    VILLAGE_B,
    assert_error,
    audit_rows,
    count_rows,
    valid_id_number,
)

URL = "/api/v1/households"
_reg = itertools.count(1)


# --- helpers ------------------------------------------------------------------------------


def new_household(**overrides) -> dict:
    return {
        "registry_no": f"HH-{next(_reg):06d}",
        "head_name": "王秀英",
        "id_number": valid_id_number(),
        "village_code": VILLAGE_A,
        "poverty_status": "registered",
        "phone": "13905520002",
    } | overrides


def load(app, household_id: int) -> dict:
    with app.app_context():
        h = db.session.get(Household, household_id)
        return {
            "head_name": h.head_name,
            "phone": h.phone,
            "poverty_status": h.poverty_status.value,
            "verification_status": h.verification_status.value,
        }


# --- registration -------------------------------------------------------------------------


def test_county_staff_registers_a_verified_household(app, client, world):
    staff = world.staff(GUZHEN)
    data = new_household()
    response = client.post(URL, json=data, headers=staff.headers)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["registry_no"] == data["registry_no"]
    assert body["verification_status"] == "verified"
    assert body["verified_at"] is not None
    assert body["county_code"] == GUZHEN
    assert body["village"] == {"code": VILLAGE_A, "name": "西南村村民委员会"}
    assert body["phone"] == "13905520002"  # staff of the county see it in full
    number = data["id_number"]
    assert body["id_number_masked"] == number[:4] + "*" * 10 + number[-4:]
    assert number not in response.get_data(as_text=True)
    [row] = audit_rows(app, "household.create")
    assert row["actor_id"] == staff.id
    assert row["object_id"] == str(body["id"])
    assert row["detail"] == {"verified": True}


def test_helper_of_the_village_registers_a_pending_household(app, client, world):
    helper = world.helper(VILLAGE_A)
    response = client.post(URL, json=new_household(), headers=helper.headers)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["verification_status"] == "pending"
    assert body["verified_at"] is None
    assert body["phone"] == "139****0002"  # helpers see phones masked
    [row] = audit_rows(app, "household.create")
    assert row["actor_id"] == helper.id
    assert row["detail"] == {"verified": False}


@pytest.mark.parametrize(
    "who,error",
    [
        ("helper_other_village", "household_out_of_scope"),
        ("staff_other_county", "household_out_of_scope"),
        ("farmer", "forbidden"),
        ("buyer", "forbidden"),
        ("platform_admin", "forbidden"),
    ],
)
def test_register_refused_outside_scope_or_role(app, client, world, who, error):
    actor = {
        "helper_other_village": lambda: world.helper(VILLAGE_B),
        "staff_other_county": lambda: world.staff(SANGZHI),
        "farmer": lambda: world.farmer(world.household()),
        "buyer": lambda: world.user("买家"),
        "platform_admin": world.admin,
    }[who]()
    before = count_rows(app, Household)
    response = client.post(URL, json=new_household(), headers=actor.headers)
    assert_error(response, 403, error)
    assert count_rows(app, Household) == before


def test_register_requires_a_token(app, client):
    assert_error(client.post(URL, json=new_household()), 401, "unauthorized")
    response = client.post(
        URL, json=new_household(), headers={"Authorization": "Bearer not-a-real-token"}
    )
    assert_error(response, 401, "token_invalid")
    assert count_rows(app, Household) == 0


def test_anonymous_request_with_a_bad_body_gets_401(client):
    assert_error(client.post(URL, json={"nonsense": 1}), 401, "unauthorized")


def test_duplicate_id_number_is_409_and_writes_nothing(app, client, world):
    staff = world.staff()
    first = new_household()
    assert client.post(URL, json=first, headers=staff.headers).status_code == 201
    households, audits = count_rows(app, Household), count_rows(app, AuditEvent)

    response = client.post(
        URL, json=new_household(id_number=first["id_number"]), headers=staff.headers
    )
    body = assert_error(response, 409, "household_exists")
    assert "id_number" in body["errors"]
    assert count_rows(app, Household) == households
    assert count_rows(app, AuditEvent) == audits


def test_duplicate_id_number_found_whatever_the_case_and_blanks(app, client, world):
    staff = world.staff()
    # Find a number whose check digit is X, to register it again with a lower-case x.
    number = next(
        n
        for n in (demo_id_number(GUZHEN, f"19700101{i:03d}") for i in range(1000))
        if n.endswith("X")
    )
    assert (
        client.post(URL, json=new_household(id_number=number), headers=staff.headers).status_code
        == 201
    )
    again = new_household(id_number=f"  {number[:-1]}x ")
    assert_error(client.post(URL, json=again, headers=staff.headers), 409, "household_exists")
    assert count_rows(app, Household) == 1


def test_duplicate_registry_number_is_409_and_writes_nothing(app, client, world):
    staff = world.staff()
    first = new_household()
    assert client.post(URL, json=first, headers=staff.headers).status_code == 201
    audits = count_rows(app, AuditEvent)
    response = client.post(
        URL, json=new_household(registry_no=first["registry_no"]), headers=staff.headers
    )
    body = assert_error(response, 409, "household_exists")
    assert "registry_no" in body["errors"]
    assert count_rows(app, Household) == 1
    assert count_rows(app, AuditEvent) == audits


def test_registry_number_with_trailing_newline_is_refused(app, client, world):
    """Not a duplicate (409) of the registered number: the schema's pattern is anchored at the
    very end of the string (``api.schemas.common.Pattern``), so "HH-000001\n" is refused as
    input before the service looks for a duplicate."""
    staff = world.staff()
    first = new_household()
    assert client.post(URL, json=first, headers=staff.headers).status_code == 201
    response = client.post(
        URL, json=new_household(registry_no=first["registry_no"] + "\n"), headers=staff.headers
    )
    body = assert_error(response, 422, "validation_error")
    assert "registry_no" in body["errors"]["json"]
    assert count_rows(app, Household) == 1


def _bad_checksum(number: str) -> str:
    last = "0" if number[-1] != "0" else "1"
    return number[:-1] + last


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(_bad_checksum, id="checksum"),
        pytest.param(lambda n: n[:-1], id="17-chars"),
        pytest.param(lambda n: n + "1", id="19-chars"),
        pytest.param(lambda n: "", id="empty"),
        pytest.param(lambda n: demo_id_number(GUZHEN, "19601332001"), id="birth-date"),
        pytest.param(lambda n: demo_id_number("000000", "19600101001"), id="address-code"),
        pytest.param(lambda n: n[:8] + "AB" + n[10:], id="letters"),
    ],
)
def test_invalid_id_number_is_422(app, client, world, make):
    staff = world.staff()
    response = client.post(
        URL, json=new_household(id_number=make(valid_id_number())), headers=staff.headers
    )
    body = assert_error(response, 422, "invalid_id_number")
    assert "id_number" in body["errors"]
    assert count_rows(app, Household) == 0


def test_id_number_with_superscript_digit_is_422_not_500(app, client, world):
    number = valid_id_number()
    response = client.post(
        URL,
        json=new_household(id_number=number[:14] + "²" + number[15:]),
        headers=world.staff().headers,
    )
    assert_error(response, 422, "invalid_id_number")


def test_id_number_with_full_width_digits_is_not_a_second_registration(app, client, world):
    staff = world.staff()
    number = valid_id_number()
    assert (
        client.post(URL, json=new_household(id_number=number), headers=staff.headers).status_code
        == 201
    )
    wide = number[:6] + "".join(chr(ord(c) + 0xFEE0) for c in number[6:14]) + number[14:]
    response = client.post(URL, json=new_household(id_number=wide), headers=staff.headers)
    # Not 409 household_exists: the number is checked (ASCII digits only, pii.ID_NUMBER_PATTERN)
    # before the service looks for a duplicate, so the full-width copy never reaches the lookup.
    body = assert_error(response, 422, "invalid_id_number")
    assert "id_number" in body["errors"]
    assert count_rows(app, Household) == 1


@pytest.mark.parametrize("phone", ["12345", "23805520001", "1380552000a", "138055200011", "电话"])
def test_bad_phone_is_422(app, client, world, phone):
    response = client.post(URL, json=new_household(phone=phone), headers=world.staff().headers)
    body = assert_error(response, 422, "invalid_phone")
    assert "phone" in body["errors"]
    assert count_rows(app, Household) == 0


def test_phone_is_normalised_and_optional(app, client, world):
    staff = world.staff()
    response = client.post(
        URL, json=new_household(phone="+86 138-0552-0001"), headers=staff.headers
    )
    assert response.status_code == 201
    assert response.json["phone"] == "13805520001"
    data = new_household()
    del data["phone"]
    response = client.post(URL, json=data, headers=staff.headers)
    assert response.status_code == 201
    assert response.json["phone"] is None


def test_full_width_phone_is_refused(app, client, world):
    """Refused, not normalised: the phone pattern takes ASCII digits only (pii.PHONE_PATTERN)."""
    response = client.post(
        URL, json=new_household(phone="138０５５２０００１"), headers=world.staff().headers
    )
    body = assert_error(response, 422, "invalid_phone")
    assert "phone" in body["errors"]
    assert count_rows(app, Household) == 0


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("3403231012", id="10-digits"),
        pytest.param("34032310120X", id="letter"),
        pytest.param("abc", id="letters"),
        pytest.param("", id="empty"),
        pytest.param("340323999999", id="unknown"),
        pytest.param("340323", id="county"),
        pytest.param("340323101000", id="township"),
    ],
)
def test_bad_village_code_is_422(app, client, world, code):
    staff = world.staff(GUZHEN)
    response = client.post(URL, json=new_household(village_code=code), headers=staff.headers)
    body = assert_error(response, 422, "invalid_region_code")
    assert "village_code" in body["errors"]
    assert count_rows(app, Household) == 0


def test_staff_may_not_register_in_a_village_of_another_county(app, client, world):
    response = client.post(
        URL, json=new_household(village_code="430822100001"), headers=world.staff(GUZHEN).headers
    )
    assert_error(response, 403, "household_out_of_scope")
    assert count_rows(app, Household) == 0


@pytest.mark.parametrize(
    "extra",
    [
        {"verification_status": "verified"},
        {"county_code": SANGZHI},
        {"created_by_id": 1},
        {"id_number_masked": "x"},
    ],
)
def test_unknown_fields_are_422(app, client, world, extra):
    helper = world.helper(VILLAGE_A)
    response = client.post(URL, json=new_household() | extra, headers=helper.headers)
    body = assert_error(response, 422, "unknown_field")
    assert set(extra) <= set(body["errors"]["json"])
    assert count_rows(app, Household) == 0


@pytest.mark.parametrize(
    "field,value",
    [
        ("registry_no", 12345678),
        ("registry_no", "号"),
        ("head_name", None),
        ("head_name", "   "),
        ("head_name", "李" * 51),
        ("id_number", ["340323"]),
        ("village_code", 340323101200),
        ("poverty_status", "poor"),
        ("poverty_status", None),
        ("phone", 13805520001),
    ],
)
def test_wrong_types_are_422(app, client, world, field, value):
    response = client.post(URL, json=new_household(**{field: value}), headers=world.staff().headers)
    body = assert_error(response, 422, "validation_error")
    assert field in body["errors"]["json"]
    assert count_rows(app, Household) == 0


def test_missing_fields_are_listed(client, world):
    response = client.post(URL, json={}, headers=world.staff().headers)
    body = assert_error(response, 422, "validation_error")
    assert set(body["errors"]["json"]) == {
        "registry_no",
        "head_name",
        "id_number",
        "village_code",
        "poverty_status",
    }


@pytest.mark.parametrize("raw", ["[]", "null", '"x"', "42"])
def test_body_that_is_not_an_object_is_422(client, world, raw):
    headers = world.staff().headers | {"Content-Type": "application/json"}
    assert_error(client.post(URL, data=raw, headers=headers), 422, "validation_error")


def test_malformed_json_is_400(client, world):
    headers = world.staff().headers | {"Content-Type": "application/json"}
    assert_error(client.post(URL, data="{", headers=headers), 400, "malformed_json")


# --- reading ------------------------------------------------------------------------------


@pytest.fixture
def village_household(world):
    """A verified household of village A, with a member, and its registration data."""
    household_id = world.household(village=VILLAGE_A, phone="13805520001")
    return household_id, world.farmer(household_id)


@pytest.mark.parametrize(
    "who,phone",
    [
        ("member", "13805520001"),
        ("staff", "13805520001"),
        ("helper_of_village", "138****0001"),
        ("helper_of_household", "138****0001"),
        ("platform_admin", "138****0001"),
    ],
)
def test_get_household_by_those_in_scope(client, world, village_household, who, phone):
    household_id, member = village_household
    viewer = {
        "member": lambda: member,
        "staff": lambda: world.staff(GUZHEN),
        "helper_of_village": lambda: world.helper(VILLAGE_A),
        "helper_of_household": lambda: world.grant(
            world.user(), Role.HELPER, household_id=household_id
        ),
        "platform_admin": world.admin,
    }[who]()
    response = client.get(f"{URL}/{household_id}", headers=viewer.headers)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["id"] == household_id
    assert body["phone"] == phone
    assert re.fullmatch(r"3403\*{10}[0-9X]{4}", body["id_number_masked"])
    assert "id_number" not in body and "id_number_cipher" not in body


@pytest.mark.parametrize(
    "who", ["other_member", "helper_other_village", "staff_other_county", "buyer", "farmer_b"]
)
def test_get_household_hidden_from_others(client, world, village_household, who):
    household_id, _ = village_household
    viewer = {
        "other_member": lambda: world.farmer(world.household(village=VILLAGE_A)),
        "farmer_b": lambda: world.farmer(world.household(village=VILLAGE_B)),
        "helper_other_village": lambda: world.helper(VILLAGE_B),
        "staff_other_county": lambda: world.staff(SANGZHI),
        "buyer": lambda: world.user("买家"),
    }[who]()
    assert_error(client.get(f"{URL}/{household_id}", headers=viewer.headers), 404, "not_found")


def test_get_unknown_household_is_404_and_anonymous_401(client, world, village_household):
    household_id, _ = village_household
    assert_error(client.get(f"{URL}/999999", headers=world.staff().headers), 404, "not_found")
    assert_error(client.get(f"{URL}/{household_id}"), 401, "unauthorized")


# --- editing ------------------------------------------------------------------------------


def test_member_edits_name_and_phone(app, client, world, village_household):
    household_id, member = village_household
    response = client.patch(
        f"{URL}/{household_id}",
        json={"head_name": "李桂芳", "phone": "13905520009"},
        headers=member.headers,
    )
    assert response.status_code == 200, response.json
    assert response.json["head_name"] == "李桂芳"
    assert response.json["phone"] == "13905520009"
    assert load(app, household_id)["head_name"] == "李桂芳"
    [row] = audit_rows(app, "household.update")
    assert row["actor_id"] == member.id
    assert row["on_behalf_of"] is None
    assert row["detail"]["fields"] == ["head_name", "phone"]


def test_staff_changes_poverty_status(app, client, world, village_household):
    household_id, _ = village_household
    staff = world.staff(GUZHEN)
    response = client.patch(
        f"{URL}/{household_id}", json={"poverty_status": "lifted"}, headers=staff.headers
    )
    assert response.status_code == 200, response.json
    assert response.json["poverty_status"] == "lifted"
    assert load(app, household_id)["poverty_status"] == "lifted"
    [row] = audit_rows(app, "household.update")
    assert row["actor_id"] == staff.id and row["on_behalf_of"] is None
    assert row["detail"]["fields"] == ["poverty_status"]


@pytest.mark.parametrize("who", ["member", "consenting_helper", "platform_admin"])
def test_poverty_status_is_for_staff_only(app, client, world, village_household, who):
    household_id, member = village_household
    if who == "member":
        actor = member
    elif who == "consenting_helper":
        actor = world.helper(VILLAGE_A)
        world.consent(household_id, actor)
    else:
        actor = world.admin()
    response = client.patch(
        f"{URL}/{household_id}", json={"poverty_status": "lifted"}, headers=actor.headers
    )
    assert_error(response, 403, "staff_only_field")
    assert load(app, household_id)["poverty_status"] == "registered"
    assert audit_rows(app, "household.update") == []


def test_helper_without_consent_may_not_edit(app, client, world, village_household):
    household_id, _ = village_household
    helper = world.helper(VILLAGE_A)
    response = client.patch(
        f"{URL}/{household_id}", json={"head_name": "改名"}, headers=helper.headers
    )
    assert_error(response, 403, "consent_required")
    assert load(app, household_id)["head_name"] == "李桂兰"


def test_helper_with_a_consent_for_another_purpose_may_not_edit(client, world, village_household):
    household_id, _ = village_household
    helper = world.helper(VILLAGE_A)
    world.consent(household_id, helper, ConsentPurpose.HANDLE_ORDERS)
    response = client.patch(
        f"{URL}/{household_id}", json={"head_name": "改名"}, headers=helper.headers
    )
    assert_error(response, 403, "consent_required")


def test_helper_with_consent_edits_on_behalf(app, client, world, village_household):
    household_id, _ = village_household
    helper = world.helper(VILLAGE_A)
    world.consent(household_id, helper)
    response = client.patch(
        f"{URL}/{household_id}", json={"head_name": "李桂芳"}, headers=helper.headers
    )
    assert response.status_code == 200, response.json
    assert response.json["head_name"] == "李桂芳"
    assert response.json["phone"] == "138****0001"
    [row] = audit_rows(app, "household.update")
    assert row["actor_id"] == helper.id
    assert row["on_behalf_of"] == household_id
    assert row["detail"]["fields"] == ["head_name"]


@pytest.mark.parametrize("who", ["staff_other_county", "helper_other_village", "buyer"])
def test_edit_by_outsiders_is_404(app, client, world, village_household, who):
    household_id, _ = village_household
    actor = {
        "staff_other_county": lambda: world.staff(SANGZHI),
        "helper_other_village": lambda: world.helper(VILLAGE_B),
        "buyer": lambda: world.user(),
    }[who]()
    response = client.patch(
        f"{URL}/{household_id}", json={"head_name": "改名"}, headers=actor.headers
    )
    assert_error(response, 404, "not_found")
    assert load(app, household_id)["head_name"] == "李桂兰"


def test_platform_admin_may_not_edit(app, client, world, village_household):
    household_id, _ = village_household
    response = client.patch(
        f"{URL}/{household_id}", json={"head_name": "改名"}, headers=world.admin().headers
    )
    assert_error(response, 403, "forbidden")
    assert load(app, household_id)["head_name"] == "李桂兰"


def test_failed_edit_leaves_nothing_half_written(app, client, world, village_household):
    household_id, member = village_household
    response = client.patch(
        f"{URL}/{household_id}",
        json={"head_name": "李桂芳", "phone": "123"},
        headers=member.headers,
    )
    assert_error(response, 422, "invalid_phone")
    assert load(app, household_id) == {
        "head_name": "李桂兰",
        "phone": "13805520001",
        "poverty_status": "registered",
        "verification_status": "verified",
    }
    assert audit_rows(app, "household.update") == []


@pytest.mark.parametrize(
    "body,error",
    [
        ({"verification_status": "verified"}, "unknown_field"),
        ({"registry_no": "X-1234"}, "unknown_field"),
        ({"head_name": ""}, "validation_error"),
        ({"poverty_status": "rich"}, "validation_error"),
    ],
)
def test_bad_patch_is_422(app, client, world, village_household, body, error):
    household_id, _ = village_household
    response = client.patch(f"{URL}/{household_id}", json=body, headers=world.staff().headers)
    assert_error(response, 422, error)
    assert load(app, household_id)["verification_status"] == "verified"


# --- consents -----------------------------------------------------------------------------


def consent_url(household_id: int) -> str:
    return f"{URL}/{household_id}/consents"


def test_member_grants_consent_in_app(app, client, world, village_household):
    household_id, member = village_household
    helper = world.helper(VILLAGE_A)
    response = client.post(
        consent_url(household_id),
        json={"helper_user_id": helper.id, "purposes": ["manage_shop"], "method": "in_app"},
        headers=member.headers,
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["helper_user_id"] == helper.id
    assert body["purposes"] == ["manage_shop"]
    assert body["method"] == "in_app"
    assert body["recorded_by_id"] == member.id
    assert body["revoked_at"] is None and body["expires_at"] is None
    [row] = audit_rows(app, "consent.grant")
    assert row["actor_id"] == member.id
    assert row["detail"]["household_id"] == household_id
    assert row["detail"]["helper_user_id"] == helper.id
    shown = client.get(f"{URL}/{household_id}", headers=member.headers).json["consents"]
    assert [c["id"] for c in shown] == [body["id"]]
    # The consent is effective: the helper may now act.
    response = client.patch(
        f"{URL}/{household_id}", json={"head_name": "李桂芳"}, headers=helper.headers
    )
    assert response.status_code == 200


def test_member_may_not_record_a_paper_consent(app, client, world, village_household):
    household_id, member = village_household
    helper = world.helper(VILLAGE_A)
    response = client.post(
        consent_url(household_id),
        json={"helper_user_id": helper.id, "purposes": ["manage_shop"], "method": "paper"},
        headers=member.headers,
    )
    assert_error(response, 403, "staff_only_paper_consent")
    assert count_rows(app, Consent) == 0


def test_staff_records_a_paper_consent(app, client, world, village_household):
    household_id, _ = village_household
    staff = world.staff(GUZHEN)
    helper = world.helper(VILLAGE_A)
    expires = (datetime.now(UTC) + timedelta(days=365)).isoformat()
    response = client.post(
        consent_url(household_id),
        json={
            "helper_user_id": helper.id,
            "purposes": ["manage_shop", "handle_orders", "manage_shop"],
            "method": "paper",
            "note": "2024年3月签字",
            "expires_at": expires,
        },
        headers=staff.headers,
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["method"] == "paper"
    assert body["recorded_by_id"] == staff.id
    assert body["purposes"] == ["handle_orders", "manage_shop"]
    assert body["note"] == "2024年3月签字"
    assert body["expires_at"] is not None


def test_staff_may_not_record_an_in_app_consent(app, client, world, village_household):
    household_id, _ = village_household
    helper = world.helper(VILLAGE_A)
    response = client.post(
        consent_url(household_id),
        json={"helper_user_id": helper.id, "purposes": ["manage_shop"], "method": "in_app"},
        headers=world.staff(GUZHEN).headers,
    )
    assert_error(response, 403, "member_only_consent")
    assert count_rows(app, Consent) == 0


@pytest.mark.parametrize(
    "method,error", [("in_app", "member_only_consent"), ("paper", "staff_only_paper_consent")]
)
def test_helper_cannot_grant_himself_consent(app, client, world, village_household, method, error):
    household_id, _ = village_household
    helper = world.helper(VILLAGE_A)
    response = client.post(
        consent_url(household_id),
        json={"helper_user_id": helper.id, "purposes": ["manage_shop"], "method": method},
        headers=helper.headers,
    )
    assert_error(response, 403, error)
    assert count_rows(app, Consent) == 0
    response = client.patch(
        f"{URL}/{household_id}", json={"head_name": "改名"}, headers=helper.headers
    )
    assert_error(response, 403, "consent_required")


@pytest.mark.parametrize("who", ["helper_other_village", "buyer", "staff", "unknown"])
def test_consent_for_someone_not_a_helper_of_the_household_is_422(
    app, client, world, village_household, who
):
    household_id, member = village_household
    target_id = {
        "helper_other_village": lambda: world.helper(VILLAGE_B).id,
        "buyer": lambda: world.user().id,
        "staff": lambda: world.staff(GUZHEN).id,
        "unknown": lambda: 999999,
    }[who]()
    response = client.post(
        consent_url(household_id),
        json={"helper_user_id": target_id, "purposes": ["manage_shop"], "method": "in_app"},
        headers=member.headers,
    )
    body = assert_error(response, 422, "not_a_helper")
    assert "helper_user_id" in body["errors"]
    assert count_rows(app, Consent) == 0


def test_consent_to_a_helper_of_the_household_itself(app, client, world, village_household):
    household_id, member = village_household
    helper = world.grant(world.user(), Role.HELPER, household_id=household_id)
    response = client.post(
        consent_url(household_id),
        json={"helper_user_id": helper.id, "purposes": ["manage_shop"], "method": "in_app"},
        headers=member.headers,
    )
    assert response.status_code == 201, response.json


@pytest.mark.parametrize(
    "expires_at",
    [
        (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        "2020-01-01T00:00:00+08:00",
    ],
)
def test_consent_expiring_in_the_past_is_422(app, client, world, village_household, expires_at):
    household_id, member = village_household
    helper = world.helper(VILLAGE_A)
    response = client.post(
        consent_url(household_id),
        json={
            "helper_user_id": helper.id,
            "purposes": ["manage_shop"],
            "method": "in_app",
            "expires_at": expires_at,
        },
        headers=member.headers,
    )
    body = assert_error(response, 422, "invalid_consent_expiry")
    assert "expires_at" in body["errors"]
    assert count_rows(app, Consent) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"purposes": [], "method": "in_app"},
        {"purposes": ["sell_house"], "method": "in_app"},
        {"purposes": "manage_shop", "method": "in_app"},
        {"purposes": ["manage_shop"], "method": "by_phone"},
        {"purposes": ["manage_shop"], "method": "in_app", "expires_at": "2099-01-01T00:00:00"},
        {"purposes": ["manage_shop"], "method": "in_app", "expires_at": "tomorrow"},
        {"purposes": ["manage_shop"]},
    ],
)
def test_malformed_consent_is_422(app, client, world, village_household, body):
    household_id, member = village_household
    helper = world.helper(VILLAGE_A)
    response = client.post(
        consent_url(household_id), json={"helper_user_id": helper.id} | body, headers=member.headers
    )
    assert_error(response, 422, "validation_error")
    assert count_rows(app, Consent) == 0


def test_consent_helper_id_must_be_an_integer(client, world, village_household):
    household_id, member = village_household
    helper = world.helper(VILLAGE_A)
    response = client.post(
        consent_url(household_id),
        json={"helper_user_id": str(helper.id), "purposes": ["manage_shop"], "method": "in_app"},
        headers=member.headers,
    )
    body = assert_error(response, 422, "validation_error")
    assert "helper_user_id" in body["errors"]["json"]


@pytest.mark.parametrize("who", ["staff_other_county", "other_member", "buyer"])
def test_consent_on_an_invisible_household_is_404(app, client, world, village_household, who):
    household_id, _ = village_household
    helper = world.helper(VILLAGE_A)
    actor = {
        "staff_other_county": lambda: world.staff(SANGZHI),
        "other_member": lambda: world.farmer(world.household()),
        "buyer": lambda: world.user(),
    }[who]()
    method = "paper" if who.startswith("staff") else "in_app"
    response = client.post(
        consent_url(household_id),
        json={"helper_user_id": helper.id, "purposes": ["manage_shop"], "method": method},
        headers=actor.headers,
    )
    assert_error(response, 404, "not_found")
    assert count_rows(app, Consent) == 0


def revoke_url(household_id: int, consent_id: int) -> str:
    return f"{URL}/{household_id}/consents/{consent_id}/revoke"


@pytest.mark.parametrize("by", ["member", "staff"])
def test_revoke_consent(app, client, world, village_household, by):
    household_id, member = village_household
    helper = world.helper(VILLAGE_A)
    consent_id = world.consent(household_id, helper)
    actor = member if by == "member" else world.staff(GUZHEN)
    response = client.post(revoke_url(household_id, consent_id), headers=actor.headers)
    assert response.status_code == 200, response.json
    assert response.json["id"] == consent_id
    assert response.json["revoked_at"] is not None
    [row] = audit_rows(app, "consent.revoke")
    assert row["actor_id"] == actor.id
    assert row["object_id"] == str(consent_id)
    with app.app_context():
        assert db.session.get(Consent, consent_id).revoked_by_id == actor.id

    # Revoking again is harmless and does not move the time or write a second row.
    again = client.post(revoke_url(household_id, consent_id), headers=actor.headers)
    assert again.status_code == 200
    assert again.json["revoked_at"] == response.json["revoked_at"]
    assert len(audit_rows(app, "consent.revoke")) == 1


def test_helper_may_not_revoke(app, client, world, village_household):
    household_id, _ = village_household
    helper = world.helper(VILLAGE_A)
    consent_id = world.consent(household_id, helper)
    response = client.post(revoke_url(household_id, consent_id), headers=helper.headers)
    assert_error(response, 403, "consent_revoke_forbidden")
    with app.app_context():
        assert db.session.get(Consent, consent_id).revoked_at is None


def test_revoke_of_another_households_consent_is_404(app, client, world, village_household):
    household_id, member = village_household
    other = world.household(village=VILLAGE_A)
    helper = world.helper(VILLAGE_A)
    other_consent = world.consent(other, helper)
    # Through the member's own household path ...
    response = client.post(revoke_url(household_id, other_consent), headers=member.headers)
    assert_error(response, 404, "not_found")
    # ... and through the other household's path.
    response = client.post(revoke_url(other, other_consent), headers=member.headers)
    assert_error(response, 404, "not_found")
    # Staff of another county cannot revoke either.
    response = client.post(revoke_url(other, other_consent), headers=world.staff(SANGZHI).headers)
    assert_error(response, 404, "not_found")
    # An unknown consent id is 404 too.
    response = client.post(revoke_url(household_id, 999999), headers=member.headers)
    assert_error(response, 404, "not_found")
    with app.app_context():
        assert db.session.get(Consent, other_consent).revoked_at is None


def test_after_revoke_the_helper_loses_the_right_to_act(app, client, world, village_household):
    household_id, member = village_household
    helper = world.helper(VILLAGE_A)
    consent_id = world.consent(household_id, helper)
    ok = client.patch(f"{URL}/{household_id}", json={"head_name": "甲"}, headers=helper.headers)
    assert ok.status_code == 200

    assert (
        client.post(revoke_url(household_id, consent_id), headers=member.headers).status_code == 200
    )

    response = client.patch(
        f"{URL}/{household_id}", json={"head_name": "乙"}, headers=helper.headers
    )
    assert_error(response, 403, "consent_required")
    response = client.post(
        "/api/v1/shops",
        json={"household_id": household_id, "name": "代开的店"},
        headers=helper.headers,
    )
    assert_error(response, 403, "consent_required")
    assert load(app, household_id)["head_name"] == "甲"
    assert count_rows(app, Shop) == 0


def test_expired_consent_gives_no_right(app, client, world, village_household):
    household_id, _ = village_household
    helper = world.helper(VILLAGE_A)
    consent_id = world.consent(household_id, helper)
    with app.app_context():
        db.session.get(Consent, consent_id).expires_at = datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()
    response = client.patch(
        f"{URL}/{household_id}", json={"head_name": "乙"}, headers=helper.headers
    )
    assert_error(response, 403, "consent_required")


# --- member invites -----------------------------------------------------------------------


def invite(client, household_id: int, actor) -> str:
    response = client.post(f"{URL}/{household_id}/member-invites", headers=actor.headers)
    assert response.status_code == 201, response.json
    return response.json["code"]


def join(client, code, actor):
    return client.post(f"{URL}/join", json={"code": code}, headers=actor.headers)


def consenting_helper(world, household_id: int, *, of_household: bool = False):
    """A helper of the household's village (or of the household itself) holding its consent."""
    if of_household:
        helper = world.grant(world.user("帮扶干部"), Role.HELPER, household_id=household_id)
    else:
        helper = world.helper(VILLAGE_A)
    world.consent(household_id, helper)
    return helper


@pytest.mark.parametrize(
    "by,issued_as",
    [
        ("staff", "county_staff"),
        ("helper_of_village", "helper"),
        ("helper_of_household", "helper"),
        ("member", "farmer"),
    ],
)
def test_staff_consenting_helper_or_member_creates_an_invite(
    app, client, world, village_household, by, issued_as
):
    household_id, member = village_household
    actor = {
        "staff": lambda: world.staff(GUZHEN),
        "helper_of_village": lambda: consenting_helper(world, household_id),
        "helper_of_household": lambda: consenting_helper(world, household_id, of_household=True),
        "member": lambda: member,
    }[by]()
    response = client.post(f"{URL}/{household_id}/member-invites", headers=actor.headers)
    assert response.status_code == 201, response.json
    code = response.json["code"]
    assert re.fullmatch(r"\d{8}", code)
    expires = datetime.fromisoformat(response.json["expires_at"])
    assert timedelta(days=6) < expires - datetime.now(UTC) <= timedelta(days=7)
    with app.app_context():
        [stored] = db.session.scalars(select(HouseholdInvite)).all()
        assert stored.household_id == household_id
        assert stored.created_by_id == actor.id
        assert stored.issued_as.value == issued_as
        assert code not in stored.code_hash  # only a hash is kept
        invite_id = stored.id
    [row] = audit_rows(app, "household.invite_member")
    assert row["actor_id"] == actor.id
    assert row["detail"] == {"invite_id": invite_id, "issued_as": issued_as}
    # A helper issues codes for the household, on its behalf; staff and members for themselves.
    assert row["on_behalf_of"] == (household_id if issued_as == "helper" else None)


@pytest.mark.parametrize(
    "who,status,error",
    [
        ("helper_without_consent", 403, "consent_required"),
        ("helper_with_another_consent", 403, "consent_required"),
        ("platform_admin", 403, "forbidden"),
        ("helper_other_village", 404, "not_found"),
        ("staff_other_county", 404, "not_found"),
        ("buyer", 404, "not_found"),
    ],
)
def test_others_cannot_create_invites(app, client, world, village_household, who, status, error):
    household_id, _ = village_household

    def helper_with_another_consent():
        helper = world.helper(VILLAGE_A)
        world.consent(household_id, helper, ConsentPurpose.HANDLE_ORDERS)
        return helper

    actor = {
        "helper_without_consent": lambda: world.helper(VILLAGE_A),
        "helper_with_another_consent": helper_with_another_consent,
        "platform_admin": world.admin,
        "helper_other_village": lambda: world.helper(VILLAGE_B),
        "staff_other_county": lambda: world.staff(SANGZHI),
        "buyer": lambda: world.user(),
    }[who]()
    response = client.post(f"{URL}/{household_id}/member-invites", headers=actor.headers)
    assert_error(response, status, error)
    assert count_rows(app, HouseholdInvite) == 0


def test_join_with_a_code_makes_a_member(app, client, world, village_household):
    household_id, _ = village_household
    staff = world.staff(GUZHEN)
    code = invite(client, household_id, staff)
    newcomer = world.user("儿子")
    assert_error(client.get(f"{URL}/{household_id}", headers=newcomer.headers), 404, "not_found")

    response = join(client, code, newcomer)
    assert response.status_code == 200, response.json
    assert response.json["id"] == household_id
    assert response.json["phone"] == "13805520001"  # a member sees the phone in full

    me = client.get("/api/v1/me", headers=newcomer.headers).json
    farmer_roles = [r for r in me["roles"] if r["role"] == "farmer"]
    assert [r["scope"]["household_id"] for r in farmer_roles] == [household_id]
    assert client.get(f"{URL}/{household_id}", headers=newcomer.headers).status_code == 200
    with app.app_context():
        stored = db.session.scalar(select(HouseholdInvite))
        assert stored.used_by_id == newcomer.id and stored.used_at is not None
    [row] = audit_rows(app, "household.join")
    assert row["actor_id"] == newcomer.id and row["object_id"] == str(household_id)
    assert row["detail"] == {
        "invite_id": stored_id(app),
        "issued_by_id": staff.id,
        "issued_as": "county_staff",
    }


def stored_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(HouseholdInvite.id))


def test_joining_again_with_the_same_code_is_a_harmless_replay(
    app, client, world, village_household
):
    household_id, _ = village_household
    code = invite(client, household_id, consenting_helper(world, household_id))
    newcomer = world.user()
    assert join(client, code, newcomer).status_code == 200
    again = join(client, code, newcomer)
    assert again.status_code == 200, again.json
    assert again.json["id"] == household_id
    with app.app_context():
        grants = db.session.scalars(
            select(RoleGrant).where(RoleGrant.user_id == newcomer.id, RoleGrant.role == Role.FARMER)
        ).all()
        assert [g.household_id for g in grants] == [household_id]
    assert len(audit_rows(app, "household.join")) == 1


def test_used_code_refused_to_another_user(app, client, world, village_household):
    household_id, _ = village_household
    code = invite(client, household_id, world.staff(GUZHEN))
    assert join(client, code, world.user()).status_code == 200
    intruder = world.user("别人")
    assert_error(join(client, code, intruder), 409, "invite_used")
    me = client.get("/api/v1/me", headers=intruder.headers).json
    assert all(r["role"] != "farmer" for r in me["roles"])
    assert_error(client.get(f"{URL}/{household_id}", headers=intruder.headers), 404, "not_found")


def test_wrong_code_is_422(app, client, world, village_household):
    household_id, _ = village_household
    code = invite(client, household_id, world.staff(GUZHEN))
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    user = world.user()
    assert_error(join(client, wrong, user), 422, "invalid_invite_code")
    with app.app_context():
        assert db.session.scalar(select(HouseholdInvite)).used_at is None
    # The right code still works afterwards.
    assert join(client, code, user).status_code == 200


@pytest.mark.parametrize("code", ["1234567", "123456789", "abcdefgh", "", 12345678])
def test_malformed_code_is_422(client, world, code):
    response = client.post(f"{URL}/join", json={"code": code}, headers=world.user().headers)
    body = assert_error(response, 422, "validation_error")
    assert "code" in body["errors"]["json"]


def test_expired_code_is_422(app, client, world, village_household):
    household_id, _ = village_household
    code = invite(client, household_id, world.staff(GUZHEN))
    with app.app_context():
        stored = db.session.scalar(select(HouseholdInvite))
        stored.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        db.session.commit()
    user = world.user()
    assert_error(join(client, code, user), 422, "invalid_invite_code")
    me = client.get("/api/v1/me", headers=user.headers).json
    assert all(r["role"] != "farmer" for r in me["roles"])


def test_join_requires_a_token(client, world, village_household):
    household_id, _ = village_household
    code = invite(client, household_id, world.staff(GUZHEN))
    assert_error(client.post(f"{URL}/join", json={"code": code}), 401, "unauthorized")


def test_join_is_rate_limited(app, client, world, monkeypatch):
    """Eight-digit invitation codes must not be guessable by brute force."""
    from api.extensions import limiter

    monkeypatch.setitem(app.config, "JOIN_RATE_LIMIT", "3 per minute")
    limiter.reset()
    person = world.user()
    try:
        codes = [
            client.post(
                "/api/v1/households/join", json={"code": f"{i:08d}"}, headers=person.headers
            ).status_code
            for i in range(4)
        ]
        assert codes == [422, 422, 422, 429]
    finally:
        limiter.reset()


# --- members ------------------------------------------------------------------------------


def members_url(household_id: int) -> str:
    return f"{URL}/{household_id}/members"


def remove_url(household_id: int, user_id: int) -> str:
    return f"{URL}/{household_id}/members/{user_id}/remove"


def test_members_list_shows_when_and_with_whose_code_each_joined(
    app, client, world, village_household
):
    household_id, first = village_household  # made a member by an operator, not with a code
    staff = world.staff(GUZHEN)
    helper = consenting_helper(world, household_id)
    son, daughter = world.user("李小军"), world.user("Lily")
    assert join(client, invite(client, household_id, staff), son).status_code == 200
    assert join(client, invite(client, household_id, helper), daughter).status_code == 200

    response = client.get(members_url(household_id), headers=staff.headers)

    assert response.status_code == 200, response.json
    body = response.json
    assert body["next_cursor"] is None
    assert [m["user_id"] for m in body["items"]] == [first.id, son.id, daughter.id]
    by_user = {m["user_id"]: m for m in body["items"]}
    assert by_user[first.id]["invite"] is None
    assert by_user[first.id]["granted_by_id"] is None
    assert by_user[first.id]["nickname_masked"] == "农*"
    joined = by_user[son.id]
    assert set(joined) == {"user_id", "nickname_masked", "joined_at", "granted_by_id", "invite"}
    assert joined["nickname_masked"] == "李**"
    assert joined["granted_by_id"] == staff.id
    assert datetime.fromisoformat(joined["joined_at"]) <= datetime.now(UTC)
    assert set(joined["invite"]) == {"id", "issued_by_id", "issued_as", "issued_at", "used_at"}
    assert joined["invite"]["issued_by_id"] == staff.id
    assert joined["invite"]["issued_as"] == "county_staff"
    assert by_user[daughter.id]["nickname_masked"] == "L***"
    assert by_user[daughter.id]["invite"]["issued_by_id"] == helper.id
    assert by_user[daughter.id]["invite"]["issued_as"] == "helper"
    text = response.get_data(as_text=True)
    assert "李小军" not in text and "Lily" not in text


@pytest.mark.parametrize(
    "who,status,error",
    [
        ("member", 200, None),
        ("staff", 200, None),
        ("platform_admin", 200, None),
        ("consenting_helper", 200, None),
        ("helper_without_consent", 403, "consent_required"),
        ("staff_other_county", 404, "not_found"),
        ("helper_other_village", 404, "not_found"),
        ("other_member", 404, "not_found"),
        ("buyer", 404, "not_found"),
    ],
)
def test_who_may_list_members(client, world, village_household, who, status, error):
    household_id, member = village_household
    viewer = {
        "member": lambda: member,
        "staff": lambda: world.staff(GUZHEN),
        "platform_admin": world.admin,
        "consenting_helper": lambda: consenting_helper(world, household_id),
        "helper_without_consent": lambda: world.helper(VILLAGE_A),
        "staff_other_county": lambda: world.staff(SANGZHI),
        "helper_other_village": lambda: world.helper(VILLAGE_B),
        "other_member": lambda: world.farmer(world.household(village=VILLAGE_A)),
        "buyer": lambda: world.user(),
    }[who]()
    response = client.get(members_url(household_id), headers=viewer.headers)
    if error is None:
        assert response.status_code == 200, response.json
        assert [m["user_id"] for m in response.json["items"]] == [member.id]
    else:
        assert_error(response, status, error)


def test_staff_remove_a_member(app, client, world, village_household):
    household_id, member = village_household
    staff = world.staff(GUZHEN)
    newcomer = world.user("儿子")
    assert join(client, invite(client, household_id, staff), newcomer).status_code == 200

    response = client.post(remove_url(household_id, newcomer.id), headers=staff.headers)

    assert response.status_code == 204, response.json
    assert_error(client.get("/api/v1/me", headers=newcomer.headers), 401, "token_invalid")
    listed = client.get(members_url(household_id), headers=staff.headers).json["items"]
    assert [m["user_id"] for m in listed] == [member.id]
    with app.app_context():
        assert not db.session.scalars(
            select(RoleGrant).where(RoleGrant.user_id == newcomer.id, RoleGrant.role == Role.FARMER)
        ).all()
    [row] = audit_rows(app, "household.remove_member")
    assert row["actor_id"] == staff.id and row["object_id"] == str(household_id)
    assert row["detail"] == {
        "user_id": newcomer.id,
        "invite_id": stored_id(app),
        "tokens_revoked": 1,
    }
    # The member who stays keeps their session.
    assert client.get(f"{URL}/{household_id}", headers=member.headers).status_code == 200
    # Removing again: no such member any more.
    response = client.post(remove_url(household_id, newcomer.id), headers=staff.headers)
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize("whom", ["another_member", "themselves"])
def test_a_member_removes_a_member(app, client, world, village_household, whom):
    household_id, member = village_household
    other = world.farmer(household_id)
    target = other if whom == "another_member" else member
    response = client.post(remove_url(household_id, target.id), headers=member.headers)
    assert response.status_code == 204, response.json
    assert_error(client.get("/api/v1/me", headers=target.headers), 401, "token_invalid")
    [row] = audit_rows(app, "household.remove_member")
    assert row["actor_id"] == member.id and row["detail"]["user_id"] == target.id


@pytest.mark.parametrize(
    "who,status,error",
    [
        ("consenting_helper", 403, "forbidden"),
        ("helper_without_consent", 403, "forbidden"),
        ("platform_admin", 403, "forbidden"),
        ("staff_other_county", 404, "not_found"),
        ("other_member", 404, "not_found"),
        ("buyer", 404, "not_found"),
    ],
)
def test_others_may_not_remove_members(app, client, world, village_household, who, status, error):
    household_id, member = village_household
    actor = {
        "consenting_helper": lambda: consenting_helper(world, household_id),
        "helper_without_consent": lambda: world.helper(VILLAGE_A),
        "platform_admin": world.admin,
        "staff_other_county": lambda: world.staff(SANGZHI),
        "other_member": lambda: world.farmer(world.household(village=VILLAGE_A)),
        "buyer": lambda: world.user(),
    }[who]()
    response = client.post(remove_url(household_id, member.id), headers=actor.headers)
    assert_error(response, status, error)
    assert client.get(f"{URL}/{household_id}", headers=member.headers).status_code == 200
    assert audit_rows(app, "household.remove_member") == []


@pytest.mark.parametrize("target", ["not_a_member", "member_elsewhere", "unknown"])
def test_removing_someone_who_is_not_a_member_is_404(client, world, village_household, target):
    household_id, member = village_household
    user_id = {
        "not_a_member": lambda: world.user().id,
        "member_elsewhere": lambda: world.farmer(world.household(village=VILLAGE_A)).id,
        "unknown": lambda: 999999,
    }[target]()
    response = client.post(remove_url(household_id, user_id), headers=world.staff(GUZHEN).headers)
    assert_error(response, 404, "not_found")
    assert client.get(f"{URL}/{household_id}", headers=member.headers).status_code == 200
