"""services.households against a real database: PII at rest, all-or-nothing writes, consents."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import func, select, text, update

from models import AuditEvent, Consent, Household, HouseholdInvite, User, db
from models.enums import ConsentMethod, ConsentPurpose, PovertyStatus, Role
from services import access, accounts, households, pii
from services.errors import Conflict, InvalidInput, InvalidState, PermissionDenied
from tests.factories import GUZHEN, SANGZHI, VILLAGE_A, VILLAGE_B, valid_id_number


def user(person) -> User:
    return db.session.get(User, person.id)


def data(**overrides) -> dict:
    return {
        "registry_no": f"S-{secrets.token_hex(4)}",
        "head_name": "张玉梅",
        "id_number": valid_id_number(),
        "village_code": VILLAGE_A,
        "poverty_status": PovertyStatus.MONITORED,
        "phone": "13605520003",
    } | overrides


def counts() -> tuple[int, int]:
    return (
        db.session.scalar(select(func.count()).select_from(Household)),
        db.session.scalar(select(func.count()).select_from(AuditEvent)),
    )


def test_id_number_is_encrypted_indexed_and_masked(ctx, world):
    staff = world.staff(GUZHEN)
    number = valid_id_number()
    household = households.create_household(user(staff), **data(id_number=number))

    raw = (
        db.session.execute(text("SELECT * FROM households WHERE id = :id"), {"id": household.id})
        .mappings()
        .one()
    )
    for column, value in raw.items():
        assert number not in str(value), column
        assert number[6:14] not in str(value), column  # not even the birth date in clear

    cipher = raw["id_number_cipher"]
    assert cipher.startswith("v1:")
    assert pii.decrypt(cipher) == number

    index = raw["id_number_index"]
    assert re.fullmatch(r"[0-9a-f]{64}", index)
    assert index == pii.blind_index(number) == pii.blind_index(number)  # stable
    assert index != hashlib.sha256(number.encode()).hexdigest()  # keyed, not a bare hash

    masked = raw["id_number_masked"]
    assert re.fullmatch(r"3403\*{10}[0-9]{3}[0-9X]", masked)
    assert masked == number[:4] + "**********" + number[-4:]


def test_encryption_is_randomised_but_the_index_is_not(ctx):
    number = valid_id_number()
    first, second = pii.encrypt(number), pii.encrypt(number)
    assert first != second
    assert pii.decrypt(first) == pii.decrypt(second) == number
    assert pii.blind_index(number) != pii.blind_index(valid_id_number())


def test_blind_index_and_cipher_depend_on_the_key(app, ctx, monkeypatch):
    number = valid_id_number()
    index, cipher = pii.blind_index(number), pii.encrypt(number)
    other_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    monkeypatch.setitem(app.config, "PII_ENCRYPTION_KEY", other_key)
    assert pii.blind_index(number) != index
    with pytest.raises(InvalidTag):
        pii.decrypt(cipher)


def test_no_audit_row_holds_the_id_number(ctx, world):
    staff = world.staff(GUZHEN)
    number = valid_id_number()
    household = households.create_household(user(staff), **data(id_number=number))
    assert households.reveal_id_number(user(staff), household.id, reason="核对") == number
    details = [str(e.detail) for e in db.session.scalars(select(AuditEvent))]
    assert any("核对" in d for d in details)
    assert all(number not in d and number[6:14] not in d for d in details)


@pytest.mark.parametrize(
    "case,error,code",
    [
        ("duplicate_id", Conflict, "household_exists"),
        ("duplicate_registry", Conflict, "household_exists"),
        ("bad_phone", InvalidInput, "invalid_phone"),
        ("bad_id", InvalidInput, "invalid_id_number"),
        ("township", InvalidInput, "invalid_region_code"),
        ("other_county_staff", PermissionDenied, "household_out_of_scope"),
    ],
)
def test_failing_create_leaves_no_row_behind(ctx, world, case, error, code):
    staff = world.staff(GUZHEN)
    first = data()
    households.create_household(user(staff), **first)
    actor = user(world.staff(SANGZHI)) if case == "other_county_staff" else user(staff)
    attempt = {
        "duplicate_id": data(id_number=first["id_number"]),
        "duplicate_registry": data(registry_no=first["registry_no"]),
        "bad_phone": data(phone="110"),
        "bad_id": data(id_number=first["id_number"][:-1] + "Y"),
        "township": data(village_code="340323101000"),
        "other_county_staff": data(),
    }[case]
    before = counts()  # after the actor's own creation rows
    with pytest.raises(error) as raised:
        households.create_household(actor, **attempt)
    assert raised.value.code == code
    # Even if a caller commits the same session afterwards, nothing of the attempt is written.
    db.session.commit()
    assert counts() == before
    assert db.session.scalar(
        select(func.count())
        .select_from(Household)
        .where(Household.registry_no == attempt["registry_no"])
    ) == (1 if case == "duplicate_registry" else 0)


def test_helper_created_household_waits_for_verification(ctx, world):
    helper = world.helper(VILLAGE_A)
    household = households.create_household(user(helper), **data())
    assert household.verification_status.value == "pending"
    assert household.verified_by_id is None
    staff = world.staff(GUZHEN)
    verified = households.verify_household(user(staff), household.id)
    assert verified.verification_status.value == "verified"
    assert verified.verified_by_id == staff.id
    stamp = verified.verified_at
    again = households.verify_household(user(world.staff(GUZHEN)), household.id)
    assert (again.verified_at, again.verified_by_id) == (stamp, staff.id)


def test_failing_update_leaves_nothing_even_if_the_caller_commits(ctx, world):
    household_id = world.household()
    member = world.farmer(household_id)
    with pytest.raises(InvalidInput) as raised:
        households.update_household(
            user(member),
            household_id,
            head_name="新名字",
            phone="123",
            fields={"head_name", "phone"},
        )
    assert raised.value.code == "invalid_phone"
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Household, household_id).head_name == "李桂兰"


def test_consent_rights_follow_purpose_expiry_and_revocation(ctx, world):
    household_id = world.household(village=VILLAGE_A)
    member = world.farmer(household_id)
    helper = world.helper(VILLAGE_A)
    outsider = world.helper(VILLAGE_B)

    consent = households.record_consent(
        user(member),
        household_id,
        helper_user_id=helper.id,
        purposes=[ConsentPurpose.MANAGE_SHOP],
        method=ConsentMethod.IN_APP,
        expires_at=datetime.now(UTC) + timedelta(days=30),
    )
    household = db.session.get(Household, household_id)
    assert access.has_consent(user(helper), household, ConsentPurpose.MANAGE_SHOP)
    assert not access.has_consent(user(helper), household, ConsentPurpose.VIEW_FINANCES)
    assert not access.has_consent(user(outsider), household, ConsentPurpose.MANAGE_SHOP)
    assert access.act_for(user(helper), household, ConsentPurpose.MANAGE_SHOP).on_behalf_of == (
        household_id
    )
    assert access.act_for(user(member), household, ConsentPurpose.MANAGE_SHOP).on_behalf_of is None

    now = datetime.now(UTC)
    assert consent.is_active(now)
    assert not consent.is_active(now + timedelta(days=31))

    households.revoke_consent(user(member), household_id, consent.id)
    db.session.expire_all()
    household = db.session.get(Household, household_id)
    assert not access.has_consent(user(helper), household, ConsentPurpose.MANAGE_SHOP)
    with pytest.raises(PermissionDenied) as raised:
        access.act_for(user(helper), household, ConsentPurpose.MANAGE_SHOP)
    assert raised.value.code == "consent_required"
    assert db.session.get(Consent, consent.id).revoked_by_id == member.id


def test_invite_codes_are_single_use_and_stored_hashed(ctx, world):
    household_id = world.household()
    staff = world.staff(GUZHEN)
    code, invite = households.create_member_invite(user(staff), household_id)
    assert re.fullmatch(r"\d{8}", code)
    assert invite.code_hash == hashlib.sha256(code.encode()).hexdigest() != code

    newcomer = world.user()
    assert households.join_household(user(newcomer), code=code).id == household_id
    assert household_id in user(newcomer).member_household_ids
    assert households.join_household(user(newcomer), code=code).id == household_id
    with pytest.raises(InvalidState) as raised:
        households.join_household(user(world.user()), code=code)
    assert raised.value.code == "invite_used"


def test_a_code_is_claimed_once_even_when_two_redeem_it_at_the_same_time(ctx, world):
    household_id = world.household()
    code, invite = households.create_member_invite(user(world.staff(GUZHEN)), household_id)
    winner, loser = world.user(), world.user()
    assert invite.used_at is None  # what the losing request read before the winner committed
    # The winner's claim, written behind the loser's back (its loaded invite stays stale).
    db.session.execute(
        update(HouseholdInvite)
        .where(HouseholdInvite.id == invite.id)
        .values(used_at=datetime.now(UTC), used_by_id=winner.id)
        .execution_options(synchronize_session=False)
    )
    assert invite.used_at is None

    with pytest.raises(InvalidState) as raised:
        households.join_household(user(loser), code=code)

    assert raised.value.code == "invite_used"
    assert household_id not in user(loser).member_household_ids


def test_who_holds_office_over_a_household_and_who_may_issue_codes(ctx, world):
    household_id = world.household(village=VILLAGE_A)
    household = db.session.get(Household, household_id)
    member = world.farmer(household_id)
    consenting, plain = world.helper(VILLAGE_A), world.helper(VILLAGE_A)
    world.consent(household_id, consenting)
    people = {
        "staff": (world.staff(GUZHEN), True, Role.COUNTY_STAFF),
        "staff_other_county": (world.staff(SANGZHI), False, None),
        "member": (member, False, Role.FARMER),
        "consenting_helper": (consenting, True, Role.HELPER),
        "helper_without_consent": (plain, True, None),
        "helper_other_village": (world.helper(VILLAGE_B), False, None),
        "unit_member": (world.grant(world.user(), Role.UNIT_MEMBER, unit_id=7), True, None),
        "platform_admin": (world.admin(), True, None),
        "buyer": (world.user(), False, None),
    }
    for name, (person, office, capacity) in people.items():
        db.session.expire_all()
        assert access.holds_office_over(user(person), household) is office, name
        assert access.invite_capacity(user(person), household) == capacity, name


def test_an_inactive_user_may_issue_no_code(ctx, world):
    household_id = world.household()
    staff = world.staff(GUZHEN)
    accounts.deactivate_user(None, user_id=staff.id)
    assert access.invite_capacity(user(staff), db.session.get(Household, household_id)) is None
