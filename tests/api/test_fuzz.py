"""Property-based fuzzing of every operation in /api/openapi.json (schemathesis, in-process WSGI).

Three stages, all with every schemathesis check (server errors, response schema, documented
status codes, content type, response headers, negative data rejected, positive data accepted,
missing required header, ignored auth, unsupported methods, ...):

- ``test_fuzz``: random valid and invalid requests to each operation, each sent as one of the
  seeded identities (every role, or none), half the time with its {id}s pointing at real rows;
- ``test_coverage``: schemathesis' deterministic boundary cases (lengths, bounds, missing and
  wrong-typed values, undocumented methods) for each operation;
- ``test_stateful``: sequences that follow the links between operations (create → get → update);
- two self-tests: a planted 500 and a planted schema violation must fail the harness.

``make test`` runs them with FUZZ_EXAMPLES (default 20) examples per operation; ``make fuzz``
with 500. See tests/README.md for replaying a failure and extending the seeded objects.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import hypothesis
import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis.stateful import initialize
from PIL import Image
from schemathesis.core import NotSet
from schemathesis.core.failures import FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import missing_required_header, positive_data_acceptance
from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from api.app import create_app
from api.schemas.media import IMAGE_TYPES
from api.v1 import auth as auth_views
from models import Product, User, db
from models.enums import ConsentPurpose, Role
from services import accounts, households
from services import regions as regions_service
from services.demo import demo_id_number
from services.errors import InvalidInput
from services.regions import SEED_FILE
from services.uscc import ALPHABET as USCC_ALPHABET
from services.uscc import check_character, normalise_uscc
from tests import permissions_money as funds
from tests.database import allow_ledger_erase
from tests.factories import (
    GUZHEN,
    SANGZHI,
    SANGZHI_VILLAGE,
    VILLAGE_A,
    VILLAGE_B,
    Catalog,
    Units,
    World,
    valid_uscc,
)

pytestmark = pytest.mark.fuzz

# Generated examples per operation: small in `make test`, FUZZ_EXAMPLES=500 in `make fuzz`.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or 20)
# A fixed seed makes every run (and CI) try the same cases; FUZZ_SEED=<n> explores others.
SEED = int(os.environ.get("FUZZ_SEED") or 20240601)

ANONYMOUS = "anonymous"
ROLES = tuple(
    role.value
    for role in (
        Role.FARMER,
        Role.HELPER,
        Role.BUYER,
        Role.UNIT_ADMIN,
        Role.COUNTY_STAFF,
        Role.STATION_OPERATOR,
        Role.PLATFORM_ADMIN,
    )
)
IDENTITIES = (ANONYMOUS, *ROLES)

# Rules no schema can state, which the API answers with 422 and a stable code. A request the
# spec calls valid may still break them, so these answers to it are right, not failures; any
# other 422 to a valid request is one. Keyed by operation, then "code" or "code:field".
SEMANTIC_422 = {
    "POST /api/v1/households/{household_id}/consents": {
        # A relation between two rows: the user must be a helper covering this household.
        "not_a_helper",
        # A comparison with the clock: the expiry must be later than now.
        "invalid_consent_expiry",
    },
    "POST /api/v1/households/join": {
        # Only the database knows which 8-digit codes name a live invite.
        "invalid_invite_code",
    },
    # Only the database knows which photos and SKUs exist (and whose they are); spec names
    # must be unique within a listing, which JSON Schema cannot say of one field.
    "POST /api/v1/shops/{shop_id}/products": {
        "unknown_media",
        "unknown_sku",
        "duplicate_spec",
        "duplicate_photo",
    },
    "PATCH /api/v1/products/{product_id}": {
        "unknown_media",
        "unknown_sku",
        "duplicate_spec",
        "duplicate_photo",
    },
    # A draft may be saved half-done; only a complete one can be submitted.
    "POST /api/v1/products/{product_id}/submit": {"incomplete_listing"},
    # A well-formed code may name no region; a cursor is opaque and may be forged or stale.
    "GET /api/v1/catalog/products": {"invalid_region_code", "invalid_cursor"},
    "GET /api/v1/admin/moderation/queue": {"invalid_cursor"},
    # Buying: only the database knows which SKUs, addresses and keys exist and whose they are;
    # a SKU may appear once in an order or cart, which JSON Schema cannot say of a list.
    "POST /api/v1/me/addresses": {"address_region", "too_many_addresses"},
    "PATCH /api/v1/me/addresses/{address_id}": {"address_region"},
    "PUT /api/v1/cart": {"unknown_sku", "duplicate_line"},
    "POST /api/v1/orders": {
        "address_not_found",
        "duplicate_line",
        "invoice_needs_unit",
        "order_too_large",
        "idempotency_key_invalid",
        "idempotency_key_reused",
    },
    "GET /api/v1/orders": {"invalid_cursor"},
    "GET /api/v1/admin/orders": {"invalid_cursor"},
    "GET /api/v1/shops/{shop_id}/orders": {"invalid_cursor"},
    # Which methods an order can take depends on the order and the deployment.
    "POST /api/v1/orders/{order_id}/pay": {
        "payment_method_unavailable",
        "wechat_identity_required",
        "transfer_for_units",
    },
    "POST /api/v1/admin/orders/{order_id}/record-transfer": {
        "transfer_for_units",
        "transfer_amount_mismatch",
    },
    # Work units: only the database knows which member codes are live; a cursor may be forged.
    "POST /api/v1/units/join": {"invalid_invite_code"},
    "GET /api/v1/admin/units": {"invalid_cursor"},
    "POST /api/v1/units": {"invalid_region_code"},
    "PATCH /api/v1/units/{unit_id}": {"invalid_region_code"},
    # Stations: a well-formed code may name no region, or one of the wrong level for the kind;
    # an edit must change something.
    "GET /api/v1/stations": {"invalid_region_code", "invalid_cursor"},
    "POST /api/v1/admin/stations": {"invalid_region_code", "station_region"},
    "PATCH /api/v1/admin/stations/{station_id}": {
        "invalid_region_code",
        "station_region",
        "validation_error:json",
    },
    # The fulfilment chain: only the database knows which stations, ShopOrders, batches and
    # photos exist, and which goods are cold-chain; an express parcel needs its tracking number
    # (the spec cannot tie two fields to a third's value).
    "POST /api/v1/shop-orders/{shop_order_id}/accept": {"unknown_station"},
    "POST /api/v1/shop-orders/{shop_order_id}/ship": {
        "tracking_required",
        "cold_chain_record_required",
    },
    "POST /api/v1/stations/{station_id}/hand-ins": {
        "unknown_shop_order",
        "unknown_photo",
        "cold_chain_record_required",
    },
    "POST /api/v1/stations/{station_id}/inspections": {
        "unknown_batch",
        "unknown_photo",
        "reason_required",
    },
    "POST /api/v1/stations/{station_id}/shipments": {
        "unknown_shop_order",
        "shipment_mixed",
        "tracking_required",
        "cold_chain_record_required",
    },
    "GET /api/v1/admin/shop-orders/overdue": {"invalid_cursor"},
    "GET /api/v1/admin/shipping-uploads": {"invalid_cursor"},
    # Money: a WeChat transfer needs WeChat Pay on and the asker's WeChat identity, and is at
    # least 10 fen (the schema's least, 1 fen, is a bank payout's); an account number may
    # match the pattern and still have too few digits once its spaces and dashes are gone;
    # keys and cursors are the database's.
    "POST /api/v1/households/{household_id}/payouts": {
        "payout_too_small",
        "payout_channel_unavailable",
        "wechat_identity_required",
        "idempotency_key_invalid",
        "idempotency_key_reused",
    },
    "PUT /api/v1/households/{household_id}/bank-account": {"invalid_bank_account"},
    "GET /api/v1/households/{household_id}/ledger": {"invalid_cursor"},
    "POST /api/v1/admin/payout-batches": {"idempotency_key_invalid", "idempotency_key_reused"},
}
# Operations that reach WeChat Pay: fuzzed with it on (its fake), so the transfer path is too.
WECHAT_PAY = {
    "POST /api/v1/households/{household_id}/payouts",
    "POST /api/v1/payments/wechat/transfer-notify",
}

# Custom formats of the spec (api/schemas/households.py), so that valid cases are real: a
# village of the region table, a resident ID number with its check character.
with SEED_FILE.open(encoding="utf-8") as _fh:
    _REGIONS = list(csv.DictReader(_fh))
VILLAGES = sorted(r["code"] for r in _REGIONS if r["level"] == "village")
COUNTIES = sorted(r["code"] for r in _REGIONS if r["level"] == "county")
schemathesis.openapi.format("village-code", st.sampled_from(VILLAGES))
# A unified social credit code with its check character (services/uscc.py): 91 (a firm) or
# 12 (a public institution) or N2 (a village collective), a real county, 9 characters.
schemathesis.openapi.format(
    "uscc",
    st.builds(
        lambda head, county, body: (head + county + body) + check_character(head + county + body),
        st.sampled_from(("91", "12", "N2")),
        st.sampled_from(COUNTIES),
        st.text(alphabet=USCC_ALPHABET, min_size=9, max_size=9),
    ),
)
schemathesis.openapi.format(
    "resident-id",
    st.builds(
        lambda county, born, seq: demo_id_number(county, f"{born:%Y%m%d}{seq:03d}"),
        st.sampled_from(COUNTIES),
        st.dates(min_value=date(1930, 1, 1), max_value=date(2008, 12, 31)),
        st.integers(min_value=0, max_value=999),
    ),
)

# Uploads (POST /api/v1/media): the spec's encoding says the "file" part is an image of these
# types, so a valid part is a real image (small, any size and colour), and the success path is
# fuzzed; its byte-level refusals (415, 422) are tested in tests/media/test_upload_api.py.
_PIL_SAVE = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/heic": "HEIF"}


def _encoded(fmt: str, size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, fmt)
    return buf.getvalue()


for _type in IMAGE_TYPES.split(", "):
    schemathesis.openapi.media_type(
        _type,
        st.builds(
            _encoded,
            st.just(_PIL_SAVE[_type]),
            st.tuples(st.integers(1, 64), st.integers(1, 64)),
            st.tuples(*[st.integers(0, 255)] * 3),
        ),
    )


@pytest.fixture(autouse=True)
def _uploads_unthrottled(app, monkeypatch):
    """Examples are many and user ids repeat between operations: lift the per-user limit."""
    monkeypatch.setitem(app.config, "MEDIA_UPLOAD_RATE_LIMIT", "100000 per minute")


# --- the seeded world -----------------------------------------------------------------------


@dataclass
class FuzzWorld:
    """Users with a token for every role, and rows the {id} paths can point at."""

    app: object
    user_ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    # Related rows, by parameter name: {"household_id": 1, "shop_id": 1, "consent_id": 1,
    # "helper_user_id": 3, "code": "12345678"} (a helper of the household, a member invite).
    bundles: list[dict[str, int | str]] = field(default_factory=list)

    def fresh_token(self, identity: str) -> str:
        """A new token for the identity's user, for a call that revokes the token it carries."""
        with self.app.app_context():
            raw, _ = accounts.issue_token(db.session.get(User, self.user_ids[identity]), "dev")
            db.session.commit()
            return raw

    def auth_headers(self, case, identity: str) -> dict[str, str]:
        """The identity's Authorization header, unless the case is about a bad or missing one."""
        negative_header = case.meta and case.meta.is_negative_at(ParameterLocation.HEADER)
        if identity == ANONYMOUS or negative_header:
            return {}
        revokes = case.method.upper() == "POST" and case.path.endswith("/auth/logout")
        token = self.fresh_token(identity) if revokes else self.tokens[identity]
        return {"Authorization": f"Bearer {token}"}

    def point_at_rows(self, case, bundle: int | None) -> dict[str, object]:
        """Aim the case's ids (path parameters, and body fields of the same names: a household,
        a helper, an invite code) at the rows of ``bundle``, unless they are what it made
        invalid."""
        if bundle is None:
            return {}
        rows, meta, seeded = self.bundles[bundle], case.meta, {}
        if case.path_parameters and not (meta and meta.is_negative_at(ParameterLocation.PATH)):
            path = {k: v for k, v in rows.items() if k in case.path_parameters}
            case.path_parameters.update(path)
            seeded |= path
        if isinstance(case.body, dict) and not (
            meta and meta.is_negative_at(ParameterLocation.BODY)
        ):
            body = {k: v for k, v in rows.items() if k in case.body}
            case.body.update(body)
            seeded |= {f"body.{k}": v for k, v in body.items()}
        return seeded


