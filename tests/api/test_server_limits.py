"""The app under gunicorn with this repository's gunicorn.conf.py: a long query string (a cursor,
a search) must reach the app and get the API's JSON error, not gunicorn's HTML refusal page.

Served the way bench/http_load.py serves it: a throwaway SQLite database migrated by
``flask db upgrade``, one worker on a free loopback port.
"""

from __future__ import annotations

import http.client
import json

import pytest

from tests.factories import assert_error_body
from tests.gunicorn import get, migrate, serving

# gunicorn's ceiling for the request line, set in gunicorn.conf.py; nginx answers beyond it.
REQUEST_LINE_LIMIT = 8190


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gunicorn")
    database = f"sqlite:///{tmp}/server.db"
    migrate(tmp, database)
    with serving(tmp, DATABASE_URL=database, GUNICORN_WORKERS="1") as port:
        yield port


def _assert_cursor_refused(response: http.client.HTTPResponse) -> dict:
    """The app's own answer to an overlong cursor: the query schema caps ``cursor`` at 200
    characters (api/schemas/catalog.py), so it is refused as input (422 validation_error)
    before it is decoded, not as a forged cursor (invalid_cursor)."""
    assert response.status == 422, response.body
    assert response.getheader("Content-Type", "").startswith("application/json")
    body = assert_error_body(json.loads(response.body), 422, "validation_error")
    assert "cursor" in body["errors"]["query"]
    return body


def test_a_long_cursor_reaches_the_app_and_gets_the_json_error(port):
    _assert_cursor_refused(get(port, "/api/v1/catalog/products?cursor=" + "A" * 6000))


def test_beyond_the_limit_gunicorn_refuses_before_the_app(port):
    """Where nginx's JSON answer takes over (docs/deploy.md): gunicorn's own 414 page."""
    path = "/api/v1/catalog/products?cursor="
    fits = REQUEST_LINE_LIMIT - len(f"GET {path} HTTP/1.1")
    _assert_cursor_refused(get(port, path + "A" * fits))
    response = get(port, path + "A" * (fits + 1))
    assert response.status == 414
    assert not response.getheader("Content-Type", "").startswith("application/json")
