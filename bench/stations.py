"""Stations: the nearest 20 among 10,000, on SQLite and (when one is named) PostgreSQL.

A throwaway database is migrated with the real migrations, the region table imported, and
``BENCH_STATIONS`` (10,000) stations bulk-inserted: four fifths in and around 固镇县 (a county
about 55 × 60 km, where a village point stands every few hundred metres), the rest spread over
China; a few of every kind, some inactive. Then:

- correctness: for random points, the API's nearest stations and distances against a brute
  force over every station;
- throughput under gunicorn (the project's ``gunicorn.conf.py``, ``bench/app_under_test.py``
  on that database), each endpoint as a ratio to the app's bare ``/bench/constant`` in the same
  round, rounds interleaved, medians (as ``bench/http_load.py`` and ``bench/orders.py`` do);
- in process: what one search reads (SQL statements, boxes tried, rows measured) and costs, and
  the same search with the box switched off (every station read), the plan the database chose
  for the box's query.

PostgreSQL: on the server ``BENCH_DATABASE_URL`` (else ``DATABASE_URL``) names, a database
``nongjia_bench_…`` is created and dropped at the end; without one that part is skipped.
Traffic goes to 127.0.0.1 only (and to the PostgreSQL server named); every loop is bounded.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import statistics
import tempfile
import time
from collections import Counter
from unittest import mock

from bench.http_load import CLIENTS, ROUNDS, SECONDS, _hammer
from bench.orders import (
    _env,
    _flask,
    _gunicorn,
    _postgres_database,
    _statement_kind,
    postgres_server,
    postgres_unreachable,
)

STATIONS = int(os.environ.get("BENCH_STATIONS", "10000"))
REPETITIONS = int(os.environ.get("BENCH_STATION_REPS", "50"))
SEED = 20261130
COUNTY_TOWN = (33.3163, 117.3119)  # 固镇县城 (GCJ-02)
LHASA = (29.6500, 91.1300)  # the 20th nearest station is ~780 km away: nine boxes
ENDPOINTS = [
    ("one station", "/api/v1/stations/{one}"),
    ("near the county town", "/api/v1/stations?near=33.3163,117.3119&limit=20"),
    ("  village points only", "/api/v1/stations?near=33.3163,117.3119&kind=village_point"),
    ("  county centres only", "/api/v1/stations?near=33.3163,117.3119&kind=county_centre"),
    ("near Lhasa (sparse)", "/api/v1/stations?near=29.65,91.13&limit=20"),
    ("list by id (no near)", "/api/v1/stations?limit=20"),
]


# --- the data ------------------------------------------------------------------------------------


def _rows(villages: dict[str, list[str]], townships: dict[str, list[str]]) -> list[dict]:
    """The stations to insert: a dense county and a sparse country."""
    from models.enums import Category, StationKind

    rng = random.Random(SEED)
    guzhen = "340323"
    others = sorted(villages)
    rows = []
    for n in range(STATIONS):
        local = n < STATIONS * 4 // 5
        county = guzhen if local else rng.choice(others)
        if local:
            lat, lng = rng.uniform(33.05, 33.55), rng.uniform(117.0, 117.65)
        else:
            lat, lng = rng.uniform(20.0, 46.0), rng.uniform(98.0, 128.0)
        draw = rng.random()
        if draw < 0.85:
            kind, region = StationKind.VILLAGE_POINT, rng.choice(villages[county])
        elif draw < 0.95:
            kind, region = StationKind.TOWNSHIP_STATION, rng.choice(townships[county])
        elif draw < 0.96:
            kind, region = StationKind.COUNTY_CENTRE, county
        else:
            kind, region = StationKind.COUNTER, rng.choice(villages[county])
        rows.append(
            {
                "kind": kind,
                "name": f"{kind.value}-{n}",
                "region_code": region,
                "county_code": county,
                "address": "村委会东侧",
                "lat": lat,
                "lng": lng,
                "opening_hours": "08:00-18:00",
                "phone": "05526012345",
                "categories": [] if rng.random() < 0.7 else [rng.choice(list(Category)).value],
                "cold_chain": rng.random() < 0.2,
                "is_active": rng.random() > 0.03,
            }
        )
    return rows


def _seed(app) -> int:
    """Insert the stations in one executemany; the id of an active one."""
    from sqlalchemy import insert, select, text

    from models import Region, Station, db
    from models.enums import RegionLevel

    with app.app_context():
        villages: dict[str, list[str]] = {}
        townships: dict[str, list[str]] = {}
        for region in db.session.scalars(select(Region).order_by(Region.code)):
            if region.level == RegionLevel.VILLAGE:
                villages.setdefault(region.code[:6], []).append(region.code)
            elif region.level == RegionLevel.TOWNSHIP:
                townships.setdefault(region.code[:6], []).append(region.code)
        db.session.execute(insert(Station), _rows(villages, townships))
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            # What autovacuum does soon after a bulk load; the planner needs it.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE stations"))
        return db.session.scalar(
            select(Station.id).where(Station.is_active.is_(True)).order_by(Station.id)
        )


@contextlib.contextmanager
def _database(kind: str, server_url: str | None):
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        if kind == "sqlite":
            url = f"sqlite:///{tmp}/stations.db"
        else:
            url = stack.enter_context(_postgres_database(server_url or ""))
        env = _env(tmp, url)
        _flask(env, "db", "upgrade")
        _flask(env, "regions", "import")
        from api.app import create_app
        from models import db

        with mock.patch.dict(os.environ, env):  # the app reads its settings from here
            app = create_app()
        try:
            yield app, env, tmp
        finally:
            with app.app_context():
                db.engine.dispose()


# --- correctness ---------------------------------------------------------------------------------


def _check(app, points: int = 40) -> dict:
    """The API's nearest stations against a brute force over every active station."""
    from sqlalchemy import select

    from models import Station, db
    from services.stations import distance_m

    rng = random.Random(SEED + 1)
    client = app.test_client()
    with app.app_context():
        everything = db.session.execute(
            select(Station.id, Station.lat, Station.lng).where(Station.is_active.is_(True))
        ).all()
    wrong = 0
    for n in range(points):
        if n % 2:
            lat, lng = rng.uniform(33.0, 33.6), rng.uniform(116.9, 117.7)
        else:
            lat, lng = rng.uniform(-60, 75), rng.uniform(-180, 180)
        lat, lng = round(lat, 6), round(lng, 6)
        answer = client.get(f"/api/v1/stations?near={lat},{lng}&limit=20").json["items"]
        expected = sorted((distance_m(lat, lng, s.lat, s.lng), s.id) for s in everything)[:20]
        got = [(item["distance_m"], item["id"]) for item in answer]
        if got != [(round(d), i) for d, i in expected]:
            wrong += 1
    return {"points": points, "wrong": wrong}


