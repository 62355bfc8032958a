"""建档立卡户: registration, verification, consents and member binding."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select

from models import Consent, Household, HouseholdInvite, User, db
from models.base import utcnow
from models.enums import (
    ConsentMethod,
    ConsentPurpose,
    PovertyStatus,
    RegionLevel,
    Role,
    VerificationStatus,
)
from services import access, audit, pii
from services.accounts import _add_grant
from services.errors import Conflict, InvalidInput, InvalidState, NotFound, PermissionDenied
from services.regions import require_region

INVITE_TTL = timedelta(days=7)


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
        raise PermissionDenied("只能登记本人负责地区的农户")
    id_number = pii.normalise_id_number(id_number)
    index = pii.blind_index(id_number)
    if db.session.scalar(select(Household.id).where(Household.id_number_index == index)):
        raise Conflict(
            "该身份证号已登记", code="household_exists", errors={"id_number": ["已登记"]}
        )
    if db.session.scalar(select(Household.id).where(Household.registry_no == registry_no)):
        raise Conflict(
            "该档案编号已登记", code="household_exists", errors={"registry_no": ["已登记"]}
        )
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
        raise PermissionDenied("只有县级工作人员可以修改帮扶状态")
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
        raise NotFound()
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
        raise NotFound()
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
        raise PermissionDenied("只有本户成员可以在线授权")
    if method == ConsentMethod.PAPER and not access.is_staff_of(actor, household.county_code):
        raise PermissionDenied("纸质授权须由县级工作人员录入")
    helper = db.session.get(User, helper_user_id)
    if helper is None or not access.helper_covers(helper, household):
        raise InvalidInput(
            "该用户不是本户的帮扶责任人",
            code="not_a_helper",
            errors={"helper_user_id": ["不是本户的帮扶责任人"]},
        )
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput("授权截止时间须晚于现在", errors={"expires_at": ["须晚于现在"]})
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
        raise NotFound()
    if not (access.is_member(actor, household) or access.is_staff_of(actor, household.county_code)):
        raise PermissionDenied("只有本户成员或县级工作人员可以撤销授权")
    if consent.revoked_at is None:
        consent.revoked_at = utcnow()
        consent.revoked_by_id = actor.id
        audit.record(actor, "consent.revoke", "consent", consent.id, household_id=household.id)
        db.session.commit()
    return consent


def _hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def create_member_invite(actor: User, household_id: int) -> tuple[str, HouseholdInvite]:
    """A one-time code staff or the household's helper give a member to bind their WeChat."""
    household = get_household(actor, household_id)
    if not (
        access.is_staff_of(actor, household.county_code) or access.helper_covers(actor, household)
    ):
        raise PermissionDenied()
    # Eight digits: easy to read aloud or type on a cheap phone; single use and short-lived.
    code = f"{secrets.randbelow(10**8):08d}"
    invite = HouseholdInvite(
        household_id=household.id,
        code_hash=_hash_code(code),
        created_by_id=actor.id,
        expires_at=utcnow() + INVITE_TTL,
    )
    db.session.add(invite)
    db.session.flush()
    audit.record(actor, "household.invite_member", "household", household.id)
    db.session.commit()
    return code, invite


def join_household(actor: User, *, code: str) -> Household:
    invite = db.session.scalar(
        select(HouseholdInvite).where(HouseholdInvite.code_hash == _hash_code(code))
    )
    if invite is None or invite.expires_at <= utcnow():
        raise InvalidInput("邀请码无效或已过期", code="invalid_invite_code")
    if invite.used_at is not None:
        if invite.used_by_id == actor.id:
            return db.session.get(Household, invite.household_id)  # a retried join is harmless
        raise InvalidState("邀请码已被使用", code="invite_used")
    invite.used_at = utcnow()
    invite.used_by_id = actor.id
    _add_grant(actor, Role.FARMER, household_id=invite.household_id)
    audit.record(actor, "household.join", "household", invite.household_id)
    db.session.commit()
    return db.session.get(Household, invite.household_id)
