"""Migrations run on a database that already holds rows: down and up again, data kept; and an
upgrade that cannot finish leaves the database as it was.

Its own SQLite file whatever ``DATABASE_URL`` says: SQLite is where batch migrations rebuild
tables, where enforced foreign keys stop them once rows exist, and where Python's driver would
commit DDL statement by statement.
"""

from __future__ import annotations

import base64
import secrets

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text

from api.app import create_app
from models import Product, db
from services import demo, regions

BEFORE_COVER_COLUMN = "2ef9137a56b2"


@pytest.fixture
def migrate_app(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'migrate.db'}",
            # One pooled connection: the one the migration ran on is the one looked at after.
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 1, "max_overflow": 0},
            "PII_ENCRYPTION_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "MEDIA_ROOT": str(tmp_path / "media"),
            "PASSWORD_HASH_CHEAP": True,
        }
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def _revision() -> str:
    return db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()


def test_round_trip_keeps_rows_and_backfills(migrate_app):
    upgrade()
    regions.import_regions()
    demo.seed_demo()
    before = {p.id: list(p.media_ids) for p in db.session.scalars(select(Product))}
    assert any(before.values())
    db.session.remove()

    downgrade(revision=BEFORE_COVER_COLUMN)
    upgrade()

    covers = dict(db.session.execute(text("SELECT id, cover_media_id FROM products")).all())
    assert covers == {i: (ids[0] if ids else None) for i, ids in before.items()}
    uploaders = text("SELECT media_id, user_id FROM media_uploads ORDER BY media_id")
    first_uploaders = text("SELECT id, uploaded_by_id FROM media ORDER BY id")
    assert db.session.execute(uploaders).all() == db.session.execute(first_uploaders).all()
    assert db.session.execute(text("PRAGMA foreign_key_check")).all() == []
    # The connection goes back to the app with its foreign keys enforced again.
    assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_an_upgrade_that_fails_its_reference_check_leaves_nothing_behind(migrate_app):
    upgrade(revision=BEFORE_COVER_COLUMN)
    db.session.execute(text("PRAGMA foreign_keys=OFF"))
    db.session.execute(
        text(
            "INSERT INTO regions (code, name, level, parent_code) "
            "VALUES ('340323999999', '无主村', 'village', '340323999000')"
        )
    )
    db.session.commit()
    db.session.execute(text("PRAGMA foreign_keys=ON"))
    db.session.remove()

    with pytest.raises(SystemExit):  # flask-migrate logs the error and exits 1
        upgrade()

    assert _revision() == BEFORE_COVER_COLUMN
    schema = inspect(db.session.connection())
    assert not [t for t in schema.get_table_names() if t.startswith("_alembic_tmp")]
    assert "cover_media_id" not in {c["name"] for c in schema.get_columns("products")}
    assert "media_uploads" not in schema.get_table_names()  # every step of the upgrade undone
    assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
