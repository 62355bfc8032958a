"""Orders: one bulk order of many lines, and many buyers ordering at once.

Bulk: `POST /api/v1/orders` with 500 lines against the same request with 1 line, through the
Flask test client in this process (no HTTP, no gunicorn: only the app's own cost), on a
throwaway SQLite database migrated with the real migrations (and again on PostgreSQL when one
is named). Repetitions interleave the two sizes, each with a fresh ``Idempotency-Key``;
medians. A few more requests of each size then run instrumented: SQL statements counted and
timed, the stages of the request timed.

Concurrent: N buyers (one client process each, keep-alive) place 1-unit orders for a fixed time
against the app under gunicorn on a throwaway PostgreSQL database (created on the server
``BENCH_DATABASE_URL`` or ``DATABASE_URL`` names, dropped at the end): all of them on the same
SKU, then each on a SKU of their own (what the shared row lock costs). The baseline is a bare
POST route of the same app, same clients, same body, in the same rounds. Afterwards the stock of
every SKU is checked against the orders written. Without PostgreSQL this part is skipped.

Traffic goes to 127.0.0.1 only (and to the PostgreSQL server named); every loop is bounded.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import json
import multiprocessing
import os
import re
import statistics
import subprocess
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from unittest import mock

from bench.http_load import BIN, ROOT, ROUNDS, SECONDS, _free_port, _wait_ready

BULK_LINES = max(2, int(os.environ.get("BENCH_ORDER_LINES", "500")))
REPETITIONS = int(os.environ.get("BENCH_ORDER_REPS", "7"))
BUYERS = int(os.environ.get("BENCH_BUYERS", "8"))
SPECS_PER_LISTING = 20  # the most a listing holds
STOCK = 1_000_000  # per SKU: no order of the run can run out
APP = "bench.app_under_test:app"
TARGET_SECONDS = 1.0  # a 500-line order should take less than this


# --- databases ---------------------------------------------------------------------------------


def postgres_server() -> tuple[str | None, str]:
    """The PostgreSQL server to create the throwaway database on, or None and why not."""
    for name in ("BENCH_DATABASE_URL", "DATABASE_URL"):
        url = os.environ.get(name, "")
        if url.startswith(("postgresql", "postgres:")):
            return url, name
    return None, "neither BENCH_DATABASE_URL nor DATABASE_URL names a PostgreSQL server"


def _admin_params(url) -> dict:
    params = {
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username,
        "password": url.password,
        "dbname": url.database or "postgres",
    }
    return {k: v for k, v in params.items() if v is not None}


def postgres_unreachable(server_url: str) -> str | None:
    """Why that server cannot be used, or None when it answers."""
    import psycopg
    from sqlalchemy.engine import make_url

    try:
        with psycopg.connect(**_admin_params(make_url(server_url)), connect_timeout=5):
            return None
    except psycopg.Error as exc:
        return f"cannot connect to it ({str(exc).strip().splitlines()[0]})"


@contextlib.contextmanager
def _sqlite_database(tmp: str):
    yield f"sqlite:///{tmp}/orders.db"


@contextlib.contextmanager
def _postgres_database(server_url: str):
    """A new, empty database on that server for the length of the block; dropped after."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    admin = _admin_params(url)
    name = f"nongjia_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _env(tmp: str, url: str) -> dict:
    return os.environ | {
        "INSTANCE_PATH": tmp,
        "DATABASE_URL": url,
        "FLASK_APP": APP,
        "RATELIMIT_ENABLED": "0",
    }


