"""The permission matrix: every route × every role, on objects of one's own and of others.

Anonymous → 401; a role the route is not for → 403; someone else's object → 404 (its existence
is not revealed); the right person → 2xx.
"""

from __future__ import annotations

import itertools
import json
from http import HTTPStatus

import pytest
from sqlalchemy import select

from models import Product, db
from models.enums import ConsentPurpose, Role
from tests import permissions_money as funds
from tests.factories import (
    GUZHEN,
    SANGZHI,
    VILLAGE_A,
    VILLAGE_B,
    Catalog,
    Units,
    assert_error,
    sangzhi_village,
    unit_body,
    valid_id_number,
    valid_uscc,
)

ROLES = [
    "anonymous",
    "buyer",
    "farmer",  # member of household H (county 固镇, village A)
    "other_farmer",  # member of household H2 (same county, village B)
    "helper",  # helper of village A, no consent from H
    "consented_helper",  # helper of village A holding H's consent
    "far_helper",  # helper of a village in 桑植县
    "staff",  # county staff of 固镇县
    "other_staff",  # county staff of 桑植县
    "admin",  # platform admin (read-only)
    "unit_admin",  # admin of unit U (verified, 固镇县)
    "unit_member",  # member of unit U
    "other_unit_admin",  # admin of a verified unit in 桑植县
    "station_operator",
]
_seq = itertools.count(1)


def build_scene(world, route: str):
    """The people of every role and the rows the route's path and body name."""
    staff = world.staff(GUZHEN)
    household = world.household(village=VILLAGE_A, by=staff)
    other_household = world.household(village=VILLAGE_B, by=staff)
    unshopped = world.household(village=VILLAGE_A, by=staff)
    farmer = world.farmer(household)
    helper = world.helper(VILLAGE_A)
    consented_helper = world.helper(VILLAGE_A)
    consent = world.consent(
        household,
        consented_helper,
        ConsentPurpose.MANAGE_SHOP,
        ConsentPurpose.MANAGE_PRODUCTS,
        by=staff,
    )
    world.consent(unshopped, consented_helper, ConsentPurpose.MANAGE_SHOP, by=staff)
    # The consented helper may also see H's money (and ask for a bank payout for it).
    world.consent(household, consented_helper, ConsentPurpose.VIEW_FINANCES, by=staff)
    shop = world.shop(household, by=farmer)
    catalog = Catalog(world)
    pending_product = catalog.submitted(shop, farmer)
    draft = catalog.draft(shop, farmer)
    # A listed product of an approved shop in the same county, for the public routes.
    other_farmer = world.farmer(other_household)
    public_shop = world.shop(other_household, by=other_farmer, approve_by=staff)
    listed = catalog.listed(public_shop, other_farmer, staff)
    with world.app.app_context():
        product = db.session.get(Product, listed)
        sku, code = product.skus[0].id, product.trace_code
    units = Units(world)
    unit, unit_admin = units.verified(staff=staff)
    unit_member = units.member(unit, unit_admin)
    other_unit_admin = units.verified(region_code=SANGZHI, uscc=valid_uscc(county=SANGZHI))[1]
    pending_unit, _ = units.register()
    buyer = world.user("买家")
    address, order = _buyer_order(world, buyer, sku)
    # The county's network: a village point in village B (household H2's) and its operator; a
    # paid ShopOrder of H2 waiting for acceptance, and another already handed in there.
    station = _station(world, staff)
    operator = world.grant(world.user("站点员"), Role.STATION_OPERATOR, station_id=station)
    # (Paid orders cost time: made only for the routes that use them.)
    row = MATRIX[route]
    uses = f"{row[1]} {row[2]() if row[2] else ''}"
    waiting = _paid_shop_order(world, buyer, sku, address) if "{SO}" in uses else 0
    label, batch = "", ""
    if "{LB}" in uses or "{BC}" in uses:
        handed_in = _paid_shop_order(world, buyer, sku, address)
        label, batch = _handed_in(world, other_farmer, operator, station, handed_in)
    refunded = _refunded(world, buyer, sku, address, other_farmer) if "{RF}" in uses else (0, 0)
    # Money (a sale walked to completion costs time too: made only for the routes that use it).
    money = dict.fromkeys(MONEY, 0)
    if any(f"{{{key}}}" in uses for key in MONEY):
        payout = "{PO}" in uses or "{B}" in uses or route == "household_payouts"
        money = _money(world, staff, household, shop, farmer, unit, unit_member, payout=payout)
    people = {
        "anonymous": None,
        "buyer": buyer,
        "farmer": farmer,
        "other_farmer": other_farmer,
        "helper": helper,
        "consented_helper": consented_helper,
        "far_helper": world.helper(sangzhi_village()),
        "staff": staff,
        "other_staff": world.staff(SANGZHI),
        "admin": world.admin(),
        "unit_admin": unit_admin,
        "unit_member": unit_member,
        "other_unit_admin": other_unit_admin,
        "station_operator": operator,
    }
    ids = {
        "H": household,
        "H3": unshopped,
        "S": shop,
        "C": consent,
        "P": pending_product,
        "D": draft,
        "L": listed,
        "K": sku,
        "T": code,
        "S2": public_shop,
        "F": farmer.id,
        "U": unit,
        "UP": pending_unit,
        "M": unit_member.id,
        "Y": 2026,
        "A": address,
        "O": order,
        "ST": station,
        "SO": waiting,
        "LB": label,
        "BC": batch,
        "OR": refunded[0],
        "RF": refunded[1],
        **money,
    }
    return people, ids


