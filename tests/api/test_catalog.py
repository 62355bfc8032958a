"""The public catalog: filters, sorting, cursor pagination, masking, constant SQL, trace codes."""

from __future__ import annotations

import base64
import json

import pytest
import segno

from models import Product, Shop, db
from tests.factories import SANGZHI_VILLAGE, VILLAGE_B, assert_error, statements_during

API = "/api/v1/catalog/products"


def titles(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [item["title"] for item in response.json["items"]]


def test_only_listed_products_of_approved_shops(client, catalog, app):
    shop, farmer, staff = catalog.open_shop()
    catalog.listed(shop, farmer, staff, title="小磨香油")
    catalog.submitted(shop, farmer, title="待审核的米")
    catalog.draft(shop, farmer, title="草稿里的面")
    assert titles(client.get(API)) == ["小磨香油"]
    from services import shops

    with app.app_context():
        from models import User

        shops.review_shop(
            db.session.get(User, staff.id), shop, action="suspend", reason="投诉核实中"
        )
    assert titles(client.get(API)) == []


def test_public_view_masks_the_household_and_hides_private_fields(client, catalog):
    shop, farmer, staff = catalog.open_shop()
    product_id = catalog.listed(shop, farmer, staff)
    item = client.get(f"{API}/{product_id}").json
    assert item["household_name"] == "李**"
    assert item["village"]["name"].startswith("西南村")
    assert item["photos"][0]["variants"][0]["url"]
    assert not {"draft", "stock", "review_state", "household_id"} & set(item)
    assert all("stock" not in sku for sku in item["skus"])


def test_filters_by_region_prefix_category_and_keyword(client, catalog):
    shop_a, farmer_a, staff_a = catalog.open_shop()
    shop_b, farmer_b, _ = catalog.open_shop(village=VILLAGE_B)
    shop_s, farmer_s, staff_s = catalog.open_shop(village=SANGZHI_VILLAGE)
    catalog.listed(shop_a, farmer_a, staff_a, title="土鸡蛋", category="禽蛋")
    catalog.listed(
        shop_b, farmer_b, staff_a, title="芝麻香油", category="粮油", story="石磨慢慢磨出来的油"
    )
    catalog.listed(shop_s, farmer_s, staff_s, title="桑植白茶", category="茶叶")
    assert set(titles(client.get(API, query_string={"region": "340000"}))) == {"土鸡蛋", "芝麻香油"}
    assert set(titles(client.get(API, query_string={"region": "340323"}))) == {"土鸡蛋", "芝麻香油"}
    assert titles(client.get(API, query_string={"region": "430822"})) == ["桑植白茶"]
    assert set(titles(client.get(API, query_string={"region": "340323101000"}))) == {
        "土鸡蛋",
        "芝麻香油",
    }
    assert titles(client.get(API, query_string={"region": VILLAGE_B})) == ["芝麻香油"]
    assert titles(client.get(API, query_string={"category": "茶叶"})) == ["桑植白茶"]
    assert titles(client.get(API, query_string={"q": "石磨"})) == ["芝麻香油"]  # in the story
    assert titles(client.get(API, query_string={"q": "鸡蛋"})) == ["土鸡蛋"]
    assert titles(client.get(API, query_string={"q": "%"})) == []  # wildcards are literal
    assert titles(client.get(API, query_string={"q": "_"})) == []
    assert titles(client.get(API, query_string={"q": "/"})) == []  # the escape character too
    catalog.listed(shop_a, farmer_a, staff_a, title="100%纯_香/油", category="粮油")
    for literal in ("%", "_", "/", "0%纯", "%纯_香/"):
        assert titles(client.get(API, query_string={"q": literal})) == ["100%纯_香/油"]
    assert_error(client.get(API, query_string={"region": "999999"}), 422, "invalid_region_code")
    assert_error(client.get(API, query_string={"region": "34-0000"}), 422, "validation_error")
    assert_error(client.get(API, query_string={"category": "电器"}), 422, "validation_error")


def test_cursor_pagination_walks_every_item_once(client, catalog):
    shop, farmer, staff = catalog.open_shop()
    listed = [catalog.listed(shop, farmer, staff, title=f"产品{i}") for i in range(7)]
    seen, cursor = [], None
    while True:
        query = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        body = client.get(API, query_string=query).json
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(listed, reverse=True)
    assert_error(client.get(API, query_string={"cursor": "not-a-cursor"}), 422, "invalid_cursor")


@pytest.mark.parametrize(
    "forged",
    [
        ["newest", "0001-01-01T00:00:00+05:00", 1],  # no UTC time exists for it
        ["newest", "2026-01-01T00:00:00", 1],  # naive
        ["newest", "9999-12-31T23:59:59-05:00", 1],
        ["newest", "yesterday", 1],
        ["newest", "2026-01-01T00:00:00+00:00", 2**63],
        ["best_selling", -1, 1],
        ["best_selling", 2**70, 1],
        ["newest", None, None],
        "not a list",
    ],
)
def test_forged_cursors_are_refused(client, forged):
    cursor = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    sort = forged[0] if isinstance(forged, list) else "newest"
    response = client.get(API, query_string={"cursor": cursor, "sort": sort})
    assert_error(response, 422, "invalid_cursor")


def test_best_selling_sort(client, catalog, app):
    shop, farmer, staff = catalog.open_shop()
    ids = [catalog.listed(shop, farmer, staff, title=t) for t in ("甲", "乙", "丙")]
    with app.app_context():
        for product_id, sold in zip(ids, (5, 50, 0), strict=True):
            db.session.get(Product, product_id).sales_count = sold
        db.session.commit()
    assert titles(client.get(API, query_string={"sort": "best_selling"})) == ["乙", "甲", "丙"]
    page = client.get(API, query_string={"sort": "best_selling", "limit": 1}).json
    nxt = client.get(
        API, query_string={"sort": "best_selling", "limit": 2, "cursor": page["next_cursor"]}
    )
    assert titles(nxt) == ["甲", "丙"]
    # A cursor from one sort is refused by the other rather than silently skipping items.
    assert_error(
        client.get(API, query_string={"cursor": page["next_cursor"]}), 422, "invalid_cursor"
    )


def test_list_runs_a_constant_number_of_statements(client, catalog, app):
    shop, farmer, staff = catalog.open_shop()
    for i in range(50):
        catalog.listed(shop, farmer, staff, title=f"产品{i}")

    def count_statements(limit: int) -> int:
        count, response = statements_during(
            app, lambda: client.get(API, query_string={"limit": limit})
        )
        assert len(response.json["items"]) == limit
        return count

    assert count_statements(5) == count_statements(50) == 1


def test_filters_and_cursor_together(client, catalog):
    """Each combination of filters is its own prepared statement: walk one with a cursor."""
    shop_a, farmer_a, staff_a = catalog.open_shop()
    shop_b, farmer_b, staff_b = catalog.open_shop(village=SANGZHI_VILLAGE)
    wanted = [
        catalog.listed(shop_a, farmer_a, staff_a, title=f"香油{i}", category="粮油")
        for i in range(5)
    ]
    catalog.listed(shop_a, farmer_a, staff_a, title="香油礼盒", category="其他")
    catalog.listed(shop_b, farmer_b, staff_b, title="香油", category="粮油")
    query = {"region": "340323", "category": "粮油", "q": "香油", "limit": 2}
    seen, cursor = [], None
    while True:
        body = client.get(API, query_string=query | ({"cursor": cursor} if cursor else {})).json
        seen += [item["id"] for item in body["items"]]
        if not (cursor := body["next_cursor"]):
            break
    assert seen == sorted(wanted, reverse=True)


def test_feed_cards_match_the_documented_schema(client, catalog):
    """The feed is encoded without marshmallow; the schema in the spec must still describe it."""
    from api.schemas.catalog import CatalogPageOut

    shop, farmer, staff = catalog.open_shop()
    product_id = catalog.listed(shop, farmer, staff, title="小磨香油")
    body = client.get(API, query_string={"limit": 1}).json
    assert CatalogPageOut().validate(body) == {}
    card = body["items"][0]
    assert set(card) == set(CatalogPageOut().fields["items"].inner.schema.fields)
    detail = client.get(f"{API}/{product_id}").json
    assert card["listed_at"] == detail["listed_at"]
    cover = detail["photos"][0]["variants"]
    assert card["cover"]["webp"] in {v["url"] for v in cover if v["width"] == 240}
    assert card["price_from_fen"] == min(sku["price_fen"] for sku in detail["skus"])


def test_shop_page(client, catalog):
    shop, farmer, staff = catalog.open_shop()
    catalog.listed(shop, farmer, staff, title="小米")
    body = client.get(f"/api/v1/catalog/shops/{shop}").json
    assert body["household_name"] == "李**" and [p["title"] for p in body["products"]] == ["小米"]
    pending_shop = catalog.world.shop(catalog.world.household(), name="还没审核的店")
    assert_error(client.get(f"/api/v1/catalog/shops/{pending_shop}"), 404, "shop_unavailable")


def test_trace_code_record_qr_and_page(client, catalog, app):
    shop, farmer, staff = catalog.open_shop()
    product_id = catalog.listed(shop, farmer, staff, title="石磨香油")
    with app.app_context():
        code = db.session.get(Product, product_id).trace_code
        assert db.session.get(Shop, shop).status.value == "approved"
    trace = client.get(f"/api/v1/trace/{code}").json
    assert trace["product"]["title"] == "石磨香油" and trace["on_sale"] is True
    assert trace["url"].endswith(f"/t/{code}")
    record = trace["product"]
    assert record["household_name"] == "李**" and record["village"]["name"].startswith("西南村")
    with app.app_context():
        product = db.session.get(Product, product_id)
        assert record["harvest_date"] == product.harvest_date.isoformat()
        assert record["listed_at"] == product.listed_at.isoformat()
    assert trace["inspections"] == []  # none recorded for this product
    svg = client.get(f"/api/v1/trace/{code}/qr")
    assert svg.mimetype == "image/svg+xml"
    expected = segno.make(trace["url"], error="m", micro=False)
    import io

    out = io.BytesIO()
    expected.save(out, kind="svg", scale=8, border=2)
    assert svg.data == out.getvalue()
    png = client.get(f"/api/v1/trace/{code}/qr", query_string={"format": "png", "scale": 4})
    assert png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
    page = client.get(f"/t/{code}")
    assert page.status_code == 200 and "石磨香油" in page.get_data(as_text=True)
    assert "李**" in page.get_data(as_text=True)
    assert_error(client.get("/api/v1/trace/AAAAAAAAAA"), 404, "trace_not_found")
    assert client.get("/t/AAAAAAAAAA").status_code == 404
