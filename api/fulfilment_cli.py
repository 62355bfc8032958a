"""``flask fulfilment ...``: the jobs of the fulfilment chain (run by cron or a scheduler)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from services import fulfilment_jobs, shipping_uploads

fulfilment_cli = AppGroup("fulfilment", help="Stations, deadlines and WeChat shipping uploads.")


@fulfilment_cli.command("retry-shipping-uploads")
def retry_shipping_uploads():
    """Send WeChat the shipping information still pending (and make any an act missed)."""
    click.echo(f"shipping uploads sent: {shipping_uploads.retry_pending()}")


@fulfilment_cli.command("deadlines")
@click.option("--batch", default=500, show_default=True, help="ShopOrders per step at most")
def deadlines(batch):
    """Flag ShopOrders past their deadline, count shipped goods as received after
    AUTO_CONFIRM_DAYS and complete received ones after AFTER_SALES_DAYS (safe to rerun)."""
    run = fulfilment_jobs.run_deadlines(batch=batch)
    click.echo(f"flagged: {run.flagged}, confirmed: {run.confirmed}, completed: {run.completed}")