# The money rows' ids: H with money available (HM), the order that brought it (OM) and the unit
# that bought it (UM), H's bank payout (PO) and the county's batch (B) with it as its line (BL).
MONEY = ("HM", "OM", "UM", "PO", "B", "BL")


def _money(world, staff, household, shop, farmer, unit, unit_member, *, payout: bool) -> dict:
    """H's shop approved and a box of its eggs listed; unit U's member M buys one for U, and
    the part is delivered directly (village A has no station) and completed: H has 4500 fen
    available, and its bank account is on file. With ``payout``: H asks for 1000 fen by bank
    and county staff run the county's batch, whose one line it is."""
    from models import User
    from services import shops

    app = world.app
    with app.app_context():
        shops.review_shop(db.session.get(User, staff.id), shop, action="approve")
    listed = Catalog(world).listed(shop, farmer, staff)
    with app.app_context():
        sku = db.session.get(Product, listed).skus[0].id
    address = funds.address(app, unit_member)
    order, _ = funds.completed_sale(
        app, buyer=unit_member, address_id=address, farmer=farmer, sku_id=sku, unit_id=unit
    )
    funds.bank_account(app, staff, household)
    ids = dict.fromkeys(MONEY, 0) | {"HM": household, "OM": order, "UM": unit}
    if payout:
        ids["PO"] = ids["BL"] = funds.bank_payout(app, farmer, household, 1000)
        ids["B"], lines = funds.batch(app, staff, GUZHEN)
        assert lines == [ids["PO"]], lines
    return ids


def _station(world, staff) -> int:
    from models import User
    from models.enums import StationKind
    from services import stations

    with world.app.app_context():
        return stations.create_station(
            db.session.get(User, staff.id),
            kind=StationKind.VILLAGE_POINT,
            name="东南村服务点",
            region_code=VILLAGE_B,
            lat=33.31,
            lng=117.31,
        ).id


def _paid_shop_order(world, buyer, sku: int, address: int) -> int:
    from models import User
    from models.enums import PaymentMethod
    from services import orders, payments
    from services.idempotency import Idempotency
    from services.orders import Line

    with world.app.app_context():
        user = db.session.get(User, buyer.id)
        order = orders.place_order(
            user,
            lines=[Line(sku, 1)],
            address_id=address,
            idempotency=Idempotency.of(f"paid-{next(_seq)}", "order.create", {"sku": sku}),
        )
        payments.pay_order(user, order, method=PaymentMethod.DEV)
        return order.shop_orders[0].id


def _handed_in(world, farmer, operator, station: int, shop_order_id: int) -> tuple[str, str]:
    """The ShopOrder accepted by its farmer and handed in at the station: its slip's label
    code and its batch's trace code."""
    from models import User
    from services import fulfilment

    with world.app.app_context():
        shop_order = fulfilment.accept(db.session.get(User, farmer.id), shop_order_id)
        label = shop_order.label_code
        batch = fulfilment.hand_in(
            db.session.get(User, operator.id),
            station,
            shop_order_id=shop_order_id,
            weight_g=1000,
            count=1,
            grade="一级",
        )
        return label, batch.code


def _refunded(world, buyer, sku: int, address: int, farmer) -> tuple[int, int]:
    """An order of the buyer's, paid (dev method), whose part H2's farmer rejected: the order
    and its refund."""
    from models import Refund, ShopOrder, User
    from services import fulfilment

    shop_order_id = _paid_shop_order(world, buyer, sku, address)
    with world.app.app_context():
        fulfilment.reject(db.session.get(User, farmer.id), shop_order_id, reason="鸡蛋不够了")
        order_id = db.session.get(ShopOrder, shop_order_id).order_id
        return order_id, db.session.scalar(select(Refund.id).where(Refund.order_id == order_id))


def _buyer_order(world, buyer, sku: int) -> tuple[int, int]:
    """The buyer's address and an unpaid order of theirs (of a product of 固镇县)."""
    from models import User
    from services import addresses, orders
    from services.idempotency import Idempotency
    from services.orders import Line

    with world.app.app_context():
        user = db.session.get(User, buyer.id)
        address = addresses.add_address(
            user, name="买家", phone="13805520009", region_code=VILLAGE_A, detail="食堂"
        )
        order = orders.place_order(
            user,
            lines=[Line(sku, 1)],
            address_id=address.id,
            idempotency=Idempotency.of("matrix", "order.create", {"sku": sku}),
        )
        return address.id, order.id


def _household_body():
    n = next(_seq)
    return {
        "registry_no": f"PM-{n:05d}",
        "head_name": "王德顺",
        "id_number": valid_id_number(GUZHEN),
        "village_code": VILLAGE_A,
        "poverty_status": "registered",
    }


# Who may look at a household's objects (not necessarily change them).
VIEWERS = {"farmer": 200, "helper": 200, "consented_helper": 200, "staff": 200, "admin": 200}
# Who may look at unit U: its people, county staff of its county, platform admins.
UNIT_VIEWERS = {"unit_admin": 200, "unit_member": 200, "staff": 200, "admin": 200}
# Who may look at order O: its buyer, county staff of its shop's county, platform admins.
ORDER_VIEWERS = {"buyer": 200, "staff": 200, "admin": 200}
BUYER = {"buyer": 200}
# Who may change unit U: its admin; others who see it may not.
UNIT_ADMIN_ONLY = {"unit_member": 403, "staff": 403, "admin": 403}
# Who may see household H's money: its members, a helper holding its view_finances consent,
# staff of its county. Not a platform admin, not another household: 404.
FINANCES = {"farmer": 200, "consented_helper": 200, "staff": 200}
# Who may look at order OM (unit U's, bought by its member): its buyer, the unit's admin, staff
# of the county it bought in, platform admins.
UNIT_ORDER_VIEWERS = {"unit_member": 200, "unit_admin": 200, "staff": 200, "admin": 200}
# Who may act on batch B of 固镇县: its staff; a platform admin reads only; others' staff 404.
BATCH_ACTORS = {"staff": 200, "admin": 403, "other_staff": 404}

