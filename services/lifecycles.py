"""Every lifecycle of the product, as tables (the shape is in ``services/lifecycle.py``).

Read a table as: from this state, this action leads to that state, if the guard agrees, and
the audit trail calls it this event. A (state, action) pair that is not here is refused.
"""

from __future__ import annotations

from models import Product
from models.enums import (
    OrderStatus,
    PayoutState,
    ProductStatus,
    ReviewState,
    ShopOrderStatus,
    ShopStatus,
    UnitStatus,
)
from services.error_codes import OrderError, ProductError, ShopError
from services.lifecycle import Lifecycle, Transition, single_column

# --- shops ----------------------------------------------------------------------------------

S = ShopStatus


def _shop_rows():
    for status in (S.PENDING, S.APPROVED):
        yield Transition(status, "edit", status, "shop.update")
    yield Transition(S.REJECTED, "edit", S.PENDING, "shop.update")  # back to the county's queue
    yield Transition(S.PENDING, "approve", S.APPROVED, "shop.approve")
    yield Transition(S.SUSPENDED, "approve", S.APPROVED, "shop.approve")  # reinstated
    yield Transition(S.PENDING, "reject", S.REJECTED, "shop.reject")
    yield Transition(S.APPROVED, "suspend", S.SUSPENDED, "shop.suspend")


_read_status, _write_status = single_column("status")

SHOP = Lifecycle(
    name="shop",
    object_type="shop",
    initial=S.PENDING,
    states=frozenset(ShopStatus),
    transitions=_shop_rows(),
    read=_read_status,
    write=_write_status,
    refusals={"edit": ShopError.SHOP_SUSPENDED},
    label=lambda state: state.value,
)

# --- products -------------------------------------------------------------------------------
# A listing's state is two columns: its public status, and the review state of its draft (the
# edit beside the live content, see models/products.py). A listed product keeps selling while
# an edit of it is written, reviewed or refused.

P, R = ProductStatus, ReviewState
PRODUCT_STATES = frozenset(
    {
        (P.DRAFT, R.EDITING),  # never submitted
        (P.PENDING_REVIEW, R.PENDING),  # first submission, waiting
        (P.REJECTED, R.REJECTED),  # first submission refused
        (P.REJECTED, R.EDITING),  # ... and being fixed
        (P.LISTED, R.NONE),  # on sale, nothing pending
        (P.LISTED, R.EDITING),  # on sale, an edit being written
        (P.LISTED, R.PENDING),  # on sale, an edit waiting
        (P.LISTED, R.REJECTED),  # on sale, an edit refused
        (P.DELISTED, R.EDITING),  # off sale by the household
        (P.DELISTED, R.REJECTED),  # off sale, with a refused edit to fix
    }
)


def _shop_takes_listings(product: Product):
    return None if product.shop.accepts_listings else ShopError.SHOP_NOT_OPEN


def _product_rows():
    # Editing the draft: anything but a draft under review.
    for status, review in PRODUCT_STATES:
        if review != R.PENDING:
            yield Transition((status, review), "edit", (status, R.EDITING), "edit")
    # Submitting: a listed product stays on sale meanwhile; any other goes to the queue.
    for status, review in PRODUCT_STATES:
        if review in (R.EDITING, R.REJECTED):
            target = (P.LISTED, R.PENDING) if status == P.LISTED else (P.PENDING_REVIEW, R.PENDING)
            yield Transition((status, review), "submit", target, "submit", _shop_takes_listings)
    yield Transition((P.PENDING_REVIEW, R.PENDING), "approve", (P.LISTED, R.NONE), "approve")
    yield Transition((P.LISTED, R.PENDING), "approve", (P.LISTED, R.NONE), "approve")
    yield Transition((P.PENDING_REVIEW, R.PENDING), "reject", (P.REJECTED, R.REJECTED), "reject")
    yield Transition((P.LISTED, R.PENDING), "reject", (P.LISTED, R.REJECTED), "reject")
    # Delisting withdraws a pending edit with it: the draft is the household's again, and to
    # sell again it submits (unchanged or edited) and the county reviews it once more.
    for review in (R.NONE, R.EDITING, R.PENDING):
        yield Transition((P.LISTED, review), "delist", (P.DELISTED, R.EDITING), "delist")
    yield Transition((P.LISTED, R.REJECTED), "delist", (P.DELISTED, R.REJECTED), "delist")


def _read_product(product: Product):
    return (product.status, product.review_state)


def _write_product(product: Product, state) -> None:
    product.status, product.review_state = state


PRODUCT = Lifecycle(
    name="product",
    object_type="product",
    initial=(P.DRAFT, R.EDITING),
    states=PRODUCT_STATES,
    transitions=_product_rows(),
    read=_read_product,
    write=_write_product,
    refusals={"edit": ProductError.REVIEW_PENDING},
    label=lambda state: f"{state[0].value}/{state[1].value}",
)

# --- work units -----------------------------------------------------------------------------
# A unit's admin edits it in any state; a rejected unit, once corrected, goes back to the county.
# Verification and rejection are for county staff of its county or a platform admin.

U = UnitStatus


def _unit_rows():
    for status in (U.PENDING, U.VERIFIED):
        yield Transition(status, "edit", status, "unit.update")
    yield Transition(U.REJECTED, "edit", U.PENDING, "unit.update")  # back to the county's queue
    yield Transition(U.PENDING, "verify", U.VERIFIED, "unit.verify")
    yield Transition(U.PENDING, "reject", U.REJECTED, "unit.reject")


UNIT = Lifecycle(
    name="unit",
    object_type="unit",
    initial=U.PENDING,
    states=frozenset(UnitStatus),
    transitions=_unit_rows(),
    read=_read_status,
    write=_write_status,
    label=lambda state: state.value,
)

