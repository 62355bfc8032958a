"""THE error module: one JSON error shape for everything under /api/.

    {"code": 409, "status": "Conflict", "error": "insufficient_stock",
     "message": "库存不足", "errors": {...}}

Domain errors map to HTTP statuses in ``DOMAIN_STATUS``; routing, parsing and framework errors
map through ``HTTP_ERRORS``. Nothing internal (tracebacks, SQL, class names) reaches a client.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, Response, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge, UnsupportedMediaType

from api.routing import body_locations, body_required, current_view
from models import db
from services import errors as domain

log = logging.getLogger(__name__)

API_PREFIX = "/api/"

# Domain error class → HTTP status. Subclasses inherit their parent's row.
DOMAIN_STATUS: dict[type[domain.DomainError], int] = {
    domain.NotAuthenticated: 401,
    domain.PermissionDenied: 403,
    domain.NotFound: 404,
    domain.Conflict: 409,
    domain.InvalidState: 409,
    domain.InvalidInput: 422,
    domain.PayloadTooLarge: 413,
    domain.UnsupportedMedia: 415,
    domain.RateLimited: 429,
    domain.UpstreamUnavailable: 503,
    domain.DomainError: 400,
}

# HTTP status → (stable code, Chinese message) for errors raised outside the services.
HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "请求格式有误"),
    401: ("unauthorized", "请先登录"),
    403: ("forbidden", "无操作权限"),
    404: ("not_found", "内容不存在"),
    405: ("method_not_allowed", "不支持的请求方式"),
    406: ("not_acceptable", "不支持的响应格式"),
    409: ("conflict", "数据已存在或已变化"),
    413: ("payload_too_large", "提交的内容太大"),
    415: ("unsupported_media_type", "不支持的内容类型"),
    422: ("validation_error", "填写的信息有误"),
    429: ("rate_limited", "操作太频繁，请稍后再试"),
    500: ("internal_error", "系统繁忙，请稍后再试"),
    503: ("service_unavailable", "系统繁忙，请稍后再试"),
}


def error_response(
    status: int, error: str, message: str, errors: dict | None = None, headers=None
) -> Response:
    body = {
        "code": status,
        "status": HTTPStatus(status).phrase,
        "error": error,
        "message": message,
    }
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    if headers:
        for key, value in dict(headers).items():
            if key.lower() not in {"content-type", "content-length"}:
                response.headers[key] = value
    return response


def _status_for(exc: domain.DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in DOMAIN_STATUS:
            return DOMAIN_STATUS[cls]
    return 400


def _is_api_request() -> bool:
    return request.path.startswith(API_PREFIX) or request.path == API_PREFIX.rstrip("/")


def handle_domain_error(exc: domain.DomainError) -> Response:
    db.session.rollback()
    return error_response(_status_for(exc), exc.code, exc.message, exc.errors)


def handle_http_exception(exc: HTTPException):
    if not _is_api_request():
        return exc
    status = exc.code or 500
    error, message = HTTP_ERRORS.get(status, (f"http_{status}", HTTPStatus(status).phrase))
    data = getattr(exc, "data", None) or {}
    errors = data.get("messages") or data.get("errors")
    if status == 400 and errors and "json" in errors:
        error, message = "malformed_json", "请求内容不是有效的 JSON"
    if status == 422 and _has_unknown_field(errors):
        error, message = "unknown_field", "包含不支持的字段"
    headers = data.get("headers") or (exc.get_headers() if status in (405, 429) else None)
    return error_response(status, error, message, errors, headers)


def _has_unknown_field(errors) -> bool:
    if not isinstance(errors, dict):
        return False
    return any(
        messages == ["Unknown field."] or _has_unknown_field(messages)
        for messages in errors.values()
    )


def handle_integrity_error(exc: IntegrityError):
    # Services check uniqueness first; this catches the race two requests can still lose.
    db.session.rollback()
    log.info("integrity error answered with 409: %s", type(exc.orig).__name__)
    if not _is_api_request():
        raise exc
    return error_response(409, *HTTP_ERRORS[409])


def handle_operational_error(exc: OperationalError):
    db.session.rollback()
    log.exception("database unavailable")
    if not _is_api_request():
        raise exc
    return error_response(503, *HTTP_ERRORS[503])


def handle_unexpected(exc: Exception):
    db.session.rollback()
    log.exception("unhandled error on %s %s", request.method, request.path)
    if not _is_api_request():
        return "系统繁忙，请稍后再试", 500
    return error_response(500, *HTTP_ERRORS[500])


def check_request_body() -> None:
    """Refuse a body the matched view cannot take, before anything reads it.

    Only views with a request body (``@blp.arguments`` in json, form or files) are concerned;
    the spec documents 413 and 415 on exactly those operations. Uploads are capped by
    ``MAX_CONTENT_LENGTH``, other bodies by ``MAX_JSON_BODY``; a JSON body must say it is JSON,
    and be there when the spec says it is required (422 ``missing_body``).
    """
    view = current_view()
    locations = body_locations(view)
    if not locations:
        return
    length = request.content_length
    multipart = (request.mimetype or "").startswith("multipart/")
    if length is not None and length > current_app.config["MAX_CONTENT_LENGTH"]:
        raise RequestEntityTooLarge()
    if length is not None and length > _max_json_body() and not multipart:
        raise RequestEntityTooLarge()
    if "json" in locations and _has_body() and not request.is_json:
        raise UnsupportedMediaType()
    if "json" in locations and not _has_body() and body_required(view):
        # Parsed, a missing body would read as {}: a PATCH would answer 200 having done nothing.
        raise domain.InvalidInput("请求内容不能为空", code="missing_body")


def _has_body() -> bool:
    return (
        bool(request.content_length)
        or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    )


def _max_json_body() -> int:
    return current_app.config["MAX_JSON_BODY"]


def register_error_handlers(app: Flask) -> None:
    # Registered after flask-smorest's own HTTPException handler, so this one wins.
    app.register_error_handler(domain.DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(OperationalError, handle_operational_error)
    app.register_error_handler(Exception, handle_unexpected)
    app.before_request(check_request_body)