# route → (method, path, body factory, {role: expected status}); roles not named get `default`.
MATRIX = {
    "me": ("GET", "/api/v1/me", None, {}, 200),
    "logout": ("POST", "/api/v1/auth/logout", None, {}, 204),
    "create_household": (
        "POST",
        "/api/v1/households",
        _household_body,
        {"staff": 201, "helper": 201, "consented_helper": 201},
        403,
    ),
    "get_household": (
        "GET",
        "/api/v1/households/{H}",
        None,
        {"farmer": 200, "helper": 200, "consented_helper": 200, "staff": 200, "admin": 200},
        404,
    ),
    "patch_household": (
        "PATCH",
        "/api/v1/households/{H}",
        lambda: {"head_name": "李桂英"},
        {"farmer": 200, "consented_helper": 200, "staff": 200, "helper": 403, "admin": 403},
        404,
    ),
    "record_consent": (
        "POST",
        "/api/v1/households/{H}/consents",
        lambda: {"helper_user_id": 0, "purposes": ["manage_shop"], "method": "in_app"},
        {"farmer": 201, "helper": 403, "consented_helper": 403, "staff": 403, "admin": 403},
        404,
    ),
    "revoke_consent": (
        "POST",
        "/api/v1/households/{H}/consents/{C}/revoke",
        None,
        {"farmer": 200, "staff": 200, "helper": 403, "consented_helper": 403, "admin": 403},
        404,
    ),
    "member_invite": (
        # The right to act for the household: a helper needs its consent; a member may invite.
        "POST",
        "/api/v1/households/{H}/member-invites",
        None,
        {"staff": 201, "consented_helper": 201, "farmer": 201, "helper": 403, "admin": 403},
        404,
    ),
    "list_members": (
        "GET",
        "/api/v1/households/{H}/members",
        None,
        {"farmer": 200, "consented_helper": 200, "staff": 200, "admin": 200, "helper": 403},
        404,
    ),
    "remove_member": (
        # The farmer removes themselves (leaves); consent does not let a helper remove anyone.
        "POST",
        "/api/v1/households/{H}/members/{F}/remove",
        None,
        {"farmer": 204, "staff": 204, "helper": 403, "consented_helper": 403, "admin": 403},
        404,
    ),
    "join_household": ("POST", "/api/v1/households/join", lambda: {"code": "00000000"}, {}, 422),
    "open_shop": (
        "POST",
        "/api/v1/shops",
        lambda: {"household_id": "{H3}", "name": "新店"},
        {"consented_helper": 201, "helper": 403, "staff": 403, "admin": 403},
        404,
    ),
    "get_shop": (
        "GET",
        "/api/v1/shops/{S}",
        None,
        {"farmer": 200, "helper": 200, "consented_helper": 200, "staff": 200, "admin": 200},
        404,
    ),
    "patch_shop": (
        "PATCH",
        "/api/v1/shops/{S}",
        lambda: {"intro": "新简介"},
        {"farmer": 200, "consented_helper": 200, "helper": 403, "staff": 403, "admin": 403},
        404,
    ),
    "my_shops": ("GET", "/api/v1/me/shops", None, {}, 200),
    # Any signed-in user may upload. The matrix sends JSON or nothing, never multipart, so the
    # right person meets the missing "file" part (422); uploads: tests/media/test_upload_api.py.
    "upload_media": ("POST", "/api/v1/media", None, {}, 422),
    "create_product": (
        "POST",
        "/api/v1/shops/{S}/products",
        lambda: {"title": "新产品"},
        {"farmer": 201, "consented_helper": 201, "helper": 403, "staff": 403, "admin": 403},
        404,
    ),
    "shop_products": ("GET", "/api/v1/shops/{S}/products", None, VIEWERS, 404),
    "get_product": ("GET", "/api/v1/products/{P}", None, VIEWERS, 404),
    "patch_product": (
        "PATCH",
        "/api/v1/products/{D}",
        lambda: {"title": "改个名字"},
        {"farmer": 200, "consented_helper": 200, "helper": 403, "staff": 403, "admin": 403},
        404,
    ),
    "submit_product": (
        "POST",
        "/api/v1/products/{D}/submit",
        None,
        {"farmer": 200, "consented_helper": 200, "helper": 403, "staff": 403, "admin": 403},
        404,
    ),
    "delist_product": (
        # The listed product belongs to other_farmer's household (village B).
        "POST",
        "/api/v1/products/{L}/delist",
        None,
        {"other_farmer": 200, "staff": 403, "admin": 403},
        404,
    ),
    "moderation_history": ("GET", "/api/v1/products/{P}/moderation-history", None, VIEWERS, 404),
    "set_stock": (
        "PATCH",
        "/api/v1/skus/{K}",
        lambda: {"stock": 7},
        {"other_farmer": 200, "staff": 403, "admin": 403},
        404,
    ),
    "catalog_list": ("GET", "/api/v1/catalog/products", None, {}, 200),
    "catalog_product": ("GET", "/api/v1/catalog/products/{L}", None, {}, 200),
    "catalog_shop": ("GET", "/api/v1/catalog/shops/{S2}", None, {}, 200),
    "trace": ("GET", "/api/v1/trace/{T}", None, {}, 200),
    "trace_qr": ("GET", "/api/v1/trace/{T}/qr", None, {}, 200),
    "moderation_queue": (
        "GET",
        "/api/v1/admin/moderation/queue",
        None,
        {"staff": 200, "other_staff": 200, "admin": 200},
        403,
    ),
    "approve_product": (
        "POST",
        "/api/v1/admin/products/{P}/approve",
        lambda: {},
        {"staff": 200, "other_staff": 404, "admin": 403},
        403,
    ),
    "reject_product": (
        "POST",
        "/api/v1/admin/products/{P}/reject",
        lambda: {"reason_code": "其他"},
        {"staff": 200, "other_staff": 404, "admin": 403},
        403,
    ),
    "regions": ("GET", "/api/v1/regions", None, {"anonymous": 200}, 200),
    "approve_shop": (
        "POST",
        "/api/v1/admin/shops/{S}/approve",
        lambda: {},
        {"staff": 200, "other_staff": 404, "admin": 403},
        403,
    ),
    "reject_shop": (
        "POST",
        "/api/v1/admin/shops/{S}/reject",
        lambda: {"reason": "图片不清晰"},
        {"staff": 200, "other_staff": 404, "admin": 403},
        403,
    ),
    "suspend_shop": (
        # The shop is pending, so even its own county's staff meet the state machine: 409.
        "POST",
        "/api/v1/admin/shops/{S}/suspend",
        lambda: {"reason": "投诉核实中"},
        {"staff": 409, "other_staff": 404, "admin": 403},
        403,
    ),
    "verify_household": (
        "POST",
        "/api/v1/admin/households/{H}/verify",
        None,
        {"staff": 200, "other_staff": 404, "admin": 403},
        403,
    ),
    "register_unit": ("POST", "/api/v1/units", lambda: unit_body(), {}, 201),
    "get_unit": ("GET", "/api/v1/units/{U}", None, UNIT_VIEWERS, 404),
    "patch_unit": (
        "PATCH",
        "/api/v1/units/{U}",
        lambda: {"address": "固镇县城关镇谷阳路2号"},
        {"unit_admin": 200, **UNIT_ADMIN_ONLY},
        404,
    ),
    "unit_invite": (
        "POST",
        "/api/v1/units/{U}/invites",
        None,
        {"unit_admin": 201, **UNIT_ADMIN_ONLY},
        404,
    ),
    "join_unit": ("POST", "/api/v1/units/join", lambda: {"code": "00000000"}, {}, 422),
    "unit_members": ("GET", "/api/v1/units/{U}/members", None, UNIT_VIEWERS, 404),
    "remove_unit_member": (
        # The member leaves the unit themselves; staff and admins may not take anyone out.
        "POST",
        "/api/v1/units/{U}/members/{M}/remove",
        None,
        {"unit_admin": 204, "unit_member": 204, "staff": 403, "admin": 403},
        404,
    ),
    "set_pledge": (
        "PUT",
        "/api/v1/units/{U}/pledges/{Y}",
        lambda: {"amount_fen": 5_000_000},
        {"unit_admin": 200, **UNIT_ADMIN_ONLY},
        404,
    ),
    "unit_pledges": ("GET", "/api/v1/units/{U}/pledges", None, UNIT_VIEWERS, 404),
    "my_units": ("GET", "/api/v1/me/units", None, {}, 200),
    "units_for_review": (
        "GET",
        "/api/v1/admin/units",
        None,
        {"staff": 200, "other_staff": 200, "admin": 200},
        403,
    ),
    "verify_unit": (
        # Platform admins, read-only elsewhere, may verify units.
        "POST",
        "/api/v1/admin/units/{UP}/verify",
        lambda: {},
        {"staff": 200, "admin": 200, "other_staff": 404},
        403,
    ),
    "reject_unit": (
        "POST",
        "/api/v1/admin/units/{UP}/reject",
        lambda: {"reason": "信用代码与营业执照不符"},
        {"staff": 200, "admin": 200, "other_staff": 404},
        403,
    ),
    "my_addresses": ("GET", "/api/v1/me/addresses", None, {}, 200),
    "add_address": (
        "POST",
        "/api/v1/me/addresses",
        lambda: {"name": "李四", "phone": "13805520002", "region_code": VILLAGE_B, "detail": "3号"},
        {},
        201,
    ),
    "patch_address": ("PATCH", "/api/v1/me/addresses/{A}", lambda: {"detail": "5号"}, BUYER, 404),
    "delete_address": ("DELETE", "/api/v1/me/addresses/{A}", None, {"buyer": 204}, 404),
    "get_cart": ("GET", "/api/v1/cart", None, {}, 200),
    "put_cart": ("PUT", "/api/v1/cart", lambda: {"lines": []}, {}, 200),
    # Each sends the buyer's address: it is no one else's to deliver to (422 address_not_found).
    "place_order": ("POST", "/api/v1/orders", None, {"buyer": 201}, 422),
    "my_orders": ("GET", "/api/v1/orders", None, {}, 200),
    "get_order": ("GET", "/api/v1/orders/{O}", None, ORDER_VIEWERS, 404),
    "pay_order": (
        "POST",
        "/api/v1/orders/{O}/pay",
        lambda: {"method": "dev"},
        {**ORDER_VIEWERS, "buyer": 200, "staff": 403, "admin": 403},
        404,
    ),
    "payment_status": ("POST", "/api/v1/orders/{O}/payment-status", None, ORDER_VIEWERS, 404),
    "cancel_order": (
        "POST",
        "/api/v1/orders/{O}/cancel",
        lambda: {},
        {"buyer": 200, "staff": 403, "admin": 403},
        404,
    ),
    "shop_orders": (
        # Seeing a shop is not seeing its orders: a helper needs the handle_orders consent.
        "GET",
        "/api/v1/shops/{S}/orders",
        None,
        {**VIEWERS, "helper": 403, "consented_helper": 403},
        404,
    ),
    "county_orders": (
        "GET",
        "/api/v1/admin/orders",
        None,
        {"staff": 200, "other_staff": 200, "admin": 200},
        403,
    ),
    "record_transfer": (
        # The order is a personal one: its county's staff reach the rule (transfers are for
        # unit orders); a platform admin only looks.
        "POST",
        "/api/v1/admin/orders/{O}/record-transfer",
        lambda: {"bank_reference": "BANK-0001", "amount_fen": 4500},
        {"staff": 422, "other_staff": 404, "admin": 403},
        403,
    ),
    "record_bank_refund": (
        # Order OR was paid by the dev method and refunded when H2 rejected it: its county's
        # staff reach the rule (only a transfer's refund goes back by bank); an admin only looks.
        "POST",
        "/api/v1/admin/orders/{OR}/refunds/{RF}/record",
        lambda: {"bank_reference": "BANK-R-0001"},
        {"staff": 409, "other_staff": 404, "admin": 403},
        403,
    ),
    "payment_anomalies": (
        "GET",
        "/api/v1/admin/payment-anomalies",
        None,
        {"staff": 200, "other_staff": 200, "admin": 200},
        403,
    ),
    # WeChat Pay calls these without a token; an unverifiable message is refused in WeChat's
    # own answer shape (401 {"code": "FAIL"}), whoever sends it.
    "payment_notify": ("POST", "/api/v1/payments/wechat/notify", lambda: {}, {}, 401),
    "refund_notify": ("POST", "/api/v1/payments/wechat/refund-notify", lambda: {}, {}, 401),
    # The fulfilment chain: ShopOrder SO of household H2 (other_farmer) waits for acceptance;
    # station ST is the village point its operator works at.
    "accept_shop_order": (
        "POST",
        "/api/v1/shop-orders/{SO}/accept",
        lambda: {},
        {"other_farmer": 200, "staff": 403, "admin": 403},
        404,
    ),
    "reject_shop_order": (
        "POST",
        "/api/v1/shop-orders/{SO}/reject",
        lambda: {"reason": "鸡蛋不够了"},
        {"other_farmer": 200, "staff": 403, "admin": 403},
        404,
    ),
    "ship_shop_order": (
        # Not accepted yet: the household reaches the state machine.
        "POST",
        "/api/v1/shop-orders/{SO}/ship",
        lambda: {"carrier": "YTO", "tracking_no": "YT12345678"},
        {"other_farmer": 409, "staff": 403, "admin": 403},
        404,
    ),
    "confirm_receipt": (
        "POST",
        "/api/v1/shop-orders/{SO}/confirm-receipt",
        None,
        {"buyer": 409},
        404,
    ),
    "hand_in": (
        "POST",
        "/api/v1/stations/{ST}/hand-ins",
        lambda: {"shop_order_id": "{SO}", "weight_g": 1000, "count": 1, "grade": "一级"},
        {"station_operator": 409},
        403,
    ),
    "inspect": (
        # A village point does not inspect.
        "POST",
        "/api/v1/stations/{ST}/inspections",
        lambda: {"batch_code": "{BC}", "result": "pass"},
        {"station_operator": 409},
        403,
    ),
    "ship_together": (
        "POST",
        "/api/v1/stations/{ST}/shipments",
        lambda: {"shop_order_ids": ["{SO}"], "carrier": "SF", "tracking_no": "SF12345678"},
        {"station_operator": 409},
        403,
    ),
    "station_queue": (
        "GET",
        "/api/v1/stations/{ST}/queue",
        None,
        {"station_operator": 200, "staff": 200, "admin": 200},
        403,
    ),
    "scan_label": (
        "GET",
        "/api/v1/labels/{LB}",
        None,
        {"station_operator": 200, "staff": 200, "admin": 200, "other_staff": 404},
        403,
    ),
    "get_batch": (
        "GET",
        "/api/v1/batches/{BC}",
        None,
        {"station_operator": 200, "staff": 200, "admin": 200, "other_staff": 404},
        403,
    ),
    "overdue_shop_orders": (
        "GET",
        "/api/v1/admin/shop-orders/overdue",
        None,
        {"staff": 200, "other_staff": 200, "admin": 200},
        403,
    ),
    "cancel_overdue": (
        "POST",
        "/api/v1/admin/shop-orders/{SO}/cancel",
        lambda: {"reason": "超时未接单"},
        {"staff": 409, "other_staff": 404, "admin": 403},
        403,
    ),
    "get_direct_shipping": (
        "GET",
        f"/api/v1/admin/regions/{GUZHEN}/direct-shipping",
        None,
        {"staff": 200, "other_staff": 200, "admin": 200},
        403,
    ),
    "set_direct_shipping": (
        "PUT",
        f"/api/v1/admin/regions/{GUZHEN}/direct-shipping",
        lambda: {"categories": ["手工艺品"]},
        {"staff": 200},
        403,
    ),
    "stations": ("GET", "/api/v1/stations", None, {}, 200),
    "station": ("GET", "/api/v1/stations/{ST}", None, {}, 200),
    "create_station": (
        "POST",
        "/api/v1/admin/stations",
        lambda: {
            "kind": "village_point",
            "name": "西南村服务点",
            "region_code": VILLAGE_A,
            "lat": 33.3,
            "lng": 117.3,
        },
        {"staff": 201, "admin": 201},
        403,
    ),
    "patch_station": (
        "PATCH",
        "/api/v1/admin/stations/{ST}",
        lambda: {"phone": "05525550002"},
        {"staff": 200, "admin": 200, "other_staff": 404},
        403,
    ),
    "shipping_uploads": (
        "GET",
        "/api/v1/admin/shipping-uploads",
        None,
        {"staff": 200, "other_staff": 200, "admin": 200},
        403,
    ),
    "reveal_id_number": (
        "GET",
        "/api/v1/admin/households/{H}/id-number?reason=核对身份",
        None,
        {"staff": 200, "other_staff": 404, "admin": 403},
        403,
    ),
    # Money. HM is household H with 4500 fen available (unit U's order OM, completed); other
    # households' members (other_farmer) meet 404: a household sees only its own money.
    "balance": ("GET", "/api/v1/households/{HM}/balance", None, FINANCES, 404),
    "ledger": ("GET", "/api/v1/households/{HM}/ledger", None, FINANCES, 404),
    "household_payouts": ("GET", "/api/v1/households/{HM}/payouts", None, FINANCES, 404),
    "request_payout": (
        # By bank, a consented helper may ask for the household; staff see the money only.
        "POST",
        "/api/v1/households/{HM}/payouts",
        lambda: {"amount_fen": 1000, "channel": "bank"},
        {"farmer": 201, "consented_helper": 201, "staff": 403},
        404,
    ),
    "request_wechat_payout": (
        # By WeChat the money goes to the WeChat of who asks: a member only (payout_needs_member).
        "POST",
        "/api/v1/households/{HM}/payouts",
        lambda: {"amount_fen": 1000, "channel": "wechat_transfer"},
        {"farmer": 201, "consented_helper": 403, "staff": 403},
        404,
    ),
    "get_payout": ("GET", "/api/v1/payouts/{PO}", None, FINANCES, 404),
    "set_bank_account": (
        # Checked on paper by the county's staff: neither the household nor its helper.
        "PUT",
        "/api/v1/households/{H}/bank-account",
        lambda: {
            "bank_name": "固镇县农村商业银行",
            "account_name": "李桂兰",
            "account_number": funds.ACCOUNT_NUMBER,
        },
        {"staff": 200, "farmer": 403, "consented_helper": 403},
        404,
    ),
    "beneficiaries": ("GET", "/api/v1/orders/{OM}/beneficiaries", None, UNIT_ORDER_VIEWERS, 404),
    "unit_totals": ("GET", "/api/v1/units/{UM}/totals", None, UNIT_VIEWERS, 404),
    "transfer_notify": ("POST", "/api/v1/payments/wechat/transfer-notify", lambda: {}, {}, 401),
    "create_payout_batch": (
        "POST",
        "/api/v1/admin/payout-batches",
        lambda: {"county_code": GUZHEN, "purpose": "农产品销售货款"},
        {"staff": 201, "admin": 403},
        403,
    ),
    "payout_batches": (
        "GET",
        "/api/v1/admin/payout-batches",
        None,
        {"staff": 200, "other_staff": 200, "admin": 200},
        403,
    ),
    "payout_batch": (
        "GET",
        "/api/v1/admin/payout-batches/{B}",
        None,
        {**BATCH_ACTORS, "admin": 200},
        403,
    ),
    "payout_batch_file": (
        # The one place the account number is in full: its county's staff only.
        "GET",
        "/api/v1/admin/payout-batches/{B}/file?format=csv",
        None,
        BATCH_ACTORS,
        403,
    ),
    "confirm_payout_line": (
        "POST",
        "/api/v1/admin/payout-batches/{B}/lines/{BL}/confirm",
        lambda: {"voucher_no": "HN2026000001"},
        BATCH_ACTORS,
        403,
    ),
    "fail_payout_line": (
        "POST",
        "/api/v1/admin/payout-batches/{B}/lines/{BL}/fail",
        lambda: {"reason": "账户已销户"},
        BATCH_ACTORS,
        403,
    ),
}

