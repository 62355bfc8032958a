"""帮扶单位 / 采购单位: registration and review of work units, their members and yearly pledges.

Who may do what with a unit (``unit_id`` on the user's ``unit_admin`` / ``unit_member`` grants):

- see it (and its members and pledges): its admins and members, county staff of its county,
  platform admins; anyone else gets 404;
- edit it, issue member codes, remove members, set pledges: its admins; others who see it 403;
- verify or reject it: county staff of its county, or a platform admin (the one place a platform
  admin changes something; audited like any review), never someone who belongs to the unit.

The orders code asks ``is_member`` (may this user buy for the unit) and ``is_admin``, and fills
in ``unit_totals`` (what a unit bought in a year), which answers 0 until orders exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from models import Region, RoleGrant, UnitInvite, UnitPledge, User, WorkUnit, db
from models.base import utcnow
from models.enums import RegionLevel, Role, UnitKind, UnitStatus
from services import access, accounts, audit, cursors, invite_codes, lifecycle, lifecycles, pii
from services.accounts import _add_grant
from services.error_codes import CommonError, HouseholdError, RegionError, ShopError, UnitError
from services.regions import check_code_format
from services.uscc import normalise_uscc

UNIT_ROLES = (Role.UNIT_ADMIN, Role.UNIT_MEMBER)
# The years a unit may pledge for: from the first year of 消费扶贫 to the end of the century.
FIRST_PLEDGE_YEAR, LAST_PLEDGE_YEAR = 2016, 2099
# Fields that identify the unit: its admins may correct them until it is verified, not after.
IDENTITY_FIELDS = frozenset({"uscc", "kind", "region_code"})
EDITABLE_FIELDS = IDENTITY_FIELDS | {"name", "address", "contact_name", "contact_phone"}
_REGION_LEVELS = (RegionLevel.COUNTY, RegionLevel.TOWNSHIP, RegionLevel.VILLAGE)
# A unit's contact: a mainland mobile number, +86/0086 allowed, a blank or dash between any two
# digits and up to two blanks around it (stricter than ``pii.PHONE_PATTERN``, which also takes
# nothing, and bounded, so the spec states a length).
_B, _BD = f"[{pii.BLANKS}]", f"[{pii.BLANKS}-]"
CONTACT_PHONE_PATTERN = (
    f"^{_B}{{0,2}}(?:(?:\\+86|0086){_BD}?)?1{_BD}?[3-9](?:{_BD}?[0-9]){{9}}{_B}{{0,2}}$"
)
CONTACT_PHONE_MAX_LENGTH = 2 + 5 + 3 + 9 * 2 + 2  # blanks, "0086-", "1-3", nine "-9", blanks
_CONTACT_PHONE_RE = re.compile(CONTACT_PHONE_PATTERN.removesuffix("$") + r"\Z")


# --- who belongs where ------------------------------------------------------------------------


def unit_ids_of(user: User, *roles: Role) -> set[int]:
    """The units the user belongs to (in any unit role, or in those given)."""
    roles = roles or UNIT_ROLES
    return {g.unit_id for g in user.grants if g.role in roles and g.unit_id is not None}


def is_admin(user: User, unit_id: int) -> bool:
    """The user administers the unit (``unit_admin``)."""
    return unit_id in unit_ids_of(user, Role.UNIT_ADMIN)


def is_member(user: User, unit_id: int) -> bool:
    """The user belongs to the unit, as its admin or as a member: may buy for it once orders
    exist (check ``WorkUnit.is_verified`` too)."""
    return unit_id in unit_ids_of(user)


def can_view(user: User, unit: WorkUnit) -> bool:
    return (
        is_member(user, unit.id)
        or access.is_staff_of(user, unit.county_code)
        or access.is_platform_admin(user)
    )


def _visible(actor: User, unit_id: int) -> WorkUnit:
    unit = db.session.get(WorkUnit, unit_id)
    if unit is None or not can_view(actor, unit):
        raise CommonError.NOT_FOUND()
    return unit


def _administered(actor: User, unit_id: int) -> WorkUnit:
    unit = _visible(actor, unit_id)
    if not is_admin(actor, unit.id):
        raise CommonError.FORBIDDEN()
    return unit


# --- registration and editing -----------------------------------------------------------------


def _region(code: str) -> Region:
    """A county, township or village of the region table."""
    check_code_format(code, "region_code")
    region = db.session.get(Region, code)
    if region is None or region.level not in _REGION_LEVELS:
        raise RegionError.INVALID_REGION_CODE(errors={"region_code": ["须为已开通的县、乡镇或村"]})
    return region


def _contact_phone(raw: str) -> str:
    phone = pii.normalise_phone(raw) if _CONTACT_PHONE_RE.match(raw) else None
    if phone is None:
        raise HouseholdError.INVALID_PHONE(errors={"contact_phone": ["须为11位手机号码"]})
    return phone


def _require_free_uscc(code: str) -> None:
    if db.session.scalar(select(WorkUnit.id).where(WorkUnit.uscc == code)):
        raise UnitError.UNIT_EXISTS(errors={"uscc": ["该代码已登记"]})


def register_unit(
    actor: User,
    *,
    name: str,
    uscc: str,
    kind: UnitKind,
    region_code: str,
    address: str,
    contact_name: str,
    contact_phone: str,
) -> WorkUnit:
    """Any signed-in user registers a unit and becomes its admin; it waits for verification."""
    code = normalise_uscc(uscc)
    region = _region(region_code)
    phone = _contact_phone(contact_phone)
    _require_free_uscc(code)
    unit = WorkUnit(
        name=name.strip(),
        uscc=code,
        kind=kind,
        region_code=region.code,
        county_code=region.code[:6],
        address=address.strip(),
        contact_name=contact_name.strip(),
        contact_phone=phone,
        status=lifecycles.UNIT.initial,
        created_by_id=actor.id,
    )
    db.session.add(unit)
    db.session.flush()
    _add_grant(actor, Role.UNIT_ADMIN, unit_id=unit.id, granted_by=actor)
    audit.record(
        actor, "unit.register", "unit", unit.id, kind=kind.value, county_code=unit.county_code
    )
    db.session.commit()
    return unit


def get_unit(actor: User, unit_id: int) -> WorkUnit:
    return _visible(actor, unit_id)


def update_unit(actor: User, unit_id: int, *, changes: dict) -> WorkUnit:
    """A unit admin edits name, address and contact; code, kind and region only until the unit
    is verified. Editing a rejected unit sends it back to review."""
    unit = _administered(actor, unit_id)
    values = {k: v for k, v in changes.items() if k in EDITABLE_FIELDS}
    # Everything is validated before the row is touched, so a refused edit changes nothing.
    for field in ("name", "address", "contact_name"):
        if field in values:
            values[field] = values[field].strip()
    if "uscc" in values:
        values["uscc"] = normalise_uscc(values["uscc"])
    if "region_code" in values:
        values["region_code"] = _region(values["region_code"]).code
    if "contact_phone" in values:
        values["contact_phone"] = _contact_phone(values["contact_phone"])
    changed = {k: v for k, v in values.items() if getattr(unit, k) != v}
    locked = sorted(IDENTITY_FIELDS & set(changed))
    if locked and unit.is_verified:
        raise UnitError.IDENTITY_LOCKED(errors={field: ["已审核，不能修改"] for field in locked})
    if "uscc" in changed:
        _require_free_uscc(changed["uscc"])
    lifecycle.apply(lifecycles.UNIT, unit, "edit", actor=actor, fields=sorted(changed))
    for field, value in changed.items():
        setattr(unit, field, value)
    if "region_code" in changed:
        unit.county_code = changed["region_code"][:6]
    db.session.commit()
    return unit


# --- review by the county (or a platform admin) -------------------------------------------------


def review_unit(actor: User, unit_id: int, *, action: str, reason: str = "") -> WorkUnit:
    """verify / reject, by county staff of the unit's county or a platform admin."""
    reason = reason.strip()
    if action == "reject" and not reason:
        raise ShopError.REASON_REQUIRED(errors={"reason": ["必填"]})
    unit = db.session.get(WorkUnit, unit_id)
    if unit is None:
        raise CommonError.NOT_FOUND()
    if access.is_staff_of(actor, unit.county_code):
        reviewed_as = Role.COUNTY_STAFF
    elif access.is_platform_admin(actor):
        reviewed_as = Role.PLATFORM_ADMIN
    else:
        raise CommonError.NOT_FOUND()
    if is_member(actor, unit.id):
        raise UnitError.OWN_UNIT_REVIEW()
    lifecycle.apply(
        lifecycles.UNIT, unit, action, actor=actor, reason=reason, reviewed_as=reviewed_as.value
    )
    unit.status_reason = reason
    unit.reviewed_by_id = actor.id
    unit.reviewed_at = utcnow()
    db.session.commit()
    return unit


