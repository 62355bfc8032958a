"""Endpoint throughput under gunicorn, as ratios to a bare constant-JSON endpoint.

Starts gunicorn on a free loopback port with a throwaway SQLite database and the demo data,
then drives each endpoint with keep-alive connections from a few client processes for a fixed
time.
Traffic goes to 127.0.0.1 only; every loop is bounded in time.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECONDS = float(os.environ.get("BENCH_SECONDS", "2"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _client(args: tuple[int, str, dict, float]) -> tuple[int, int]:
    """One keep-alive client, in its own process so the load generator has no GIL to share."""
    port, path, headers, seconds = args
    ok = bad = 0
    deadline = time.monotonic() + seconds
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while time.monotonic() < deadline:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status == 200:
            ok += 1
        else:
            bad += 1
    conn.close()
    return ok, bad


def _hammer(pool, port: int, path: str, headers: dict, seconds: float) -> tuple[int, int]:
    results = pool.map(_client, [(port, path, headers, seconds)] * CLIENTS)
    return sum(r[0] for r in results), sum(r[1] for r in results)


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


def run(endpoints: list[tuple[str, str, bool]], settings: dict | None = None) -> list[dict]:
    """endpoints: (label, path, needs_login); settings: extra environment of the server.
    Returns one row per endpoint, baseline first."""
    with tempfile.TemporaryDirectory() as tmp:
        env = (
            os.environ
            | (settings or {})
            | {
                "INSTANCE_PATH": tmp,
                "DATABASE_URL": f"sqlite:///{tmp}/bench.db",
                "FLASK_APP": "bench.app_under_test:app",
                "LOGIN_RATE_LIMIT": "100000 per minute",
            }
        )
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
                "--max-requests",  # no worker restarts in the middle of a measurement
                "0",
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
            targets = [("bare constant JSON", "/bench/constant", False), *endpoints]
            ratios = {label: [] for label, _, _ in targets}
            rates = {label: [] for label, _, _ in targets}
            errors = dict.fromkeys(ratios, 0)
            with multiprocessing.Pool(CLIENTS) as pool:
                for _label, path, needs_login in targets:  # warm every code path first
                    _hammer(pool, port, path, auth if needs_login else {}, 0.5)
                # Rounds interleave the endpoints, and each ratio is taken against the baseline
                # of its own round, so a slow spell of the machine hits both sides alike.
                for _ in range(ROUNDS):
                    base = None
                    for label, path, needs_login in targets:
                        done, bad = _hammer(pool, port, path, auth if needs_login else {}, SECONDS)
                        rate = done / SECONDS
                        base = base or rate
                        rates[label].append(rate)
                        ratios[label].append(rate / base if base else 0.0)
                        errors[label] += bad
            return [
                {
                    "endpoint": label,
                    "path": path,
                    "rps": statistics.median(rates[label]),
                    "ratio": statistics.median(ratios[label]),
                    "errors": errors[label],
                }
                for label, path, _ in targets
            ]
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