BUNDLES = 4


def _invite(app, by, household_id: int) -> str:
    """A member invitation code of the household (for POST /households/join)."""
    with app.app_context():
        code, _ = households.create_member_invite(db.session.get(User, by.id), household_id)
        return code


def _buyer_order(app, buyer, product_id: int) -> tuple[int, int]:
    from services import addresses, orders
    from services.idempotency import Idempotency
    from services.orders import Line

    with app.app_context():
        user = db.session.get(User, buyer.id)
        address = addresses.add_address(
            user, name="买家", phone="13805520009", region_code=VILLAGE_A, detail="食堂"
        )
        sku_id = db.session.get(Product, product_id).skus[0].id
        order = orders.place_order(
            user,
            lines=[Line(sku_id, 1)],
            address_id=address.id,
            idempotency=Idempotency.of("fuzz-seed", "order.create", {"seed": 1}),
        )
        return address.id, order.id


def _paid_part(app, buyer, product_id: int, address_id: int) -> int:
    """A ShopOrder of an order the buyer placed and paid (dev method)."""
    from models.enums import PaymentMethod
    from services import orders, payments
    from services.idempotency import Idempotency
    from services.orders import Line

    with app.app_context():
        user = db.session.get(User, buyer.id)
        sku_id = db.session.get(Product, product_id).skus[0].id
        order = orders.place_order(
            user,
            lines=[Line(sku_id, 1)],
            address_id=address_id,
            idempotency=Idempotency.of(
                f"fuzz-paid-{sku_id}-{os.urandom(4).hex()}", "order.create", {}
            ),
        )
        payments.pay_order(user, order, method=PaymentMethod.DEV)
        return order.shop_orders[0].id


