"""Stations of the county network for tests: made through the API by county staff, and their
operators (users holding a ``station_operator`` grant)."""

from __future__ import annotations

from models.enums import Role
from tests.factories import VILLAGE_A, Person, World

TOWNSHIP = "340323101000"  # 固镇县 王庄镇, the township of VILLAGE_A and VILLAGE_B
# Near 固镇县 王庄镇 (GCJ-02).
LAT, LNG = 33.2400, 117.3100
URL = "/api/v1/admin/stations"


def station_body(**overrides) -> dict:
    """The JSON of ``POST /api/v1/admin/stations``: a village point in VILLAGE_A."""
    return {
        "kind": "village_point",
        "name": "西南村服务点",
        "region_code": VILLAGE_A,
        "address": "西南村村委会东侧",
        "lat": LAT,
        "lng": LNG,
        "opening_hours": "每天 8:00-18:00",
        "phone": "0552-6012345",
        "categories": [],
        "cold_chain": False,
    } | overrides


class Stations:
    """Stations through the API, created by a staff member of their county (or an admin)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.app = world.app

    def create(
        self,
        staff_person: Person,
        kind: str = "village_point",
        region_code: str = VILLAGE_A,
        lat: float = LAT,
        lng: float = LNG,
        **overrides,
    ) -> int:
        """A new active station; its id."""
        body = station_body(kind=kind, region_code=region_code, lat=lat, lng=lng, **overrides)
        response = self.app.test_client().post(URL, json=body, headers=staff_person.headers)
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.json["id"]

    def deactivate(self, staff_person: Person, station_id: int) -> None:
        response = self.app.test_client().patch(
            f"{URL}/{station_id}", json={"is_active": False}, headers=staff_person.headers
        )
        assert response.status_code == 200, response.get_data(as_text=True)

    def operator(self, station_id: int) -> Person:
        """A new user who operates the station (``station_operator`` scoped to it)."""
        return self.world.grant(
            self.world.user("服务站操作员"), Role.STATION_OPERATOR, station_id=station_id
        )
