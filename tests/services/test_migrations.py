"""Migrations run on a database that already holds rows: down and up again, data kept.

Its own SQLite file whatever ``DATABASE_URL`` says: SQLite is where batch migrations rebuild
tables (and where enforced foreign keys used to stop them once rows existed).
"""

from __future__ import annotations

import base64
import secrets

from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from api.app import create_app
from models import Product, db
from services import demo, regions

BEFORE_COVER_COLUMN = "2ef9137a56b2"


def test_cover_column_round_trip_keeps_rows_and_backfills(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'migrate.db'}",
            "PII_ENCRYPTION_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "MEDIA_ROOT": str(tmp_path / "media"),
            "PASSWORD_HASH_CHEAP": True,
        }
    )
    with app.app_context():
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
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
            # Enforcement is back on for the app once the migration is done.
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        db.session.remove()
        db.engine.dispose()