# --- in process: what a search reads --------------------------------------------------------------


def _profile(app) -> list[dict]:
    """Per search: statements, boxes, rows measured, ms (median), with and without the box."""
    from models import db
    from models.enums import StationKind
    from services import stations

    searches = [
        ("near the county town", {}),
        ("  village points only", {"kind": StationKind.VILLAGE_POINT}),
        ("  county centres only", {"kind": StationKind.COUNTY_CENTRE}),
        ("near Lhasa (sparse)", {"lat": LHASA[0], "lng": LHASA[1]}),
    ]
    results = []
    with app.app_context():
        for label, args in searches:
            args = {"lat": COUNTY_TOWN[0], "lng": COUNTY_TOWN[1], "limit": 20} | args
            selects, measured = _reads(
                db.engine, lambda args=args: stations.nearest_stations(**args)
            )
            box = _timed(lambda args=args: stations.nearest_stations(**args))
            with mock.patch.object(stations, "bounding_box", lambda *a: None):
                full = _timed(lambda args=args: stations.nearest_stations(**args))
            results.append(
                {
                    "label": label,
                    "selects": selects,
                    "measured": measured,
                    "box_ms": box * 1000,
                    "full_ms": full * 1000,
                }
            )
    return results


def _reads(engine, search) -> tuple[int, int]:
    """The SELECTs on stations one search runs, and the rows whose distance it measures."""
    from sqlalchemy import event

    from models import db
    from services import stations

    statements: Counter[str] = Counter()
    measured = [0]
    real_distance = stations.distance_m

    def counted(*points):
        measured[0] += 1
        return real_distance(*points)

    def before(conn, cursor, statement, parameters, context, executemany):
        statements[_statement_kind(statement)] += 1

    event.listen(engine, "before_cursor_execute", before)
    try:
        with mock.patch.object(stations, "distance_m", counted):
            search()
    finally:
        event.remove(engine, "before_cursor_execute", before)
        db.session.rollback()
    return statements.get("SELECT stations", 0), measured[0]


def _timed(search) -> float:
    """The median time of a search, in seconds."""
    from models import db

    times = []
    for _ in range(max(5, REPETITIONS)):
        start = time.perf_counter()
        search()
        times.append(time.perf_counter() - start)
        db.session.rollback()
    return statistics.median(times)


