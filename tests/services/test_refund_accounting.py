"""What an order and its parts count as refunded: the parts' money back (partial, then
refunded), never money paid twice for an order that stands."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import Order, Refund, db
from models.enums import PaymentMethod, RefundStatus
from services import payments
from tests.factories import VILLAGE_B
from tests.shopping import Shopping


@pytest.fixture
def shopping(world, catalog, client):
    return Shopping(world, catalog, client)


def test_money_paid_twice_goes_back_without_counting_as_a_refund(shopping, app):
    offer = shopping.offer()
    buyer, address = shopping.buyer()
    order = shopping.order(buyer, address, [(offer.sku_ids[0], 1)])
    shopping.pay_dev(buyer, order["id"])
    with app.app_context():
        paid = db.session.get(Order, order["id"])
        outcome = payments.record_paid(
            paid.out_trade_no,
            method=PaymentMethod.WECHAT,
            amount_fen=paid.total_fen,
            external_id="4200000000000000000000000001",
        )
        assert outcome.anomaly == "double_payment"
        refund = db.session.scalar(select(Refund).where(Refund.order_id == paid.id))
        assert refund.shop_order_id is None and refund.amount_fen == paid.total_fen
        payments.mark_refunded(refund.out_refund_no, external_id="50300000000001")
        db.session.refresh(paid)
        assert paid.refunded_fen == 0
        assert paid.refund_status == RefundStatus.NONE
        assert paid.shop_orders[0].refunded_fen == 0


def test_parts_refunded_one_by_one(shopping, app):
    first, second = shopping.offer(), shopping.offer(village=VILLAGE_B)
    buyer, address = shopping.buyer()
    order = shopping.order(buyer, address, [(first.sku_ids[0], 1), (second.sku_ids[0], 1)])
    shopping.pay_dev(buyer, order["id"])
    with app.app_context():
        paid = db.session.get(Order, order["id"])
        one, two = paid.shop_orders
        payments.refund_shop_order(one, reason="农户无法供货")
        db.session.commit()
        assert paid.refund_status == RefundStatus.PENDING
        payments.send_pending_refunds(paid)  # the dev method refunds at once
        db.session.refresh(paid)
        assert (paid.refund_status, paid.refunded_fen) == (RefundStatus.PARTIAL, one.total_fen)
        payments.refund_shop_order(two, reason="检验不合格")
        db.session.commit()
        payments.send_pending_refunds(paid)
        db.session.refresh(paid)
        assert paid.refund_status == RefundStatus.REFUNDED
        assert paid.refunded_fen == paid.total_fen == one.total_fen + two.total_fen
