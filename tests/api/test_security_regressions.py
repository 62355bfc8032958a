"""One test per security defect reported from outside, kept after the fix, through HTTP.

Member codes: county staff or a helper without the household's consent issued a member code,
redeemed it themselves and then acted as the household (edited its shop and listings; staff
could approve what they had submitted). Tokens: a token outlived the password, the role or the
account it was issued for.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from api.cli import seed_demo
from models import HouseholdInvite, RoleGrant, User, db
from models.enums import ConsentPurpose, Role
from services import accounts
from tests.factories import GUZHEN, SANGZHI, VILLAGE_A, VILLAGE_B, assert_error, audit_rows

HOUSEHOLDS = "/api/v1/households"
QUEUE = "/api/v1/admin/moderation/queue"


def issue(client, household_id: int, actor):
    return client.post(f"{HOUSEHOLDS}/{household_id}/member-invites", headers=actor.headers)


def issued(client, household_id: int, actor) -> str:
    response = issue(client, household_id, actor)
    assert response.status_code == 201, response.json
    return response.json["code"]


def join(client, code: str, actor):
    return client.post(f"{HOUSEHOLDS}/join", json={"code": code}, headers=actor.headers)


def patch_shop(client, shop_id: int, actor):
    return client.patch(
        f"/api/v1/shops/{shop_id}", json={"intro": "改过的简介"}, headers=actor.headers
    )


def code_unused(app) -> bool:
    with app.app_context():
        return all(i.used_at is None for i in db.session.scalars(select(HouseholdInvite)))


def farmer_households(app, person) -> list[int]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(RoleGrant.household_id).where(
                    RoleGrant.user_id == person.id, RoleGrant.role == Role.FARMER
                )
            )
        )


@pytest.fixture
def shop(world):
    """An approved shop of a household of village A, its member and its county's staff."""
    staff = world.staff(GUZHEN)
    household_id = world.household(village=VILLAGE_A, by=staff)
    member = world.farmer(household_id)
    shop_id = world.shop(household_id, by=member, approve_by=staff)
    return household_id, shop_id, member, staff


# --- member codes --------------------------------------------------------------------------


def test_helper_without_consent_can_no_longer_issue_a_code_and_take_the_shop(
    app, client, world, shop
):
    """Reported: the helper issued a code, redeemed it, and edited the shop as a member."""
    household_id, shop_id, _, _ = shop
    helper = world.helper(VILLAGE_A)
    assert_error(patch_shop(client, shop_id, helper), 403, "consent_required")

    assert_error(issue(client, household_id, helper), 403, "consent_required")

    with app.app_context():
        assert db.session.scalar(select(HouseholdInvite)) is None
    assert_error(patch_shop(client, shop_id, helper), 403, "consent_required")


def test_staff_can_no_longer_become_a_member_and_approve_their_own_listing(
    app, client, world, shop, catalog
):
    """Reported: staff issued a code, redeemed it, edited and submitted a listing as the
    household, then approved it themselves."""
    household_id, shop_id, _, staff = shop
    code = issued(client, household_id, staff)

    assert_error(join(client, code, staff), 403, "invite_not_redeemable")

    assert code_unused(app)
    assert farmer_households(app, staff) == []
    assert_error(patch_shop(client, shop_id, staff), 403, "forbidden")
    response = client.post(
        f"/api/v1/shops/{shop_id}/products", json={"title": "代写的产品"}, headers=staff.headers
    )
    assert_error(response, 403, "forbidden")
    # The code was not consumed: the family member it was meant for still joins with it.
    son = world.user("李小军")
    assert join(client, code, son).status_code == 200
    assert patch_shop(client, shop_id, son).status_code == 200


def test_the_issuer_may_not_redeem_their_own_code(app, client, world, shop):
    household_id, shop_id, member, _ = shop
    helper = world.helper(VILLAGE_A)
    world.consent(household_id, helper)
    for issuer in (helper, member):
        code = issued(client, household_id, issuer)
        assert_error(join(client, code, issuer), 403, "invite_not_redeemable")
    assert code_unused(app)
    assert farmer_households(app, helper) == []


def test_issuing_needs_the_consent_to_manage_the_shop(app, client, world, shop):
    """Issuing codes needs the consent to manage the shop, not any consent."""
    household_id, _, _, _ = shop
    helper = world.helper(VILLAGE_A)
    world.consent(household_id, helper, ConsentPurpose.MANAGE_PRODUCTS)
    assert_error(issue(client, household_id, helper), 403, "consent_required")
    world.consent(household_id, helper, ConsentPurpose.MANAGE_SHOP)
    assert issue(client, household_id, helper).status_code == 201


def _station_operator(world):
    from tests.stations import Stations

    stations = Stations(world)
    return stations.operator(stations.create(world.staff(GUZHEN)))