# The error code of some refusals, where the status alone does not say which rule refused.
CODES = {
    ("record_bank_refund", "staff"): "invalid_state",
    ("record_bank_refund", "admin"): "admin_read_only",
    ("request_wechat_payout", "consented_helper"): "payout_needs_member",
    ("create_payout_batch", "admin"): "admin_read_only",
    ("payout_batch_file", "admin"): "admin_read_only",
    ("confirm_payout_line", "admin"): "admin_read_only",
    ("fail_payout_line", "admin"): "admin_read_only",
}
# Personal data no answer of the route may show unmasked, to any reader: the household head's
# name and phone, the name and phone the goods were delivered to, the full account number.
UNMASKED = {
    "beneficiaries": ("head", "delivery"),
    "ledger": ("head", "delivery"),
    "balance": ("head", "delivery"),
    "unit_totals": ("head", "delivery"),
    "get_payout": ("account",),
    "household_payouts": ("account",),
    "request_payout": ("account",),
    "payout_batch": ("account",),
    "confirm_payout_line": ("account",),
    "fail_payout_line": ("account",),
    "set_bank_account": ("account",),
}
# Requests that need an Idempotency-Key.
IDEMPOTENT = {"place_order", "request_payout", "request_wechat_payout", "create_payout_batch"}
# Routes that reach WeChat Pay (its fake): on for them only.
WECHAT_PAY = {"request_wechat_payout"}