def _flask(env: dict, *args: str) -> str:
    done = subprocess.run(
        [BIN / "flask", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


def _prepare(env: dict, *, listings: int, specs: int, buyers: int) -> dict:
    """Migrate, seed the demo, add listed SKUs and buyers; their ids and tokens."""
    _flask(env, "db", "upgrade")
    _flask(env, "seed-demo")
    out = _flask(
        env,
        "bench-order-seed",
        f"--listings={listings}",
        f"--specs={specs}",
        f"--stock={STOCK}",
        f"--buyers={buyers}",
    )
    return json.loads(out.strip().splitlines()[-1])


# --- one bulk order ----------------------------------------------------------------------------


def bulk_order(kind: str = "sqlite", server_url: str | None = None) -> dict:
    """A BULK_LINES-line order against a 1-line order, in process."""
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        if kind == "sqlite":
            url = stack.enter_context(_sqlite_database(tmp))
        else:
            url = stack.enter_context(_postgres_database(server_url or ""))
        env = _env(tmp, url)
        listings = -(-BULK_LINES // SPECS_PER_LISTING)
        seeded = _prepare(env, listings=listings, specs=SPECS_PER_LISTING, buyers=1)
        assert len(seeded["sku_ids"]) >= BULK_LINES

        from api.app import create_app
        from models import db

        with mock.patch.dict(os.environ, env):  # the app reads its settings from here
            app = create_app()
        with app.app_context():
            engine = db.engine
        try:
            return _time_bulk(app, engine, seeded)
        finally:
            engine.dispose()


def _time_bulk(app, engine, seeded: dict) -> dict:
    client = app.test_client()
    buyer = seeded["buyers"][0]
    headers = {"Authorization": f"Bearer {buyer['token']}", "Content-Type": "application/json"}
    bodies = {
        n: json.dumps(
            {
                "lines": [{"sku_id": s, "quantity": 1} for s in seeded["sku_ids"][:n]],
                "address_id": buyer["address_id"],
            }
        )
        for n in (1, BULK_LINES)
    }

    def place(n: int) -> float:
        key = {"Idempotency-Key": uuid.uuid4().hex}
        start = time.perf_counter()
        answer = client.post("/api/v1/orders", data=bodies[n], headers=headers | key)
        elapsed = time.perf_counter() - start
        if answer.status_code != 201:
            raise RuntimeError(f"{n}-line order: {answer.status_code} {answer.get_data(True)}")
        if sum(len(s["lines"]) for s in answer.json["shop_orders"]) != n:
            raise RuntimeError(f"{n}-line order came back with another number of lines")
        return elapsed

    for n in (1, BULK_LINES):  # warm-up: first-request costs, statement caches
        place(n)
    times: dict[int, list[float]] = {1: [], BULK_LINES: []}
    for _ in range(REPETITIONS):
        for n in (1, BULK_LINES):
            times[n].append(place(n))
    one, bulk = statistics.median(times[1]), statistics.median(times[BULK_LINES])
    profiles = {
        n: _merge([_instrumented(engine, lambda n=n: place(n)) for _ in range(3)])
        for n in (1, BULK_LINES)
    }
    return {
        "lines": BULK_LINES,
        "one_s": one,
        "bulk_s": bulk,
        "ratio": bulk / one,
        "per_line_s": (bulk - one) / (BULK_LINES - 1),
        "spread": {n: (min(t), max(t)) for n, t in times.items()},
        "profiles": profiles,
    }


_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)', re.IGNORECASE)


def _statement_kind(statement: str) -> str:
    verb = statement.split(None, 1)[0].upper()
    table = _TABLE.search(statement)
    return f"{verb} {table.group(1)}" if table else verb


# The stages of placing an order, timed by wrapping the functions that do them.
_STAGES = [
    ("api.schemas.orders", "OrderIn", "load", "request body validated (marshmallow load)"),
    ("services.orders", None, "_skus_for_sale", "SKUs read, one SELECT"),
    ("services.orders", None, "_take_stock", "stock taken, one UPDATE per line"),
    ("services.orders", None, "_write_order", "order, shop orders, lines written (ORM flush)"),
    ("services.orders", "db.session", "commit", "commit (key, audit row, COMMIT)"),
    ("services.orders", None, "place_order", "place_order in all"),
    ("api.v1.orders", None, "present_order", "presenter"),
    ("api.schemas.orders", "OrderOut", "dump", "response dumped (marshmallow dump)"),
]


def _instrumented(engine, request) -> dict:
    """One request with every SQL statement counted and timed and each stage timed."""
    import importlib

    from sqlalchemy import event

    statements: Counter[str] = Counter()
    sql_seconds = [0.0]
    stages: dict[str, float] = defaultdict(float)

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_start"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        sql_seconds[0] += time.perf_counter() - conn.info.pop("bench_start")
        statements[_statement_kind(statement)] += 1

    def timed(label, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                stages[label] += time.perf_counter() - start

        return wrapper

    with contextlib.ExitStack() as stack:
        for module_name, owner, attribute, label in _STAGES:
            target = importlib.import_module(module_name)
            for part in owner.split(".") if owner else ():
                target = getattr(target, part)
            original = getattr(target, attribute)
            stack.enter_context(mock.patch.object(target, attribute, timed(label, original)))
        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        stack.callback(event.remove, engine, "before_cursor_execute", before)
        stack.callback(event.remove, engine, "after_cursor_execute", after)
        total = request()
    return {
        "total_s": total,
        "statements": dict(statements.most_common()),
        "sql_s": sql_seconds[0],
        "stages": [(label, stages[label]) for *_, label in _STAGES],
    }


def _merge(runs: list[dict]) -> dict:
    """The median of each figure over a few instrumented requests."""
    return {
        "total_s": statistics.median(r["total_s"] for r in runs),
        "statements": runs[-1]["statements"],  # the same every time
        "sql_s": statistics.median(r["sql_s"] for r in runs),
        "stages": [
            (label, statistics.median(dict(r["stages"])[label] for r in runs))
            for label, _ in runs[0]["stages"]
        ],
    }


def print_bulk(title: str, result: dict) -> None:
    n = result["lines"]
    one, bulk = result["profiles"][1], result["profiles"][n]
    print(f"-- {title}")
    print(f"{'order':10} {'ms':>8} {'ratio':>6} {'min–max ms':>14} {'SQL statements':>15}")
    for lines, seconds, ratio, profile in (
        (1, result["one_s"], 1.0, one),
        (n, result["bulk_s"], result["ratio"], bulk),
    ):
        low, high = result["spread"][lines]
        spread = f"{low * 1000:.1f}–{high * 1000:.1f}"
        count = sum(profile["statements"].values())
        print(f"{lines:>4} lines {seconds * 1000:8.1f} {ratio:6.1f} {spread:>14} {count:15d}")
    verdict = "met" if result["bulk_s"] < TARGET_SECONDS else "NOT met"
    print(
        f"each further line costs {result['per_line_s'] * 1000:.2f} ms; a {n}-line order takes "
        f"{result['bulk_s']:.3f} s (target < {TARGET_SECONDS:.0f} s: {verdict})"
    )
    print(
        "where an instrumented request spends its time, ms (medians of 3; instrumenting slows "
        "it a little):"
    )
    print(f"  {'':48} {'1 line':>8} {f'{n} lines':>10}")
    print(f"  {'the whole request':48} {one['total_s'] * 1000:8.1f} {bulk['total_s'] * 1000:10.1f}")
    for (label, small), (_, large) in zip(one["stages"], bulk["stages"], strict=True):
        print(f"  {label:48} {small * 1000:8.1f} {large * 1000:10.1f}")
    waiting = "of all that, waiting on the database driver"
    print(f"  {waiting:48} {one['sql_s'] * 1000:8.1f} {bulk['sql_s'] * 1000:10.1f}")
    for lines, profile in ((1, one), (n, bulk)):
        kinds = ", ".join(f"{kind} ×{count}" for kind, count in profile["statements"].items())
        print(f"statements of the {lines}-line order: {kinds}")
    print()


# --- N buyers, one SKU ------------------------------------------------------------------------


def _post_client(args: tuple[int, str, str, bytes, float]) -> dict:
    """One buyer's keep-alive connection, POSTing the same body with a fresh key each time."""
    port, path, token, body, seconds = args
    counts = Counter()
    latencies = []
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    deadline = time.monotonic() + seconds
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.monotonic() < deadline:
        headers["Idempotency-Key"] = uuid.uuid4().hex
        start = time.perf_counter()
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            counts["failed"] += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        latencies.append(time.perf_counter() - start)
        status = response.status
        counts["201" if status == 201 else "409" if status == 409 else f"{status // 100}xx"] += 1
    conn.close()
    return {"counts": dict(counts), "latencies": latencies}


@contextlib.contextmanager
def _gunicorn(env: dict, log_path: str):
    port = _free_port()
    with open(log_path, "wb") as log:
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
                APP,
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(port)
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# What the clients POST: a bare route of the same app (the baseline), every buyer ordering the
# same SKU, and, to tell waiting on that SKU's row lock from the cost of an order itself, every
# buyer ordering a SKU of their own.
TARGETS = [
    ("bare", "bare POST (/bench/post)"),
    ("one", "POST /api/v1/orders, one SKU"),
    ("own", "  same, a SKU per buyer"),
]


def concurrent_buyers(server_url: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp, _postgres_database(server_url) as url:
        env = _env(tmp, url)
        # The shared SKU first, then one of their own for each buyer.
        listings = -(-(BUYERS + 1) // SPECS_PER_LISTING)
        specs = min(BUYERS + 1, SPECS_PER_LISTING)
        seeded = _prepare(env, listings=listings, specs=specs, buyers=BUYERS)
        skus = seeded["sku_ids"][: BUYERS + 1]
        hot = skus[0]

        def body(buyer: dict, sku: int) -> bytes:
            lines = [{"sku_id": sku, "quantity": 1}]
            return json.dumps({"lines": lines, "address_id": buyer["address_id"]}).encode()

        buyers = seeded["buyers"]
        jobs = {
            "bare": [("/bench/post", b["token"], body(b, hot)) for b in buyers],
            "one": [("/api/v1/orders", b["token"], body(b, hot)) for b in buyers],
            "own": [
                ("/api/v1/orders", b["token"], body(b, sku))
                for b, sku in zip(buyers, skus[1:], strict=True)
            ],
        }
        totals = {label: Counter() for label in jobs}
        rates = {label: [] for label in jobs}
        ratios = {label: [] for label in jobs}
        latencies = {label: [] for label in jobs}
        log_path = os.path.join(tmp, "gunicorn.log")
        with _gunicorn(env, log_path) as port, multiprocessing.Pool(BUYERS) as pool:

            def hammer(label: str, seconds: float) -> list[dict]:
                args = [(port, path, token, data, seconds) for path, token, data in jobs[label]]
                results = pool.map(_post_client, args)
                for result in results:
                    totals[label].update(result["counts"])
                return results

            for label in jobs:  # warm every path first
                hammer(label, 0.5)
            # Rounds interleave the targets; each ratio is taken against its own round's baseline.
            for _ in range(ROUNDS):
                base = None
                for label in jobs:
                    results = hammer(label, SECONDS)
                    rate = sum(r["counts"].get("201", 0) for r in results) / SECONDS
                    base = base or rate
                    rates[label].append(rate)
                    ratios[label].append(rate / base if base else 0.0)
                    latencies[label].extend(x for r in results for x in r["latencies"])
        with open(log_path, errors="replace") as log:
            log_errors = [line.rstrip() for line in log if "Traceback" in line or "Error" in line]
        check = _stock_check(url, skus)
    rows = []
    for label, title in TARGETS:
        times = sorted(latencies[label])
        rows.append(
            {
                "label": label,
                "title": title,
                "rps": statistics.median(rates[label]),
                "ratio": statistics.median(ratios[label]),
                "p50_ms": times[len(times) // 2] * 1000 if times else 0.0,
                "p95_ms": times[int(len(times) * 0.95)] * 1000 if times else 0.0,
                "answers": dict(totals[label]),
            }
        )
    placed = {label: totals[label].get("201", 0) for label in ("one", "own")}
    return {
        "buyers": BUYERS,
        "rows": rows,
        "placed": placed,
        # Stock and order lines agree, and the database holds exactly the orders clients saw.
        "consistent": check["consistent"]
        and check["hot"]["orders"] == placed["one"]
        and check["orders"] == sum(placed.values()),
        "check": check,
        "log_errors": log_errors[-5:],
    }


def _stock_check(url: str, skus: list[int]) -> dict:
    """For every SKU: units in order lines + stock left == stock seeded; one line per order."""
    import psycopg
    from sqlalchemy.engine import make_url

    with psycopg.connect(**_admin_params(make_url(url))) as conn:
        rows = conn.execute(
            "SELECT s.id, s.stock, count(l.id), coalesce(sum(l.quantity), 0) FROM skus s "
            "LEFT JOIN order_lines l ON l.sku_id = s.id WHERE s.id = ANY(%s) GROUP BY s.id",
            (skus,),
        ).fetchall()
        (orders,) = conn.execute("SELECT count(*) FROM orders").fetchone()
    per_sku = {sku: (stock, lines, quantity) for sku, stock, lines, quantity in rows}
    hot_stock, hot_lines, hot_quantity = per_sku[skus[0]]
    lines = sum(v[1] for v in per_sku.values())
    return {
        "initial": STOCK,
        "hot": {"final": hot_stock, "orders": hot_lines, "quantity": hot_quantity},
        "orders": orders,
        "lines": lines,
        "consistent": all(q + stock == STOCK for stock, _, q in per_sku.values())
        and lines == orders,
    }


def print_concurrent(result: dict) -> None:
    n, check = result["buyers"], result["check"]
    print(f"-- {n} buyers ordering 1 unit at a time (PostgreSQL, gunicorn as configured)")
    print(f"{'endpoint':32} {'req/s':>8} {'ratio':>6} {'p50 ms':>7} {'p95 ms':>7}  answers")
    for row in result["rows"]:
        print(
            f"{row['title']:32} {row['rps']:8.0f} {row['ratio']:6.2f} {row['p50_ms']:7.1f} "
            f"{row['p95_ms']:7.1f}  {row['answers']}"
        )
    answers = Counter()
    for row in result["rows"][1:]:
        answers.update(row["answers"])
    server_errors = answers.get("5xx", 0) + answers.get("failed", 0)
    print(
        f"orders (warm-up included): {answers.get('201', 0)} placed, {answers.get('409', 0)} "
        f"refused for stock, {server_errors} 5xx or failed connections"
    )
    hot = check["hot"]
    verdict = "consistent" if result["consistent"] else "INCONSISTENT"
    print(
        f"stock check: the shared SKU: {hot['orders']} orders × 1 unit + final stock "
        f"{hot['final']} = {hot['quantity'] + hot['final']} (seeded {check['initial']}; "
        f"clients saw {result['placed']['one']} orders placed); every SKU likewise, "
        f"{check['orders']} orders in the database, "
        f"{sum(result['placed'].values())} seen by clients: {verdict}"
    )
    for line in result["log_errors"]:
        print(f"  server log: {line}")
    print()


def main() -> None:
    print()
    print(
        f"Orders: a {BULK_LINES}-line order against a 1-line order (Flask test client in process, "
        f"{REPETITIONS} interleaved repetitions each, fresh Idempotency-Key every time; medians)"
    )
    print_bulk("SQLite", bulk_order("sqlite"))
    server_url, why = postgres_server()
    if server_url is not None and (unreachable := postgres_unreachable(server_url)):
        server_url, why = None, f"{why} names a PostgreSQL server, but {unreachable}"
    if server_url is None:
        print(f"-- PostgreSQL part skipped: {why}")
        print()
        return
    print_bulk(f"PostgreSQL (server from {why})", bulk_order("postgres", server_url))
    print_concurrent(concurrent_buyers(server_url))


if __name__ == "__main__":
    main()
