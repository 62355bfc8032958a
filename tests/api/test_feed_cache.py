"""The public feed's page cache: served from memory within its lifetime, never errors, and a
lifetime that really ends (a fake clock moves it on)."""

from __future__ import annotations

import pytest

from api import feed_cache
from api.feed_cache import PageCache
from tests.factories import assert_error, statements_during

API = "/api/v1/catalog/products"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app):
    """The cache switched on for one test (30 s), on a clock the test moves."""
    clock = Clock()
    app.config["CATALOG_CACHE_SECONDS"] = 30
    app.extensions["nongjia.feed_cache"] = PageCache(30, timer=clock)
    yield clock
    app.config["CATALOG_CACHE_SECONDS"] = 0
    app.extensions.pop("nongjia.feed_cache", None)


def titles(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [item["title"] for item in response.json["items"]]


def test_a_repeated_page_is_served_without_the_database(client, catalog, app, clock):
    shop, farmer, staff = catalog.open_shop()
    catalog.listed(shop, farmer, staff, title="小磨香油")
    first = client.get(API)
    assert first.headers["Cache-Control"] == "public, max-age=30"
    clock.now += 12
    count, second = statements_during(app, lambda: client.get(API))
    assert count == 0
    assert second.data == first.data
    # Only what is left of the page's life: a proxy or phone must not add another 30 s.
    assert second.headers["Cache-Control"] == "public, max-age=18"
    # Defaults are part of the key: asking for them explicitly is the same page.
    count, explicit = statements_during(
        app, lambda: client.get(API, query_string={"limit": 20, "sort": "newest"})
    )
    assert count == 0 and explicit.data == first.data


def test_a_change_shows_once_the_page_expires(client, catalog, app, clock):
    shop, farmer, staff = catalog.open_shop()
    catalog.listed(shop, farmer, staff, title="小磨香油")
    assert titles(client.get(API)) == ["小磨香油"]
    catalog.listed(shop, farmer, staff, title="新米")
    assert titles(client.get(API)) == ["小磨香油"]  # stale by design, for 30 s at most
    clock.now += 31
    assert titles(client.get(API)) == ["新米", "小磨香油"]


def test_each_filter_is_its_own_page(client, catalog, clock):
    shop, farmer, staff = catalog.open_shop()
    catalog.listed(shop, farmer, staff, title="土鸡蛋", category="禽蛋")
    catalog.listed(shop, farmer, staff, title="芝麻香油", category="粮油")
    assert titles(client.get(API, query_string={"category": "禽蛋"})) == ["土鸡蛋"]
    assert titles(client.get(API, query_string={"category": "粮油"})) == ["芝麻香油"]
    assert titles(client.get(API, query_string={"q": "香油"})) == ["芝麻香油"]
    assert titles(client.get(API, query_string={"limit": 1})) == ["芝麻香油"]
    assert titles(client.get(API)) == ["芝麻香油", "土鸡蛋"]


def test_errors_are_never_cached(client, catalog, clock):
    for _ in range(2):
        assert_error(client.get(API, query_string={"cursor": "bad"}), 422, "invalid_cursor")
        assert_error(client.get(API, query_string={"region": "999999"}), 422, "invalid_region_code")


def test_the_product_page_is_never_cached(client, catalog, app, clock):
    """The feed may lag; the page a shopper buys from may not."""
    from services import products

    shop, farmer, staff = catalog.open_shop()
    product_id = catalog.listed(shop, farmer, staff, title="小磨香油")
    assert titles(client.get(API)) == ["小磨香油"]
    assert client.get(f"{API}/{product_id}").status_code == 200
    with app.app_context():
        products.delist_product(catalog.world._actor(farmer), product_id)
    assert client.get(f"{API}/{product_id}").status_code == 404
    clock.now += 31
    assert titles(client.get(API)) == []


def test_without_the_cache_every_request_reads_the_database(client, catalog, app):
    shop, farmer, staff = catalog.open_shop()
    catalog.listed(shop, farmer, staff)
    assert client.get(API).headers["Cache-Control"] == "no-cache"
    count, _ = statements_during(app, lambda: client.get(API))
    assert count == 1


def test_page_cache_bounds_its_bytes_and_skips_what_cannot_fit():
    clock = Clock()
    overhead = feed_cache.ENTRY_OVERHEAD
    cache = PageCache(10, max_bytes=10 + 2 * overhead, timer=clock)
    built = []

    def build(body: bytes):
        def run() -> bytes:
            built.append(body)
            return body

        return run

    assert cache.get_or_build(("a",), build(b"123456")) == (b"123456", 10)
    clock.now += 2.5
    assert cache.get_or_build(("a",), build(b"other")) == (b"123456", 8)
    assert cache.get_or_build(("b",), build(b"7890123")) == (b"7890123", 10)  # evicts "a"
    assert cache.get_or_build(("a",), build(b"again"))[0] == b"again"
    big = b"x" * (11 + 2 * overhead)
    assert cache.get_or_build(("big",), build(big))[0] == big  # served, not kept
    assert cache.get_or_build(("big",), build(big))[0] == big
    assert built == [b"123456", b"7890123", b"again", big, big]
