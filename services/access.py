"""Object-level permission rules shared by the services.

Who may see an object and who may change it are separate questions: someone who cannot see an
object gets 404 (its existence is not revealed); someone who can see it but may not change it
gets 403.
"""

from __future__ import annotations

from dataclasses import dataclass

from models import Household, User
from models.base import utcnow
from models.enums import ConsentPurpose, Role
from services.error_codes import CommonError, HouseholdError


def is_platform_admin(user: User) -> bool:
    return user.has_role(Role.PLATFORM_ADMIN)


def is_staff_of(user: User, county_code: str) -> bool:
    return county_code in user.staff_county_codes


def is_member(user: User, household: Household) -> bool:
    return household.id in user.member_household_ids


def helper_covers(user: User, household: Household) -> bool:
    return any(
        g.household_id == household.id
        or (g.region_code and g.region_code == household.village_code)
        for g in user.grants_of(Role.HELPER)
    )


def helper_covers_village(user: User, village_code: str) -> bool:
    return any(g.region_code == village_code for g in user.grants_of(Role.HELPER))


def has_consent(user: User, household: Household, purpose: ConsentPurpose) -> bool:
    now = utcnow()
    return any(
        c.helper_user_id == user.id and purpose.value in c.purposes and c.is_active(now)
        for c in household.consents
    )


def can_view_household(user: User, household: Household) -> bool:
    return (
        is_member(user, household)
        or helper_covers(user, household)
        or is_staff_of(user, household.county_code)
        or is_platform_admin(user)
    )


def sees_phone(user: User, household: Household) -> bool:
    """The household's phone number in full: its members and its county's staff. Helpers and
    platform admins see it masked (a helper calls through the village, not from a list)."""
    return is_member(user, household) or is_staff_of(user, household.county_code)


# Roles whose holders act on households from outside; none of them may also be a member.
_OFFICES_ANYWHERE = (Role.UNIT_ADMIN, Role.UNIT_MEMBER, Role.STATION_OPERATOR, Role.PLATFORM_ADMIN)


def holds_office_over(user: User, household: Household) -> bool:
    """Whether the user serves the household in an official role: county staff of its county,
    one of its helpers, or any unit, station or platform role. Such users may not become its
    members (membership would let them act as the household without its consent, or approve
    what they submitted as it)."""
    return (
        is_staff_of(user, household.county_code)
        or helper_covers(user, household)
        or any(user.has_role(role) for role in _OFFICES_ANYWHERE)
    )


def invite_capacity(user: User, household: Household) -> Role | None:
    """In which capacity the user may issue member codes for the household, if any: as county
    staff of its county, as one of its members, or as a helper holding its consent to manage
    the shop (the same right as acting for it). An inactive user may issue none."""
    if not user.is_active:
        return None
    if is_staff_of(user, household.county_code):
        return Role.COUNTY_STAFF
    if is_member(user, household):
        return Role.FARMER
    if helper_covers(user, household) and has_consent(user, household, ConsentPurpose.MANAGE_SHOP):
        return Role.HELPER
    return None


def require_visible(user: User, household: Household | None) -> Household:
    if household is None or not can_view_household(user, household):
        raise CommonError.NOT_FOUND()
    return household


@dataclass(frozen=True)
class Acting:
    """How a user acts for a household: as a member, or as a consenting helper."""

    household: Household
    on_behalf_of: int | None  # the household id when a helper acts for it


def act_for(user: User, household: Household | None, purpose: ConsentPurpose) -> Acting:
    """Resolve the user's right to act for the household, or raise 404/403."""
    household = require_visible(user, household)
    if is_member(user, household):
        return Acting(household, None)
    if helper_covers(user, household):
        if has_consent(user, household, purpose):
            return Acting(household, household.id)
        raise HouseholdError.CONSENT_REQUIRED()
    raise CommonError.FORBIDDEN()


def require_staff_for(user: User, household: Household) -> None:
    """County staff act on a household's objects only in its county; a platform admin who may
    see the household is told they may only look; anyone else learns nothing about it."""
    if is_staff_of(user, household.county_code):
        return
    if is_platform_admin(user) and can_view_household(user, household):
        raise HouseholdError.ADMIN_READ_ONLY()
    raise CommonError.NOT_FOUND()