def units_for_review(
    actor: User, *, status: UnitStatus | None = None, limit: int = 20, cursor: str | None = None
) -> tuple[list[WorkUnit], str | None]:
    """Units of the staff member's counties (every unit, for a platform admin), oldest first,
    optionally of one status, and the next page's cursor."""
    query = select(WorkUnit)
    if not access.is_platform_admin(actor):
        counties = actor.staff_county_codes
        if not counties:
            return [], None
        query = query.where(WorkUnit.county_code.in_(counties))
    if status is not None:
        query = query.where(WorkUnit.status == status)
    return cursors.page_by_id(
        query, WorkUnit.id, limit=limit, cursor=cursor, marker="units", newest_first=False
    )


# --- members --------------------------------------------------------------------------------


def _hash_code(code: str) -> str:
    return invite_codes.hash_code(code, scope="unit:")


def create_invite(actor: User, unit_id: int) -> tuple[str, UnitInvite]:
    """A single-use 8-digit code (stored hashed, valid ``invite_codes.TTL``) that makes whoever
    redeems it a member of the unit. Only admins of a verified unit issue them."""
    unit = _administered(actor, unit_id)
    if not unit.is_verified:
        raise UnitError.UNIT_NOT_VERIFIED()
    code = invite_codes.new_code()
    invite = UnitInvite(
        unit_id=unit.id,
        code_hash=_hash_code(code),
        created_by_id=actor.id,
        expires_at=utcnow() + invite_codes.TTL,
    )
    db.session.add(invite)
    db.session.flush()
    audit.record(actor, "unit.invite_member", "unit", unit.id, invite_id=invite.id)
    db.session.commit()
    return code, invite