OFFICIALS = {
    "staff_of_the_county": lambda world, h: world.staff(GUZHEN),
    "helper_of_the_village": lambda world, h: world.helper(VILLAGE_A),
    "helper_of_the_household": lambda world, h: world.grant(
        world.user(), Role.HELPER, household_id=h
    ),
    "unit_admin": lambda world, h: world.grant(world.user(), Role.UNIT_ADMIN, unit_id=1),
    "unit_member": lambda world, h: world.grant(world.user(), Role.UNIT_MEMBER, unit_id=1),
    "station_operator": lambda world, h: _station_operator(world),
    "platform_admin": lambda world, h: world.admin(),
}
# What each of them then gets for editing the shop (services/access.py, act_for): those who may
# see the household are refused (403), helpers for want of its consent; unit and station roles
# may not see it at all, so its existence is not revealed (404).
SHOP_EDIT_REFUSAL = {
    "staff_of_the_county": (403, "forbidden"),
    "helper_of_the_village": (403, "consent_required"),
    "helper_of_the_household": (403, "consent_required"),
    "unit_admin": (404, "not_found"),
    "unit_member": (404, "not_found"),
    "station_operator": (404, "not_found"),
    "platform_admin": (403, "forbidden"),
}


@pytest.mark.parametrize("who", sorted(OFFICIALS))
def test_no_one_serving_the_household_may_redeem_a_code(app, client, world, shop, who):
    household_id, shop_id, _, staff = shop
    code = issued(client, household_id, staff)
    official = OFFICIALS[who](world, household_id)

    assert_error(join(client, code, official), 403, "invite_not_redeemable")

    assert code_unused(app)
    assert farmer_households(app, official) == []
    assert audit_rows(app, "household.join") == []
    assert_error(patch_shop(client, shop_id, official), *SHOP_EDIT_REFUSAL[who])


def test_a_consenting_helper_may_issue_but_not_redeem(app, client, world, shop):
    household_id, shop_id, _, _ = shop
    helper, other_helper = world.helper(VILLAGE_A), world.helper(VILLAGE_A)
    world.consent(household_id, helper)
    world.consent(household_id, other_helper)
    code = issued(client, household_id, helper)
    assert_error(join(client, code, other_helper), 403, "invite_not_redeemable")
    assert code_unused(app)


def test_a_code_dies_with_its_issuers_right_to_issue(app, client, world, shop):
    """Consent withdrawn, member removed: the codes they issued can no longer be redeemed."""
    household_id, _, member, staff = shop
    helper = world.helper(VILLAGE_A)
    consent_id = world.consent(household_id, helper)
    helper_code = issued(client, household_id, helper)
    second = world.user("李二")
    assert join(client, issued(client, household_id, staff), second).status_code == 200
    member_code = issued(client, household_id, second)

    revoke = f"{HOUSEHOLDS}/{household_id}/consents/{consent_id}/revoke"
    assert client.post(revoke, headers=member.headers).status_code == 200
    remove = f"{HOUSEHOLDS}/{household_id}/members/{second.id}/remove"
    assert client.post(remove, headers=staff.headers).status_code == 204

    newcomer = world.user("新成员")
    assert_error(join(client, helper_code, newcomer), 422, "invalid_invite_code")
    assert_error(join(client, member_code, newcomer), 422, "invalid_invite_code")
    assert farmer_households(app, newcomer) == []


def test_every_join_is_visible_to_the_households_staff(app, client, world, shop):
    household_id, _, _, staff = shop
    helper = world.helper(VILLAGE_A)
    world.consent(household_id, helper)
    code = issued(client, household_id, helper)
    newcomer = world.user("王小明")
    assert join(client, code, newcomer).status_code == 200

    [row] = audit_rows(app, "household.join")
    assert row["actor_id"] == newcomer.id
    assert row["detail"]["issued_by_id"] == helper.id
    assert row["detail"]["issued_as"] == "helper"
    members = client.get(f"{HOUSEHOLDS}/{household_id}/members", headers=staff.headers).json
    [joined] = [m for m in members["items"] if m["user_id"] == newcomer.id]
    assert joined["nickname_masked"] == "王**"
    assert joined["invite"]["issued_by_id"] == helper.id
    assert joined["invite"]["issued_as"] == "helper"


def test_a_removed_member_loses_the_household_and_every_session(app, client, world, shop):
    household_id, shop_id, _, staff = shop
    code = issued(client, household_id, staff)
    intruder = world.user("冒名者")
    assert join(client, code, intruder).status_code == 200
    assert patch_shop(client, shop_id, intruder).status_code == 200

    remove = f"{HOUSEHOLDS}/{household_id}/members/{intruder.id}/remove"
    assert client.post(remove, headers=staff.headers).status_code == 204

    assert_error(client.get("/api/v1/me", headers=intruder.headers), 401, "token_invalid")
    assert farmer_households(app, intruder) == []
    # A new session does not bring the membership back, nor does replaying the used code.
    with app.app_context():
        user = db.session.get(User, intruder.id)
        _, raw, _ = accounts.login_dev(openid=user.openid)
    again = {"Authorization": f"Bearer {raw}"}
    assert_error(
        client.post(f"{HOUSEHOLDS}/join", json={"code": code}, headers=again), 409, "invite_used"
    )
    response = client.patch(f"/api/v1/shops/{shop_id}", json={"intro": "再改"}, headers=again)
    assert_error(response, 404, "not_found")


