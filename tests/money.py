"""The money core through the API, for tests: parts walked to completion (the household's
money becomes available), balances, payouts, and the ledger's own check."""

from __future__ import annotations

import itertools
from datetime import timedelta

from models import Shop, db
from models.base import utcnow
from services import fulfilment_jobs, ledger_check
from tests.factories import Person
from tests.fulfilment import Chain, Network, Part
from tests.shopping import API

_keys = itertools.count(1)
_accounts = itertools.count(1)


def record_bank_account(client, staff: Person, household_id: int) -> str:
    """County staff record a 惠农一卡通 account (a new number each time) for the household's bank
    payouts: the number."""
    number = f"6230{next(_accounts):014d}"
    answer = client.put(
        f"{API}/households/{household_id}/bank-account",
        json={
            "bank_name": "固镇县农村商业银行",
            "account_name": "李桂兰",
            "account_number": number,
        },
        headers=staff.headers,
    )
    assert answer.status_code == 200, answer.json
    return number


class Money:
    def __init__(self, chain: Chain, network: Network) -> None:
        self.chain = chain
        self.network = network
        self.client = chain.client
        self.app = chain.app

    def household_of(self, part: Part) -> int:
        return self.household_of_offer(part.offer)

    def household_of_offer(self, offer) -> int:
        with self.app.app_context():
            return db.session.get(Shop, offer.shop_id).household_id

    def delivered(self, part: Part) -> None:
        """Accepted, handed in, inspected, shipped and confirmed by the buyer."""
        chain, network = self.chain, self.network
        chain.through_inspection(network, part)
        assert chain.ship(part, network.centre_operator).status_code == 200
        confirmed = chain.post(f"/shop-orders/{part.shop_order_id}/confirm-receipt", part.buyer)
        assert confirmed.status_code == 200, confirmed.json

    def complete_due(self) -> None:
        """The deadline job run after the after-sales window of everything delivered."""
        days = self.app.config["AFTER_SALES_DAYS"] + 1
        with self.app.app_context():
            fulfilment_jobs.run_deadlines(now=utcnow() + timedelta(days=days))

    def completed(self, part: Part) -> None:
        self.delivered(part)
        self.complete_due()

    def sold(self, *, price_fen: int = 4500, quantity: int = 2) -> tuple[Part, int]:
        """A part paid for, walked to completion: (the part, its household's id)."""
        part = self.chain.paid(self.chain.shopping.offer(price_fen=price_fen), quantity=quantity)
        self.completed(part)
        return part, self.household_of(part)

    def balance(self, person: Person, household_id: int) -> dict:
        answer = self.client.get(f"{API}/households/{household_id}/balance", headers=person.headers)
        assert answer.status_code == 200, answer.json
        return answer.json

    def ask_payout(
        self, person: Person, household_id: int, amount_fen: int, channel: str, key=None
    ):
        headers = person.headers | {"Idempotency-Key": key or f"payout-{next(_keys)}"}
        return self.client.post(
            f"{API}/households/{household_id}/payouts",
            json={"amount_fen": amount_fen, "channel": channel},
            headers=headers,
        )

    def differences(self) -> list[str]:
        with self.app.app_context():
            return [str(d) for d in ledger_check.run(ask_provider=False)]