# Public routes answer everyone; all others refuse anonymous callers with 401.
PUBLIC = {
    "regions",
    "catalog_list",
    "catalog_product",
    "catalog_shop",
    "trace",
    "trace_qr",
    "stations",
    "station",
    "payment_notify",
    "refund_notify",
    "transfer_notify",
}
# Answered in WeChat Pay's shape, not the API's error shape.
WECHAT_ANSWERS = {"payment_notify", "refund_notify", "transfer_notify"}


def _expected(route: str, role: str) -> int:
    _, _, _, special, default = MATRIX[route]
    if role == "anonymous" and route not in PUBLIC:
        return 401
    return special.get(role, default)


def _fill(value, ids, people):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids, people) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids, people) for v in value]
    return value


@pytest.mark.parametrize("route", sorted(MATRIX))
def test_permission_matrix(client, world, route, request):
    """Every role on the route. A call that is refused writes nothing, so the refused calls and
    the reads share one scene; each call that succeeds in changing something gets a fresh scene
    of its own (and a refused call that did write shows up as a later role's surprise)."""
    if route in WECHAT_PAY:
        request.getfixturevalue("pay")
    method = MATRIX[route][0]
    changes = [
        role
        for role in ROLES
        if method != "GET" and HTTPStatus.OK <= _expected(route, role) < HTTPStatus.BAD_REQUEST
    ]
    shared = build_scene(world, route)
    for role in ROLES:
        if role not in changes:
            _call(client, shared, route, role)
    for role in changes:
        _call(client, build_scene(world, route), route, role)


