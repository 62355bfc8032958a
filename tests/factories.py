"""Test factories that build state through the services, so tests cannot reach states
production cannot. They return plain values (ids, tokens), never live model objects."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from http import HTTPStatus

from api.errors import status_of
from models import Household, User, db
from models.enums import ConsentMethod, ConsentPurpose, PovertyStatus, Role
from services import accounts, households, shops
from services.demo import demo_id_number
from services.errors import all_codes

GUZHEN = "340323"
SANGZHI = "430822"
VILLAGE_A = "340323101200"  # 固镇县 王庄镇 西南村
VILLAGE_B = "340323101201"  # 固镇县 王庄镇 东南村
SANGZHI_VILLAGE = "430822100001"
_seq = itertools.count(1)


@dataclass
class Person:
    id: int
    token: str
    headers: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.headers = {"Authorization": f"Bearer {self.token}"}


def sangzhi_village() -> str:
    return SANGZHI_VILLAGE


def valid_id_number(county: str = GUZHEN) -> str:
    n = next(_seq)
    return demo_id_number(county, f"1960{n % 12 + 1:02d}{n % 28 + 1:02d}{n % 1000:03d}")


class World:
    def __init__(self, app) -> None:
        self.app = app

    def _actor(self, person: Person) -> User:
        return db.session.get(User, person.id)

    def user(self, nickname: str = "") -> Person:
        with self.app.app_context():
            user, raw, _ = accounts.login_dev(openid=f"test-openid-{next(_seq)}", nickname=nickname)
            return Person(user.id, raw)

    def staff(self, county: str = GUZHEN) -> Person:
        return self._console(f"staff-{county}-{next(_seq)}", county=county)

    def admin(self) -> Person:
        return self._console(f"admin-{next(_seq)}", admin=True)

    def _console(self, username: str, *, county: str | None = None, admin: bool = False) -> Person:
        password = "correct horse battery staple"
        with self.app.app_context():
            accounts.create_staff_user(
                username=username, password=password, county_code=county, platform_admin=admin
            )
            user, raw, _ = accounts.login_staff(username=username, password=password)
            return Person(user.id, raw)

    def grant(self, person: Person, role: Role, **scope) -> Person:
        scope = _stand_in_unit(self, role, scope)
        with self.app.app_context():
            accounts.grant_role(None, user_id=person.id, role=role, **scope)
        return person

    def helper(self, village: str = VILLAGE_A) -> Person:
        return self.grant(self.user("帮扶干部"), Role.HELPER, region_code=village)

    def household(self, *, village: str = VILLAGE_A, by: Person | None = None, **overrides) -> int:
        county = village[:6]
        by = by or self.staff(county)
        data = {
            "registry_no": f"T-{next(_seq):06d}",
            "head_name": "李桂兰",
            "id_number": valid_id_number(county),
            "village_code": village,
            "poverty_status": PovertyStatus.REGISTERED,
            "phone": "13805520001",
        } | overrides
        with self.app.app_context():
            return households.create_household(self._actor(by), **data).id

    def farmer(self, household_id: int) -> Person:
        return self.grant(self.user("农户"), Role.FARMER, household_id=household_id)

    def consent(
        self, household_id: int, helper: Person, *purposes: ConsentPurpose, by: Person | None = None
    ) -> int:
        purposes = purposes or (ConsentPurpose.MANAGE_SHOP,)
        with self.app.app_context():
            if by is None:
                county = db.session.get(Household, household_id).county_code
                by = self.staff(county)
            return households.record_consent(
                self._actor(by),
                household_id,
                helper_user_id=helper.id,
                purposes=list(purposes),
                method=ConsentMethod.PAPER,
                note="纸质授权",
            ).id

    def shop(
        self,
        household_id: int,
        *,
        by: Person | None = None,
        approve_by: Person | None = None,
        name: str = "桂兰家的土鸡蛋",
    ) -> int:
        by = by or self.farmer(household_id)
        with self.app.app_context():
            shop = shops.open_shop(self._actor(by), household_id=household_id, name=name)
            if approve_by is not None:
                shops.review_shop(self._actor(approve_by), shop.id, action="approve")
            return shop.id


def jpeg_bytes(width: int = 320, height: int = 240, seed: int = 0) -> bytes:
    """A small real JPEG, different for every seed (so uploads are not deduplicated)."""
    import io

    from PIL import Image

    image = Image.new("RGB", (width, height), ((seed * 37) % 256, (seed * 91) % 256, 120))
    image.putpixel((seed % width, 0), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def listing(media_ids: list[int], **overrides) -> dict:
    return {
        "title": "散养土鸡蛋",
        "category": "禽蛋",
        "description": "林下散养，每天现捡",
        "story": "家里养了六十多只鸡，白天在林子里跑。",
        "unit": "箱",
        "harvest_date": "2026-11-01",
        "media_ids": media_ids,
        "skus": [
            {"spec_name": "30枚装", "price_fen": 4500, "stock": 40},
            {"spec_name": "60枚装", "price_fen": 8500, "stock": 10},
        ],
    } | overrides


class Catalog:
    """Products through the services: photos, drafts, submissions, approvals."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.app = world.app
        self._photos = itertools.count(1)

    def photo(self, by: Person) -> int:
        from services import media

        with self.app.app_context():
            return media.upload_media(
                self.world._actor(by), data=jpeg_bytes(seed=next(self._photos))
            ).id

    def draft(self, shop_id: int, by: Person, **overrides) -> int:
        from datetime import date

        from services import products

        content = listing([self.photo(by)], **overrides)
        content["harvest_date"] = date.fromisoformat(content["harvest_date"])
        with self.app.app_context():
            return products.create_product(
                self.world._actor(by), shop_id=shop_id, content=content
            ).id

    def submitted(self, shop_id: int, by: Person, **overrides) -> int:
        from services import products

        product_id = self.draft(shop_id, by, **overrides)
        with self.app.app_context():
            products.submit_product(self.world._actor(by), product_id)
        return product_id

    def listed(self, shop_id: int, by: Person, staff: Person, **overrides) -> int:
        from services import products

        product_id = self.submitted(shop_id, by, **overrides)
        with self.app.app_context():
            products.approve_product(self.world._actor(staff), product_id)
        return product_id

    def open_shop(self, *, village: str = VILLAGE_A) -> tuple[int, Person, Person]:
        """An approved shop with its farmer and its county's staff."""
        staff = self.world.staff(village[:6])
        household = self.world.household(village=village, by=staff)
        farmer = self.world.farmer(household)
        shop = self.world.shop(household, by=farmer, approve_by=staff)
        return shop, farmer, staff


