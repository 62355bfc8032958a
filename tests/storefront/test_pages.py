"""The public pages: home → shop → product → trace, read through the test client.

Everything is built through the services (``tests/factories.py``); the household's full name
must never reach a page, only its masked form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest

from models import Product, Shop, db
from services import media as media_service
from services import products as products_service
from services import shops as shops_service
from storefront.filters import yuan
from tests.factories import VILLAGE_A, jpeg_bytes, listing

HEAD_NAME = "欧阳春花"
MASKED = "欧***"
SHOP_NAME = "春花家的百花蜜"
VILLAGE_NAME = "西南村"  # VILLAGE_A


@dataclass
class Farm:
    shop_id: int
    farmer: object
    staff: object


@pytest.fixture
def farm(world) -> Farm:
    staff = world.staff(VILLAGE_A[:6])
    household = world.household(village=VILLAGE_A, by=staff, head_name=HEAD_NAME)
    farmer = world.farmer(household)
    shop_id = world.shop(household, by=farmer, approve_by=staff, name=SHOP_NAME)
    with world.app.app_context():
        shops_service.update_shop(
            world._actor(farmer),
            shop_id,
            changes={"intro": "山里的野花蜜，一年只摇两次", "story": "爷爷那辈就开始养蜂。"},
        )
    return Farm(shop_id, farmer, staff)


_seeds = iter(range(1000, 100000))


def big_photo(world, by) -> int:
    """A photo wide enough for all three stored widths (240, 750, 1280)."""
    with world.app.app_context():
        data = jpeg_bytes(width=1600, height=1200, seed=next(_seeds))
        return media_service.upload_media(world._actor(by), data=data).id


def listed_with_photos(world, farm: Farm, media_ids: list[int], **overrides) -> int:
    """A listed product showing these photos (``Catalog.listed`` makes one small photo)."""
    content = listing(media_ids, **overrides)
    content["harvest_date"] = date.fromisoformat(content["harvest_date"])
    with world.app.app_context():
        farmer, staff = world._actor(farm.farmer), world._actor(farm.staff)
        product_id = products_service.create_product(
            farmer, shop_id=farm.shop_id, content=content
        ).id
        products_service.submit_product(farmer, product_id)
        products_service.approve_product(staff, product_id)
    return product_id


def trace_code(app, product_id: int) -> str:
    with app.app_context():
        return db.session.get(Product, product_id).trace_code


def text(response) -> str:
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def assert_not_found_page(response) -> None:
    assert response.status_code == 404
    html = text(response)
    assert "页面找不到了" in html and 'href="/"' in html


def assert_masked(html: str) -> None:
    assert MASKED in html
    assert HEAD_NAME not in html


# --- home ---------------------------------------------------------------------------------------


def test_home_links_every_open_shop(client, world, farm):
    pending_household = world.household(village=VILLAGE_A, head_name="王五")
    world.shop(pending_household, name="还在审核的店")  # not approved: not shown
    html = text(client.get("/"))
    assert f'href="/shops/{farm.shop_id}"' in html
    assert SHOP_NAME in html and VILLAGE_NAME in html
    assert "还在审核的店" not in html
    assert "/static/storefront/storefront.css" in html


def test_home_without_shops_says_so(client):
    assert "还没有开张的店铺" in text(client.get("/"))


# --- shop ---------------------------------------------------------------------------------------


def test_shop_page_shows_the_shop_and_its_listings_on_sale(client, world, catalog, farm):
    honey = listed_with_photos(world, farm, [big_photo(world, farm.farmer)], title="百花蜜")
    sold_out = catalog.listed(
        farm.shop_id,
        farm.farmer,
        farm.staff,
        title="洋槐蜜",
        skus=[{"spec_name": "500克", "price_fen": 6800, "stock": 0}],
    )
    draft = catalog.draft(farm.shop_id, farm.farmer, title="还没提交的草稿")

    response = client.get(f"/shops/{farm.shop_id}")
    assert response.status_code == 200
    html = text(response)
    assert SHOP_NAME in html and VILLAGE_NAME in html
    assert "山里的野花蜜，一年只摇两次" in html and "爷爷那辈就开始养蜂。" in html
    assert_masked(html)
    assert f'href="/products/{honey}"' in html and f'href="/products/{sold_out}"' in html
    assert "还没提交的草稿" not in html and f'href="/products/{draft}"' not in html
    # price from: the cheapest spec, in yuan; 起 when the specs differ in price
    assert "¥45.00" in html and "起" in html and "¥85.00" not in html
    assert "¥68.00" in html
    # the sold-out listing is marked, the other is not
    cards = dict(re.findall(r'href="/products/(\d+)">(.*?)</a></li>', html, re.S))
    assert "已售罄" in cards[str(sold_out)] and "已售罄" not in cards[str(honey)]
    # cover photos over their variants, sized for the grid
    assert 'type="image/webp"' in cards[str(honey)]
    assert re.search(r'srcset="[^"]+ 240w, [^"]+ 750w, [^"]+ 1280w"', cards[str(honey)])
    assert 'sizes="(min-width: 640px) 200px, calc(50vw - 17px)"' in cards[str(honey)]


def test_shop_without_listings_says_so(client, farm):
    assert "暂时没有在售的商品" in text(client.get(f"/shops/{farm.shop_id}"))


def test_shop_page_is_404_for_unknown_and_unapproved_shops(app, client, world, farm):
    assert_not_found_page(client.get("/shops/987654"))
    pending = world.shop(world.household(village=VILLAGE_A), name="待审核")
    assert_not_found_page(client.get(f"/shops/{pending}"))
    with app.app_context():
        shops_service.review_shop(
            world._actor(farm.staff), farm.shop_id, action="suspend", reason="核查中"
        )
    assert_not_found_page(client.get(f"/shops/{farm.shop_id}"))


# --- product ------------------------------------------------------------------------------------


def test_product_page_shows_photos_specs_prices_and_origin(app, client, world, farm):
    photos = [big_photo(world, farm.farmer), big_photo(world, farm.farmer)]
    product_id = listed_with_photos(
        world,
        farm,
        photos,
        title="百花蜜",
        unit="瓶",
        skus=[
            {"spec_name": "250克", "price_fen": 3905, "stock": 3},
            {"spec_name": "500克", "price_fen": 6800, "stock": 40},
            {"spec_name": "1000克", "price_fen": 12000, "stock": 0},
        ],
    )
    response = client.get(f"/products/{product_id}")
    assert response.status_code == 200
    html = text(response)
    assert "百花蜜" in html and "家里养了六十多只鸡" in html  # the story
    assert_masked(html)
    assert VILLAGE_NAME in html and SHOP_NAME in html
    assert f'href="/shops/{farm.shop_id}"' in html
    assert f'href="/t/{trace_code(app, product_id)}"' in html
    # specs: yuan with two decimals from integer fen, and their stock state
    for spec, price, state in [
        ("250克", "¥39.05", "库存紧张"),
        ("500克", "¥68.00", "有货"),
        ("1000克", "¥120.00", "已售罄"),
    ]:
        row = re.search(rf"<tr><td>{spec}</td>(.*?)</tr>", html, re.S).group(1)
        assert price in row and state in row and "/ 瓶" in row
    # every photo, as WebP and JPEG over all its widths
    assert html.count("<picture>") == 2
    assert html.count('type="image/webp"') == 2
    srcsets = re.findall(r'srcset="([^"]+)"', html)
    assert len(srcsets) == 4
    for srcset in srcsets:
        assert [c.rsplit(" ", 1)[1] for c in srcset.split(", ")] == ["240w", "750w", "1280w"]
    assert any(".webp" in s for s in srcsets) and any(".jpg" in s or "jpeg" in s for s in srcsets)
    assert 'sizes="(min-width: 640px) 592px, calc(100vw - 48px)"' in html
    assert 'width="1280" height="960"' in html  # never shown wider than its largest variant


def test_a_small_photo_is_offered_at_the_one_width_it_has(client, catalog, farm):
    product_id = catalog.listed(farm.shop_id, farm.farmer, farm.staff)  # a 320 px photo
    html = text(client.get(f"/products/{product_id}"))
    srcsets = re.findall(r'srcset="([^"]+)"', html)
    assert srcsets and all(s.endswith(" 240w") and ", " not in s for s in srcsets)
    assert 'width="240"' in html


def test_product_page_is_404_unless_on_sale(app, client, world, catalog, farm):
    assert_not_found_page(client.get("/products/987654"))
    draft = catalog.draft(farm.shop_id, farm.farmer)
    assert_not_found_page(client.get(f"/products/{draft}"))
    submitted = catalog.submitted(farm.shop_id, farm.farmer)
    assert_not_found_page(client.get(f"/products/{submitted}"))
    listed = catalog.listed(farm.shop_id, farm.farmer, farm.staff)
    assert client.get(f"/products/{listed}").status_code == 200
    with app.app_context():
        products_service.delist_product(world._actor(farm.farmer), listed)
    assert_not_found_page(client.get(f"/products/{listed}"))


def test_products_of_a_suspended_shop_are_404(app, client, world, catalog, farm):
    listed = catalog.listed(farm.shop_id, farm.farmer, farm.staff)
    with app.app_context():
        shops_service.review_shop(
            world._actor(farm.staff), farm.shop_id, action="suspend", reason="核查中"
        )
        assert db.session.get(Shop, farm.shop_id).status.value == "suspended"
    assert_not_found_page(client.get(f"/products/{listed}"))


# --- trace --------------------------------------------------------------------------------------


def test_trace_page_shows_the_photo_by_srcset_and_links_the_listing(app, client, world, farm):
    product_id = listed_with_photos(world, farm, [big_photo(world, farm.farmer)])
    code = trace_code(app, product_id)
    html = text(client.get(f"/t/{code}"))
    assert code in html
    assert_masked(html)
    assert re.search(r'srcset="[^"]+ 240w, [^"]+ 750w, [^"]+ 1280w"', html)
    assert 'type="image/webp"' in html
    assert f'href="/products/{product_id}"' in html
    assert 'href="/"' in html


def test_trace_page_of_a_delisted_product_still_answers(app, client, world, catalog, farm):
    product_id = catalog.listed(farm.shop_id, farm.farmer, farm.staff)
    code = trace_code(app, product_id)
    with app.app_context():
        products_service.delist_product(world._actor(farm.farmer), product_id)
    response = client.get(f"/t/{code}")
    assert response.status_code == 200
    html = text(response)
    assert "已下架" in html and f'href="/products/{product_id}"' not in html
    assert_masked(html)


# --- money --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fen", "shown"),
    [(0, "0.00"), (5, "0.05"), (50, "0.50"), (4500, "45.00"), (3905, "39.05"), (123456, "1234.56")],
)
def test_yuan_shows_integer_fen_with_two_decimals(fen, shown):
    assert yuan(fen) == shown


def test_yuan_of_nothing_is_empty():
    assert yuan(None) == ""
