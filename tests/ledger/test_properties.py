"""The money core under random sequences (a Hypothesis state machine): orders of one or two
shops, paid by the dev method or WeChat (with duplicate and misplaced notifications), cancelled
by the buyer, rejected by the farmer, failed at inspection or walked to completion; payouts by
WeChat transfer (confirmed, failed, refused by the farmer, lost in an unclear answer, polled)
and by bank batch (confirmed, failed), retried with the same Idempotency-Key; and failures
injected mid-service: an exception raised after a write but before the commit (``ledger.post``,
``audit.record``), a notification that cannot be sent, WeChat answering an error.

After every step every invariant of ``flask ledger check`` holds, no household's balance is
negative, money in equals money out plus money held, and each household's balance is what the
machine's own model of its orders and payouts says it must be. A failed step leaves nothing
half-written: the objects it touched are as they were, or exactly as far as the last commit
before the failure took them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from unittest import mock

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from models import (
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Order,
    Payment,
    Payout,
    PayoutBatch,
    Refund,
    Shop,
    ShopOrder,
    db,
)
from models.enums import AccountKind, PaymentStatus, RefundState
from services import ledger, ledger_check, payments, payouts
from tests.factories import GUZHEN, Person
from tests.fakes.wechat_pay_server import FakeWeChatPay
from tests.fulfilment import Chain, Network, Part
from tests.money import Money, record_bank_account
from tests.shopping import API, Offer

NOTIFY = f"{API}/payments/wechat/notify"
REFUND_NOTIFY = f"{API}/payments/wechat/refund-notify"
TRANSFER_NOTIFY = f"{API}/payments/wechat/transfer-notify"
OPEN = ("requested", "wait_user_confirm", "unclear")
HELD = ("awaiting", "delivered", "refunding")  # paid, in escrow
NOT_STARTED = ("reject", "cancel")  # a part closed so never stops a cancellation
BROKEN = ("services.ledger.post", "services.audit.record")


class Injected(RuntimeError):
    """The failure a test plants in a service."""


@contextmanager
def broken(target: str, *, before: bool = False) -> Iterator[list[str]]:
    """``target`` raises once, on its first call: after doing its work (so what it wrote is in
    the session and must be rolled back), or ``before`` it. Yields a list that holds the target
    once it fired."""
    fired: list[str] = []
    module_name, name = target.rsplit(".", 1)
    module = __import__(module_name, fromlist=[name])
    original = getattr(module, name)

    def once(*args, **kwargs):
        if before and not fired:
            fired.append(target)
            raise Injected(f"{target} failed")
        result = original(*args, **kwargs)
        if not fired:
            fired.append(target)
            raise Injected(f"{target} failed")
        return result

    with mock.patch(target, once):
        yield fired


# --- the model -------------------------------------------------------------------------------


@dataclass(eq=False)
class Seller:
    household_id: int
    offer: Offer
    bank: bool

    @property
    def farmer(self) -> Person:
        return self.offer.farmer


@dataclass(eq=False)
class PartM:
    id: int
    seller: Seller
    total: int
    # unpaid → awaiting → delivered → completed; awaiting → refunding → refunded;
    # unpaid → void (the order closed before it was paid)
    state: str = "unpaid"
    closed_by: str | None = None  # reject | cancel | fail (inspection): how its money went back


@dataclass(eq=False)
class OrderM:
    id: int
    buyer: Person
    parts: list[PartM]
    total: int
    status: str = "pending"  # pending | paid | cancelled
    method: str | None = None  # how it was paid: dev | wechat

    @property
    def cancellable(self) -> bool:
        # Before any farmer accepted a part (a rejected one counts as never started).
        return self.status == "pending" or (
            self.status == "paid"
            and all(p.state == "awaiting" or p.closed_by in NOT_STARTED for p in self.parts)
        )


@dataclass(eq=False)
class PayoutM:
    id: int
    seller: Seller
    amount: int
    channel: str
    state: str
    out_bill_no: str
    key: str | None = None  # None: a batch made it
    body: dict | None = None
    at_provider: bool = False  # WeChat has the bill
    batch_id: int | None = None


@dataclass
class Env:
    app: object
    client: object
    chain: Chain
    network: Network
    money: Money
    pay: FakeWeChatPay


class Books(RuleBasedStateMachine):
    """One scenario: two new households selling, two buyers, and what happens to their money."""

    env: Env  # set by the test

    def __init__(self) -> None:
        super().__init__()
        self.app = self.env.app
        self.client = self.env.client
        self.chain = self.env.chain
        self.network = self.env.network
        self.money = self.env.money
        self.pay = self.env.pay
        self.staff = self.network.staff
        self.sellers: list[Seller] = []
        self.buyers: list[tuple[Person, int]] = []
        self.orders: list[OrderM] = []
        self.payouts: list[PayoutM] = []
        self.surplus: set[int] = set()  # orders with money paid twice, owed back by WeChat

    # --- helpers ---------------------------------------------------------------------------

    def post(self, path: str, person: Person, body: dict | None = None, key: str | None = None):
        headers = dict(person.headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.post(f"{API}{path}", json=body or {}, headers=headers)

    def notify(self, url: str, message: tuple[dict, bytes]):
        headers, body = message
        return self.client.post(url, data=body, headers=headers)

    def trade_no(self, order: OrderM) -> str:
        with self.app.app_context():
            return db.session.get(Order, order.id).out_trade_no

    def part_of(self, part: PartM, order: OrderM) -> Part:
        return Part(order.id, part.id, order.buyer, part.seller.offer)

    def order_of(self, part: PartM) -> OrderM:
        return next(o for o in self.orders if part in o.parts)

    def parts(self, *states: str) -> list[PartM]:
        return [p for o in self.orders for p in o.parts if p.state in states]

    def open_payouts(self, *states: str, channel: str | None = None) -> list[PayoutM]:
        return [
            p
            for p in self.payouts
            if p.state in states and (channel is None or p.channel == channel)
        ]

    def expected(self, seller: Seller) -> dict:
        parts = [p for o in self.orders for p in o.parts if p.seller is seller]
        pending = sum(p.total for p in parts if p.state in HELD)
        earned = sum(p.total for p in parts if p.state == "completed")
        mine = [p for p in self.payouts if p.seller is seller]
        in_flight = sum(p.amount for p in mine if p.state in OPEN)
        paid_out = sum(p.amount for p in mine if p.state == "success")
        return {
            "pending_fen": pending,
            "available_fen": earned - in_flight - paid_out,
            "in_flight_fen": in_flight,
            "paid_out_fen": paid_out,
        }

    def available(self, seller: Seller) -> int:
        return self.expected(seller)["available_fen"]

    def snapshot(self) -> dict:
        """What a failed step must not have changed: every money row's count and the state of
        each order, part and payout of this scenario."""

        def count(model) -> int:
            return db.session.scalar(select(func.count()).select_from(model))

        with self.app.app_context():
            orders = [o.id for o in self.orders]
            return {
                "transactions": count(LedgerTransaction),
                "entries": count(LedgerEntry),
                "payouts": count(Payout),
                "payments": db.session.scalar(
                    select(func.count()).where(Payment.status == PaymentStatus.SUCCEEDED)
                ),
                "refunds": db.session.scalar(
                    select(func.count()).where(Refund.state == RefundState.SUCCEEDED)
                ),
                "orders": sorted(
                    db.session.execute(
                        select(Order.id, Order.status, Order.refund_status).where(
                            Order.id.in_(orders)
                        )
                    ).all()
                ),
                "parts": sorted(
                    db.session.execute(
                        select(ShopOrder.id, ShopOrder.status, ShopOrder.refund_status).where(
                            ShopOrder.order_id.in_(orders)
                        )
                    ).all()
                ),
                "payout_states": sorted(
                    db.session.execute(
                        select(Payout.id, Payout.state).where(
                            Payout.id.in_([p.id for p in self.payouts])
                        )
                    ).all()
                ),
            }

    def state_of(self, payout: PayoutM) -> str:
        with self.app.app_context():
            return db.session.get(Payout, payout.id).state.value

    def pending_refunds(self, order: OrderM, method: str | None = None) -> list[str]:
        with self.app.app_context():
            query = select(Refund.out_refund_no, Refund.method).where(
                Refund.order_id == order.id, Refund.state == RefundState.PENDING
            )
            return [no for no, how in db.session.execute(query) if method in (None, how.value)]

    def refunded(self, order: OrderM) -> None:
        """Every act on an order sends its pending refunds: the dev method's are paid then."""
        for part in order.parts:
            if part.state == "refunding" and order.method == "dev":
                part.state = "refunded"

    def money_back(self, order: OrderM, parts: list[PartM], closed_by: str) -> None:
        for part in parts:
            part.state, part.closed_by = "refunding", closed_by
        self.refunded(order)

    def polled(self) -> None:
        """``flask payouts poll`` sends every unclear bill again (same number), and asks for
        the package of one whose answer was lost: WeChat then has it, waiting for the farmer."""
        for payout in self.open_payouts("unclear", "requested", channel="wechat_transfer"):
            payout.state, payout.at_provider = "wait_user_confirm", True

    def run_poll(self) -> None:
        with self.app.app_context():
            payouts.poll(older_than=timedelta(0))
        self.polled()

    def assert_error(self, answer, status: int, code: str) -> None:
        assert answer.status_code == status, (answer.status_code, answer.json)
        assert answer.json["error"] == code, answer.json

    # --- setup -----------------------------------------------------------------------------

    @initialize(
        prices=st.lists(st.integers(10, 4000), min_size=2, max_size=2),
        second_bank=st.booleans(),
        sales=st.sampled_from([(), (0,), (1,), (0, 1)]),
        data=st.data(),
    )
    def open_shops(self, prices, second_bank, sales, data):
        for index, price in enumerate(prices):
            offer = self.chain.shopping.offer(price_fen=price, stock=500)
            with self.app.app_context():
                household_id = db.session.get(Shop, offer.shop_id).household_id
            bank = index == 0 or second_bank
            if bank:
                record_bank_account(self.client, self.staff, household_id)
            self.sellers.append(Seller(household_id, offer, bank))
        self.buyers = [self.chain.shopping.buyer() for _ in range(2)]
        # Money already available to some of them (a sale walked to completion).
        for index in sales:
            self.sell(data, (index,), 1 + index, "dev")

    def sell(self, data, shops, quantity: int, method: str, *, complete: bool = True) -> None:
        buyer, address = data.draw(st.sampled_from(self.buyers), label="buyer")
        order = self.place(buyer, address, shops, quantity)
        self.pay_by(order, method)
        for part in order.parts:
            self.money.delivered(self.part_of(part, order))
            part.state = "delivered"
        if complete:
            self.after_sales_window_closes()

    def pay_by(self, order: OrderM, method: str) -> None:
        if method == "dev":
            answer = self.post(f"/orders/{order.id}/pay", order.buyer, {"method": "dev"})
            assert answer.status_code == 200, answer.json
        else:
            self.prepay(order)
            message = self.pay.notification("good", out_trade_no=self.trade_no(order))
            assert self.notify(NOTIFY, message).status_code == 200
        self.paid(order, method)

    # --- buying ----------------------------------------------------------------------------

    @rule(
        data=st.data(),
        shops=st.sampled_from([(0,), (1,), (0, 1)]),
        quantity=st.integers(1, 3),
        again=st.booleans(),
        paid_by=st.sampled_from([None, "dev", "wechat"]),
    )
    def place_order(self, data, shops, quantity, again, paid_by):
        buyer, address = data.draw(st.sampled_from(self.buyers), label="buyer")
        order = self.place(buyer, address, shops, quantity, again=again)
        if paid_by is not None:
            self.pay_by(order, paid_by)

    @rule(
        data=st.data(),
        shops=st.sampled_from([(0,), (1,), (0, 1)]),
        quantity=st.integers(1, 3),
        method=st.sampled_from(["dev", "wechat"]),
        complete=st.sampled_from([True, True, False]),
    )
    def sold(self, data, shops, quantity, method, complete):
        """An order paid and each part delivered; then (mostly) the after-sales window
        closes."""
        self.sell(data, shops, quantity, method, complete=complete)

    def place(
        self, buyer: Person, address: int, shops, quantity: int, *, again: bool = False
    ) -> OrderM:
        lines = [(self.sellers[i].offer.sku_ids[0], quantity) for i in shops]
        key = uuid.uuid4().hex
        answer = self.chain.shopping.place(buyer, address, lines, key=key)
        assert answer.status_code == 201, answer.json
        if again:  # the buyer's retry with the same key: the same order
            replay = self.chain.shopping.place(buyer, address, lines, key=key)
            assert replay.status_code < 300 and replay.json["id"] == answer.json["id"]
        by_shop = {s.offer.shop_id: s for s in self.sellers}
        parts = [
            PartM(s["id"], by_shop[s["shop_id"]], s["total_fen"])
            for s in answer.json["shop_orders"]
        ]
        assert sum(p.total for p in parts) == answer.json["total_fen"]
        self.orders.append(OrderM(answer.json["id"], buyer, parts, answer.json["total_fen"]))
        return self.orders[-1]

    def pending_orders(self) -> list[OrderM]:
        return [o for o in self.orders if o.status == "pending"]

    def paid(self, order: OrderM, method: str) -> None:
        order.status, order.method = "paid", method
        for part in order.parts:
            part.state = "awaiting"

    @precondition(lambda self: self.pending_orders())
    @rule(data=st.data())
    def pay_dev(self, data):
        order = data.draw(st.sampled_from(self.pending_orders()), label="order")
        answer = self.post(f"/orders/{order.id}/pay", order.buyer, {"method": "dev"})
        assert answer.status_code == 200, answer.json
        self.paid(order, "dev")
        again = self.post(f"/orders/{order.id}/pay", order.buyer, {"method": "dev"})
        self.assert_error(again, 409, "already_paid")

    def prepay(self, order: OrderM) -> None:
        answer = self.post(f"/orders/{order.id}/pay", order.buyer, {"method": "wechat"})
        assert answer.status_code == 200, answer.json
        assert answer.json["pay_params"]["package"].startswith("prepay_id=")

    @precondition(lambda self: self.pending_orders())
    @rule(data=st.data(), duplicate=st.booleans())
    def pay_wechat(self, data, duplicate):
        order = data.draw(st.sampled_from(self.pending_orders()), label="order")
        self.prepay(order)
        told = self.notify(NOTIFY, self.pay.notification("good", out_trade_no=self.trade_no(order)))
        assert told.status_code == 200, told.json
        self.paid(order, "wechat")
        if duplicate:
            self.duplicate_notification(order)

    def duplicate_notification(self, order: OrderM) -> None:
        message = self.pay.notification("duplicate", out_trade_no=self.trade_no(order))
        before = self.snapshot()
        assert self.notify(NOTIFY, message).status_code == 200
        assert self.snapshot() == before

    @precondition(lambda self: any(o.method == "wechat" for o in self.orders))
    @rule(data=st.data())
    def payment_notified_again(self, data):
        order = data.draw(
            st.sampled_from([o for o in self.orders if o.method == "wechat"]), label="order"
        )
        self.duplicate_notification(order)

    @precondition(lambda self: self.pending_orders())
    @rule(data=st.data(), settle_now=st.booleans())
    def paid_twice(self, data, settle_now):
        """The buyer opened WeChat Pay, then paid by another way; WeChat's money comes in too:
        recorded, owed back and refunded, never the household's."""
        order = data.draw(st.sampled_from(self.pending_orders()), label="order")
        self.prepay(order)
        assert (
            self.post(f"/orders/{order.id}/pay", order.buyer, {"method": "dev"}).status_code == 200
        )
        self.paid(order, "dev")
        told = self.notify(NOTIFY, self.pay.notification("good", out_trade_no=self.trade_no(order)))
        assert told.status_code == 200, told.json
        assert len(self.pending_refunds(order, "wechat")) == 1
        self.surplus.add(order.id)
        if settle_now:
            self.settle_refunds()

    # --- money going back ------------------------------------------------------------------

    @precondition(lambda self: any(o.status != "cancelled" for o in self.orders))
    @rule(data=st.data())
    def buyer_cancels(self, data):
        """Before any farmer accepted a part: cancelled, and what was paid goes back. After:
        refused, and nothing moves."""
        open_orders = [o for o in self.orders if o.status != "cancelled"]
        order = data.draw(st.sampled_from(open_orders), label="order")
        before = self.snapshot()
        answer = self.post(f"/orders/{order.id}/cancel", order.buyer, {"reason": "买错了"})
        if not order.cancellable:
            self.assert_error(answer, 409, "order_in_fulfilment")
            assert self.snapshot() == before
            return
        assert answer.status_code == 200, answer.json
        assert answer.json["status"] == "cancelled"
        self.cancelled(order)

    def cancelled(self, order: OrderM) -> None:
        was = order.status
        order.status = "cancelled"
        if was == "pending":
            for part in order.parts:
                part.state = "void"
        else:
            self.money_back(order, [p for p in order.parts if p.state == "awaiting"], "cancel")

    @precondition(lambda self: self.parts("awaiting"))
    @rule(data=st.data())
    def farmer_rejects(self, data):
        part = data.draw(st.sampled_from(self.parts("awaiting")), label="part")
        answer = self.post(
            f"/shop-orders/{part.id}/reject", part.seller.farmer, {"reason": "家里临时有事"}
        )
        assert answer.status_code == 200, answer.json
        self.money_back(self.order_of(part), [part], "reject")

    @precondition(lambda self: self.parts("awaiting"))
    @rule(data=st.data())
    def inspection_fails(self, data):
        part = data.draw(st.sampled_from(self.parts("awaiting")), label="part")
        order = self.order_of(part)
        answer = self.chain.fail_inspection(self.network, self.part_of(part, order))
        assert answer.status_code == 201, answer.json
        self.money_back(order, [part], "fail")

    @precondition(
        lambda self: (
            self.parts("refunding")
            or any(self.pending_refunds(o) for o in self.orders if o.id in self.surplus)
        )
    )
    @rule(duplicate=st.booleans())
    def refunds_settle(self, duplicate):
        self.settle_refunds(duplicate=duplicate)

    def settle_refunds(self, *, duplicate: bool = False) -> None:
        """``flask payments refunds`` sends again what is pending (the dev method's are paid
        then); WeChat's are paid when its REFUND.SUCCESS notification comes."""
        with self.app.app_context():
            payments.retry_pending_refunds(older_than=timedelta(0))
        for order in self.orders:
            for refund_no in self.pending_refunds(order, "wechat"):
                event = "REFUND.SUCCESS"
                message = self.pay.notification("good", event=event, out_refund_no=refund_no)
                assert self.notify(REFUND_NOTIFY, message).status_code == 200
                if duplicate:
                    message = self.pay.notification(
                        "duplicate", event=event, out_refund_no=refund_no
                    )
                    assert self.notify(REFUND_NOTIFY, message).status_code == 200
            assert self.pending_refunds(order) == []
            for part in order.parts:
                if part.state == "refunding":
                    part.state = "refunded"

    # --- the goods' way --------------------------------------------------------------------

    @precondition(lambda self: self.parts("awaiting"))
    @rule(data=st.data())
    def delivered(self, data):
        part = data.draw(st.sampled_from(self.parts("awaiting")), label="part")
        self.money.delivered(self.part_of(part, self.order_of(part)))
        part.state = "delivered"

    @precondition(lambda self: self.parts("delivered"))
    @rule()
    def after_sales_window_closes(self):
        self.money.complete_due()
        for part in self.parts("delivered"):
            part.state = "completed"

    # --- payouts ---------------------------------------------------------------------------

    def ask(self, seller: Seller, amount: int, channel: str, key: str | None = None):
        body = {"amount_fen": amount, "channel": channel}
        return self.post(f"/households/{seller.household_id}/payouts", seller.farmer, body, key)

    def rich(self) -> list[Seller]:
        """Households with enough available for a WeChat transfer."""
        return [s for s in self.sellers if self.available(s) >= payouts.WECHAT_MIN_FEN]

    def waiting_bank(self, seller: Seller) -> bool:
        """A bank payout the household asked for that no batch took yet (one at a time)."""
        return any(
            p.seller is seller and p.channel == "bank" and p.state == "requested" and not p.batch_id
            for p in self.payouts
        )

    @precondition(lambda self: self.sellers)
    @rule(
        data=st.data(),
        channel=st.sampled_from(["wechat_transfer", "bank"]),
        how_much=st.sampled_from(["some", "all", "more", "some", "all", "tiny"]),
        retry=st.sampled_from(["no", "same", "other_body"]),
    )
    def payout_asked(self, data, channel, how_much, retry):
        seller = data.draw(st.sampled_from(self.rich() or self.sellers), label="seller")
        available = self.available(seller)
        amount = {
            "some": max(1, available // 2),
            "all": max(1, available),
            "more": available + 1,
            "tiny": 9,
        }[how_much]
        key = uuid.uuid4().hex
        before = self.snapshot()
        answer = self.ask(seller, amount, channel, key)
        if channel == "wechat_transfer" and amount < payouts.WECHAT_MIN_FEN:
            self.assert_error(answer, 422, "payout_too_small")
        elif channel == "bank" and not seller.bank:
            self.assert_error(answer, 409, "bank_account_missing")
        elif channel == "bank" and self.waiting_bank(seller):
            self.assert_error(answer, 409, "bank_payout_pending")
        elif amount > available:
            self.assert_error(answer, 409, "insufficient_balance")
        else:
            assert answer.status_code == 201, answer.json
            state = "wait_user_confirm" if channel == "wechat_transfer" else "requested"
            assert answer.json["state"] == state and answer.json["amount_fen"] == amount
            if channel == "wechat_transfer":
                assert answer.json["package_info"]
            self.payouts.append(
                PayoutM(
                    answer.json["id"],
                    seller,
                    amount,
                    channel,
                    state,
                    answer.json["out_bill_no"],
                    key,
                    {"amount_fen": amount, "channel": channel},
                    at_provider=channel == "wechat_transfer",
                )
            )
            self.retried(self.payouts[-1], retry)
            return
        assert self.snapshot() == before

    def retried(self, payout: PayoutM, how: str) -> None:
        if how == "no" or payout.key is None:
            return
        before = self.snapshot()
        if how == "same":
            again = self.ask(payout.seller, payout.amount, payout.channel, payout.key)
            assert again.status_code == (202 if payout.state == "unclear" else 201), again.json
            assert again.json["id"] == payout.id and again.json["state"] == payout.state
        else:
            again = self.ask(payout.seller, payout.amount + 1, payout.channel, payout.key)
            self.assert_error(again, 422, "idempotency_key_reused")
        assert self.snapshot() == before

    def bank_ready(self) -> list[Seller]:
        return [
            s
            for s in self.sellers
            if s.bank and self.available(s) >= 2 and not self.waiting_bank(s)
        ]

    @precondition(lambda self: self.bank_ready())
    @rule(data=st.data())
    def bank_payout_asked_twice(self, data):
        """One bank payout waits for the batch at a time: the second is refused, with
        money enough for both."""
        sellers = self.bank_ready()
        seller = data.draw(st.sampled_from(sellers), label="seller")
        amount = self.available(seller) // 2
        first = self.ask(seller, amount, "bank", uuid.uuid4().hex)
        assert first.status_code == 201, first.json
        self.payouts.append(
            PayoutM(
                first.json["id"], seller, amount, "bank", "requested", first.json["out_bill_no"]
            )
        )
        before = self.snapshot()
        second = self.ask(seller, amount, "bank", uuid.uuid4().hex)
        self.assert_error(second, 409, "bank_payout_pending")
        assert self.snapshot() == before

    @precondition(lambda self: any(p.key for p in self.payouts))
    @rule(data=st.data(), how=st.sampled_from(["same", "other_body"]))
    def payout_asked_again(self, data, how):
        asked = [p for p in self.payouts if p.key]
        self.retried(data.draw(st.sampled_from(asked), label="payout"), how)

    @precondition(
        lambda self: any(self.available(s) >= payouts.WECHAT_MIN_FEN for s in self.sellers)
    )
    @rule(
        data=st.data(),
        trouble=st.sampled_from(
            [
                ("unclear", 500, "SYSTEM_ERROR", True),  # made there, the answer lost
                ("unclear", 500, "SYSTEM_ERROR", False),  # never made
                ("unclear", 403, "NOT_ENOUGH", False),  # the merchant's balance is short
                ("failed", 400, "PARAM_ERROR", False),  # refused for good
            ]
        ),
    )
    def payout_meets_trouble(self, data, trouble):
        state, status, code, processed = trouble
        rich = self.rich()
        seller = data.draw(st.sampled_from(rich), label="seller")
        amount = self.available(seller)
        calls = self.pay.calls("transfer_create")
        self.pay.fail_next("transfer_create", status, code, processed=processed)
        key = uuid.uuid4().hex
        answer = self.ask(seller, amount, "wechat_transfer", key)
        assert self.pay.calls("transfer_create") == calls + 1
        assert answer.status_code == (202 if state == "unclear" else 201), answer.json
        assert answer.json["state"] == state and answer.json["package_info"] is None
        self.payouts.append(
            PayoutM(
                answer.json["id"],
                seller,
                amount,
                "wechat_transfer",
                state,
                answer.json["out_bill_no"],
                key,
                {"amount_fen": amount, "channel": "wechat_transfer"},
                at_provider=processed,
            )
        )

    @precondition(lambda self: self.open_payouts("unclear"))
    @rule(data=st.data())
    def query_fails(self, data):
        """WeChat cannot answer the query: the bill stays as it was, its number unchanged."""
        payout = data.draw(st.sampled_from(self.open_payouts("unclear")), label="payout")
        self.pay.fail_next("transfer_query", 500, "SYSTEM_ERROR")
        before = self.snapshot()
        with self.app.app_context():
            payouts.check_transfer(db.session.get(Payout, payout.id))
        assert self.snapshot() == before
        assert self.pay.calls("transfer_query") and self.state_of(payout) == "unclear"

    @precondition(lambda self: self.open_payouts("unclear", "wait_user_confirm"))
    @rule()
    def poll(self):
        self.run_poll()

    def at_wechat(self) -> list[PayoutM]:
        return [p for p in self.open_payouts(*OPEN, channel="wechat_transfer") if p.at_provider]

    def end_at_wechat(self, payout: PayoutM, outcome: str) -> str:
        if outcome == "success":
            self.pay.confirm_transfer(payout.out_bill_no)
        elif outcome == "failed":
            self.pay.fail_transfer(payout.out_bill_no)
        else:
            self.pay.user_cancel_transfer(payout.out_bill_no)
        return outcome

    @precondition(lambda self: self.at_wechat())
    @rule(
        data=st.data(),
        outcome=st.sampled_from(["success", "failed", "cancelled"]),
        told_by=st.sampled_from(["notification", "notification twice", "poll"]),
    )
    def transfer_ends(self, data, outcome, told_by):
        payout = data.draw(st.sampled_from(self.at_wechat()), label="payout")
        self.end_at_wechat(payout, outcome)
        if told_by == "poll":
            self.run_poll()
        else:
            told = self.notify(TRANSFER_NOTIFY, self.pay.transfer_notification(payout.out_bill_no))
            assert told.status_code == 200, told.json
        payout.state = outcome
        if told_by == "notification twice":
            before = self.snapshot()
            again = self.pay.transfer_notification(payout.out_bill_no, "duplicate")
            assert self.notify(TRANSFER_NOTIFY, again).status_code == 200
            assert self.snapshot() == before
        assert self.state_of(payout) == outcome

    @precondition(
        lambda self: any(
            s.bank and (self.available(s) > 0 or self.waiting_bank(s)) for s in self.sellers
        )
    )
    @rule(threshold=st.sampled_from([1, 500, 5000, 1_000_000]))
    def bank_batch(self, threshold):
        # One line per household: one whose own request joins the batch gets no other.
        due = {
            s.household_id: self.available(s)
            for s in self.sellers
            if s.bank and self.available(s) >= threshold and not self.waiting_bank(s)
        }
        waiting = [p for p in self.payouts if p.channel == "bank" and p.state == "requested"]
        answer = self.post(
            "/admin/payout-batches",
            self.staff,
            {"county_code": GUZHEN, "threshold_fen": threshold},
            key=uuid.uuid4().hex,
        )
        assert answer.status_code == 201, answer.json
        batch = answer.json["id"]
        lines = {line["id"]: line for line in answer.json["lines"]}
        for payout in waiting:
            if payout.batch_id is None:
                assert payout.id in lines
                payout.batch_id = batch
        known = {p.id for p in self.payouts}
        for seller in self.sellers:
            new = [
                line
                for line in lines.values()
                if line["household_id"] == seller.household_id and line["id"] not in known
            ]
            if seller.household_id in due:
                [line] = new
                assert line["amount_fen"] == due[seller.household_id], line
                self.payouts.append(
                    PayoutM(
                        line["id"],
                        seller,
                        line["amount_fen"],
                        "bank",
                        "requested",
                        line["out_bill_no"],
                        batch_id=batch,
                    )
                )
            else:
                assert new == []

    def batched(self) -> list[PayoutM]:
        return [p for p in self.open_payouts("requested", channel="bank") if p.batch_id]

    @precondition(lambda self: self.batched())
    @rule(data=st.data(), outcome=st.sampled_from(["success", "failed"]), again=st.booleans())
    def bank_line_ends(self, data, outcome, again):
        payout = data.draw(st.sampled_from(self.batched()), label="line")
        answer = self.end_line(payout, outcome)
        assert answer.status_code == 200, answer.json
        assert answer.json["state"] == outcome
        payout.state = outcome
        if again:  # the same answer again changes nothing; the other one is refused
            before = self.snapshot()
            assert self.end_line(payout, outcome).status_code == 200
            other = "failed" if outcome == "success" else "success"
            self.assert_error(self.end_line(payout, other, voucher="B2"), 409, "invalid_state")
            assert self.snapshot() == before

    def end_line(self, payout: PayoutM, outcome: str, voucher: str = "B1"):
        path = f"/admin/payout-batches/{payout.batch_id}/lines/{payout.id}"
        if outcome == "success":
            return self.post(
                f"{path}/confirm", self.staff, {"voucher_no": f"{voucher}-{payout.id}"}
            )
        return self.post(f"{path}/fail", self.staff, {"reason": "户名与账号不符"})

    # --- injected failures -----------------------------------------------------------------

    def failed_request(self, answer) -> None:
        assert answer.status_code == 500, (answer.status_code, answer.json)
        assert answer.json["error"] == "internal_error"

    @precondition(lambda self: self.pending_orders())
    @rule(data=st.data(), fault=st.sampled_from(BROKEN), way=st.sampled_from(["dev", "wechat"]))
    def payment_breaks(self, data, fault, way):
        """The payment's commit never comes: the order is still to pay; WeChat's notification
        is answered 500, so WeChat sends it again, and that one pays it."""
        order = data.draw(st.sampled_from(self.pending_orders()), label="order")
        if way == "wechat":
            self.prepay(order)
        before = self.snapshot()
        with broken(fault) as fired:
            if way == "dev":
                answer = self.post(f"/orders/{order.id}/pay", order.buyer, {"method": "dev"})
            else:
                message = self.pay.notification("good", out_trade_no=self.trade_no(order))
                answer = self.notify(NOTIFY, message)
        assert fired
        self.failed_request(answer)
        assert self.snapshot() == before
        if way == "dev":
            answer = self.post(f"/orders/{order.id}/pay", order.buyer, {"method": "dev"})
        else:
            message = self.pay.notification("duplicate", out_trade_no=self.trade_no(order))
            answer = self.notify(NOTIFY, message)
        assert answer.status_code == 200, answer.json
        self.paid(order, way)

    @precondition(lambda self: any(o.cancellable and o.status == "paid" for o in self.orders))
    @rule(data=st.data(), fault=st.sampled_from(BROKEN))
    def cancel_breaks(self, data, fault):
        """audit.record fails before the cancellation's commit: nothing changed. ledger.post
        fails in the refund after it (dev method): the order is cancelled, its refunds wait
        with their money still in escrow, for ``flask payments refunds``."""
        orders = [o for o in self.orders if o.cancellable and o.status == "paid"]
        if fault == "services.ledger.post":  # a dev refund to post
            orders = [
                o
                for o in orders
                if o.method == "dev" and any(p.state in ("awaiting", "refunding") for p in o.parts)
            ]
            if not orders:
                return
        order = data.draw(st.sampled_from(orders), label="order")
        before = self.snapshot()
        with broken(fault) as fired:
            answer = self.post(f"/orders/{order.id}/cancel", order.buyer, {"reason": "买错了"})
        assert fired
        self.failed_request(answer)
        if fault == "services.audit.record":
            assert self.snapshot() == before
            return
        order.status = "cancelled"
        for part in order.parts:
            if part.state == "awaiting":
                part.state, part.closed_by = "refunding", "cancel"
        assert len(self.pending_refunds(order, "dev")) == len(self.parts_refunding(order))
        assert self.snapshot()["transactions"] == before["transactions"]

    def parts_refunding(self, order: OrderM) -> list[PartM]:
        return [p for p in order.parts if p.state == "refunding"]

    @precondition(lambda self: self.parts("awaiting"))
    @rule(data=st.data(), fault=st.sampled_from(BROKEN), act=st.sampled_from(["reject", "fail"]))
    def refusal_breaks(self, data, fault, act):
        """The farmer's rejection or the failed inspection breaks: before its commit nothing
        moved; after it (the dev refund's posting) the part is refused, its refund waiting."""
        candidates = self.parts("awaiting")
        if fault == "services.ledger.post":
            candidates = [p for p in candidates if self.order_of(p).method == "dev"]
            if not candidates:
                return
        part = data.draw(st.sampled_from(candidates), label="part")
        order = self.order_of(part)
        if act == "fail":  # accepted and handed in first, then the inspection breaks
            assert self.chain.accept(self.part_of(part, order)).status_code == 200
            handed = self.chain.hand_in(
                self.network.village_point, self.part_of(part, order), self.network.village_operator
            )
            assert handed.status_code == 201, handed.json
        before = self.snapshot()
        with broken(fault) as fired:
            if act == "reject":
                answer = self.post(
                    f"/shop-orders/{part.id}/reject", part.seller.farmer, {"reason": "没货了"}
                )
            else:
                answer = self.chain.inspect(
                    self.network.centre,
                    handed.json["batch"]["code"],
                    self.network.centre_operator,
                    result="fail",
                    reason="破损超过一成",
                )
        assert fired
        self.failed_request(answer)
        if fault == "services.audit.record":
            assert self.snapshot() == before
            if act == "fail":  # accepted and handed in: it finishes its way
                self.finish_way(part, order, handed.json["batch"]["code"])
            return
        part.state, part.closed_by = "refunding", act
        assert self.pending_refunds(order, "dev")
        assert self.snapshot()["transactions"] == before["transactions"]

    def finish_way(self, part: PartM, order: OrderM, code: str) -> None:
        chain, network = self.chain, self.network
        passed = chain.inspect(network.centre, code, network.centre_operator)
        assert passed.status_code == 201, passed.json
        shipped = chain.ship(self.part_of(part, order), network.centre_operator)
        assert shipped.status_code == 200, shipped.json
        confirmed = chain.post(f"/shop-orders/{part.id}/confirm-receipt", order.buyer)
        assert confirmed.status_code == 200, confirmed.json
        part.state = "delivered"

    @precondition(lambda self: self.parts("delivered"))
    @rule(fault=st.sampled_from(BROKEN))
    def completion_breaks(self, fault):
        """The deadline job stops at its first part: nothing completes; the next run does."""
        before = self.snapshot()
        with broken(fault) as fired, pytest.raises(Injected):
            self.money.complete_due()
        assert fired
        assert self.snapshot() == before

    @precondition(
        lambda self: any(self.available(s) >= payouts.WECHAT_MIN_FEN for s in self.sellers)
    )
    @rule(
        data=st.data(),
        fault=st.sampled_from(BROKEN),
        channel=st.sampled_from(["wechat_transfer", "bank"]),
    )
    def payout_request_breaks(self, data, fault, channel):
        """The payout's row and its money never commit: none exists, nothing is in flight;
        the retry with the same key makes it."""
        rich = self.rich()
        if channel == "bank":
            rich = [s for s in rich if s.bank and not self.waiting_bank(s)]
            if not rich:
                return
        seller = data.draw(st.sampled_from(rich), label="seller")
        amount = self.available(seller)
        key = uuid.uuid4().hex
        calls = self.pay.calls("transfer_create")
        before = self.snapshot()
        with broken(fault) as fired:
            answer = self.ask(seller, amount, channel, key)
        assert fired
        self.failed_request(answer)
        assert self.snapshot() == before
        assert self.pay.calls("transfer_create") == calls  # WeChat was never asked
        answer = self.ask(seller, amount, channel, key)
        assert answer.status_code == 201, answer.json
        state = "wait_user_confirm" if channel == "wechat_transfer" else "requested"
        assert answer.json["state"] == state
        self.payouts.append(
            PayoutM(
                answer.json["id"],
                seller,
                amount,
                channel,
                state,
                answer.json["out_bill_no"],
                key,
                {"amount_fen": amount, "channel": channel},
                at_provider=channel == "wechat_transfer",
            )
        )

    @precondition(lambda self: self.at_wechat())
    @rule(
        data=st.data(),
        fault=st.sampled_from(BROKEN),
        outcome=st.sampled_from(["success", "failed", "cancelled"]),
        told_by=st.sampled_from(["notification", "poll"]),
    )
    def transfer_end_breaks(self, data, fault, outcome, told_by):
        """WeChat's final word cannot be applied: the payout stays open with its money in
        flight; the notification sent again (or the next poll) settles it."""
        payout = data.draw(st.sampled_from(self.at_wechat()), label="payout")
        self.end_at_wechat(payout, outcome)
        before = self.snapshot()
        with broken(fault) as fired:
            if told_by == "poll":
                with pytest.raises(Injected):
                    self.run_poll()
            else:
                message = self.pay.transfer_notification(payout.out_bill_no)
                self.failed_request(self.notify(TRANSFER_NOTIFY, message))
        assert fired
        if told_by == "notification":
            assert self.snapshot() == before
            message = self.pay.transfer_notification(payout.out_bill_no, "duplicate")
            assert self.notify(TRANSFER_NOTIFY, message).status_code == 200
        else:
            # Bills polled before the broken one stand (an unclear one sent again, in its
            # own commit); this one is still open.
            assert self.state_of(payout) in OPEN
            self.run_poll()
        payout.state = outcome
        assert self.state_of(payout) == outcome

    @precondition(lambda self: self.rich())
    @rule(data=st.data(), retry=st.booleans())
    def transfer_answer_breaks(self, data, retry):
        """WeChat made the bill, then the app breaks before applying its answer, after the
        payout's commit: the request answers 500; the payout stands (requested, its money in
        flight, WeChat holding its bill); a retry with its key answers it as it is, and the
        next poll fetches its package for the farmer."""
        seller = data.draw(st.sampled_from(self.rich()), label="seller")
        amount = self.available(seller)
        key = uuid.uuid4().hex
        with broken("services.payouts.apply_bill", before=True) as fired:
            answer = self.ask(seller, amount, "wechat_transfer", key)
        assert fired
        self.failed_request(answer)
        with self.app.app_context():
            [made] = db.session.scalars(
                select(Payout)
                .where(Payout.seller_id == seller.household_id)
                .order_by(Payout.id.desc())
                .limit(1)
            )
            assert (made.state.value, made.amount_fen) == ("requested", amount)
            assert made.id not in {p.id for p in self.payouts}
            payout = PayoutM(
                made.id,
                seller,
                amount,
                "wechat_transfer",
                "requested",
                made.out_bill_no,
                key,
                {"amount_fen": amount, "channel": "wechat_transfer"},
                at_provider=True,
            )
        self.payouts.append(payout)
        assert self.pay.transfer_record(payout.out_bill_no)["state"] == "WAIT_USER_CONFIRM"
        if retry:
            self.retried(payout, "same")

    def wechat_refunding(self) -> list[OrderM]:
        return [o for o in self.orders if o.method == "wechat" and self.parts_refunding(o)]

    @precondition(lambda self: self.wechat_refunding())
    @rule(data=st.data(), fault=st.sampled_from(BROKEN))
    def refund_notification_breaks(self, data, fault):
        """WeChat's word that a refund was paid cannot be applied: the money stays in escrow,
        the refund pending; WeChat sends it again, and that one pays it back."""
        order = data.draw(st.sampled_from(self.wechat_refunding()), label="order")
        with self.app.app_context():
            refund_no, shop_order_id = db.session.execute(
                select(Refund.out_refund_no, Refund.shop_order_id)
                .where(Refund.order_id == order.id, Refund.state == RefundState.PENDING)
                .order_by(Refund.id)
                .limit(1)
            ).one()
        event = "REFUND.SUCCESS"
        before = self.snapshot()
        with broken(fault) as fired:
            message = self.pay.notification("good", event=event, out_refund_no=refund_no)
            answer = self.notify(REFUND_NOTIFY, message)
        assert fired
        self.failed_request(answer)
        assert self.snapshot() == before
        message = self.pay.notification("duplicate", event=event, out_refund_no=refund_no)
        assert self.notify(REFUND_NOTIFY, message).status_code == 200
        [part] = [p for p in order.parts if p.id == shop_order_id]
        assert part.state == "refunding"
        part.state = "refunded"

    @precondition(lambda self: self.batched())
    @rule(
        data=st.data(),
        fault=st.sampled_from(BROKEN),
        outcome=st.sampled_from(["success", "failed"]),
    )
    def bank_line_breaks(self, data, fault, outcome):
        payout = data.draw(st.sampled_from(self.batched()), label="line")
        before = self.snapshot()
        with broken(fault) as fired:
            answer = self.end_line(payout, outcome)
        assert fired
        self.failed_request(answer)
        assert self.snapshot() == before
        answer = self.end_line(payout, outcome)
        assert answer.status_code == 200, answer.json
        payout.state = outcome

    @precondition(
        lambda self: any(
            s.bank and self.available(s) > 0 and not self.waiting_bank(s) for s in self.sellers
        )
    )
    @rule()
    def batch_breaks(self):
        """A batch whose first new line breaks: the batch and the lines households asked for
        stand (their own commits); no new line took any money."""
        due = [s for s in self.sellers if s.bank and self.available(s) >= 1]
        due = [s for s in due if not self.waiting_bank(s)]
        waiting = [
            p
            for p in self.payouts
            if p.channel == "bank" and p.state == "requested" and not p.batch_id
        ]
        before = self.snapshot()
        with broken("services.ledger.post") as fired:
            answer = self.post(
                "/admin/payout-batches",
                self.staff,
                {"county_code": GUZHEN, "threshold_fen": 1},
                key=uuid.uuid4().hex,
            )
        if not fired:  # no household of the county had money to pay out
            assert answer.status_code == 201 and not due
        else:
            self.failed_request(answer)
        after = self.snapshot()
        assert (after["transactions"], after["payouts"]) == (
            before["transactions"],
            before["payouts"],
        )
        with self.app.app_context():
            for payout in waiting:
                payout.batch_id = db.session.get(Payout, payout.id).batch_id
                assert payout.batch_id is not None
                assert db.session.get(PayoutBatch, payout.batch_id) is not None

    @precondition(lambda self: self.pending_orders() or any(o.cancellable for o in self.orders))
    @rule(data=st.data())
    def notification_cannot_go(self, data):
        """Telling the household or the buyer fails after the commit: the act stands."""
        orders = [o for o in self.orders if o.status == "pending" or o.cancellable]
        order = data.draw(st.sampled_from(orders), label="order")
        was = order.status
        # A payment tells the household; money back by the dev method tells the buyer.
        told = was == "pending" or (
            order.method == "dev" and any(p.state in ("awaiting", "refunding") for p in order.parts)
        )
        with mock.patch("services.notifications._send", side_effect=Injected("no message")) as sent:
            if was == "pending":
                answer = self.post(f"/orders/{order.id}/pay", order.buyer, {"method": "dev"})
                assert answer.status_code == 200, answer.json
                self.paid(order, "dev")
            else:
                answer = self.post(f"/orders/{order.id}/cancel", order.buyer, {})
                assert answer.status_code == 200, answer.json
                self.cancelled(order)
        assert sent.called == told

    # --- after every step ------------------------------------------------------------------

    @invariant()
    def the_books_balance(self):
        with self.app.app_context():
            assert [str(d) for d in ledger_check.run(ask_provider=False)] == []
            sums = dict(
                db.session.execute(
                    select(LedgerAccount.kind, func.sum(LedgerEntry.amount_fen))
                    .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
                    .group_by(LedgerAccount.kind)
                ).all()
            )
            received = db.session.scalar(
                select(func.coalesce(func.sum(Payment.amount_fen), 0)).where(
                    Payment.status == PaymentStatus.SUCCEEDED
                )
            )
            returned = db.session.scalar(
                select(func.coalesce(func.sum(Refund.amount_fen), 0)).where(
                    Refund.state == RefundState.SUCCEEDED
                )
            )
        held = sum(int(v) for k, v in sums.items() if k != AccountKind.CLEARING)
        # Money in = money out + money held: what buyers paid less what went back to them is
        # exactly what sits in escrow, payable, in flight, paid out, fees and refunds owed.
        assert int(sums.get(AccountKind.CLEARING, 0)) == -held
        assert received - returned == held

    @invariant()
    def each_household_has_what_it_is_owed(self):
        for seller in self.sellers:
            expected = self.expected(seller)
            with self.app.app_context():
                balance = ledger.balance_of(ledger.household(seller.household_id))
            assert balance.__dict__ == expected, seller.household_id
            assert min(balance.__dict__.values()) >= 0
            shown = self.money.balance(seller.farmer, seller.household_id)
            assert {k: shown[k] for k in expected} == expected


def test_every_fen_is_accounted_for_whatever_happens(app, chain, network, pay):
    Books.env = Env(app, chain.client, chain, network, Money(chain, network), pay)
    run_state_machine_as_test(
        Books,
        settings=settings(
            max_examples=25,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
            print_blob=True,
        ),
    )


def test_a_batch_retried_after_it_broke_pays_every_household_due(app, chain, network):
    money = Money(chain, network)
    due = []
    for price in (1200, 3400):
        part, household_id = money.sold(price_fen=price, quantity=1)
        record_bank_account(chain.client, network.staff, household_id)
        due.append((household_id, price))
    body = {"county_code": GUZHEN, "threshold_fen": 100}
    headers = network.staff.headers | {"Idempotency-Key": uuid.uuid4().hex}
    with broken("services.ledger.post") as fired:
        first = chain.client.post(f"{API}/admin/payout-batches", json=body, headers=headers)
    assert fired and first.status_code == 500
    assert money.differences() == []
    again = chain.client.post(f"{API}/admin/payout-batches", json=body, headers=headers)
    assert again.status_code == 201, again.json
    lines = sorted((line["household_id"], line["amount_fen"]) for line in again.json["lines"])
    skipped = again.json["skipped"]
    assert lines == sorted(due) or {s["household_id"] for s in skipped} >= {h for h, _ in due}