def _handed_in(app, farmer, operator, station_id: int, shop_order_id: int) -> str:
    """The ShopOrder accepted and handed in at the station: its batch's trace code."""
    from services import fulfilment

    with app.app_context():
        fulfilment.accept(db.session.get(User, farmer.id), shop_order_id)
        batch = fulfilment.hand_in(
            db.session.get(User, operator.id),
            station_id,
            shop_order_id=shop_order_id,
            weight_g=1000,
            count=1,
            grade="一级",
        )
        return batch.code


def _first_sku(app, product_id: int) -> int:
    with app.app_context():
        return db.session.get(Product, product_id).skus[0].id


def seed_world(app) -> FuzzWorld:
    """One user per role, and four households: a verified one with an approved shop, a
    consent for the helper and money (a completed sale, a bank account, a bank payout in the
    county's batch), a pending one (registered by the helper), a verified one with a shop
    waiting for review, and one in another county (out of most scopes)."""
    world = World(app)
    fuzz = FuzzWorld(app)
    staff = world.staff()
    helper = world.helper(VILLAGE_A)
    people = {
        Role.COUNTY_STAFF.value: staff,
        Role.PLATFORM_ADMIN.value: world.admin(),
        Role.HELPER.value: helper,
        Role.BUYER.value: world.user("买家"),
    }
    # The county's network: a village point where the operator works, and its county centre.
    from tests.stations import Stations

    network = Stations(world)
    village_point = network.create(staff, kind="village_point", region_code=VILLAGE_A)
    centre = network.create(staff, kind="county_centre", region_code=VILLAGE_A[:6])
    people[Role.STATION_OPERATOR.value] = network.operator(village_point)
    # Work units: the unit admin's two (one verified, with a member; one waiting for review in
    # the staff member's county), and one of another admin in another county.
    units = Units(world)
    unit, people[Role.UNIT_ADMIN.value] = units.verified(by=world.user("单位采购"), staff=staff)
    unit_member = units.member(unit, people[Role.UNIT_ADMIN.value])
    pending_unit, _ = units.register(by=people[Role.UNIT_ADMIN.value])
    far_unit, _ = units.verified(region_code=SANGZHI, uscc=valid_uscc(county=SANGZHI))
    own = world.household(village=VILLAGE_A, by=staff)
    catalog = Catalog(world)
    people[Role.FARMER.value] = world.farmer(own)
    consent = world.consent(own, helper, *ConsentPurpose, by=staff)
    shop = world.shop(own, by=people[Role.FARMER.value], approve_by=staff)
    listed = catalog.listed(shop, people[Role.FARMER.value], staff)
    # Money, first (the deadline job that completes the sale moves every part that is due):
    # the unit admin buys two boxes for the unit, taken through the village point and the
    # county centre and completed, so the household has 9000 fen; its bank account is on
    # file, and it asked for 1000 by bank, the one line of the county's batch. 8000 stay
    # available, under the batch threshold, for the payouts the fuzzer asks for.
    unit_admin = people[Role.UNIT_ADMIN.value]
    sold_order, _ = funds.completed_sale(
        app,
        buyer=unit_admin,
        address_id=funds.address(app, unit_admin),
        farmer=people[Role.FARMER.value],
        sku_id=_first_sku(app, listed),
        quantity=2,
        unit_id=unit,
        stations=funds.Stations(
            village_point,
            people[Role.STATION_OPERATOR.value],
            centre,
            network.operator(centre),
        ),
    )
    funds.bank_account(app, staff, own)
    payout_id = funds.bank_payout(app, people[Role.FARMER.value], own, 1000)
    payout_batch, lines = funds.batch(app, staff, GUZHEN)
    assert lines == [payout_id], lines
    pending = world.household(village=VILLAGE_A, by=helper)
    waiting = world.household(village=VILLAGE_B, by=staff)
    waiting_helper = world.helper(VILLAGE_B)
    waiting_consent = world.consent(waiting, waiting_helper, by=staff)
    waiting_farmer = world.farmer(waiting)
    waiting_shop = world.shop(waiting, by=waiting_farmer)
    far_staff = world.staff(SANGZHI)
    far = world.household(village=SANGZHI_VILLAGE, by=far_staff)
    far_helper = world.helper(SANGZHI_VILLAGE)
    far_consent = world.consent(far, far_helper, by=far_staff)
    far_shop = world.shop(far)
    # The buyer's address and an unpaid order of theirs, so pay, cancel and the order views
    # can reach their success path.
    address_id, order_id = _buyer_order(app, people[Role.BUYER.value], listed)
    # A listing waiting for review, so approve and reject can reach their success path.
    pending_product = catalog.submitted(waiting_shop, waiting_farmer)
    # A paid ShopOrder waiting for the farmer, and one handed in at the village point (its
    # batch for the inspections), so the acts of the chain can reach their success paths.
    waiting_part = _paid_part(app, people[Role.BUYER.value], listed, address_id)
    batch_code = _handed_in(
        app,
        people[Role.FARMER.value],
        people[Role.STATION_OPERATOR.value],
        village_point,
        _paid_part(app, people[Role.BUYER.value], listed, address_id),
    )
    with app.app_context():
        product = db.session.get(Product, listed)
        sku, trace_code = product.skus[0].id, product.trace_code
    for household_id, shop_id, consent_id, helper_id, county_staff, product_id, unit_id, order in (
        (own, shop, consent, helper.id, staff, listed, unit, order_id),
        # The order with a completed part: who it reached, and paid-order refusals.
        (pending, shop, consent, helper.id, staff, listed, pending_unit, sold_order),
        (
            waiting,
            waiting_shop,
            waiting_consent,
            waiting_helper.id,
            staff,
            pending_product,
            unit,
            order_id,
        ),
        (far, far_shop, far_consent, far_helper.id, far_staff, listed, far_unit, order_id),
    ):
        fuzz.bundles.append(
            {
                "household_id": household_id,
                "shop_id": shop_id,
                "consent_id": consent_id,
                "helper_user_id": helper_id,
                "code": _invite(app, county_staff, household_id),
                "product_id": product_id,
                "sku_id": sku,
                "trace_code": trace_code,
                "address_id": address_id,
                "order_id": order,
                "unit_id": unit_id,
                "user_id": unit_member.id,
                "year": 2026,
                "station_id": centre if unit_id == pending_unit else village_point,
                "shop_order_id": waiting_part,
                "shop_order_ids": [waiting_part],
                "batch_code": batch_code,
                "county_code": SANGZHI if county_staff is far_staff else GUZHEN,
                "payout_id": payout_id,
                "batch_id": payout_batch,
                "line_id": payout_id,
            }
        )
    assert len(fuzz.bundles) == BUNDLES
    for identity, person in people.items():
        fuzz.user_ids[identity] = person.id
        fuzz.tokens[identity] = person.token
    return fuzz


