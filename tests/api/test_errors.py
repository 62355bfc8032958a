"""Every error under /api/ has one shape, and bad input writes nothing."""

from __future__ import annotations

import base64
import logging
import secrets

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from api.app import create_app
from models import Household, db
from tests.factories import GUZHEN, VILLAGE_A, assert_error, valid_id_number


def household_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Household.id)))


@pytest.fixture
def staff(world):
    return world.staff(GUZHEN)


def valid_body(**overrides):
    return {
        "registry_no": "ERR-0001",
        "head_name": "李桂兰",
        "id_number": valid_id_number(),
        "village_code": VILLAGE_A,
        "poverty_status": "registered",
        "phone": "13805520001",
    } | overrides


def test_unknown_api_route_is_404_in_shape(client):
    assert_error(client.get("/api/v1/no-such-thing"), 404, "not_found")


def test_wrong_method_is_405_in_shape(client):
    body = assert_error(client.delete("/api/v1/regions"), 405, "method_not_allowed")
    assert "errors" not in body


def test_pages_outside_api_keep_html_errors(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_malformed_json_is_400_and_writes_nothing(app, client, staff):
    response = client.post(
        "/api/v1/households",
        data="{not json",
        content_type="application/json",
        headers=staff.headers,
    )
    assert_error(response, 400, "malformed_json")
    assert household_count(app) == 0


def test_unknown_field_is_422(app, client, staff):
    response = client.post("/api/v1/households", json=valid_body(extra="x"), headers=staff.headers)
    body = assert_error(response, 422, "unknown_field")
    assert body["errors"]["json"]["extra"]
    assert household_count(app) == 0


@pytest.mark.parametrize(
    "field, value",
    [
        ("head_name", 12),
        ("poverty_status", "rich"),
        ("village_code", ["340323101200"]),
        ("registry_no", ""),
        ("head_name", "   "),
        ("phone", 13805520001),
    ],
)
def test_wrong_types_are_422(app, client, staff, field, value):
    response = client.post(
        "/api/v1/households", json=valid_body(**{field: value}), headers=staff.headers
    )
    body = assert_error(response, 422, "validation_error")
    assert field in body["errors"]["json"]
    assert household_count(app) == 0


def test_invalid_id_checksum_is_422(app, client, staff):
    good = valid_id_number()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    response = client.post(
        "/api/v1/households", json=valid_body(id_number=bad), headers=staff.headers
    )
    body = assert_error(response, 422, "invalid_id_number")
    assert "id_number" in body["errors"]
    assert bad not in response.get_data(as_text=True)
    assert household_count(app) == 0


@pytest.mark.parametrize("code", ["34032310120", "abc", "340323", "340323100000", "999999999999"])
def test_bad_region_code_is_422(app, client, staff, code):
    response = client.post(
        "/api/v1/households", json=valid_body(village_code=code), headers=staff.headers
    )
    assert_error(response, 422, "invalid_region_code")
    assert household_count(app) == 0


def test_oversized_json_body_is_413(app, client, staff):
    body = valid_body(head_name="李" * 300_000)
    response = client.post("/api/v1/households", json=body, headers=staff.headers)
    assert_error(response, 413, "payload_too_large")
    assert household_count(app) == 0


def test_body_over_the_upload_cap_is_413(client, app):
    big = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post(
        "/api/v1/auth/dev-login", data=big, content_type="multipart/form-data; boundary=x"
    )
    assert_error(response, 413, "payload_too_large")


@pytest.fixture
def bare_app(tmp_path):
    """A separate app whose test-only routes raise, to see how the handlers answer."""
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'bare.db'}",
            "PII_ENCRYPTION_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        }
    )

    @app.get("/api/v1/_boom")
    def boom():
        raise RuntimeError("secret internals: SELECT * FROM households")

    @app.get("/api/v1/_race")
    def race():
        raise IntegrityError("INSERT INTO shops ...", {}, Exception("UNIQUE constraint failed"))

    return app


def test_unexpected_error_is_500_logged_without_internals(bare_app, caplog):
    with caplog.at_level(logging.ERROR):
        response = bare_app.test_client().get("/api/v1/_boom")
    body = assert_error(response, 500, "internal_error")
    assert "secret internals" not in response.get_data(as_text=True)
    assert "errors" not in body
    assert "secret internals" in caplog.text  # the operator still sees what went wrong


def test_integrity_error_is_409(bare_app):
    response = bare_app.test_client().get("/api/v1/_race")
    body = assert_error(response, 409, "conflict")
    assert "UNIQUE" not in str(body)
