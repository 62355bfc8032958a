"""微店: opening, editing and the county's review of a household's shop."""

from __future__ import annotations

from sqlalchemy import select

from models import Consent, Household, Shop, User, db
from models.base import utcnow
from models.enums import ConsentPurpose, Role, VerificationStatus
from services import access, audit, lifecycle, lifecycles
from services.error_codes import CommonError, ShopError


def _visible_shop(actor: User, shop_id: int) -> Shop:
    shop = db.session.get(Shop, shop_id)
    if shop is None or not access.can_view_household(actor, shop.household):
        raise CommonError.NOT_FOUND()
    return shop


def get_shop(actor: User, shop_id: int) -> Shop:
    """The owner's view (members, helpers in scope, county staff, platform admins)."""
    return _visible_shop(actor, shop_id)


def open_shop(
    actor: User, *, household_id: int, name: str, intro: str = "", story: str = ""
) -> Shop:
    acting = access.act_for(
        actor, db.session.get(Household, household_id), ConsentPurpose.MANAGE_SHOP
    )
    household = acting.household
    if household.verification_status != VerificationStatus.VERIFIED:
        raise ShopError.HOUSEHOLD_NOT_VERIFIED()
    if db.session.scalar(select(Shop.id).where(Shop.household_id == household.id)):
        raise ShopError.SHOP_EXISTS()
    shop = Shop(
        household_id=household.id,
        county_code=household.county_code,
        name=name,
        intro=intro,
        story=story,
        created_by_id=actor.id,
    )
    db.session.add(shop)
    db.session.flush()
    audit.record(actor, "shop.open", "shop", shop.id, on_behalf_of=acting.on_behalf_of)
    db.session.commit()
    return shop


def update_shop(actor: User, shop_id: int, *, changes: dict) -> Shop:
    shop = _visible_shop(actor, shop_id)
    acting = access.act_for(actor, shop.household, ConsentPurpose.MANAGE_SHOP)
    # A suspended shop is refused here; a rejected one goes back to the county's queue.
    lifecycle.apply(
        lifecycles.SHOP,
        shop,
        "edit",
        actor=actor,
        on_behalf_of=acting.on_behalf_of,
        fields=sorted(changes),
    )
    for field in ("name", "intro", "story"):
        if field in changes:
            setattr(shop, field, changes[field])
    db.session.commit()
    return shop


def list_my_shops(actor: User) -> list[Shop]:
    """Shops of the households the user belongs to, or helps with an active consent."""
    household_ids = set(actor.member_household_ids)
    if actor.has_role(Role.HELPER):
        now = utcnow()
        consents = db.session.scalars(
            select(Consent).where(Consent.helper_user_id == actor.id, Consent.revoked_at.is_(None))
        )
        household_ids |= {
            c.household_id
            for c in consents
            if c.is_active(now)
            and ConsentPurpose.MANAGE_SHOP.value in c.purposes
            and access.helper_covers(actor, c.household)
        }
    if not household_ids:
        return []
    return list(
        db.session.scalars(
            select(Shop).where(Shop.household_id.in_(household_ids)).order_by(Shop.id)
        )
    )


def review_shop(actor: User, shop_id: int, *, action: str, reason: str = "") -> Shop:
    """approve / reject / suspend, by county staff of the shop's county."""
    reason = reason.strip()
    if action in ("reject", "suspend") and not reason:
        raise ShopError.REASON_REQUIRED(errors={"reason": ["必填"]})
    shop = db.session.get(Shop, shop_id)
    if shop is None:
        raise CommonError.NOT_FOUND()
    access.require_staff_for(actor, shop.household)
    lifecycle.apply(lifecycles.SHOP, shop, action, actor=actor, reason=reason)
    shop.status_reason = reason
    shop.reviewed_by_id = actor.id
    shop.reviewed_at = utcnow()
    db.session.commit()
    return shop


def list_public_shops(*, county_code: str | None = None, limit: int = 50) -> list[Shop]:
    query = select(Shop).where(Shop.is_open)
    if county_code:
        query = query.where(Shop.county_code == county_code)
    return list(db.session.scalars(query.order_by(Shop.id.desc()).limit(limit)))
