"""``flask ledger check`` and ``flask payouts poll|batch``: the jobs of the money core."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from models import User, db
from services import ledger, ledger_check, payout_batches, payouts
from services.errors import DomainError

ledger_cli = AppGroup("ledger", help="The double-entry ledger.")
payouts_cli = AppGroup("payouts", help="Payouts to households.")


@ledger_cli.command("check")
@click.option(
    "--trade-bill",
    type=click.Path(exists=True, dir_okay=False),
    help="WeChat Pay's daily trade bill (CSV as downloaded) to match against the clearing account",
)
@click.option(
    "--provider/--no-provider",
    default=True,
    help="ask WeChat where the open and recent transfer bills stand",
)
def check(trade_bill: str | None, provider: bool) -> None:
    """Verify every invariant; print ``ledger ok`` or one line per difference and exit 1."""
    differences = ledger_check.run(trade_bill=trade_bill, ask_provider=provider)
    if not differences:
        click.echo("ledger ok")
        return
    for difference in differences:
        click.echo(str(difference))
    sys.exit(1)


@ledger_cli.command("backfill")
def backfill() -> None:
    """Post the payments, refunds and completed parts recorded before the ledger existed
    (run once after upgrading a database that already sold; running it again posts nothing)."""
    click.echo(f"posted {ledger.backfill()} transaction(s)")


@payouts_cli.command("poll")
def poll() -> None:
    """Ask WeChat about every transfer not yet final; send unclear ones again, same number."""
    run = payouts.poll()
    click.echo(f"checked {run.checked} transfer(s); {run.open} still open")


@payouts_cli.command("batch")
@click.option("--county", "county_code", required=True, help="6-digit county code")
@click.option("--threshold-fen", type=int, help="least available balance paid (fen)")
@click.option("--purpose", default="农产品销售货款")
@click.option("--staff", "username", required=True, help="the county staff member running it")
def batch(county_code: str, threshold_fen: int | None, purpose: str, username: str) -> None:
    """Run a bank batch for a county, as ``POST /api/v1/admin/payout-batches`` does."""
    actor = db.session.scalar(db.select(User).where(User.username == username))
    if actor is None:
        raise click.ClickException(f"no user {username}")
    try:
        run = payout_batches.create_batch(
            actor,
            county_code=county_code,
            threshold_fen=threshold_fen,
            purpose=purpose,
            request=None,
        )
    except DomainError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    lines = payout_batches.lines_of(run.batch)
    total = sum(p.amount_fen for p in lines)
    click.echo(f"batch {run.batch.id}: {len(lines)} line(s), {total} fen")
    for skipped in run.skipped:
        click.echo(f"skipped household {skipped.household_id}: {skipped.reason}")