def statements_during(app, call):
    """(number of SQL statements the call ran, what it returned)."""
    from sqlalchemy import event

    count = []

    def record(*_args):
        count.append(1)

    with app.app_context():
        engine = db.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            result = call()
        finally:
            event.remove(engine, "before_cursor_execute", record)
    return len(count), result


def count_rows(app, model) -> int:
    from sqlalchemy import func, select

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def audit_rows(app, action: str) -> list[dict]:
    """The audit trail of one action, oldest first, as plain dicts."""
    from sqlalchemy import select

    from models import AuditEvent

    with app.app_context():
        rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
        return [
            {
                "actor_id": r.actor_id,
                "on_behalf_of": r.on_behalf_of_household_id,
                "object_type": r.object_type,
                "object_id": r.object_id,
                "detail": r.detail,
            }
            for r in rows
        ]


ERROR_KEYS = {"code", "status", "error", "message"}
_CHINESE = re.compile(r"[\u4e00-\u9fff]")


def assert_error(response, status: int, error: str | None = None) -> dict:
    """A Flask test response is the API's one error shape with this status; returns the body.

    Whatever the code, it is a catalog entry (``services/error_codes.py``) that the catalog gives
    this status, and the message is the entry's own. Given ``error``, the code is that one.
    """
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json", response.mimetype
    return assert_error_body(response.get_json(), status, error)