def _call(client, scene, route: str, role: str) -> None:
    people, ids = scene
    method, path, body, _, _ = MATRIX[route]
    payload = _fill(body(), ids, people) if body else None
    if route == "record_consent" and payload:
        payload["helper_user_id"] = people["helper"].id
    if route == "open_shop":
        payload["household_id"] = int(payload["household_id"])
    if route == "hand_in":
        payload["shop_order_id"] = int(payload["shop_order_id"])
    if route == "ship_together":
        payload["shop_order_ids"] = [int(i) for i in payload["shop_order_ids"]]
    if route == "place_order":
        payload = {"lines": [{"sku_id": ids["K"], "quantity": 1}], "address_id": ids["A"]}
    person = people[role]
    headers = person.headers if person else {}
    if route in IDEMPOTENT:
        headers = headers | {"Idempotency-Key": f"matrix-{role}"}
    response = client.open(path.format(**ids), method=method, json=payload, headers=headers)
    expected = _expected(route, role)
    assert response.status_code == expected, (route, role, response.get_data(as_text=True))
    if expected >= 400 and route not in WECHAT_ANSWERS:
        assert_error(response, expected, CODES.get((route, role)))
    if route in UNMASKED:
        answer = json.dumps(response.get_json(), ensure_ascii=False)
        for value in _unmasked(client.application, ids, UNMASKED[route]):
            assert value not in answer, (route, role, value)
    if expected == 200:
        _shows(client.application, route, ids, response)