def join_unit(actor: User, *, code: str) -> WorkUnit:
    """Redeem a member code: the user becomes a ``unit_member`` of its unit.

    A code is worth no more than its issuer's standing when it is used: one whose issuer is no
    longer an admin of the unit (or is switched off) is invalid. Someone already in the unit
    leaves the code unused; a retried join by its redeemer is harmless.
    """
    invite = db.session.scalar(select(UnitInvite).where(UnitInvite.code_hash == _hash_code(code)))
    if invite is None or invite.expires_at <= utcnow():
        raise HouseholdError.INVALID_INVITE_CODE()
    unit = db.session.get_one(WorkUnit, invite.unit_id)
    if invite.used_at is not None:
        if invite.used_by_id == actor.id and is_member(actor, unit.id):
            return unit
        raise HouseholdError.INVITE_USED()
    issuer = db.session.get_one(User, invite.created_by_id)
    if not (issuer.is_active and is_admin(issuer, unit.id) and unit.is_verified):
        raise HouseholdError.INVALID_INVITE_CODE()
    if is_member(actor, unit.id):
        return unit
    if not invite_codes.claim(UnitInvite, invite.id, actor):
        raise HouseholdError.INVITE_USED()
    _add_grant(actor, Role.UNIT_MEMBER, unit_id=unit.id, granted_by=issuer)
    audit.record(actor, "unit.join", "unit", unit.id, invite_id=invite.id, issued_by_id=issuer.id)
    db.session.commit()
    return unit


def _unit_grants(unit_id: int, user_id: int | None = None) -> list[RoleGrant]:
    query = (
        select(RoleGrant)
        .where(RoleGrant.unit_id == unit_id, RoleGrant.role.in_(UNIT_ROLES))
        .options(joinedload(RoleGrant.user))
        .order_by(RoleGrant.created_at, RoleGrant.id)
    )
    if user_id is not None:
        query = query.where(RoleGrant.user_id == user_id)
    return list(db.session.scalars(query).unique())


def list_members(actor: User, unit_id: int) -> list[RoleGrant]:
    """The unit's admins and members (one row per role held), oldest first, for whoever may
    see the unit."""
    return _unit_grants(_visible(actor, unit_id).id)


def remove_member(actor: User, unit_id: int, user_id: int) -> None:
    """A unit admin takes someone out of the unit (or a member leaves it): their unit roles go,
    and so does every token of theirs. The last admin stays."""
    unit = _visible(actor, unit_id)
    leaving = actor.id == user_id and is_member(actor, unit.id)
    if not (is_admin(actor, unit.id) or leaving):
        raise CommonError.FORBIDDEN()
    grants = _unit_grants(unit.id, user_id)
    if not grants:
        raise CommonError.NOT_FOUND()
    if any(g.role == Role.UNIT_ADMIN for g in grants):
        admins = {g.user_id for g in _unit_grants(unit.id) if g.role == Role.UNIT_ADMIN}
        if admins <= {user_id}:
            raise UnitError.LAST_ADMIN()
    member = grants[0].user
    for grant in grants:
        member.grants.remove(grant)
    revoked = accounts.revoke_tokens(member)
    audit.record(
        actor,
        "unit.remove_member",
        "unit",
        unit.id,
        user_id=member.id,
        roles=sorted(g.role.value for g in grants),
        tokens_revoked=revoked,
    )
    db.session.commit()


