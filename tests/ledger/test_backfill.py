"""A database that sold before the ledger existed: `flask ledger backfill` posts its history."""

from sqlalchemy import delete

from models import LedgerAccount, LedgerEntry, LedgerTransaction, db
from tests.database import allow_ledger_erase
from tests.money import Money


def _forget_the_ledger(app) -> None:
    with app.app_context():
        allow_ledger_erase()
        for table in (LedgerEntry, LedgerTransaction, LedgerAccount):
            db.session.execute(delete(table))
        db.session.commit()


def test_backfill_posts_history_once_and_the_ledger_checks_out(app, chain, network):
    money = Money(chain, network)
    part, household_id = money.sold(price_fen=3000, quantity=3)
    rejected = chain.paid(quantity=1)
    assert (
        chain.post(
            f"/shop-orders/{rejected.shop_order_id}/reject",
            rejected.offer.farmer,
            {"reason": "缺货"},
        ).status_code
        == 200
    )
    pending = chain.paid(quantity=1)
    before = money.balance(part.offer.farmer, household_id)
    pending_household = money.household_of(pending)
    pending_before = money.balance(pending.offer.farmer, pending_household)

    _forget_the_ledger(app)
    assert money.differences()  # payments, refunds and completions are missing
    runner = app.test_cli_runner()
    first = runner.invoke(args=["ledger", "backfill"])
    assert first.exit_code == 0, first.output
    assert "posted 5 transaction(s)" in first.output  # 3 payments, 1 refund, 1 completion

    assert money.differences() == []
    assert money.balance(part.offer.farmer, household_id) == before
    assert money.balance(pending.offer.farmer, pending_household) == pending_before
    again = runner.invoke(args=["ledger", "backfill"])
    assert "posted 0 transaction(s)" in again.output
    checked = runner.invoke(args=["ledger", "check", "--no-provider"])
    assert checked.exit_code == 0 and checked.output.strip() == "ledger ok"
