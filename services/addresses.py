"""A buyer's address book. Orders copy the address they go to, so editing or deleting an entry
here changes no order."""

from __future__ import annotations

from sqlalchemy import func, select

from models import Address, Region, User, db
from models.enums import RegionLevel
from services import audit, pii, regions
from services.error_codes import CommonError, HouseholdError, OrderError

MAX_ADDRESSES = 20
# Delivery needs at least the township; a village is better.
_DELIVERABLE = (RegionLevel.TOWNSHIP, RegionLevel.VILLAGE)


def list_addresses(actor: User) -> list[Address]:
    query = select(Address).where(Address.user_id == actor.id)
    return list(db.session.scalars(query.order_by(Address.is_default.desc(), Address.id)))


def add_address(
    actor: User, *, name: str, phone: str, region_code: str, detail: str, is_default: bool = False
) -> Address:
    region = _deliverable_region(region_code)
    phone_number = _phone(phone)
    count = db.session.scalar(
        select(func.count()).select_from(Address).where(Address.user_id == actor.id)
    )
    if (count or 0) >= MAX_ADDRESSES:
        raise OrderError.TOO_MANY_ADDRESSES(errors={"addresses": [f"最多 {MAX_ADDRESSES} 个"]})
    address = Address(
        user_id=actor.id,
        name=name.strip(),
        phone=phone_number,
        region_code=region.code,
        detail=detail.strip(),
        # The first address is the default whatever was asked.
        is_default=is_default or not count,
    )
    if address.is_default:
        _clear_default(actor)
    db.session.add(address)
    db.session.flush()
    audit.record(actor, "address.add", "address", address.id)
    db.session.commit()
    return address


def update_address(actor: User, address_id: int, *, changes: dict) -> Address:
    address = _own(actor, address_id)
    if "region_code" in changes:
        address.region_code = _deliverable_region(changes["region_code"]).code
    if "phone" in changes:
        address.phone = _phone(changes["phone"])
    for field in ("name", "detail"):
        if field in changes:
            setattr(address, field, changes[field].strip())
    if changes.get("is_default"):
        _clear_default(actor)
        address.is_default = True
    db.session.commit()
    return address


def delete_address(actor: User, address_id: int) -> None:
    address = _own(actor, address_id)
    db.session.delete(address)
    if address.is_default:
        db.session.flush()
        first = db.session.scalar(
            select(Address).where(Address.user_id == actor.id).order_by(Address.id)
        )
        if first is not None:
            first.is_default = True
    db.session.commit()


def _phone(raw: str) -> str:
    """A delivery needs a number to call: unlike a household's, an address's is required."""
    number = pii.normalise_phone(raw)
    if number is None:
        raise HouseholdError.INVALID_PHONE(errors={"phone": ["请填写手机号码"]})
    return number


def _own(actor: User, address_id: int) -> Address:
    address = db.session.get(Address, address_id)
    if address is None or address.user_id != actor.id:
        raise CommonError.NOT_FOUND()
    return address


def _clear_default(actor: User) -> None:
    for other in db.session.scalars(
        select(Address).where(Address.user_id == actor.id, Address.is_default)
    ):
        other.is_default = False


def _deliverable_region(code: str) -> Region:
    regions.check_code_format(code, "region_code")
    region = db.session.get(Region, code)
    if region is None:
        raise OrderError.ADDRESS_REGION(errors={"region_code": ["不是有效的地区代码"]})
    if region.level not in _DELIVERABLE:
        raise OrderError.ADDRESS_REGION(errors={"region_code": ["须为乡镇或村的代码"]})
    return region
