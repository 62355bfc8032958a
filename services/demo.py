"""Demo data for a local run: 固镇县 with staff, a helper, households and shops.

Everything is created through the same services the API uses, so the demo reaches only states
production can reach. Running it twice changes nothing but the printed staff passwords.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from stdnum.cn import ric

from models import Household, Product, Shop, Station, UnitPledge, User, WorkUnit, db
from models.base import utcnow
from models.enums import ConsentMethod, ConsentPurpose, PovertyStatus, Role, StationKind, UnitKind
from services import (
    accounts,
    addresses,
    households,
    media,
    payout_batches,
    products,
    regions,
    shops,
    stations,
    units,
)

COUNTY = "340323"  # 固镇县, 蚌埠市, 安徽省
HELPER_VILLAGE = "340323101200"  # 王庄镇 西南村
DEMO_HOUSEHOLDS = [
    # registry_no, head name, birth date + sequence, village, status, phone
    ("GZ-2016-0001", "李桂兰", "19580312024", "340323101200", PovertyStatus.LIFTED, "13805520001"),
    (
        "GZ-2016-0002",
        "王德顺",
        "19620709031",
        "340323101200",
        PovertyStatus.MONITORED,
        "13905520002",
    ),
    ("GZ-2016-0003", "张秀英", "19671120046", "340323101201", PovertyStatus.LIFTED, None),
    (
        "GZ-2017-0004",
        "刘长山",
        "19550101013",
        "340323101202",
        PovertyStatus.REGISTERED,
        "15205520004",
    ),
]


def demo_id_number(county: str, birth_and_seq: str) -> str:
    """A checksum-valid but fictitious resident ID number for demo households."""
    body = county + birth_and_seq
    return body + ric.calc_check_digit(body + "0")  # the function expects a check-digit slot


def _staff(username: str, *, county: str | None = None, admin: bool = False) -> tuple[User, str]:
    password = secrets.token_urlsafe(12)
    if db.session.scalar(select(User).where(User.username == username)):
        return accounts.set_password(username=username, password=password), password
    user = accounts.create_staff_user(
        username=username, password=password, county_code=county, platform_admin=admin
    )
    return user, password


def _wechat_user(openid: str, nickname: str) -> User:
    user = db.session.scalar(select(User).where(User.openid == openid))
    if user is None:
        user = User(openid=openid, nickname=nickname)
        db.session.add(user)
        db.session.commit()
        accounts.grant_role(None, user_id=user.id, role=Role.BUYER)
    return user


def seed_demo() -> list[str]:
    added = regions.import_regions()
    staff, staff_pw = _staff("gz-staff", county=COUNTY)
    _, sz_pw = _staff("sz-staff", county="430822")
    _, admin_pw = _staff("platform-admin", admin=True)
    helper = _wechat_user("demo-helper", "驻村干部小陈")
    accounts.grant_role(staff, user_id=helper.id, role=Role.HELPER, region_code=HELPER_VILLAGE)
    farmer = _wechat_user("demo-farmer", "李桂兰")
    buyer = _wechat_user("demo-buyer", "食堂采购老周")
    if not addresses.list_addresses(buyer):
        addresses.add_address(
            buyer,
            name="周建国",
            phone="13905520188",
            region_code=HELPER_VILLAGE,
            detail="村委会旁小卖部",
        )

    by_registry = {}
    for registry_no, name, birth_seq, village, status, phone in DEMO_HOUSEHOLDS:
        found = db.session.scalar(select(Household).where(Household.registry_no == registry_no))
        by_registry[registry_no] = found or households.create_household(
            staff,
            registry_no=registry_no,
            head_name=name,
            id_number=demo_id_number(COUNTY, birth_seq),
            village_code=village,
            poverty_status=status,
            phone=phone,
        )
    first, second = by_registry["GZ-2016-0001"], by_registry["GZ-2016-0002"]
    accounts.grant_role(staff, user_id=farmer.id, role=Role.FARMER, household_id=first.id)
    if not any(c.helper_user_id == helper.id for c in second.consents):
        households.record_consent(
            staff,
            second.id,
            helper_user_id=helper.id,
            method=ConsentMethod.PAPER,
            purposes=[ConsentPurpose.MANAGE_SHOP, ConsentPurpose.MANAGE_PRODUCTS],
            note="纸质授权书已签字，存档于王庄镇便民服务中心",
        )
    if not db.session.scalar(select(Shop.id).where(Shop.household_id == first.id)):
        shop = shops.open_shop(
            farmer,
            household_id=first.id,
            name="桂兰家的土鸡蛋",
            intro="散养土鸡，每天捡的新鲜蛋",
            story="家里养了六十多只鸡，白天在林子里跑，吃虫子和玉米。",
        )
        shops.review_shop(staff, shop.id, action="approve")
    if not db.session.scalar(select(Shop.id).where(Shop.household_id == second.id)):
        shops.open_shop(
            helper, household_id=second.id, name="德顺家的小磨香油", intro="自家种的芝麻，石磨慢磨"
        )
    if not first.bank_account_cipher:
        # A made-up 惠农一卡通 number: bank payouts of the demo household go to it.
        payout_batches.set_bank_account(
            staff,
            first.id,
            bank_name="固镇农村商业银行",
            account_name=first.head_name,
            account_number="6230520460001234567",
        )
    _demo_products(farmer, staff)
    _demo_unit(staff)
    _demo_network(staff)
    return [
        f"regions added: {added}",
        "demo accounts (staff passwords are new on every run):",
        f"  county staff 固镇县  username gz-staff        password {staff_pw}",
        f"  county staff 桑植县  username sz-staff        password {sz_pw}",
        f"  platform admin      username platform-admin  password {admin_pw}",
        "  dev login openids: demo-farmer (household member), demo-helper (helper), demo-buyer",
        f"  work unit {DEMO_UNIT_NAME} (verified): demo-unit-admin (unit admin), "
        "demo-unit-member (unit member)",
        "  station operators: demo-village-point (西南村服务点), demo-township (王庄镇服务站), "
        "demo-centre (固镇县农产品运营中心)",
    ]


# The county's three tiers (GCJ-02 positions near 王庄镇 and the county town).
DEMO_STATIONS = [
    (
        "demo-village-point",
        StationKind.VILLAGE_POINT,
        "西南村服务点",
        HELPER_VILLAGE,
        33.2651,
        117.3712,
        "村委会东侧",
    ),
    (
        "demo-township",
        StationKind.TOWNSHIP_STATION,
        "王庄镇服务站",
        HELPER_VILLAGE[:9] + "000",
        33.2802,
        117.3498,
        "王庄镇便民服务中心",
    ),
    (
        "demo-centre",
        StationKind.COUNTY_CENTRE,
        "固镇县农产品运营中心",
        COUNTY,
        33.3170,
        117.3160,
        "谷阳路88号",
    ),
]


def _demo_network(staff: User) -> None:
    """A village point, the township's station and the county centre, each with an operator
    (dev login), so an order can travel the whole chain locally."""
    for openid, kind, name, region_code, lat, lng, address in DEMO_STATIONS:
        station = db.session.scalar(select(Station).where(Station.name == name))
        if station is None:
            station = stations.create_station(
                staff,
                kind=kind,
                name=name,
                region_code=region_code,
                lat=lat,
                lng=lng,
                address=address,
                opening_hours="08:00-17:30",
                phone="05526012345",
            )
        operator = _wechat_user(openid, f"{name}工作人员")
        accounts.grant_role(
            staff, user_id=operator.id, role=Role.STATION_OPERATOR, station_id=station.id
        )


DEMO_UNIT_NAME = "固镇县机关事务服务中心"
DEMO_UNIT_USCC = "12340323MB19372504"  # a 事业单位 (机构编制), made-up organisation code
DEMO_PLEDGE_FEN = 5_000_000  # 5 万元 for the current year


def _demo_unit(staff: User) -> None:
    """A verified work unit with its admin, one member and this year's pledge."""
    admin = _wechat_user("demo-unit-admin", "机关食堂管理员老周")
    member = _wechat_user("demo-unit-member", "办公室小王")
    unit = db.session.scalar(select(WorkUnit).where(WorkUnit.uscc == DEMO_UNIT_USCC))
    if unit is None:
        unit = units.register_unit(
            admin,
            name=DEMO_UNIT_NAME,
            uscc=DEMO_UNIT_USCC,
            kind=UnitKind.PUBLIC_INSTITUTION,
            region_code=COUNTY,
            address="固镇县城关镇谷阳路88号",
            contact_name="周建国",
            contact_phone="13905520188",
        )
        units.review_unit(staff, unit.id, action="verify", reason="营业执照（法人证书）已核对")
    if not units.is_member(member, unit.id):
        code, _ = units.create_invite(admin, unit.id)
        units.join_unit(member, code=code)
    year = utcnow().year
    pledged = select(UnitPledge.id).where(UnitPledge.unit_id == unit.id, UnitPledge.year == year)
    if not db.session.scalar(pledged):
        units.set_pledge(admin, unit.id, year, amount_fen=DEMO_PLEDGE_FEN)