def _unmasked(app, ids, kinds) -> list[str]:
    values = []
    if "head" in kinds:
        values += funds.head_of(app, ids["HM"])
    if "delivery" in kinds:
        values += funds.buyer_of(app, ids["OM"])
    if "account" in kinds:
        values += [funds.ACCOUNT_NUMBER, funds.ACCOUNT_DIGITS]
    return values


def _shows(app, route: str, ids, response) -> None:
    """What the right reader of a money route sees: H's own money, U's own purchase, the
    beneficiary masked (so the checks above look at a real answer), the account in the file."""
    if route == "balance":
        assert response.json["household_id"] == ids["HM"]
        assert response.json["available_fen"] == 4500, response.json
    if route == "ledger":
        items = response.json["items"]
        assert items and {e["order_id"] for e in items} == {ids["OM"]}, items
    if route == "beneficiaries":
        head, _ = funds.head_of(app, ids["HM"])
        [item] = response.json["items"]
        assert item["name_masked"] == head[0] + "*" * (len(head) - 1), item
        assert item["amount_credited_fen"] == 4500, item
    if route == "unit_totals":
        assert response.json["unit_id"] == ids["UM"]
        assert response.json["bought_fen"] == response.json["credited_fen"] == 4500
        assert response.json["households_reached"] == 1
    if route == "household_payouts":
        assert [p["id"] for p in response.json["items"]] == [ids["PO"]], response.json
    if route == "payout_batch_file":
        assert funds.ACCOUNT_DIGITS in response.get_data(as_text=True)


def _seller(world, staff, catalog, village: str):
    """A household of the village with an approved shop and a listed box of eggs (4500 fen):
    (household, its farmer, the SKU)."""
    household = world.household(village=village, by=staff)
    farmer = world.farmer(household)
    shop = world.shop(household, by=farmer, approve_by=staff)
    listed = catalog.listed(shop, farmer, staff)
    with world.app.app_context():
        return household, farmer, db.session.get(Product, listed).skus[0].id


