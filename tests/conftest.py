"""Shared fixtures: one app and database per run, rows wiped after every test.

The schema is built by the real migrations, on SQLite by default or on the PostgreSQL named by
``DATABASE_URL``; the region seed is loaded once and kept.
"""

from __future__ import annotations

import base64
import os
import secrets

import pytest
from flask import request
from flask_migrate import upgrade
from sqlalchemy import delete, text

from api.app import create_app
from api.blueprint import declared_errors
from api.routing import current_view
from models import Region, db
from services import regions
from tests.database import allow_ledger_erase
from tests.factories import World

pytest_plugins = ["tests.fakes.fixtures"]


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def app(tmp_path_factory, fake_wechat_server):
    instance = tmp_path_factory.mktemp("instance")
    os.environ.setdefault("INSTANCE_PATH", str(instance))
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": _database_url(tmp_path_factory),
            # Generated per run: no key is ever committed.
            "PII_ENCRYPTION_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "SECRET_KEY": secrets.token_hex(16),
            "WECHAT_API_BASE": fake_wechat_server.base_url,
            "WECHAT_APPID": fake_wechat_server.appid,
            "WECHAT_SECRET": fake_wechat_server.secret,
            "WECHAT_TIMEOUT": 2.0,
            # Limits stay on (so their code runs); the login limit is lifted out of reach.
            "RATELIMIT_ENABLED": True,
            "LOGIN_RATE_LIMIT": "100000 per minute",
            "JOIN_RATE_LIMIT": "100000 per minute",
            "DEV_LOGIN_ENABLED": True,
            "PASSWORD_HASH_CHEAP": True,
            "MEDIA_ROOT": str(instance / "media"),
            # Tests read the feed right after changing listings; tests/api/test_feed_cache.py
            # switches the cache on where it is the subject.
            "CATALOG_CACHE_SECONDS": 0,
        }
    )
    undeclared = _watch_error_codes(app)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            # A database reused between runs starts from nothing.
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        regions.import_regions()
    yield app
    with app.app_context():
        db.engine.dispose()
    assert not undeclared, (
        "operations answered error codes their spec does not list (add them with "
        f"@blp.errors): {sorted(undeclared)}"
    )


# Answered by any operation whatever it declares: the route or method does not exist, the
# database or the app failed, the request line or body was refused before any view.
_ANY_OPERATION = {
    "not_found",
    "method_not_allowed",
    "not_acceptable",
    "internal_error",
    "service_unavailable",
    "conflict",
    "payload_too_large",
    "uri_too_long",
    "bad_request",
}


def _watch_error_codes(app) -> set[tuple[str, str, str]]:
    """Every error answered by an operation during the run is checked against the codes the
    operation declares (the spec's ``x-error-codes``): the published catalog stays true."""
    undeclared: set[tuple[str, str, str]] = set()

    @app.after_request
    def check(response):
        view = current_view()
        if response.status_code < 400 or view is None or not response.is_json:
            return response
        code = (response.get_json(silent=True) or {}).get("error")
        if code and code not in _ANY_OPERATION:
            declared = {entry.code for entry in declared_errors(view)}
            if code not in declared and request.url_rule is not None:
                undeclared.add((request.method, request.url_rule.rule, code))
        return response

    return undeclared


@pytest.fixture(autouse=True)
def _clean_tables(request):
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        db.session.rollback()
        allow_ledger_erase()
        for table in reversed(db.metadata.sorted_tables):
            if table.name not in (Region.__tablename__,):
                db.session.execute(delete(table))
        db.session.commit()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis the Redis tests use: ``REDIS_URL`` (CI sets it to a database of its own).
    Unset, they skip; set but unreachable, they fail: a skip there would hide a broken CI."""
    import redis

    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set")
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"REDIS_URL={url} is set but Redis does not answer: {exc}")
    finally:
        client.close()
    return url


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def ctx(app):
    """An application context for service-level tests."""
    with app.app_context():
        yield
        db.session.rollback()


@pytest.fixture
def world(app):
    return World(app)


@pytest.fixture
def catalog(world):
    from tests.factories import Catalog

    return Catalog(world)


@pytest.fixture
def shopping(world, catalog, client):
    from tests.shopping import Shopping

    return Shopping(world, catalog, client)


@pytest.fixture
def chain(world, shopping, client):
    from tests.fulfilment import Chain

    return Chain(world, shopping, client)


@pytest.fixture
def network(chain):
    """固镇县's three tiers, each with an operator (tests/fulfilment.py ``Network``)."""
    return chain.network()