# --- the schema -----------------------------------------------------------------------------


def _served_spec() -> dict:
    """The spec as the app serves it, read at collection time (before any fixture exists).

    schemathesis' fixture-based loader (``schemathesis.pytest.from_fixture``) renames pytest
    nodes through ``Node._nodeid``, which pytest 9.2 no longer has; a schema loaded at import
    time gives one pytest item per operation instead, and every call goes to the fixture's app.
    """
    saved = os.environ.get("INSTANCE_PATH")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["INSTANCE_PATH"] = tmp
        try:
            app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
            return app.test_client().get("/api/openapi.json").get_json()
        finally:
            if saved is None:
                os.environ.pop("INSTANCE_PATH", None)
            else:
                os.environ["INSTANCE_PATH"] = saved


class _FixtureApp:
    """The WSGI app every call (and every re-sending check) goes to: the ``app`` fixture's."""

    target = None

    def __call__(self, environ, start_response):
        return self.target(environ, start_response)


APP = _FixtureApp()


def _load_schema(spec: dict, *, phases: tuple[str, ...]):
    schema = schemathesis.openapi.from_dict(spec)
    schema.app = APP
    schema.config.seed = SEED
    schema.config.generation.update(max_examples=EXAMPLES)
    for name in ("examples", "coverage", "fuzzing", "stateful"):
        getattr(schema.config.phases, name).enabled = name in phases
    return schema


