"""/api/v1/stations and /api/v1/admin/stations: stations set up by county staff, found nearest
first by anyone."""

from __future__ import annotations

import math
import random

import pytest
from sqlalchemy import select

from api.cli import grant
from models import RoleGrant, Station, db
from models.enums import Role
from services.stations import EARTH_RADIUS_M, bounding_box
from tests.factories import (
    GUZHEN,
    SANGZHI,
    SANGZHI_VILLAGE,
    VILLAGE_A,
    VILLAGE_B,
    assert_error,
    audit_rows,
    count_rows,
)
from tests.stations import LAT, LNG, TOWNSHIP, Stations, station_body

URL = "/api/v1/stations"
ADMIN_URL = "/api/v1/admin/stations"
OTHER_TOWNSHIP = "340323100000"  # 固镇县 谷阳镇


@pytest.fixture
def stations(world):
    return Stations(world)


@pytest.fixture
def staff(world):
    return world.staff(GUZHEN)


def create(client, person, **overrides):
    return client.post(ADMIN_URL, json=station_body(**overrides), headers=person.headers)


def patch(client, person, station_id, body):
    return client.patch(f"{ADMIN_URL}/{station_id}", json=body, headers=person.headers)


def stored(app, station_id: int) -> dict:
    with app.app_context():
        station = db.session.get(Station, station_id)
        return {c.name: getattr(station, c.name) for c in Station.__table__.columns}


