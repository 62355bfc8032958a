"""``flask fulfilment ...``: the jobs of the fulfilment chain (run by cron or a scheduler)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from services import shipping_uploads

fulfilment_cli = AppGroup("fulfilment", help="Stations, deadlines and WeChat shipping uploads.")


@fulfilment_cli.command("retry-shipping-uploads")
def retry_shipping_uploads():
    """Send WeChat the shipping information still pending (and make any an act missed)."""
    click.echo(f"shipping uploads sent: {shipping_uploads.retry_pending()}")
