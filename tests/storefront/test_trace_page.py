"""The trace page /t/<code> of a batch's label (hand-in, inspection, shipping, cold chain) and of
a product's (its latest batches), read through the test client. Batches are made through the
API along the fulfilment chain (``tests/fulfilment.py``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from models import Product, db
from services import products as products_service
from tests.shopping import API

BEIJING = timezone(timedelta(hours=8))


def page(client, code: str) -> str:
    response = client.get(f"/t/{code}")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def handed_in(chain, network, part, **body) -> str:
    assert chain.accept(part).status_code == 200
    answer = chain.hand_in(network.village_point, part, network.village_operator, **body)
    assert answer.status_code == 201, answer.json
    return answer.json["batch"]["code"]


def beijing(iso: str, fmt: str) -> str:
    return datetime.fromisoformat(iso).astimezone(BEIJING).strftime(fmt)


def product_code(app, product_id: int) -> str:
    with app.app_context():
        return db.session.get(Product, product_id).trace_code


def assert_masked(html: str) -> None:
    assert "李**" in html and "李桂兰" not in html
    assert "13805520001" not in html and "张三" not in html


def test_a_batch_just_handed_in(chain, network, client):
    part = chain.paid()
    photo = chain.shopping.catalog.photo(network.village_operator)
    code = handed_in(chain, network, part, photo_media_id=photo, weight_g=12500, grade="特级")
    html = page(client, code)
    assert "一品一码 · 批次溯源" in html and code in html
    assert "散养土鸡蛋" in html and "西南村" in html
    assert_masked(html)
    assert "<dt>收获日期</dt><dd>2026-11-01</dd>" in html
    assert "交货入站" in html and "12.5 公斤" in html and "特级" in html
    assert 'alt="交货照片"' in html
    handed_in_at = client.get(f"{API}/trace/{code}").json["batch"]["handed_in_at"]
    assert beijing(handed_in_at, "%Y-%m-%d %H:%M") in html
    assert "等待县级运营中心检测" in html and "尚未发货" in html
    assert "冷链记录" not in html
    assert f'href="/products/{part.offer.product_id}"' in html


def test_a_cold_chain_batch_passed_and_shipped(chain, shopping, network, client):
    part = chain.paid(shopping.offer(title="冷鲜土鸡", cold_chain=True), quantity=1)
    part_id = part.shop_order_id
    assert chain.accept(part).status_code == 200
    body = {"shop_order_id": part_id, "weight_g": 800, "count": 1, "grade": "一级"}
    answer = chain.post(
        f"/stations/{network.village_point}/hand-ins",
        network.village_operator,
        body | {"temperature_c": 3.0},
    )
    code = answer.json["batch"]["code"]
    assert chain.inspect(network.centre, code, network.centre_operator).status_code == 201
    ship = {"carrier": "SF", "tracking_no": "SF1234567890", "temperature_c": 2.5}
    assert (
        chain.post(f"/shop-orders/{part_id}/ship", network.centre_operator, ship).status_code == 200
    )
    html = page(client, code)
    assert "冷鲜土鸡" in html and "800 克" in html
    assert "<dt>检测结果</dt><dd><span>合格</span></dd>" in html
    assert "county_centre-340323" in html
    shipped_at = client.get(f"{API}/trace/{code}").json["shipped_at"]
    assert f"<dt>发货日期</dt><dd>{beijing(shipped_at, '%Y-%m-%d')}</dd>" in html
    assert "冷链记录" in html
    assert "交货入站" in html and "3 ℃" in html
    assert "出库发货" in html and "2.5 ℃" in html
    assert "SF1234567890" not in html
    assert_masked(html)


def test_a_failed_batch_shows_why_and_the_report(chain, network, client):
    part = chain.paid()
    code = handed_in(chain, network, part)
    report = chain.shopping.catalog.photo(network.centre_operator)
    answer = chain.inspect(
        network.centre,
        code,
        network.centre_operator,
        result="fail",
        reason="破损严重",
        report_media_id=report,
    )
    assert answer.status_code == 201, answer.json
    html = page(client, code)
    assert '<span class="off">不合格</span>' in html
    assert "<dt>原因</dt><dd>破损严重</dd>" in html
    assert 'alt="检测报告"' in html
    assert "检测不合格，未发货" in html


def test_a_delisted_products_batch_page_still_answers(chain, network, client):
    part = chain.paid()
    code = chain.through_inspection(network, part)
    with chain.app.app_context():
        farmer = chain.world._actor(part.offer.farmer)
        products_service.delist_product(farmer, part.offer.product_id)
    html = page(client, code)
    assert "已下架" in html and f'href="/products/{part.offer.product_id}"' not in html
    assert "合格" in html


def test_a_product_page_links_its_latest_batches_newest_first(chain, shopping, network, client):
    offer = shopping.offer()
    code = product_code(chain.app, offer.product_id)
    assert "暂无交货批次记录" in page(client, code)
    parts = [chain.paid(offer, quantity=1) for _ in range(2)]
    older, newer = [handed_in(chain, network, p) for p in parts]
    assert chain.inspect(network.centre, older, network.centre_operator).status_code == 201
    html = page(client, code)
    assert "一品一码 · 产品溯源" in html and "最近交货批次" in html
    assert_masked(html)
    assert html.index(f'href="/t/{newer}"') < html.index(f'href="/t/{older}"')
    assert "待检测" in html and "<span>合格</span>" in html
    assert "15 公斤 · 一级" in html


def test_an_unknown_code_is_the_404_page(client):
    response = client.get("/t/AAAAAAAAAA")
    assert response.status_code == 404 and "页面找不到了" in response.get_data(as_text=True)