def _plan(app) -> dict[str, list[str]]:
    """The plans the database chose for the first box's query near the county town, of any
    kind and of village points only (the index on kind must not win)."""
    from sqlalchemy import select, text

    from models import Station, db
    from models.enums import StationKind
    from services import stations

    plans = {}
    with app.app_context():
        box = stations.bounding_box(*COUNTY_TOWN, stations.FIRST_RADIUS_M)
        assert box is not None
        prefix = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN "
        for label, kind in (("any kind", None), ("village points", StationKind.VILLAGE_POINT)):
            conditions = stations._public(kind, None, by_position=True)
            query = select(Station.id, Station.lat, Station.lng).where(
                *conditions, *box.conditions()
            )
            sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
            rows = db.session.execute(text(prefix + sql)).all()
            plans[label] = [str(row[-1]) for row in rows]
        db.session.rollback()
    return plans


# --- under gunicorn -------------------------------------------------------------------------------


def _throughput(env: dict, tmp: str, one: int) -> list[dict]:
    targets = [("bare constant JSON", "/bench/constant")] + [
        (label, path.format(one=one)) for label, path in ENDPOINTS
    ]
    rates: dict[str, list[float]] = {label: [] for label, _ in targets}
    ratios: dict[str, list[float]] = {label: [] for label, _ in targets}
    errors = dict.fromkeys(rates, 0)
    with (
        _gunicorn(env, os.path.join(tmp, "gunicorn.log")) as port,
        multiprocessing.Pool(CLIENTS) as pool,
    ):
        for _, path in targets:  # warm every code path first
            _hammer(pool, port, path, {}, 0.5)
        # Rounds interleave the endpoints; each ratio is taken against its own round's baseline.
        for _ in range(ROUNDS):
            base = None
            for label, path in targets:
                done, bad = _hammer(pool, port, path, {}, SECONDS)
                rate = done / SECONDS
                base = base or rate
                rates[label].append(rate)
                ratios[label].append(rate / base if base else 0.0)
                errors[label] += bad
    return [
        {
            "label": label,
            "rps": statistics.median(rates[label]),
            "ratio": statistics.median(ratios[label]),
            "errors": errors[label],
        }
        for label, _ in targets
    ]


def run(kind: str, server_url: str | None = None) -> dict:
    with _database(kind, server_url) as (app, env, tmp):
        one = _seed(app)
        return {
            "check": _check(app),
            "profile": _profile(app),
            "plan": _plan(app),
            "throughput": _throughput(env, tmp, one),
        }


def report(title: str, result: dict) -> None:
    print(f"-- {title}")
    check = result["check"]
    verdict = "all exact" if not check["wrong"] else f"{check['wrong']} WRONG"
    print(f"nearest 20 against a brute force at {check['points']} random points: {verdict}")
    print(f"{'endpoint (gunicorn)':28} {'req/s':>8} {'ratio':>6} {'errors':>6}")
    for row in result["throughput"]:
        print(f"{row['label']:28} {row['rps']:8.0f} {row['ratio']:6.2f} {row['errors']:6d}")
    print("one search in process (nearest 20): SELECTs on stations (boxes + the winners), rows")
    print("measured, ms; and with the box off (every station read):")
    print(f"  {'search':26} {'selects':>7} {'rows':>6} {'ms':>7} {'no box ms':>10}")
    for row in result["profile"]:
        print(
            f"  {row['label']:26} {row['selects']:7d} {row['measured']:6d} "
            f"{row['box_ms']:7.2f} {row['full_ms']:10.2f}"
        )
    for label, lines in result["plan"].items():
        print(f"plan of the first box's query, {label}:")
        for line in lines:
            print(f"  {line}")
    print()


def main() -> None:
    print()
    print(
        f"Stations: the nearest 20 among {STATIONS} ({CLIENTS} client processes, {ROUNDS} rounds "
        f"of {SECONDS:.0f} s per endpoint; medians)"
    )
    report("SQLite", run("sqlite"))
    server_url, why = postgres_server()
    if server_url is not None and (unreachable := postgres_unreachable(server_url)):
        server_url, why = None, f"{why} names a PostgreSQL server, but {unreachable}"
    if server_url is None:
        print(f"-- PostgreSQL part skipped: {why}")
        print()
        return
    report(f"PostgreSQL (server from {why})", run("postgres", server_url))


if __name__ == "__main__":
    main()
