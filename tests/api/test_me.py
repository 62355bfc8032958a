from models.enums import Role
from tests.factories import GUZHEN, assert_error


def test_me_requires_a_token(client):
    assert_error(client.get("/api/v1/me"), 401, "unauthorized")


def test_me_lists_roles_with_scopes(client, world):
    staff = world.staff(GUZHEN)
    body = client.get("/api/v1/me", headers=staff.headers).json
    assert body["id"] == staff.id
    assert body["roles"] == [
        {
            "role": Role.COUNTY_STAFF.value,
            "scope": {
                "region_code": GUZHEN,
                "region_name": "固镇县",
                "household_id": None,
                "unit_id": None,
                "station_id": None,
            },
        }
    ]