# --- tokens ---------------------------------------------------------------------------------


def username_of(app, person) -> str:
    with app.app_context():
        return db.session.get(User, person.id).username


def cli(app, *args: str):
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result


def test_a_new_password_ends_the_old_sessions(app, client, world):
    staff = world.staff(GUZHEN)
    assert client.get(QUEUE, headers=staff.headers).status_code == 200

    cli(app, "users", "set-password", "--username", username_of(app, staff), "--password", "x" * 12)

    assert_error(client.get(QUEUE, headers=staff.headers), 401, "token_invalid")
    login = client.post(
        "/api/v1/auth/staff-login",
        json={"username": username_of(app, staff), "password": "x" * 12},
    )
    assert login.status_code == 200
    fresh = {"Authorization": f"Bearer {login.json['token']}"}
    assert client.get(QUEUE, headers=fresh).status_code == 200
    [row] = audit_rows(app, "user.set_password")
    assert row["object_id"] == str(staff.id) and row["detail"] == {"tokens_revoked": 1}


def test_seed_demo_new_passwords_end_the_old_sessions(app, client):
    runner = app.test_cli_runner()
    first = runner.invoke(seed_demo)
    assert first.exit_code == 0, first.output
    password = next(line.split()[-1] for line in first.output.splitlines() if "gz-staff" in line)
    login = client.post(
        "/api/v1/auth/staff-login", json={"username": "gz-staff", "password": password}
    )
    old = {"Authorization": f"Bearer {login.json['token']}"}
    assert client.get(QUEUE, headers=old).status_code == 200

    assert runner.invoke(seed_demo).exit_code == 0

    assert_error(client.get(QUEUE, headers=old), 401, "token_invalid")


def test_revoking_a_role_ends_the_sessions(app, client, world):
    staff = world.staff(GUZHEN)
    assert client.get(QUEUE, headers=staff.headers).status_code == 200

    cli(
        app,
        "users",
        "revoke",
        "--user-id",
        str(staff.id),
        "--role",
        "county_staff",
        "--region",
        GUZHEN,
    )

    assert_error(client.get(QUEUE, headers=staff.headers), 401, "token_invalid")
    with app.app_context():
        assert db.session.get(User, staff.id).grants == []
    [row] = audit_rows(app, "user.revoke_role")
    assert row["detail"]["role"] == "county_staff" and row["detail"]["tokens_revoked"] == 1


def test_revoking_a_role_not_held_changes_nothing(app, client, world):
    staff = world.staff(GUZHEN)
    result = app.test_cli_runner().invoke(
        args=["users", "revoke", "--user-id", str(staff.id), "--role", "county_staff"]
        + ["--region", SANGZHI]
    )
    assert result.exit_code != 0 and "grant_not_found" in result.output
    assert client.get(QUEUE, headers=staff.headers).status_code == 200


def test_deactivating_an_account_ends_its_sessions_and_logins(app, client, world):
    staff = world.staff(GUZHEN)
    assert client.get(QUEUE, headers=staff.headers).status_code == 200

    cli(app, "users", "deactivate", "--user-id", str(staff.id))

    assert_error(client.get(QUEUE, headers=staff.headers), 401, "token_invalid")
    login = client.post(
        "/api/v1/auth/staff-login",
        json={"username": username_of(app, staff), "password": "correct horse battery staple"},
    )
    assert_error(login, 401, "invalid_credentials")
    [row] = audit_rows(app, "user.deactivate")
    assert row["detail"] == {"was_active": True, "tokens_revoked": 1}


def test_a_deactivated_wechat_user_cannot_log_in_again(app, client, world):
    person = world.user()
    with app.app_context():
        openid = db.session.get(User, person.id).openid
    cli(app, "users", "deactivate", "--user-id", str(person.id))
    assert_error(client.get("/api/v1/me", headers=person.headers), 401, "token_invalid")
    response = client.post("/api/v1/auth/dev-login", json={"openid": openid})
    assert_error(response, 403, "account_disabled")


def test_revocation_touches_only_that_users_tokens(app, client, world):
    """Revocation is per user: other people's tokens are untouched."""
    staff, colleague = world.staff(GUZHEN), world.staff(GUZHEN)
    cli(app, "users", "deactivate", "--user-id", str(staff.id))
    assert client.get(QUEUE, headers=colleague.headers).status_code == 200
    helper = world.helper(VILLAGE_B)
    assert client.get("/api/v1/me", headers=helper.headers).status_code == 200
