"""Operator commands: ``flask users ...``, ``flask regions import``, ``flask seed-demo``."""

from __future__ import annotations

import json
import secrets
from http import HTTPStatus
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from api import errors
from api import errors_doc as errors_doc_module
from api.fulfilment_cli import fulfilment_cli
from api.ledger_cli import ledger_cli, payouts_cli
from models.enums import Role
from services import accounts, demo, orders, payments, regions
from services.error_codes import RequestError
from services.errors import DomainError

users = AppGroup("users", help="Console accounts and role grants.")
errors_cli = AppGroup("errors", help="The error-code catalog.")
regions_cli = AppGroup("regions", help="Administrative divisions.")


def _fail(exc: DomainError) -> None:
    raise click.ClickException(f"{exc.code}: {exc.message}")


@users.command("create-staff")
@click.option("--username", required=True)
@click.option("--county", "county_code", required=True, help="6-digit county code, e.g. 340323")
@click.option("--password", help="generated and printed when omitted")
@click.option("--nickname", default="")
def create_staff(username, county_code, password, nickname):
    """Create a county staff account for one county."""
    password = password or secrets.token_urlsafe(12)
    try:
        user = accounts.create_staff_user(
            username=username, password=password, nickname=nickname, county_code=county_code
        )
    except DomainError as exc:
        _fail(exc)
    click.echo(
        f"created county staff #{user.id} {username} for {county_code}; password: {password}"
    )


@users.command("create-admin")
@click.option("--username", required=True)
@click.option("--password", help="generated and printed when omitted")
def create_admin(username, password):
    """Create a platform admin (sees everything, read-only)."""
    password = password or secrets.token_urlsafe(12)
    try:
        user = accounts.create_staff_user(username=username, password=password, platform_admin=True)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"created platform admin #{user.id} {username}; password: {password}")


def role_and_scope(command):
    """The options naming a scoped role, shared by ``grant`` and ``revoke``."""
    options = [
        click.option("--user-id", type=int, required=True),
        click.option("--role", type=click.Choice([r.value for r in Role]), required=True),
        click.option("--region", "region_code", help="county code (staff) or village code"),
        click.option("--household", "household_id", type=int),
        click.option("--unit", "unit_id", type=int),
        click.option("--station", "station_id", type=int),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@users.command("grant")
@role_and_scope
def grant(user_id, role, **scope):
    """Grant a scoped role to an existing user."""
    try:
        accounts.grant_role(None, user_id=user_id, role=Role(role), **scope)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"granted {role} to user #{user_id}")


@users.command("set-password")
@click.option("--username", required=True)
@click.option("--password", help="generated and printed when omitted")
def set_password(username, password):
    """Set a console account's password; every session opened before ends."""
    password = password or secrets.token_urlsafe(12)
    try:
        user = accounts.set_password(username=username, password=password)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"new password for #{user.id} {username}: {password}; its tokens are revoked")


@users.command("revoke")
@role_and_scope
def revoke(user_id, role, **scope):
    """Take a scoped role away (the same scope it was granted with); ends the user's sessions."""
    try:
        accounts.revoke_role(None, user_id=user_id, role=Role(role), **scope)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"revoked {role} from user #{user_id}; its tokens are revoked")


@users.command("deactivate")
@click.option("--user-id", type=int, required=True)
def deactivate(user_id):
    """Switch an account off: its tokens stop working at once and it cannot log in."""
    try:
        accounts.deactivate_user(None, user_id=user_id)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"deactivated user #{user_id}; its tokens are revoked")


@regions_cli.command("import")
def import_regions():
    """Load the vendored region codes (idempotent)."""
    click.echo(f"regions added: {regions.import_regions()}")


@click.command("seed-demo")
@with_appcontext
def seed_demo():
    """Create a demo county with staff, helpers, households and shops (idempotent)."""
    for line in demo.seed_demo():
        click.echo(line)


@errors_cli.command("doc")
@click.option("--check", is_flag=True, help="fail if docs/errors.md is not current")
def errors_doc(check):
    """Write docs/errors.md from the error catalog (services/error_codes.py)."""
    text = errors_doc_module.render(current_app)
    path = errors_doc_module.DOC_PATH
    if check:
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            raise click.ClickException(f"{path.name} is not current: run `flask errors doc`")
        click.echo(f"{path.name} is current")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}")


@errors_cli.command("proxy-pages")
@click.argument("directory", type=click.Path(file_okay=False))
def proxy_pages(directory):
    """Write the JSON bodies nginx answers with for requests it refuses (docs/deploy.md)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    for entry in (RequestError.PAYLOAD_TOO_LARGE, RequestError.URI_TOO_LONG):
        status = errors.status_of(entry)
        body = {
            "code": status,
            "status": HTTPStatus(status).phrase,
            "error": entry.code,
            "message": entry.message,
        }
        (out / f"{status}.json").write_text(json.dumps(body, ensure_ascii=False), "utf-8")
        click.echo(f"wrote {out / f'{status}.json'}")


orders_cli = AppGroup("orders", help="Orders.")
payments_cli = AppGroup("payments", help="Payments and refunds.")


@orders_cli.command("expire")
@click.option("--batch", default=200, show_default=True, help="orders per run at most")
def expire_orders(batch):
    """Unpaid orders past their time give their stock back (safe to run concurrently)."""
    click.echo(f"orders expired: {orders.expire_orders(batch=batch)}")


@payments_cli.command("refunds")
def retry_refunds():
    """Ask WeChat again (same refund numbers) about refunds still pending."""
    click.echo(f"orders with pending refunds sent again: {payments.retry_pending_refunds()}")


def register(app: Flask) -> None:
    app.cli.add_command(fulfilment_cli)
    app.cli.add_command(ledger_cli)
    app.cli.add_command(payouts_cli)
    app.cli.add_command(orders_cli)
    app.cli.add_command(payments_cli)
    app.cli.add_command(errors_cli)
    app.cli.add_command(users)
    app.cli.add_command(regions_cli)
    app.cli.add_command(seed_demo)