def assert_error_body(body, status: int, error: str | None = None) -> dict:
    """The checks of ``assert_error`` on a decoded body (a response of a real server)."""
    assert isinstance(body, dict), body
    assert ERROR_KEYS <= set(body) <= ERROR_KEYS | {"errors"}, body
    assert type(body["code"]) is int and body["code"] == status, body
    assert body["status"] == HTTPStatus(status).phrase, body
    assert isinstance(body["error"], str) and isinstance(body["message"], str), body
    assert _CHINESE.search(body["message"]), body["message"]  # Chinese, for the toast
    if "errors" in body:
        assert isinstance(body["errors"], dict) and body["errors"], body
    if error is not None:
        assert body["error"] == error, body
    entry = all_codes().get(body["error"])
    assert entry is not None, f"{body['error']!r} is not in the error catalog"
    assert status_of(entry) == status, f"the catalog gives {entry.code} {status_of(entry)}"
    assert body["message"] == entry.message, body
    return body


# --- work units ---------------------------------------------------------------------------


def valid_uscc(authority_and_type: str = "12", county: str = GUZHEN) -> str:
    """A unified social credit code with the right check character, different every call
    (``12``: a 事业单位 registered by 机构编制; ``N2``: a village collective)."""
    from services.uscc import check_character

    body = f"{authority_and_type}{county}MA{next(_seq):07d}"
    return body + check_character(body)


def unit_body(**overrides) -> dict:
    """The JSON of ``POST /api/v1/units``."""
    return {
        "name": "固镇县第一中学",
        "uscc": valid_uscc(),
        "kind": "学校",
        "region_code": GUZHEN,
        "address": "固镇县城关镇谷阳路1号",
        "contact_name": "周建国",
        "contact_phone": "13905520101",
    } | overrides


class Units:
    """Work units through the services: registration, review, members, pledges."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.app = world.app

    def register(self, *, by: Person | None = None, **overrides) -> tuple[int, Person]:
        """A pending unit and its admin (the user who registered it)."""
        from models.enums import UnitKind
        from services import units

        admin = by or self.world.user("单位管理员")
        data = unit_body(**overrides)
        data["kind"] = UnitKind(data["kind"])
        with self.app.app_context():
            return units.register_unit(self.world._actor(admin), **data).id, admin

    def verified(
        self, *, by: Person | None = None, staff: Person | None = None, **overrides
    ) -> tuple[int, Person]:
        """A unit verified by county staff of its county, and its admin."""
        from services import units

        unit_id, admin = self.register(by=by, **overrides)
        staff = staff or self.world.staff(overrides.get("region_code", GUZHEN)[:6])
        with self.app.app_context():
            units.review_unit(self.world._actor(staff), unit_id, action="verify")
        return unit_id, admin

    def member(self, unit_id: int, admin: Person, person: Person | None = None) -> Person:
        """Someone who joined the (verified) unit with a code its admin issued."""
        from services import units

        person = person or self.world.user("单位职工")
        with self.app.app_context():
            code, _ = units.create_invite(self.world._actor(admin), unit_id)
            units.join_unit(self.world._actor(person), code=code)
        return person


def _stand_in_unit(world: World, role: Role, scope: dict) -> dict:
    """Tests written before work units had a table grant unit roles on a bare id
    (``world.grant(person, Role.UNIT_ADMIN, unit_id=1)``). Grants now reference real units, so
    an id that names no unit stands for a verified unit made through the services (one per id
    and world); the grant goes to that unit. New tests use ``Units``."""
    unit_id = scope.get("unit_id")
    if role not in (Role.UNIT_ADMIN, Role.UNIT_MEMBER) or unit_id is None:
        return scope
    from models import WorkUnit

    with world.app.app_context():
        if db.session.get(WorkUnit, unit_id) is not None:
            return scope
    stand_ins = world.__dict__.setdefault("_stand_in_units", {})
    if unit_id not in stand_ins:
        stand_ins[unit_id] = Units(world).verified()[0]
    return scope | {"unit_id": stand_ins[unit_id]}