# Every lifecycle, for the test that walks them all. Orders, shop orders, payouts and
# campaigns join this list.
# --- orders ---------------------------------------------------------------------------------
# Moves that race (a notification and the expiry job, two notifications) are taken with one
# conditional UPDATE on the state (services/orders.py, services/payments.py); the table says
# which moves exist.

OS = OrderStatus
_NOT_STARTED = frozenset(
    {
        ShopOrderStatus.PENDING_PAYMENT,
        ShopOrderStatus.AWAITING_ACCEPTANCE,
        ShopOrderStatus.REJECTED,
        ShopOrderStatus.CANCELLED,
    }
)


def _nothing_accepted(order):
    if all(s.status in _NOT_STARTED for s in order.shop_orders):
        return None
    return OrderError.IN_FULFILMENT


ORDER = Lifecycle(
    name="order",
    object_type="order",
    initial=OS.PENDING_PAYMENT,
    states=frozenset(OrderStatus),
    transitions=(
        Transition(OS.PENDING_PAYMENT, "pay", OS.PAID, "order.pay"),
        Transition(OS.PENDING_PAYMENT, "cancel", OS.CANCELLED, "order.cancel"),
        Transition(OS.PENDING_PAYMENT, "expire", OS.EXPIRED, "order.expire"),
        # Before any farmer accepted a part; the money goes back (payments.refund_order).
        Transition(OS.PAID, "cancel", OS.CANCELLED, "order.cancel", _nothing_accepted),
    ),
    read=_read_status,
    write=_write_status,
    label=lambda state: state.value,
    final=frozenset({OS.CANCELLED, OS.EXPIRED}),
)

SO = ShopOrderStatus


def _shop_order_rows():
    yield Transition(SO.PENDING_PAYMENT, "pay", SO.AWAITING_ACCEPTANCE, "shop_order.pay")
    # The buyer cancels before the farmer accepts; staff cancel one that missed its deadline.
    for status in (SO.PENDING_PAYMENT, SO.AWAITING_ACCEPTANCE, SO.ACCEPTED):
        yield Transition(status, "cancel", SO.CANCELLED, "shop_order.cancel")
    yield Transition(SO.AWAITING_ACCEPTANCE, "accept", SO.ACCEPTED, "shop_order.accept")
    yield Transition(SO.AWAITING_ACCEPTANCE, "reject", SO.REJECTED, "shop_order.reject")
    yield Transition(SO.ACCEPTED, "hand_in", SO.HANDED_IN, "shop_order.hand_in")
    yield Transition(SO.HANDED_IN, "pass", SO.INSPECTED, "shop_order.inspect")
    yield Transition(SO.HANDED_IN, "fail", SO.INSPECTION_FAILED, "shop_order.inspect")
    # From the county centre after inspection, or by the farmer where direct shipping is
    # allowed (services/fulfilment.py decides who may).
    yield Transition(SO.INSPECTED, "ship", SO.SHIPPED, "shop_order.ship")
    yield Transition(SO.ACCEPTED, "ship", SO.SHIPPED, "shop_order.ship")
    yield Transition(SO.SHIPPED, "confirm", SO.DELIVERED, "shop_order.confirm")
    yield Transition(SO.SHIPPED, "auto_confirm", SO.DELIVERED, "shop_order.confirm")
    yield Transition(SO.DELIVERED, "complete", SO.COMPLETED, "shop_order.complete")


def _record_shop_order(machine, actor, shop_order, move, detail) -> None:
    # Imported here: the events module reads the models this table's guards never need.
    from services import shop_order_events

    shop_order_events.record_move(machine, actor, shop_order, move, detail)


SHOP_ORDER = Lifecycle(
    name="shop_order",
    object_type="shop_order",
    initial=SO.PENDING_PAYMENT,
    states=frozenset(ShopOrderStatus),
    transitions=_shop_order_rows(),
    read=_read_status,
    write=_write_status,
    label=lambda state: state.value,
    final=frozenset({SO.CANCELLED, SO.REJECTED, SO.INSPECTION_FAILED, SO.COMPLETED}),
    recorder=_record_shop_order,
)

# --- payouts ----------------------------------------------------------------------------------

PO = PayoutState
_read_state, _write_state = single_column("state")
_PAYOUT_OPEN = (PO.REQUESTED, PO.WAIT_USER_CONFIRM, PO.UNCLEAR)


def _payout_rows():
    # What WeChat (or the bank, through staff) says of an open payout, from any open state:
    # answers arrive in any order (a notification before the answer to the request itself).
    for status in _PAYOUT_OPEN:
        yield Transition(status, "await_confirmation", PO.WAIT_USER_CONFIRM, "payout.wait")
        yield Transition(status, "processing", PO.REQUESTED, "payout.processing")
        yield Transition(status, "unclear", PO.UNCLEAR, "payout.unclear")
        yield Transition(status, "succeed", PO.SUCCESS, "payout.success")
        yield Transition(status, "fail", PO.FAILED, "payout.failed")
        yield Transition(status, "cancel", PO.CANCELLED, "payout.cancelled")


PAYOUT = Lifecycle(
    name="payout",
    object_type="payout",
    initial=PO.REQUESTED,
    states=frozenset(PayoutState),
    transitions=_payout_rows(),
    read=_read_state,
    write=_write_state,
    label=lambda state: state.value,
    final=frozenset({PO.SUCCESS, PO.FAILED, PO.CANCELLED}),
)

LIFECYCLES: tuple[Lifecycle, ...] = (SHOP, PRODUCT, UNIT, ORDER, SHOP_ORDER, PAYOUT)