SPEC = _served_spec()
fuzz_schema = _load_schema(SPEC, phases=("fuzzing",))
coverage_schema = _load_schema(SPEC, phases=("examples", "coverage"))
stateful_schema = _load_schema(SPEC, phases=("stateful",))

SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    # The seeded rows are made once per operation, on purpose, and shared by all its examples.
    # A body of several patterned fields (an address: name, phone, detail) is slow to generate
    # and trips the filter check depending on what else Hypothesis draws from: how well an
    # operation is reached is reported by the summary ("never a 2xx"), not by a health check.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
    print_blob=True,
)

# (test, operation, status) of every checked response, for the summary printed at the end.
STATUSES: Counter[tuple[str, str, int]] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _summary(request):
    yield
    if not STATUSES:
        return
    operations = {label for _, label, _ in STATUSES}
    reached = {label for _, label, status in STATUSES if 200 <= status < 300}
    by_test, by_status = Counter(), Counter()
    for (test, _, status), n in STATUSES.items():
        by_test[test] += n
        by_status[status] += n
    lines = [
        f"fuzz: {len(operations)} operations, {sum(STATUSES.values())} checked requests "
        f"{dict(by_test)} (FUZZ_EXAMPLES={EXAMPLES}, FUZZ_SEED={SEED}), "
        f"a 2xx on {len(reached)} operations; statuses {dict(sorted(by_status.items()))}"
    ]
    if unreached := sorted(operations - reached):
        lines.append(f"fuzz: never a 2xx: {', '.join(unreached)}")
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            for line in lines:
                reporter.write_line(line)


