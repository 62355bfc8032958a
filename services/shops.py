"""微店: opening, editing and the county's review of a household's shop."""

from __future__ import annotations

from sqlalchemy import select

from models import Consent, Household, Shop, User, db
from models.base import utcnow
from models.enums import ConsentPurpose, Role, ShopStatus, VerificationStatus
from models.shops import SHOP_TRANSITIONS
from services import access, audit
from services.errors import Conflict, InvalidInput, InvalidState, NotFound


def _visible_shop(actor: User, shop_id: int) -> Shop:
    shop = db.session.get(Shop, shop_id)
    if shop is None or not access.can_view_household(actor, shop.household):
        raise NotFound()
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
        raise InvalidState("农户信息尚未核实，暂不能开店", code="household_not_verified")
    if db.session.scalar(select(Shop.id).where(Shop.household_id == household.id)):
        raise Conflict("该户已开店", code="shop_exists")
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
    if shop.status == ShopStatus.SUSPENDED:
        raise InvalidState("店铺已被暂停，请联系县级工作人员", code="shop_suspended")
    for field in ("name", "intro", "story"):
        if field in changes:
            setattr(shop, field, changes[field])
    resubmitted = shop.status == ShopStatus.REJECTED
    if resubmitted:
        _transition(shop, "resubmit")
    audit.record(
        actor,
        "shop.update",
        "shop",
        shop.id,
        on_behalf_of=acting.on_behalf_of,
        fields=sorted(changes),
        resubmitted=resubmitted,
    )
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


def _transition(shop: Shop, action: str) -> None:
    sources, target = SHOP_TRANSITIONS[action]
    if shop.status not in sources:
        raise InvalidState(errors={"status": [shop.status.value]})
    shop.status = target


def review_shop(actor: User, shop_id: int, *, action: str, reason: str = "") -> Shop:
    """approve / reject / suspend, by county staff of the shop's county."""
    reason = reason.strip()
    if action in ("reject", "suspend") and not reason:
        raise InvalidInput("请填写原因", code="reason_required", errors={"reason": ["必填"]})
    shop = db.session.get(Shop, shop_id)
    if shop is None:
        raise NotFound()
    access.require_staff_for(actor, shop.household)
    _transition(shop, action)
    shop.status_reason = reason
    shop.reviewed_by_id = actor.id
    shop.reviewed_at = utcnow()
    audit.record(actor, f"shop.{action}", "shop", shop.id, reason=reason, status=shop.status.value)
    db.session.commit()
    return shop


def list_public_shops(*, county_code: str | None = None, limit: int = 50) -> list[Shop]:
    query = select(Shop).where(Shop.status == ShopStatus.APPROVED)
    if county_code:
        query = query.where(Shop.county_code == county_code)
    return list(db.session.scalars(query.order_by(Shop.id.desc()).limit(limit)))
