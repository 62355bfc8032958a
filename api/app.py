"""The composition root: config → extensions → blueprints → errors → CLI."""

from __future__ import annotations

import os
import sqlite3

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from flask_swagger_ui import get_swaggerui_blueprint
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from api import cli, errors, media_files
from api.auth import BEARER_SCHEME
from api.blueprint import ErrorCodesPlugin
from api.config import Config
from api.extensions import api, db, limiter, migrate
from api.health import bp as health_bp
from api.logging_setup import install_filter
from api.routing import IdConverter
from api.v1 import (
    auth,
    buyers,
    catalog,
    fulfilment,
    households,
    media,
    orders,
    payments,
    payouts,
    products,
    regions,
    shops,
    stations,
    units,
)
from api.v1.admin import households as admin_households
from api.v1.admin import moderation as admin_moderation
from api.v1.admin import orders as admin_orders
from api.v1.admin import payouts as admin_payouts
from api.v1.admin import shipping_uploads as admin_shipping_uploads
from api.v1.admin import shops as admin_shops
from api.v1.admin import stations as admin_stations
from api.v1.admin import units as admin_units
from storefront import bp as storefront_bp
from storefront import render_error_page

BLUEPRINTS = (
    auth.blp,
    regions.blp,
    households.blp,
    shops.blp,
    media.blp,
    products.blp,
    catalog.blp,
    units.blp,
    admin_households.blp,
    admin_shops.blp,
    admin_moderation.blp,
    admin_units.blp,
    buyers.blp,
    orders.blp,
    payments.blp,
    admin_orders.blp,
    stations.blp,
    fulfilment.blp,
    admin_stations.blp,
    admin_shipping_uploads.blp,
    payouts.blp,
    admin_payouts.blp,
)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers run beside the writer; busy_timeout waits instead of failing at once;
    # SQLite leaves foreign keys off unless asked.
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def create_app(config: Config | dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True, instance_path=_instance_path())
    os.makedirs(app.instance_path, exist_ok=True)
    if config is None or isinstance(config, dict):
        cfg = Config.from_env(instance_path=app.instance_path)
        settings = cfg.as_flask_config() | dict(config or {})
    else:
        settings = config.as_flask_config()
    app.config.update(settings)
    if isinstance(app.json, DefaultJSONProvider):
        app.json.ensure_ascii = False  # Chinese stays readable on the wire
        app.json.sort_keys = False
    hops = app.config["PROXY_FIX_HOPS"]
    if hops:
        # Flask's documented way to add WSGI middleware (mypy sees a method being replaced).
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )

    # Every <int:...> in a route is a row id: bounded, so no client number overflows a query.
    app.url_map.converters["int"] = IdConverter

    install_filter()
    db.init_app(app)
    migrate.init_app(app, db, directory=_migrations_dir(), render_as_batch=True, compare_type=True)
    limiter.init_app(app)
    api.init_app(
        app,
        spec_kwargs={
            "info": {"description": "农家微店 API"},
            "extra_plugins": [ErrorCodesPlugin(errors.status_of, errors.entry_of)],
        },
    )
    api.spec.components.security_scheme("bearerAuth", BEARER_SCHEME)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.register_blueprint(health_bp)
    app.register_blueprint(
        get_swaggerui_blueprint(
            "/api/docs", "/api/openapi.json", config={"app_name": "Nongjia API"}
        ),
        url_prefix="/api/docs",
    )
    app.register_blueprint(storefront_bp)
    media_files.init_app(app)
    errors.register_error_handlers(app, html_error_page=render_error_page)
    cli.register(app)
    return app


def _instance_path() -> str:
    return os.path.abspath(os.environ.get("INSTANCE_PATH", "instance"))


def _migrations_dir() -> str:
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")