DEMO_PRODUCTS = [
    # title, category, unit, colour of the generated photo, specs (name, price in fen, stock)
    ("林下散养土鸡蛋", "禽蛋", "箱", (214, 170, 92), [("30枚装", 4500, 40), ("60枚装", 8500, 12)]),
    ("老品种小磨香油", "粮油", "瓶", (150, 96, 30), [("500毫升", 3800, 25)]),
    ("晒干的红薯粉条", "干货", "袋", (180, 120, 140), [("2斤装", 2600, 60), ("5斤装", 5900, 8)]),
]


def _demo_photo(colour: tuple[int, int, int], seed: int) -> bytes:
    """A generated photo stand-in: a soft gradient in the product's colour."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (900, 675), colour)
    draw = ImageDraw.Draw(image)
    for y in range(0, 675, 15):
        shade = tuple(min(255, c + y // 12 + seed) for c in colour)
        draw.rectangle([0, y, 900, y + 15], fill=shade)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def _demo_products(farmer: User, staff: User) -> None:
    shop = db.session.scalars(
        select(Shop).join(Household).where(Household.registry_no == "GZ-2016-0001")
    ).one()
    if db.session.scalar(select(Product.id).where(Product.shop_id == shop.id)):
        return
    for seed, (title, category, unit, colour, specs) in enumerate(DEMO_PRODUCTS):
        photo = media.upload_media(farmer, data=_demo_photo(colour, seed))
        product = products.create_product(
            farmer,
            shop_id=shop.id,
            content={
                "title": title,
                "category": category,
                "unit": unit,
                "story": "自家地里种、自家手里做，县里帮着卖。",
                "media_ids": [photo.id],
                "skus": [{"spec_name": n, "price_fen": p, "stock": k} for n, p, k in specs],
            },
        )
        products.submit_product(farmer, product.id)
        if seed < 2:  # the last one waits in the county's moderation queue
            products.approve_product(staff, product.id)
