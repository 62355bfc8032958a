"""The app under gunicorn with this repository's gunicorn.conf.py: a long query string (a cursor,
a search) must reach the app and get the API's JSON error, not gunicorn's HTML refusal page.

Served the way bench/http_load.py serves it: a throwaway SQLite database migrated by
``flask db upgrade``, one worker on a free loopback port.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.factories import assert_error_body

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# gunicorn's ceiling for the request line, set in gunicorn.conf.py; nginx answers beyond it.
REQUEST_LINE_LIMIT = 8190


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path)
    response = conn.getresponse()
    response.body = response.read()
    conn.close()
    return response


def _wait_ready(server: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited:\n{log.read_text()}")
        try:
            if _get(port, "/healthz").status == 200:
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"gunicorn did not start:\n{log.read_text()}")


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gunicorn")
    port = _free_port()
    env = os.environ | {
        "INSTANCE_PATH": str(tmp),
        "DATABASE_URL": f"sqlite:///{tmp}/server.db",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "FLASK_APP": "wsgi:app",
    }
    subprocess.run(
        [BIN / "flask", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    log = tmp / "gunicorn.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [BIN / "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(server, port, log)
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


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
    _assert_cursor_refused(_get(port, "/api/v1/catalog/products?cursor=" + "A" * 6000))


def test_beyond_the_limit_gunicorn_refuses_before_the_app(port):
    """Where nginx's JSON answer takes over (docs/deploy.md): gunicorn's own 414 page."""
    path = "/api/v1/catalog/products?cursor="
    fits = REQUEST_LINE_LIMIT - len(f"GET {path} HTTP/1.1")
    _assert_cursor_refused(_get(port, path + "A" * fits))
    response = _get(port, path + "A" * (fits + 1))
    assert response.status == 414
    assert not response.getheader("Content-Type", "").startswith("application/json")
