"""The app under gunicorn with this repository's gunicorn.conf.py, on a free loopback port, for
the tests that need real worker processes (request limits, concurrent buyers)."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path)
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


def _wait_ready(server: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited:\n{log.read_text()}")
        try:
            if get(port, "/healthz").status == 200:
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"gunicorn did not start:\n{log.read_text()}")


@contextmanager
def serving(tmp: Path, **settings: str) -> Iterator[int]:
    """Serve the app with these environment settings (``DATABASE_URL``, ``GUNICORN_WORKERS``
    ...) until the block ends; yields the port. Stopped with SIGTERM, then SIGKILL."""
    port = free_port()
    env = os.environ | {
        "INSTANCE_PATH": str(tmp),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "FLASK_APP": "wsgi:app",
        **settings,
    }
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
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def migrate(tmp: Path, database_url: str) -> None:
    env = os.environ | {"INSTANCE_PATH": str(tmp), "DATABASE_URL": database_url}
    env["FLASK_APP"] = "wsgi:app"
    subprocess.run(
        [BIN / "flask", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True
    )


@contextmanager
def serving_the_test_database(app, tmp: Path) -> Iterator[int]:
    """The app under gunicorn on the test run's own database (SQLite or PostgreSQL): several
    worker processes with several threads each, no rate limits; yields the port."""
    with serving(
        tmp,
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        GUNICORN_WORKERS="3",
        GUNICORN_THREADS="4",
        RATELIMIT_ENABLED="0",
    ) as port:
        yield port
