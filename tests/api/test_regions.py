from tests.factories import assert_error


def test_provinces_without_parent(client):
    body = client.get("/api/v1/regions").json
    assert {r["code"] for r in body["items"]} == {"340000", "430000", "650000"}
    assert all(r["level"] == "province" and r["parent_code"] is None for r in body["items"])


def test_children_of_a_county_are_its_townships(client):
    items = client.get("/api/v1/regions?parent=340323").json["items"]
    names = {r["name"] for r in items}
    assert {"王庄镇", "湖沟镇", "石湖乡"} <= names
    assert all(r["code"].startswith("340323") and len(r["code"]) == 12 for r in items)
    assert [r["code"] for r in items] == sorted(r["code"] for r in items)


def test_villages_of_a_township(client):
    items = client.get("/api/v1/regions?parent=340323101000").json["items"]
    assert any(r["name"].startswith("西南村") for r in items)
    assert {r["level"] for r in items} == {"village"}


def test_unknown_parent_is_404(client):
    assert_error(client.get("/api/v1/regions?parent=110101"), 404, "region_not_found")


def test_malformed_parent_is_422(client):
    assert_error(client.get("/api/v1/regions?parent=34-0323"), 422, "invalid_region_code")
