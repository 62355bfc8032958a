"""Endpoint throughput under gunicorn, as ratios to a bare constant-JSON endpoint.

Starts gunicorn on a free loopback port with a throwaway SQLite database and the demo data,
then drives each endpoint with keep-alive connections from a few threads for a fixed time.
Traffic goes to 127.0.0.1 only; every loop is bounded in time.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECONDS = float(os.environ.get("BENCH_SECONDS", "4"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _hammer(port: int, path: str, headers: dict, seconds: float) -> tuple[int, int]:
    done, errors = 0, 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker() -> None:
        nonlocal done, errors
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        ok = bad = 0
        while time.monotonic() < deadline:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            ok, bad = (ok + 1, bad) if response.status == 200 else (ok, bad + 1)
        conn.close()
        with lock:
            done += ok
            errors += bad

    threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done, errors


def _login(port: int) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(
        "POST",
        "/api/v1/auth/dev-login",
        body=json.dumps({"openid": "demo-farmer"}),
        headers={"Content-Type": "application/json"},
    )
    token = json.loads(conn.getresponse().read())["token"]
    return {"Authorization": f"Bearer {token}"}


def run(endpoints: list[tuple[str, str, bool]]) -> list[dict]:
    """endpoints: (label, path, needs_login). Returns one row per endpoint, baseline first."""
    with tempfile.TemporaryDirectory() as tmp:
        env = os.environ | {
            "INSTANCE_PATH": tmp,
            "DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "FLASK_APP": "bench.app_under_test:app",
            "LOGIN_RATE_LIMIT": "100000 per minute",
        }
        for step in (["db", "upgrade"], ["seed-demo"], ["bench-seed"]):
            subprocess.run(
                [BIN / "flask", *step], cwd=ROOT, env=env, check=True, capture_output=True
            )
        port = _free_port()
        server = subprocess.Popen(
            [
                BIN / "gunicorn",
                "-c",
                "gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{port}",
                "--access-logfile",
                "/dev/null",
                "bench.app_under_test:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_ready(port)
            auth = _login(port)
            rows = []
            for label, path, needs_login in [
                ("bare constant JSON", "/bench/constant", False),
                *endpoints,
            ]:
                _hammer(port, path, auth if needs_login else {}, 0.5)  # warm up
                done, errors = _hammer(port, path, auth if needs_login else {}, SECONDS)
                rows.append(
                    {"endpoint": label, "path": path, "rps": done / SECONDS, "errors": errors}
                )
            base = rows[0]["rps"]
            for row in rows:
                row["ratio"] = row["rps"] / base if base else 0.0
            return rows
        finally:
            server.terminate()
            server.wait(timeout=20)


def _wait_ready(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")
