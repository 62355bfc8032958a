"""The storefront's error pages: Chinese, in the storefront's look, with a way back home.

``render_error_page(status)`` is what ``api/errors.py`` answers every failed request outside
``/api/`` with (404 for an unknown page or id, 500 for a bug, 405 and the other statuses with a
generic page of their class). It reads nothing from the database, so it still works when the
error is the database's; if even the template fails, a plain page in the same words is sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from html import escape

from flask import Response, render_template, request

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErrorPage:
    title: str
    message: str


PAGES: dict[int, ErrorPage] = {
    400: ErrorPage("请求有误", "这个地址的格式不对，请检查后再试。"),
    403: ErrorPage("无权访问", "这个页面不对外开放。"),
    404: ErrorPage(
        "页面找不到了",
        "您要找的店铺、商品或溯源码不存在，可能已经下架，或者地址输错了。",
    ),
    405: ErrorPage("无法这样访问", "这个页面不支持这种访问方式，请从首页进入。"),
    429: ErrorPage("访问太频繁", "请稍等一会儿再试。"),
    500: ErrorPage("系统开小差了", "页面暂时打不开，我们已经记录下这个问题，请稍后再试。"),
    503: ErrorPage("系统繁忙", "页面暂时打不开，请稍后再试。"),
}
CLIENT_ERROR = ErrorPage("无法打开这个页面", "请求没有成功，请返回首页重新进入。")
SERVER_ERROR = PAGES[500]


def page_for(status: int) -> ErrorPage:
    if status in PAGES:
        return PAGES[status]
    return SERVER_ERROR if status >= 500 else CLIENT_ERROR


def render_error_page(status: int) -> Response:
    """The HTML error page for ``status``, answered with that status."""
    page = page_for(status)
    try:
        body = render_template(
            "storefront/error.html", status=status, page=page, retry_url=_retry_url(status)
        )
    except Exception:
        log.exception("the storefront's %s page could not be rendered", status)
        body = _PLAIN_PAGE.format(title=escape(page.title), message=escape(page.message))
    response = Response(body, status=status, mimetype="text/html")
    if status >= 500:
        response.headers["Cache-Control"] = "no-store"
    return response


def _retry_url(status: int) -> str | None:
    """Where "try again" goes after a server error: the same page, if it was only read."""
    if status < 500 or request.method not in ("GET", "HEAD"):
        return None
    return request.full_path.rstrip("?")


_PLAIN_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{title} · 农家微店</title></head>
<body style="margin:0;font:16px/1.6 system-ui,sans-serif;background:#f6f4ee;color:#222">
<main style="padding:32px 16px;text-align:center"><h1 style="font-size:20px">{title}</h1>
<p>{message}</p><p><a href="/" style="color:#2f6b3a">返回首页</a></p></main></body></html>
"""
