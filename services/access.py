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
from services.errors import NotFound, PermissionDenied


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


def require_visible(user: User, household: Household | None) -> Household:
    if household is None or not can_view_household(user, household):
        raise NotFound()
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
        raise PermissionDenied("需要农户授权后才能代办", code="consent_required")
    raise PermissionDenied()


def require_staff_for(user: User, household: Household) -> None:
    """County staff act on a household's objects only in its county; a platform admin who may
    see the household is told they may only look; anyone else learns nothing about it."""
    if is_staff_of(user, household.county_code):
        return
    if is_platform_admin(user) and can_view_household(user, household):
        raise PermissionDenied("平台管理员只能查看")
    raise NotFound()