@pytest.fixture(autouse=True)
def _database_entry_per_operation(request):
    """Give each operation its own entry in Hypothesis' database of failing examples.

    Hypothesis keys the entry by test function, and schemathesis builds every operation's test
    from the same one: they would share an entry, replay each other's failures as noise, and
    delete them when they pass. (schemathesis' CLI does the same per operation.)
    """
    handle = getattr(request.function, "hypothesis", None)
    if handle is not None:
        handle.inner_test._hypothesis_internal_add_digest = request.node.name.encode()


@pytest.fixture
def fuzz_world(app, request) -> FuzzWorld:
    APP.target = app
    if any(label in request.node.name for label in WECHAT_PAY):
        request.getfixturevalue("pay")
    return seed_world(app)


def _is_uscc(value: str) -> bool:
    try:
        normalise_uscc(value)
    except InvalidInput:
        return False
    return True


def _is_resident_id(value: str) -> bool:
    value = value.strip().upper()
    try:
        return (
            value[-1] == ric.calc_check_digit(value)
            and ric.get_birth_date(value) is not None
            and "county" in {k for _, props in numdb.get("cn/loc").info(value[:6]) for k in props}
        )
    except (ValidationError, ValueError, IndexError):
        return False


# What each custom format of the spec means. schemathesis generates them (above) but cannot
# check them: its coverage phase builds "valid" values from the pattern alone.
FORMATS = {
    "village-code": VILLAGES.__contains__,
    "resident-id": _is_resident_id,
    "uscc": _is_uscc,
}
FIELD_FORMATS = {
    name: prop["format"]
    for component in SPEC["components"]["schemas"].values()
    for name, prop in component.get("properties", {}).items()
    if prop.get("format") in FORMATS
}


