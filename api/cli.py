"""Operator commands: ``flask users ...``, ``flask regions import``, ``flask seed-demo``."""

from __future__ import annotations

import secrets

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from models.enums import Role
from services import accounts, demo, regions
from services.errors import DomainError

users = AppGroup("users", help="Console accounts and role grants.")
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


@users.command("grant")
@click.option("--user-id", type=int, required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--region", "region_code", help="county code (staff) or village code (helper)")
@click.option("--household", "household_id", type=int)
@click.option("--unit", "unit_id", type=int)
@click.option("--station", "station_id", type=int)
def grant(user_id, role, region_code, household_id, unit_id, station_id):
    """Grant a scoped role to an existing user."""
    try:
        accounts.grant_role(
            None,
            user_id=user_id,
            role=Role(role),
            region_code=region_code,
            household_id=household_id,
            unit_id=unit_id,
            station_id=station_id,
        )
    except DomainError as exc:
        _fail(exc)
    click.echo(f"granted {role} to user #{user_id}")


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


def register(app: Flask) -> None:
    app.cli.add_command(users)
    app.cli.add_command(regions_cli)
    app.cli.add_command(seed_demo)
