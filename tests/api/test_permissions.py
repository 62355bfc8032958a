"""The permission matrix: every route × every role, on objects of one's own and of others.

Anonymous → 401; a role the route is not for → 403; someone else's object → 404 (its existence
is not revealed); the right person → 2xx.
"""

from __future__ import annotations

import itertools

import pytest

from models import Product, db
from models.enums import ConsentPurpose, Role
from tests.factories import (
    GUZHEN,
    SANGZHI,
    VILLAGE_A,
    VILLAGE_B,
    Catalog,
    assert_error,
    sangzhi_village,
    valid_id_number,
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
    "unit_admin",
    "station_operator",
]
_seq = itertools.count(1)


@pytest.fixture
def scene(world):
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
    people = {
        "anonymous": None,
        "buyer": world.user("买家"),
        "farmer": farmer,
        "other_farmer": other_farmer,
        "helper": helper,
        "consented_helper": consented_helper,
        "far_helper": world.helper(sangzhi_village()),
        "staff": staff,
        "other_staff": world.staff(SANGZHI),
        "admin": world.admin(),
        "unit_admin": world.grant(world.user(), Role.UNIT_ADMIN, unit_id=1),
        "station_operator": world.grant(world.user(), Role.STATION_OPERATOR, station_id=1),
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
    }
    return people, ids


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
    "reveal_id_number": (
        "GET",
        "/api/v1/admin/households/{H}/id-number?reason=核对身份",
        None,
        {"staff": 200, "other_staff": 404, "admin": 403},
        403,
    ),
}

# Public routes answer everyone; all others refuse anonymous callers with 401.
PUBLIC = {"regions", "catalog_list", "catalog_product", "catalog_shop", "trace", "trace_qr"}


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
    return value


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", sorted(MATRIX))
def test_permission_matrix(client, scene, route, role):
    people, ids = scene
    method, path, body, _, _ = MATRIX[route]
    payload = _fill(body(), ids, people) if body else None
    if route == "record_consent" and payload:
        payload["helper_user_id"] = people["helper"].id
    if route == "open_shop":
        payload["household_id"] = int(payload["household_id"])
    person = people[role]
    headers = person.headers if person else {}
    response = client.open(path.format(**ids), method=method, json=payload, headers=headers)
    expected = _expected(route, role)
    assert response.status_code == expected, (route, role, response.json)
    if expected >= 400:
        assert_error(response, expected)


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
            .replace("{F}", "<int:user_id>"),
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
