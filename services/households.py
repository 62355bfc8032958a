"""建档立卡户: registration, verification, consents and member binding."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from models import Consent, Household, HouseholdInvite, RoleGrant, User, db
from models.base import utcnow
from models.enums import (
    ConsentMethod,
    ConsentPurpose,
    PovertyStatus,
    RegionLevel,
    Role,
    VerificationStatus,
)
from services import access, accounts, audit, invite_codes, pii
from services.accounts import _add_grant
from services.error_codes import CommonError, HouseholdError
from services.regions import require_region


def get_household(actor: User, household_id: int) -> Household:
    return access.require_visible(actor, db.session.get(Household, household_id))


def create_household(
    actor: User,
    *,
    registry_no: str,
    head_name: str,
    id_number: str,
    village_code: str,
    poverty_status: PovertyStatus,
    phone: str | None = None,
) -> Household:
    """County staff register households of their county; helpers, of their own village.

    A household registered by staff is verified at once; one registered by a helper waits for
    staff to verify it.
    """
    village = require_region(village_code, RegionLevel.VILLAGE, "village_code")
    county_code = village.code[:6]
    if access.is_staff_of(actor, county_code):
        verified = True
    elif access.helper_covers_village(actor, village.code):
        verified = False
    else:
        raise HouseholdError.OUT_OF_SCOPE()
    id_number = pii.normalise_id_number(id_number)
    index = pii.blind_index(id_number)
    if db.session.scalar(select(Household.id).where(Household.id_number_index == index)):
        raise HouseholdError.HOUSEHOLD_EXISTS(errors={"id_number": ["该身份证号已登记"]})
    if db.session.scalar(select(Household.id).where(Household.registry_no == registry_no)):
        raise HouseholdError.HOUSEHOLD_EXISTS(errors={"registry_no": ["该档案编号已登记"]})
    household = Household(
        registry_no=registry_no,
        head_name=head_name,
        id_number_cipher=pii.encrypt(id_number),
        id_number_index=index,
        id_number_masked=pii.mask_id_number(id_number),
        phone=pii.normalise_phone(phone),
        village_code=village.code,
        county_code=county_code,
        poverty_status=poverty_status,
        created_by_id=actor.id,
        verification_status=VerificationStatus.VERIFIED if verified else VerificationStatus.PENDING,
        verified_at=utcnow() if verified else None,
        verified_by_id=actor.id if verified else None,
    )
    db.session.add(household)
    db.session.flush()
    audit.record(actor, "household.create", "household", household.id, verified=verified)
    db.session.commit()
    return household


def update_household(
    actor: User,
    household_id: int,
    *,
    head_name: str | None = None,
    phone: str | None = None,
    poverty_status: PovertyStatus | None = None,
    fields: set[str],
) -> Household:
    household = get_household(actor, household_id)
    is_staff = access.is_staff_of(actor, household.county_code)
    if "poverty_status" in fields and not is_staff:
        raise HouseholdError.STAFF_ONLY_FIELD(
            errors={"poverty_status": ["只有县级工作人员可以修改"]}
        )
    if not is_staff:
        access.act_for(actor, household, ConsentPurpose.MANAGE_SHOP)
    # Validate everything before touching the row, so a refused update changes nothing.
    phone = pii.normalise_phone(phone) if "phone" in fields else None
    changed = []
    if "head_name" in fields and head_name and head_name != household.head_name:
        household.head_name = head_name
        changed.append("head_name")
    if "phone" in fields:
        household.phone = phone
        changed.append("phone")
    if "poverty_status" in fields and poverty_status:
        household.poverty_status = poverty_status
        changed.append("poverty_status")
    on_behalf = None if is_staff or access.is_member(actor, household) else household.id
    audit.record(
        actor,
        "household.update",
        "household",
        household.id,
        on_behalf_of=on_behalf,
        fields=sorted(changed),
    )
    db.session.commit()
    return household


def verify_household(actor: User, household_id: int) -> Household:
    household = db.session.get(Household, household_id)
    if household is None:
        raise CommonError.NOT_FOUND()
    access.require_staff_for(actor, household)
    if household.verification_status == VerificationStatus.VERIFIED:
        return household  # verifying twice changes nothing
    household.verification_status = VerificationStatus.VERIFIED
    household.verified_at = utcnow()
    household.verified_by_id = actor.id
    audit.record(actor, "household.verify", "household", household.id)
    db.session.commit()
    return household


def reveal_id_number(actor: User, household_id: int, *, reason: str) -> str:
    """Staff-only, audited: the one place an ID number leaves the database in clear."""
    household = db.session.get(Household, household_id)
    if household is None:
        raise CommonError.NOT_FOUND()
    access.require_staff_for(actor, household)
    audit.record(actor, "household.reveal_id_number", "household", household.id, reason=reason)
    db.session.commit()
    return pii.decrypt(household.id_number_cipher)


def record_consent(
    actor: User,
    household_id: int,
    *,
    helper_user_id: int,
    purposes: list[ConsentPurpose],
    method: ConsentMethod,
    note: str = "",
    expires_at: datetime | None = None,
) -> Consent:
    """A member grants consent in the app; county staff enter a signed paper form."""
    household = get_household(actor, household_id)
    if method == ConsentMethod.IN_APP and not access.is_member(actor, household):
        raise HouseholdError.MEMBER_ONLY_CONSENT()
    if method == ConsentMethod.PAPER and not access.is_staff_of(actor, household.county_code):
        raise HouseholdError.STAFF_ONLY_PAPER()
    helper = db.session.get(User, helper_user_id)
    if helper is None or not access.helper_covers(helper, household):
        raise HouseholdError.NOT_A_HELPER(errors={"helper_user_id": ["不是本户的帮扶责任人"]})
    if expires_at is not None and expires_at <= utcnow():
        raise HouseholdError.INVALID_EXPIRY(errors={"expires_at": ["须晚于现在"]})
    consent = Consent(
        household=household,
        helper_user_id=helper.id,
        purposes=sorted({p.value for p in purposes}),
        method=method,
        note=note,
        recorded_by_id=actor.id,
        expires_at=expires_at,
    )
    db.session.add(consent)
    db.session.flush()
    audit.record(
        actor,
        "consent.grant",
        "consent",
        consent.id,
        household_id=household.id,
        helper_user_id=helper.id,
        purposes=consent.purposes,
        method=method.value,
    )
    db.session.commit()
    return consent


def revoke_consent(actor: User, household_id: int, consent_id: int) -> Consent:
    household = get_household(actor, household_id)
    consent = db.session.get(Consent, consent_id)
    if consent is None or consent.household_id != household.id:
        raise CommonError.NOT_FOUND()
    if not (access.is_member(actor, household) or access.is_staff_of(actor, household.county_code)):
        raise HouseholdError.REVOKE_FORBIDDEN()
    if consent.revoked_at is None:
        consent.revoked_at = utcnow()
        consent.revoked_by_id = actor.id
        audit.record(actor, "consent.revoke", "consent", consent.id, household_id=household.id)
        db.session.commit()
    return consent


def create_member_invite(actor: User, household_id: int) -> tuple[str, HouseholdInvite]:
    """A one-time code a member uses to bind their WeChat to the household.

    Issuing one needs the right to act for the household: county staff of its county, one of
    its members (inviting another family member), or a helper holding its consent to manage
    the shop; a helper without consent is told so (consent_required).
    """
    household = get_household(actor, household_id)
    issued_as = access.invite_capacity(actor, household)
    if issued_as is None:
        access.act_for(actor, household, ConsentPurpose.MANAGE_SHOP)  # raises the refusal
        raise CommonError.FORBIDDEN()
    code = invite_codes.new_code()
    invite = HouseholdInvite(
        household_id=household.id,
        code_hash=invite_codes.hash_code(code),
        created_by_id=actor.id,
        issued_as=issued_as,
        expires_at=utcnow() + invite_codes.TTL,
    )
    db.session.add(invite)
    db.session.flush()
    audit.record(
        actor,
        "household.invite_member",
        "household",
        household.id,
        on_behalf_of=household.id if issued_as == Role.HELPER else None,
        invite_id=invite.id,
        issued_as=issued_as.value,
    )
    db.session.commit()
    return code, invite


def join_household(actor: User, *, code: str) -> Household:
    """Redeem a member code: the user becomes a member (farmer) of its household.

    Only a real member of the family may redeem one: never its issuer, and never anyone who
    serves the household officially (``access.holds_office_over``). A code is also worth no
    more than its issuer's standing when it is used: one whose issuer may no longer issue codes
    for the household (staff moved, consent withdrawn, member removed, account switched off)
    is invalid. A refused attempt leaves the code unused.
    """
    invite = db.session.scalar(
        select(HouseholdInvite).where(HouseholdInvite.code_hash == invite_codes.hash_code(code))
    )
    if invite is None or invite.expires_at <= utcnow():
        raise HouseholdError.INVALID_INVITE_CODE()
    household = db.session.get_one(Household, invite.household_id)
    if invite.used_at is not None:
        if invite.used_by_id == actor.id and access.is_member(actor, household):
            return household  # a retried join is harmless
        raise HouseholdError.INVITE_USED()
    if actor.id == invite.created_by_id or access.holds_office_over(actor, household):
        raise HouseholdError.INVITE_NOT_FOR_YOU()
    issuer = db.session.get_one(User, invite.created_by_id)
    if access.invite_capacity(issuer, household) is None:
        raise HouseholdError.INVALID_INVITE_CODE()
    if access.is_member(actor, household):
        return household  # already a member: the code stays for someone else
    if not invite_codes.claim(HouseholdInvite, invite.id, actor):
        raise HouseholdError.INVITE_USED()
    grant = _add_grant(actor, Role.FARMER, household_id=household.id, granted_by=issuer)
    grant.invite_id = invite.id
    audit.record(
        actor,
        "household.join",
        "household",
        household.id,
        invite_id=invite.id,
        issued_by_id=issuer.id,
        issued_as=invite.issued_as.value if invite.issued_as else None,
    )
    db.session.commit()
    return household


def _member_grants(household_id: int, user_id: int | None = None) -> list[RoleGrant]:
    query = (
        select(RoleGrant)
        .where(RoleGrant.role == Role.FARMER, RoleGrant.household_id == household_id)
        .options(joinedload(RoleGrant.user), joinedload(RoleGrant.invite))
        .order_by(RoleGrant.created_at, RoleGrant.id)
    )
    if user_id is not None:
        query = query.where(RoleGrant.user_id == user_id)
    return list(db.session.scalars(query).unique())


def list_members(actor: User, household_id: int) -> list[RoleGrant]:
    """The household's members (their farmer grants, oldest first, with the code each joined
    with), for its members, county staff of its county, platform admins and consenting
    helpers."""
    household = get_household(actor, household_id)
    if not (access.is_staff_of(actor, household.county_code) or access.is_platform_admin(actor)):
        access.act_for(actor, household, ConsentPurpose.MANAGE_SHOP)
    return _member_grants(household.id)


def remove_member(actor: User, household_id: int, user_id: int) -> None:
    """County staff of its county, or a member of the household (themselves included), take a
    member out: the farmer grant goes, and so does every token of that user."""
    household = get_household(actor, household_id)
    if not (access.is_staff_of(actor, household.county_code) or access.is_member(actor, household)):
        raise CommonError.FORBIDDEN()
    grants = _member_grants(household.id, user_id)
    if not grants:
        raise CommonError.NOT_FOUND()
    member = grants[0].user
    for grant in grants:
        member.grants.remove(grant)
    revoked = accounts.revoke_tokens(member)
    audit.record(
        actor,
        "household.remove_member",
        "household",
        household.id,
        user_id=member.id,
        invite_id=grants[0].invite_id,
        tokens_revoked=revoked,
    )
    db.session.commit()