def reference_distance(lat1, lng1, lat2, lng2) -> float:
    """The great-circle distance by the Vincenty formula for a sphere (atan2 of the chord's
    parts): another formula than the service's haversine, the same metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lng2 - lng1)
    y = math.hypot(
        math.cos(p2) * math.sin(dl),
        math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl),
    )
    x = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return EARTH_RADIUS_M * math.atan2(y, x)


# --- setting up a station -------------------------------------------------------------------


def test_county_staff_set_up_a_station_of_their_county(app, client, staff):
    response = create(
        client,
        staff,
        name="  西南村服务点 ",
        categories=["禽蛋", "粮油", "禽蛋"],
        cold_chain=True,
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["name"] == "西南村服务点"
    assert body["kind"] == "village_point"
    assert body["region_code"] == VILLAGE_A and body["region_name"] == "西南村村民委员会"
    assert body["county_code"] == GUZHEN
    assert (body["lat"], body["lng"]) == (LAT, LNG)
    assert body["categories"] == ["粮油", "禽蛋"]  # once each, in the catalog's order
    assert body["cold_chain"] is True and body["is_active"] is True
    assert body["phone"] == "0552-6012345"
    assert "distance_m" not in body
    row = stored(app, body["id"])
    assert row["created_by_id"] == staff.id and row["county_code"] == GUZHEN
    [audit] = audit_rows(app, "station.create")
    assert audit["actor_id"] == staff.id and audit["object_id"] == str(body["id"])
    assert audit["object_type"] == "station"
    assert audit["detail"] == {"kind": "village_point", "county_code": GUZHEN}


def test_only_kind_name_region_and_position_are_required(client, staff):
    body = {"kind": "county_centre", "name": "固镇县运营中心", "region_code": GUZHEN}
    response = client.post(
        ADMIN_URL, json=body | {"lat": 33.3, "lng": 117.3}, headers=staff.headers
    )
    assert response.status_code == 201, response.json
    assert response.json["address"] == "" and response.json["categories"] == []
    assert response.json["cold_chain"] is False
    for missing in ("kind", "name", "region_code", "lat", "lng"):
        partial = {k: v for k, v in station_body().items() if k != missing}
        refused = client.post(ADMIN_URL, json=partial, headers=staff.headers)
        assert missing in assert_error(refused, 422, "validation_error")["errors"]["json"]


def test_a_platform_admin_sets_up_stations_in_any_county(client, world):
    admin = world.admin()
    response = create(client, admin, region_code=SANGZHI_VILLAGE, name="桑植服务点")
    assert response.status_code == 201, response.json
    assert response.json["county_code"] == SANGZHI


def test_staff_of_another_county_are_refused(app, client, world):
    response = create(client, world.staff(SANGZHI))
    assert_error(response, 403, "forbidden")
    assert count_rows(app, Station) == 0
    assert audit_rows(app, "station.create") == []


def test_who_may_not_set_up_stations(app, client, world, stations, staff):
    assert_error(client.post(ADMIN_URL, json=station_body()), 401, "unauthorized")
    household = world.household(by=staff)
    station = stations.create(staff)
    for person in (world.user("买家"), world.farmer(household), stations.operator(station)):
        assert_error(create(client, person), 403, "forbidden")
    assert count_rows(app, Station) == 1


@pytest.mark.parametrize(
    ("kind", "region_code"),
    [
        ("village_point", TOWNSHIP),
        ("village_point", GUZHEN),
        ("township_station", VILLAGE_A),
        ("township_station", GUZHEN),
        ("county_centre", VILLAGE_A),
        ("county_centre", TOWNSHIP),
        ("county_centre", "340300"),  # a city
        ("counter", "340300"),
        ("counter", "340000"),  # a province
    ],
)
def test_the_region_must_suit_the_kind(app, client, staff, kind, region_code):
    body = assert_error(
        create(client, staff, kind=kind, region_code=region_code), 422, "station_region"
    )
    assert set(body["errors"]) == {"region_code"}
    assert count_rows(app, Station) == 0


@pytest.mark.parametrize(
    ("kind", "region_code"),
    [
        ("village_point", VILLAGE_B),
        ("township_station", TOWNSHIP),
        ("county_centre", GUZHEN),
        ("counter", GUZHEN),
        ("counter", OTHER_TOWNSHIP),
        ("counter", VILLAGE_A),
    ],
)
def test_each_kind_at_its_levels(client, staff, kind, region_code):
    response = create(client, staff, kind=kind, region_code=region_code)
    assert response.status_code == 201, response.json
    assert response.json["county_code"] == GUZHEN


@pytest.mark.parametrize("region_code", ["340323999999", "999999", "12345", "34032310120A"])
def test_an_unknown_or_malformed_region_is_refused(app, client, staff, region_code):
    body = assert_error(create(client, staff, region_code=region_code), 422, "invalid_region_code")
    assert set(body["errors"]) == {"region_code"}
    assert count_rows(app, Station) == 0


@pytest.mark.parametrize(
    "position",
    [
        {"lat": 90.0001},
        {"lat": -91},
        {"lng": 180.5},
        {"lng": -181},
        {"lat": "33.2"},
        {"lng": True},
        {"lat": None},
        {"lng": [117.3]},
    ],
)
def test_a_position_off_the_globe_or_not_a_number_is_refused(app, client, staff, position):
    body = assert_error(create(client, staff, **position), 422, "validation_error")
    assert set(body["errors"]["json"]) == set(position)
    assert count_rows(app, Station) == 0


@pytest.mark.parametrize("position", [{"lat": 90, "lng": 180}, {"lat": -90, "lng": -180}])
def test_the_poles_and_the_antimeridian_are_on_the_globe(client, staff, position):
    assert create(client, staff, **position).status_code == 201


@pytest.mark.parametrize(
    "field", [{"categories": ["鲜花"]}, {"phone": "电话"}, {"name": " 站 "}, {"kind": "depot"}]
)
def test_other_bad_fields_are_refused(client, staff, field):
    body = assert_error(create(client, staff, **field), 422, "validation_error")
    assert set(body["errors"]["json"]) == set(field)


# --- editing --------------------------------------------------------------------------------


def test_county_staff_edit_a_station_of_their_county(app, client, world, stations, staff):
    station = stations.create(staff)
    other = world.staff(GUZHEN)
    response = patch(
        client, other, station, {"name": "西南村服务点（新）", "opening_hours": " 周一至周六 "}
    )
    assert response.status_code == 200, response.json
    assert response.json["name"] == "西南村服务点（新）"
    assert response.json["opening_hours"] == "周一至周六"
    assert response.json["address"] == "西南村村委会东侧"  # untouched
    [audit] = audit_rows(app, "station.update")
    assert audit["actor_id"] == other.id and audit["object_id"] == str(station)
    assert audit["detail"] == {"fields": ["name", "opening_hours"]}


def test_kind_and_region_are_checked_together(app, client, stations, staff):
    station = stations.create(staff)
    assert_error(patch(client, staff, station, {"kind": "township_station"}), 422, "station_region")
    assert_error(patch(client, staff, station, {"region_code": TOWNSHIP}), 422, "station_region")
    assert_error(patch(client, staff, station, {"region_code": "340323999999"}), 422)
    assert stored(app, station)["kind"] == "village_point"
    both = patch(client, staff, station, {"kind": "township_station", "region_code": TOWNSHIP})
    assert both.status_code == 200, both.json
    assert both.json["region_name"] == "王庄镇"
    assert audit_rows(app, "station.update")[0]["detail"] == {"fields": ["kind", "region_code"]}


def test_staff_of_another_county_learn_nothing_of_a_station(app, client, world, stations, staff):
    station = stations.create(staff)
    far = world.staff(SANGZHI)
    assert_error(patch(client, far, station, {"name": "改名了"}), 404, "not_found")
    assert_error(patch(client, far, 999_999, {"name": "改名了"}), 404, "not_found")
    assert stored(app, station)["name"] == "西南村服务点"
    assert audit_rows(app, "station.update") == []


def test_who_may_not_edit_stations(client, world, stations, staff):
    station = stations.create(staff)
    assert_error(client.patch(f"{ADMIN_URL}/{station}", json={"name": "改名"}), 401)
    for person in (world.user("买家"), stations.operator(station)):
        assert_error(patch(client, person, station, {"name": "改名"}), 403, "forbidden")


def test_moving_a_station_to_another_county(app, client, world, stations, staff):
    station = stations.create(staff)
    assert_error(patch(client, staff, station, {"region_code": SANGZHI_VILLAGE}), 403, "forbidden")
    assert stored(app, station)["county_code"] == GUZHEN
    response = patch(client, world.admin(), station, {"region_code": SANGZHI_VILLAGE})
    assert response.status_code == 200, response.json
    assert response.json["county_code"] == SANGZHI
    # Now the station of another county: its old county's staff no longer see it.
    assert_error(patch(client, staff, station, {"name": "改名"}), 404, "not_found")
    assert patch(client, world.staff(SANGZHI), station, {"name": "桑植点"}).status_code == 200


def test_a_patch_needs_a_field(client, stations, staff):
    station = stations.create(staff)
    assert_error(client.patch(f"{ADMIN_URL}/{station}", headers=staff.headers), 422, "missing_body")
    assert_error(patch(client, staff, station, {}), 422, "validation_error")
    assert_error(patch(client, staff, station, {"created_by_id": 1}), 422, "unknown_field")
    assert_error(patch(client, staff, station, {"lat": 95}), 422, "validation_error")


def test_deactivated_stations_are_hidden_and_come_back(app, client, world, stations, staff):
    station = stations.create(staff)
    assert client.get(f"{URL}/{station}").status_code == 200
    response = patch(client, world.admin(), station, {"is_active": False})
    assert response.status_code == 200 and response.json["is_active"] is False
    assert_error(client.get(f"{URL}/{station}"), 404, "not_found")
    assert client.get(URL).json["items"] == []
    assert client.get(URL, query_string={"near": f"{LAT},{LNG}"}).json["items"] == []
    assert patch(client, staff, station, {"is_active": True}).status_code == 200
    assert [s["id"] for s in client.get(URL).json["items"]] == [station]


# --- the public view ------------------------------------------------------------------------


def test_anyone_sees_an_active_station(client, stations, staff):
    station = stations.create(staff, categories=["果蔬"])
    response = client.get(f"{URL}/{station}")
    assert response.status_code == 200, response.json
    assert response.json["id"] == station
    assert response.json["categories"] == ["果蔬"]
    assert response.json["region_name"] == "西南村村民委员会"
    assert "distance_m" not in response.json
    assert_error(client.get(f"{URL}/999999"), 404, "not_found")


def test_the_list_pages_by_id_and_filters(client, world, stations, staff):
    village = stations.create(staff)
    township = stations.create(staff, kind="township_station", region_code=TOWNSHIP)
    centre = stations.create(staff, kind="county_centre", region_code=GUZHEN)
    far = stations.create(world.admin(), region_code=SANGZHI_VILLAGE)
    first = client.get(URL, query_string={"limit": 3})
    assert first.status_code == 200, first.json
    assert [s["id"] for s in first.json["items"]] == [village, township, centre]
    assert all("distance_m" not in s for s in first.json["items"])
    cursor = first.json["next_cursor"]
    second = client.get(URL, query_string={"limit": 3, "cursor": cursor}).json
    assert [s["id"] for s in second["items"]] == [far] and second["next_cursor"] is None

    def ids(**query):
        response = client.get(URL, query_string=query)
        assert response.status_code == 200, response.json
        return [s["id"] for s in response.json["items"]]

    assert ids(kind="township_station") == [township]
    assert ids(region=GUZHEN) == [village, township, centre]
    assert ids(region=TOWNSHIP) == [village, township]  # the county's own code is not in it
    assert ids(region=VILLAGE_A) == [village]
    assert ids(region="430000") == [far]  # a province
    assert ids(region=OTHER_TOWNSHIP) == []
    assert ids(region=GUZHEN, kind="county_centre") == [centre]


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"cursor": "not-a-cursor"}, "invalid_cursor"),
        ({"region": "340323999999"}, "invalid_region_code"),
        ({"region": "3403"}, "validation_error"),
        ({"limit": 0}, "validation_error"),
        ({"limit": 51}, "validation_error"),
        ({"kind": "depot"}, "validation_error"),
        ({"radius": 5}, "unknown_field"),
    ],
)
def test_bad_list_queries_are_refused(client, query, error):
    assert_error(client.get(URL, query_string=query), 422, error)


@pytest.mark.parametrize(
    "near",
    [
        "33.2",
        "33.2,",
        ",117.3",
        "91,117.3",
        "90.5,117",
        "33.2,181",
        "33.2,-180.01",
        "a,b",
        "33.2;117.3",
        "33.2, 117.3",
        "1e-7,117.3",
        "033.2,117.3",
        "33.2,117.3,5",
        "",
    ],
)
def test_a_bad_point_is_refused(client, near):
    body = assert_error(client.get(URL, query_string={"near": near}), 422, "validation_error")
    assert set(body["errors"]["query"]) == {"near"}


@pytest.mark.parametrize("near", ["90,180", "-90,-180", "-0.5,-0.25", "0,0", "89.99999,179.9"])
def test_any_point_on_the_globe_is_taken(client, near):
    response = client.get(URL, query_string={"near": near})
    assert response.status_code == 200, response.json
    assert response.json == {"items": [], "next_cursor": None}


# --- nearest first --------------------------------------------------------------------------


def _scatter(stations, staff, rng, count, *, lat, lng, spread, **overrides) -> dict[int, tuple]:
    made = {}
    for _ in range(count):
        point = (
            max(-90.0, min(90.0, lat + rng.uniform(-spread, spread))),
            (lng + rng.uniform(-spread, spread) + 180) % 360 - 180,
        )
        made[stations.create(staff, lat=point[0], lng=point[1], **overrides)] = point
    return made


def _nearest(client, lat, lng, **query) -> list[dict]:
    response = client.get(URL, query_string={"near": f"{lat},{lng}", **query})
    assert response.status_code == 200, response.json
    assert response.json["next_cursor"] is None
    return response.json["items"]


def _check_exact(items, made, lat, lng, limit):
    expected = sorted(made, key=lambda i: (reference_distance(lat, lng, *made[i]), i))[:limit]
    assert [s["id"] for s in items] == expected
    for item in items:
        reference = reference_distance(lat, lng, *made[item["id"]])
        assert abs(item["distance_m"] - reference) <= 1, (item, reference)
        assert type(item["distance_m"]) is int


def test_nearest_first_with_exact_distances(client, stations, staff):
    rng = random.Random(20261130)
    # Dense around the county town, sparse across the county, a few far away in China.
    made = _scatter(stations, staff, rng, 30, lat=33.32, lng=117.31, spread=0.05)
    made |= _scatter(stations, staff, rng, 20, lat=33.2, lng=117.2, spread=0.6)
    made |= _scatter(stations, staff, rng, 10, lat=33, lng=105, spread=15)
    for _ in range(12):
        lat, lng = 33.3 + rng.uniform(-2, 2), 117.3 + rng.uniform(-2, 2)
        limit = rng.choice([1, 5, 20, 50])
        items = _nearest(client, f"{lat:.6f}", f"{lng:.6f}", limit=limit)
        _check_exact(items, made, round(lat, 6), round(lng, 6), limit)
    # Far from every station: the search widens to the whole earth.
    for lat, lng in ((-45.5, -70.25), (78.9, 11.9), (-89.9, 0), (0, -179.5)):
        _check_exact(_nearest(client, lat, lng, limit=7), made, lat, lng, 7)


def test_the_poles_and_the_antimeridian(client, world, stations):
    rng = random.Random(7)
    admin = world.admin()
    made = _scatter(stations, admin, rng, 12, lat=0, lng=180, spread=0.5)
    made |= _scatter(stations, admin, rng, 8, lat=89.9, lng=0, spread=0.5)
    made |= _scatter(stations, admin, rng, 8, lat=-89.9, lng=100, spread=0.5)
    for lat, lng in ((0, 179.999), (0.1, -179.99), (90, 0), (89.95, -120), (-90, 45), (0, 0)):
        for limit in (3, 10):
            _check_exact(_nearest(client, lat, lng, limit=limit), made, lat, lng, limit)


def test_nearest_with_kind_region_and_limit(client, world, stations, staff):
    point = (33.3, 117.3)
    village = stations.create(staff, lat=33.301, lng=117.3)  # ~111 m
    township = stations.create(
        staff, kind="township_station", region_code=TOWNSHIP, lat=33.31, lng=117.3
    )
    centre = stations.create(staff, kind="county_centre", region_code=GUZHEN, lat=33.4, lng=117.3)
    far = stations.create(world.admin(), region_code=SANGZHI_VILLAGE, lat=29.4, lng=110.2)
    closed = stations.create(staff, lat=33.3, lng=117.3)
    stations.deactivate(staff, closed)

    def ids(**query):
        return [s["id"] for s in _nearest(client, *point, **query)]

    assert ids() == [village, township, centre, far]
    assert ids(limit=2) == [village, township]
    assert ids(kind="county_centre") == [centre]
    assert ids(region=SANGZHI) == [far]
    assert ids(region=TOWNSHIP, kind="township_station") == [township]
    assert ids(cursor="ignored-with-near") == [village, township, centre, far]
    [first] = _nearest(client, *point, limit=1)
    assert first["distance_m"] == round(reference_distance(*point, 33.301, 117.3))
    assert 110 <= first["distance_m"] <= 112
    assert first["region_name"] == "西南村村民委员会"


@pytest.mark.parametrize("seed", range(5))
def test_the_search_box_holds_the_whole_circle(seed):
    """Every point within the radius of the centre lies inside the box (or the box is the whole
    earth), wherever the centre: near a pole, on the antimeridian, anywhere."""
    rng = random.Random(seed)
    for _ in range(300):
        lat = rng.choice([rng.uniform(-90, 90), rng.uniform(85, 90), rng.uniform(-90, -85)])
        lng = rng.choice([rng.uniform(-180, 180), rng.uniform(178, 180), -180.0])
        radius = rng.choice([5_000, 80_000, 1_280_000, 10_240_000, 20_480_000]) * rng.random()
        box = bounding_box(lat, lng, radius)
        if box is None:
            continue
        for _ in range(20):
            # A point at a random bearing, at a random distance within the radius.
            bearing, d = rng.uniform(0, 2 * math.pi), radius * rng.random() / EARTH_RADIUS_M
            p1, l1 = math.radians(lat), math.radians(lng)
            p2 = math.asin(
                math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(bearing)
            )
            l2 = l1 + math.atan2(
                math.sin(bearing) * math.sin(d) * math.cos(p1),
                math.cos(d) - math.sin(p1) * math.sin(p2),
            )
            plat = math.degrees(p2)
            plng = (math.degrees(l2) + 180) % 360 - 180
            assert box.south <= plat <= box.north, (lat, lng, radius, plat)
            if box.west is None or box.east is None:
                continue
            if box.west <= box.east:
                inside = box.west <= plng <= box.east
            else:
                inside = plng >= box.west or plng <= box.east
            assert inside or abs(abs(plng) - 180) < 1e-9, (lat, lng, radius, plng, box)


# --- operators ------------------------------------------------------------------------------


def test_an_operator_is_granted_for_a_station_that_exists(app, client, stations, staff):
    station = stations.create(staff)
    operator = stations.operator(station)
    me = client.get("/api/v1/me", headers=operator.headers).json
    scoped = [
        (r["role"], r["scope"]["station_id"]) for r in me["roles"] if r["scope"]["station_id"]
    ]
    assert scoped == [("station_operator", station)]
    assert_error(create(client, operator), 403, "forbidden")


def test_granting_an_operator_for_no_station_is_refused(app, world):
    person = world.user()
    result = app.test_cli_runner().invoke(
        grant, ["--user-id", str(person.id), "--role", "station_operator", "--station", "999"]
    )
    assert result.exit_code != 0
    assert "invalid_scope" in result.output
    with app.app_context():
        granted = select(RoleGrant).where(RoleGrant.role == Role.STATION_OPERATOR)
        assert db.session.scalars(granted).all() == []