def positive_data_acceptance_but_semantic_rules(ctx, response, case):
    """schemathesis' positive_data_acceptance, except for the 422s of SEMANTIC_422, and for
    "valid" cases whose values break a custom format of the spec (they are not valid)."""
    if response.status_code == 422:
        if isinstance(case.body, dict) and any(
            isinstance(value, str) and not FORMATS[FIELD_FORMATS[name]](value)
            for name, value in case.body.items()
            if name in FIELD_FORMATS
        ):
            return None
        allowed = SEMANTIC_422.get(case.operation.label, set())
        body = response.json()
        keys = {body.get("error")} | {f"{body.get('error')}:{f}" for f in body.get("errors") or {}}
        if keys & allowed:
            return None
    return positive_data_acceptance(ctx, response, case)


def missing_required_header_or_precondition(ctx, response, case):
    """schemathesis' missing_required_header, with 428 for a missing ``Idempotency-Key``: the
    status RFC 6585 gives a request that lacks a precondition the server requires."""
    if response.status_code == 428 and response.json().get("error") == "idempotency_key_required":
        return None
    return missing_required_header(ctx, response, case)


CHECKS = {
    "excluded_checks": [positive_data_acceptance, missing_required_header],
    "additional_checks": [
        positive_data_acceptance_but_semantic_rules,
        missing_required_header_or_precondition,
    ],
}


def call(stage: str, case, fuzz: FuzzWorld, identity: str, bundle: int | None):
    """Send the case as ``identity``, on the rows of ``bundle``, and run every check."""
    headers = fuzz.auth_headers(case, identity)
    seeded = fuzz.point_at_rows(case, bundle)
    try:
        response = case.call_and_validate(headers=headers, **CHECKS)
    except BaseException as exc:
        who = identity if headers else "the case's own Authorization header, if any"
        exc.add_note(f"sent as: {who}; path parameters aimed at seeded rows: {seeded or 'none'}")
        raise
    STATUSES[(stage, case.operation.label, response.status_code)] += 1
    return response


# --- the tests ------------------------------------------------------------------------------


@fuzz_schema.parametrize()
@fuzz_schema.given(
    identity=st.sampled_from(IDENTITIES),
    bundle=st.sampled_from((None, *range(BUNDLES))),
)
@SETTINGS
def test_fuzz(case, identity, bundle, fuzz_world):
    """Random valid and invalid requests, as a random identity, half the time on real rows."""
    call("fuzz", case, fuzz_world, identity, bundle)


