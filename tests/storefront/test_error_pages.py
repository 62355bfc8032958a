"""The storefront's error pages: Chinese, in the storefront's look, a way back home, the status.

``render_error_page`` is tested on its own inside a request context; the HTTP tests go through
the app's error handlers (``api/errors.py``), which answer every path outside ``/api/`` with it.
"""

from __future__ import annotations

import pytest

import storefront.errors
from storefront import render_error_page

HOME_LINK = 'href="/"'
STYLESHEET = "/static/storefront/storefront.css"


def page_text(response) -> str:
    return response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("status", "title"),
    [
        (404, "页面找不到了"),
        (500, "系统开小差了"),
        (405, "无法这样访问"),
        (503, "系统繁忙"),
        (418, "无法打开这个页面"),  # a 4xx without a page of its own gets the generic one
        (502, "系统开小差了"),  # and a 5xx the server-error page
    ],
)
def test_render_error_page_answers_the_status_in_chinese(app, status, title):
    with app.test_request_context("/t/XXXX"):
        response = render_error_page(status)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    html = page_text(response)
    assert '<html lang="zh-CN">' in html
    assert title in html
    assert HOME_LINK in html and "返回首页" in html
    assert STYLESHEET in html  # the storefront's own look, no third-party assets
    assert 'name="robots" content="noindex"' in html
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html


def test_server_error_pages_are_not_cached_and_offer_a_retry_of_a_read(app):
    with app.test_request_context("/shops/7?from=qr"):
        response = render_error_page(500)
    assert response.headers["Cache-Control"] == "no-store"
    assert 'href="/shops/7?from=qr"' in page_text(response)  # 重新加载
    with app.test_request_context("/", method="POST"):
        posted = render_error_page(500)
    assert "重新加载" not in page_text(posted)  # never repeat a write by a link
    with app.test_request_context("/shops/7"):
        missing = render_error_page(404)
    assert "Cache-Control" not in missing.headers and "重新加载" not in page_text(missing)


def test_a_broken_template_still_gives_a_plain_chinese_page(app, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("template engine down")

    monkeypatch.setattr(storefront.errors, "render_template", broken)
    with app.test_request_context("/"):
        response = render_error_page(500)
    assert response.status_code == 500
    html = page_text(response)
    assert "系统开小差了" in html and HOME_LINK in html
    assert "template engine down" not in html


def test_unknown_trace_code_is_the_chinese_404_page(client):
    response = client.get("/t/XXXX")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    html = page_text(response)
    assert "页面找不到了" in html and HOME_LINK in html
    assert "Not Found" not in html


# --- through the app's error handlers (api/errors.py) ------------------------------------------


def test_unknown_page_is_the_chinese_404_page(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    html = page_text(response)
    assert "页面找不到了" in html and HOME_LINK in html
    assert "Not Found" not in html


def test_an_id_out_of_range_is_the_chinese_404_page(client):
    response = client.get("/shops/99999999999999999999")
    assert response.status_code == 404
    assert "页面找不到了" in page_text(response)


def test_wrong_method_on_a_page_is_the_generic_chinese_page(client):
    response = client.post("/")
    assert response.status_code == 405
    assert response.mimetype == "text/html"
    html = page_text(response)
    assert "无法这样访问" in html and HOME_LINK in html
    assert "Method Not Allowed" not in html


def test_a_bug_in_a_storefront_view_is_the_chinese_500_page(client, monkeypatch):
    def boom(**_kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("services.shops.list_public_shops", boom)
    response = client.get("/")
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    html = page_text(response)
    assert "系统开小差了" in html and HOME_LINK in html
    assert "secret internal detail" not in html and "Traceback" not in html
    assert response.headers["Cache-Control"] == "no-store"


def test_api_errors_stay_json(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.mimetype == "application/json"
