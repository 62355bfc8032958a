"""Wiping tables between tests: the ledger refuses deletes on PostgreSQL (migration
``ledger_and_payouts``) except in a transaction that asks for it."""

from sqlalchemy import text

from models import db


def allow_ledger_erase() -> None:
    """For the rest of the current transaction only."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL nongjia.ledger_erase = 'on'"))