@coverage_schema.parametrize()
@SETTINGS
def test_coverage(case, fuzz_world):
    """Boundary and missing-value cases of every parameter (schemathesis' coverage phase,
    which cannot take extra strategies): identity and rows follow from a hash of the case."""
    body = None if isinstance(case.body, NotSet) else case.body
    parts = [case.operation.label, case.path_parameters, case.query, case.headers, body]
    digest = zlib.crc32(json.dumps(parts, sort_keys=True, default=str).encode())
    identity = IDENTITIES[digest % len(IDENTITIES)]
    bundle = (digest >> 8) % (len(fuzz_world.bundles) + 1)
    call(
        "coverage",
        case,
        fuzz_world,
        identity,
        None if bundle == len(fuzz_world.bundles) else bundle,
    )


def _snapshot(app) -> list[tuple[object, list[dict]]]:
    """Every row of every table but the region seed (which no operation changes)."""
    with app.app_context():
        return [
            (table, [dict(row._mapping) for row in db.session.execute(table.select())])
            for table in db.metadata.sorted_tables
            if table.name != "regions"
        ]


def _restore(app, snapshot) -> None:
    """Put the database back as ``_snapshot`` saw it: rows made since are gone, rows changed
    since (an approved product, a suspended shop, a revoked consent) are as they were."""
    with app.app_context():
        allow_ledger_erase()
        for table, _ in reversed(snapshot):
            db.session.execute(table.delete())
        for table, rows in snapshot:
            if rows:
                db.session.execute(table.insert(), rows)
        db.session.commit()


def test_stateful(fuzz_world):
    """Sequences along the spec's links (e.g. POST /households → GET, PATCH, verify, consents):
    ids made by one call feed the next, so the fuzzer reaches rows it created itself."""
    seeded = _snapshot(fuzz_world.app)

    class Workflow(stateful_schema.as_state_machine()):
        identity = ANONYMOUS

        def teardown(self):
            # Each scenario starts from the seeded world. Otherwise what one scenario changed
            # decides which links the next can follow, and Hypothesis, replaying a choice
            # sequence, finds a different rule there (FlakyStrategyDefinition).
            _restore(fuzz_world.app, seeded)
            super().teardown()

        @initialize(identity=st.sampled_from(ROLES))
        def sign_in(self, identity):
            self.identity = identity

        def get_call_kwargs(self, case):
            return {"headers": fuzz_world.auth_headers(case, self.identity)}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            STATUSES[("stateful", case.operation.label, response.status_code)] += 1
            try:
                case.validate_response(
                    response,
                    headers=kwargs.get("headers"),
                    transport_kwargs=kwargs or None,
                    recorder=self.recorder,
                    **CHECKS,
                )
            except BaseException as exc:
                exc.add_note(f"sent as: {self.identity}")
                raise

    Workflow = hypothesis.seed(SEED)(Workflow)
    Workflow.run(
        settings=settings(
            Workflow.TestCase.settings,
            max_examples=EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
    )


# --- the harness itself ---------------------------------------------------------------------


def test_a_server_error_fails_the_run(fuzz_world, monkeypatch):
    """Plant a crash: the checks ``call`` runs must turn it into a failure."""

    def crash(*, parent):
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(regions_service, "list_regions", crash)
    case = fuzz_schema["/api/v1/regions"]["GET"].Case(query={"parent": "340323"})
    with pytest.raises(FailureGroup, match="Server error"):
        call("self-test", case, fuzz_world, Role.BUYER.value, None)


def test_a_schema_violation_fails_the_run(fuzz_world, monkeypatch):
    """Plant a response without a required field: the checks must refuse it."""
    real = auth_views.present_user

    def without_nickname(user):
        return {k: v for k, v in real(user).items() if k != "nickname"}

    monkeypatch.setattr(auth_views, "present_user", without_nickname)
    case = fuzz_schema["/api/v1/me"]["GET"].Case()
    with pytest.raises(FailureGroup, match="Response violates schema"):
        call("self-test", case, fuzz_world, Role.BUYER.value, None)