@dataclass(frozen=True)
class MyUnit:
    unit: WorkUnit
    role: Role  # unit_admin when the user holds both


def list_my_units(actor: User) -> list[MyUnit]:
    """The units the user belongs to, with their role in each."""
    ids = unit_ids_of(actor)
    if not ids:
        return []
    admin_of = unit_ids_of(actor, Role.UNIT_ADMIN)
    units = db.session.scalars(select(WorkUnit).where(WorkUnit.id.in_(ids)).order_by(WorkUnit.id))
    return [
        MyUnit(unit, Role.UNIT_ADMIN if unit.id in admin_of else Role.UNIT_MEMBER) for unit in units
    ]


# --- pledges (预留份额) --------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitTotals:
    """What a unit bought from households in one year, in fen."""

    unit_id: int
    year: int
    bought_fen: int


# Pledges are years of the Chinese calendar: an order paid at 23:30 UTC on 31 December
# counts toward the next year.
_BEIJING = timezone(timedelta(hours=8))


def unit_totals(unit_id: int, year: int) -> UnitTotals:
    """What the unit bought in the year (Beijing time): its orders paid that year, less what
    is being or was refunded of them (a cancelled or rejected part does not count)."""
    from models import Order, Refund  # orders are built on units, not the other way round
    from models.enums import RefundState

    start = datetime(year, 1, 1, tzinfo=_BEIJING)
    end = datetime(year + 1, 1, 1, tzinfo=_BEIJING)
    paid = select(Order.id).where(
        Order.unit_id == unit_id,
        Order.paid_at.is_not(None),
        Order.paid_at >= start,
        Order.paid_at < end,
    )
    bought = db.session.scalar(
        select(func.coalesce(func.sum(Order.total_fen), 0)).where(Order.id.in_(paid))
    )
    # A refund asked for (pending) counts as given back: a cancelled part is not bought.
    refunded = db.session.scalar(
        select(func.coalesce(func.sum(Refund.amount_fen), 0)).where(
            Refund.order_id.in_(paid), Refund.state != RefundState.FAILED
        )
    )
    return UnitTotals(unit_id=unit_id, year=year, bought_fen=(bought or 0) - (refunded or 0))


@dataclass(frozen=True)
class PledgeStatus:
    """A year's pledge beside what the unit has bought that year."""

    year: int
    amount_fen: int
    bought_fen: int
    set_by_id: int
    updated_at: datetime


def _status(pledge: UnitPledge) -> PledgeStatus:
    return PledgeStatus(
        year=pledge.year,
        amount_fen=pledge.amount_fen,
        bought_fen=unit_totals(pledge.unit_id, pledge.year).bought_fen,
        set_by_id=pledge.set_by_id,
        updated_at=pledge.updated_at,
    )


def set_pledge(actor: User, unit_id: int, year: int, *, amount_fen: int) -> PledgeStatus:
    """A verified unit's admin sets (or changes) its commitment for a year."""
    unit = _administered(actor, unit_id)
    if not FIRST_PLEDGE_YEAR <= year <= LAST_PLEDGE_YEAR:
        raise CommonError.NOT_FOUND()
    if not unit.is_verified:
        raise UnitError.UNIT_NOT_VERIFIED()
    pledge = db.session.scalar(
        select(UnitPledge).where(UnitPledge.unit_id == unit.id, UnitPledge.year == year)
    )
    previous = pledge.amount_fen if pledge else None
    if pledge is None:
        pledge = UnitPledge(unit_id=unit.id, year=year, amount_fen=amount_fen, set_by_id=actor.id)
        db.session.add(pledge)
    else:
        pledge.amount_fen = amount_fen
        pledge.set_by_id = actor.id
    db.session.flush()
    audit.record(
        actor,
        "unit.pledge",
        "unit",
        unit.id,
        year=year,
        amount_fen=amount_fen,
        previous_fen=previous,
    )
    db.session.commit()
    return _status(pledge)


def list_pledges(actor: User, unit_id: int) -> list[PledgeStatus]:
    """Every year the unit pledged for, latest first, with what it bought that year."""
    unit = _visible(actor, unit_id)
    pledges = db.session.scalars(
        select(UnitPledge).where(UnitPledge.unit_id == unit.id).order_by(UnitPledge.year.desc())
    )
    return [_status(p) for p in pledges]
