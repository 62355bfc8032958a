"""The migrations build exactly the models' schema; the operator commands work."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from api.cli import create_staff, grant, import_regions, seed_demo
from models import Region, Shop, User, db


def test_migrations_match_the_models(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_create_staff_command_then_login(app, client):
    result = app.test_cli_runner().invoke(
        create_staff, ["--username", "clerk", "--county", "340323", "--password", "a-long-password"]
    )
    assert result.exit_code == 0, result.output
    assert "a-long-password" in result.output
    response = client.post(
        "/api/v1/auth/staff-login", json={"username": "clerk", "password": "a-long-password"}
    )
    assert response.status_code == 200


def test_create_staff_refuses_unknown_county(app):
    result = app.test_cli_runner().invoke(
        create_staff,
        ["--username", "clerk2", "--county", "999999", "--password", "a-long-password"],
    )
    assert result.exit_code != 0
    assert "invalid_scope" in result.output
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "clerk2")) is None


def test_grant_command(app, world):
    person = world.user()
    result = app.test_cli_runner().invoke(
        grant, ["--user-id", str(person.id), "--role", "helper", "--region", "340323101200"]
    )
    assert result.exit_code == 0, result.output
    result = app.test_cli_runner().invoke(
        grant, ["--user-id", str(person.id), "--role", "unit_admin"]
    )
    assert result.exit_code != 0


def test_region_import_is_idempotent(app):
    result = app.test_cli_runner().invoke(import_regions)
    assert "regions added: 0" in result.output
    with app.app_context():
        assert db.session.get(Region, "340323").name == "固镇县"


def test_seed_demo_twice(app, client):
    runner = app.test_cli_runner()
    first = runner.invoke(seed_demo)
    second = runner.invoke(seed_demo)
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    with app.app_context():
        shops = db.session.scalars(select(Shop).order_by(Shop.id)).all()
        assert [s.status.value for s in shops] == ["approved", "pending"]
    password = next(line.split()[-1] for line in second.output.splitlines() if "gz-staff" in line)
    login = client.post(
        "/api/v1/auth/staff-login", json={"username": "gz-staff", "password": password}
    )
    assert login.status_code == 200
    listed = client.get("/api/v1/catalog/products").json["items"]
    assert [p["title"] for p in listed] == ["老品种小磨香油", "林下散养土鸡蛋"]
    home = client.get("/")
    assert "桂兰家的土鸡蛋" in home.get_data(as_text=True)
    assert "德顺家的小磨香油" not in home.get_data(as_text=True)  # pending shops stay hidden


def test_grant_command_refuses_a_unit_that_does_not_exist(app, world):
    person = world.user()
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "grant",
            "--user-id",
            str(person.id),
            "--role",
            "unit_admin",
            "--unit",
            "999",
        ]
    )
    assert result.exit_code != 0
    assert "invalid_scope" in result.output