def test_a_household_sees_only_its_own_money(client, world):
    """Two households of one county, each with a sale completed and a bank payout asked for:
    each sees its own balance, entries and payouts (entries of its own parts only, summing to
    its balance), and the other's money is not found."""
    staff = world.staff(GUZHEN)
    catalog = Catalog(world)
    buyer = world.user("买家")
    address = funds.address(world.app, buyer)
    sellers = []
    for boxes, village in ((1, VILLAGE_A), (3, VILLAGE_B)):
        household, farmer, sku = _seller(world, staff, catalog, village)
        _, part = funds.completed_sale(
            world.app, buyer=buyer, address_id=address, farmer=farmer, sku_id=sku, quantity=boxes
        )
        funds.bank_account(world.app, staff, household)
        payout = funds.bank_payout(world.app, farmer, household, 1000 * boxes)
        sellers.append((household, farmer, part, payout, 4500 * boxes))
    sums = {"escrow": "pending_fen", "payable": "available_fen", "in_flight": "in_flight_fen"}
    for (household, farmer, part, payout, sold), other in zip(
        sellers, reversed(sellers), strict=True
    ):
        api = f"/api/v1/households/{household}"
        balance = client.get(f"{api}/balance", headers=farmer.headers).json
        assert balance["available_fen"] == sold - sold // 4500 * 1000, balance
        assert balance["in_flight_fen"] == sold // 4500 * 1000, balance
        entries = client.get(f"{api}/ledger?limit=100", headers=farmer.headers).json["items"]
        assert {e["shop_order_id"] for e in entries} <= {part, None}, entries
        for account, field in sums.items():
            total = sum(e["amount_fen"] for e in entries if e["account"] == account)
            assert total == balance[field], (account, entries, balance)
        payouts = client.get(f"{api}/payouts", headers=farmer.headers).json["items"]
        assert [p["id"] for p in payouts] == [payout]
        assert client.get(f"/api/v1/payouts/{payout}", headers=farmer.headers).status_code == 200
        other_api, other_payout = f"/api/v1/households/{other[0]}", other[3]
        for path in ("balance", "ledger", "payouts"):
            assert_error(client.get(f"{other_api}/{path}", headers=farmer.headers), 404)
        assert_error(client.get(f"/api/v1/payouts/{other_payout}", headers=farmer.headers), 404)


def test_a_unit_sees_only_its_own_totals(client, world):
    """Two units buy from two households (one box, three boxes): each unit's people see what
    their unit bought and whom it reached, and the other unit's totals are not found."""
    staff = world.staff(GUZHEN)
    catalog = Catalog(world)
    units = Units(world)
    ours, our_admin = units.verified(staff=staff)
    theirs, their_admin = units.verified(region_code=SANGZHI, uscc=valid_uscc(county=SANGZHI))
    for (unit, admin), boxes, village in (
        ((ours, our_admin), 1, VILLAGE_A),
        ((theirs, their_admin), 3, VILLAGE_B),
    ):
        _, farmer, sku = _seller(world, staff, catalog, village)
        address = funds.address(world.app, admin)
        funds.completed_sale(
            world.app,
            buyer=admin,
            address_id=address,
            farmer=farmer,
            sku_id=sku,
            quantity=boxes,
            unit_id=unit,
        )
    for (unit, admin, boxes), (other, _, _) in itertools.permutations(
        ((ours, our_admin, 1), (theirs, their_admin, 3))
    ):
        totals = client.get(f"/api/v1/units/{unit}/totals", headers=admin.headers).json
        assert totals["unit_id"] == unit
        assert totals["bought_fen"] == totals["credited_fen"] == 4500 * boxes, totals
        assert (totals["households_reached"], totals["villages_reached"]) == (1, 1), totals
        assert_error(client.get(f"/api/v1/units/{other}/totals", headers=admin.headers), 404)


def test_every_api_route_is_in_the_matrix(app):
    """A new route without its row here fails this test."""
    covered = {
        (
            method,
            path.split("?")[0]
            .replace("{S2}", "<int:shop_id>")
            .replace("{P}", "<int:product_id>")
            .replace("{D}", "<int:product_id>")
            .replace("{L}", "<int:product_id>")
            .replace("{K}", "<int:sku_id>")
            .replace("{T}", "<trace_code>")
            .replace("{H}", "<int:household_id>")
            .replace("{S}", "<int:shop_id>")
            .replace("{C}", "<int:consent_id>")
            .replace("{F}", "<int:user_id>")
            .replace("{UP}", "<int:unit_id>")
            .replace("{U}", "<int:unit_id>")
            .replace("{M}", "<int:user_id>")
            .replace("{Y}", "<int:year>")
            .replace("{A}", "<int:address_id>")
            .replace("{O}", "<int:order_id>")
            .replace("{OR}", "<int:order_id>")
            .replace("{RF}", "<int:refund_id>")
            .replace("{SO}", "<int:shop_order_id>")
            .replace("{ST}", "<int:station_id>")
            .replace("{LB}", "<string(maxlength=16):code>")
            .replace("{BC}", "<string(maxlength=16):code>")
            .replace("{HM}", "<int:household_id>")
            .replace("{OM}", "<int:order_id>")
            .replace("{UM}", "<int:unit_id>")
            .replace("{PO}", "<int:payout_id>")
            .replace("{BL}", "<int:line_id>")
            .replace("{B}", "<int:batch_id>")
            .replace(GUZHEN, "<county_code>"),
        )
        for method, path, *_ in MATRIX.values()
    }
    exempt = {
        ("POST", "/api/v1/auth/wechat-login"),
        ("POST", "/api/v1/auth/dev-login"),
        ("POST", "/api/v1/auth/staff-login"),
    }
    routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes - exempt <= covered, sorted(routes - exempt - covered)
