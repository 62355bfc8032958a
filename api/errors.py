"""THE error module: one JSON error shape for everything under /api/.

    {"code": <HTTP status>, "status": <its phrase>, "error": <stable code>,
     "message": <short Chinese>, "errors": {<field>: [<detail>, ...]}}   (errors: optional)

Codes and messages come from the catalog (``services/error_codes.py``); this module gives each
*kind* of error its HTTP status, and maps the framework's own exceptions (routing, parsing,
size limits) onto catalog entries. Nothing internal (tracebacks, SQL, class names) reaches a
client. Pages outside /api/ get the storefront's HTML error pages instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus

from flask import Flask, Response, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from models import db
from services import errors as kinds
from services.error_codes import CommonError, RequestError
from services.errors import DomainError, ErrorCode, all_codes

log = logging.getLogger(__name__)

API_PREFIX = "/api/"

# The HTTP status of each kind of error: the only place statuses meet the catalog.
KIND_STATUS: dict[type[DomainError], int] = {
    kinds.BadRequest: 400,
    kinds.NotAuthenticated: 401,
    kinds.PermissionDenied: 403,
    kinds.NotFound: 404,
    kinds.MethodNotAllowed: 405,
    kinds.NotAcceptable: 406,
    kinds.Conflict: 409,
    kinds.InvalidState: 409,
    kinds.PayloadTooLarge: 413,
    kinds.PreconditionRequired: 428,
    kinds.UriTooLong: 414,
    kinds.UnsupportedMedia: 415,
    kinds.InvalidInput: 422,
    kinds.RateLimited: 429,
    kinds.InternalError: 500,
    kinds.UpstreamUnavailable: 503,
}

# The catalog entry that answers a framework exception of each status (werkzeug's routing,
# flask-limiter, webargs). Derived entries keep the catalog the only source of codes.
FRAMEWORK_ERRORS: dict[int, ErrorCode] = {
    400: RequestError.BAD_REQUEST,
    401: CommonError.UNAUTHORIZED,
    403: CommonError.FORBIDDEN,
    404: CommonError.NOT_FOUND,
    405: RequestError.METHOD_NOT_ALLOWED,
    406: RequestError.NOT_ACCEPTABLE,
    409: CommonError.CONFLICT,
    413: RequestError.PAYLOAD_TOO_LARGE,
    414: RequestError.URI_TOO_LONG,
    415: RequestError.UNSUPPORTED_MEDIA_TYPE,
    422: CommonError.VALIDATION_ERROR,
    429: CommonError.RATE_LIMITED,
    500: CommonError.INTERNAL_ERROR,
    503: CommonError.SERVICE_UNAVAILABLE,
}

HtmlErrorPage = Callable[[int], Response]


def status_of(entry: ErrorCode) -> int:
    return KIND_STATUS[entry.kind]


def entry_of(code: str) -> ErrorCode:
    return all_codes()[code]


def code_table() -> dict[str, int]:
    """Every code of the catalog with its HTTP status (the spec and docs/errors.md use it)."""
    return {code: status_of(entry) for code, entry in all_codes().items()}


def error_response(
    entry: ErrorCode, errors: dict | None = None, headers=None, *, status: int | None = None
) -> Response:
    status = status or status_of(entry)
    body = {
        "code": status,
        "status": HTTPStatus(status).phrase,
        "error": entry.code,
        "message": entry.message,
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


def _is_api_request() -> bool:
    return request.path.startswith(API_PREFIX) or request.path == API_PREFIX.rstrip("/")


def handle_domain_error(exc: DomainError):
    db.session.rollback()
    if not _is_api_request():
        return _html_page(status_of(exc.entry))
    return error_response(exc.entry, exc.errors)


def handle_http_exception(exc: HTTPException):
    status = exc.code or 500
    if not _is_api_request():
        return _html_page(status)
    entry = FRAMEWORK_ERRORS.get(status)
    data = getattr(exc, "data", None) or {}
    errors = data.get("messages") or data.get("errors")
    if status == 400 and errors and "json" in errors:
        entry = RequestError.MALFORMED_JSON
    if status == 422 and _has_unknown_field(errors):
        entry = RequestError.UNKNOWN_FIELD
    headers = data.get("headers") or (exc.get_headers() if status in (405, 429) else None)
    if entry is None:
        # A status no catalog entry answers (werkzeug's 416, 431 ...): the nearest kind's code
        # under the real status, so the client still gets the one shape.
        entry = RequestError.BAD_REQUEST if status < 500 else CommonError.INTERNAL_ERROR
    return error_response(entry, errors, headers, status=status)


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
        return _html_page(409)
    return error_response(CommonError.CONFLICT)


def handle_operational_error(exc: OperationalError):
    db.session.rollback()
    log.exception("database unavailable")
    if not _is_api_request():
        return _html_page(503)
    return error_response(CommonError.SERVICE_UNAVAILABLE)


def handle_unexpected(exc: Exception):
    db.session.rollback()
    log.exception("unhandled error on %s %s", request.method, request.path)
    if not _is_api_request():
        return _html_page(500)
    return error_response(CommonError.INTERNAL_ERROR)


def _html_page(status: int):
    page: HtmlErrorPage | None = current_app.extensions.get("nongjia.html_error_page")
    if page is None:
        return HTTPStatus(status).phrase, status
    return page(status)


def check_request_size() -> None:
    """before_request: refuse what no view takes, before anything reads it.

    Uploads (multipart) are capped by ``MAX_CONTENT_LENGTH``, which Flask enforces as it reads;
    any other body by ``MAX_JSON_BODY``, here, from the declared length. Per-view checks (the
    body's type, a missing body) run in ``api.blueprint.Blueprint.arguments``, after the token.
    """
    length = request.content_length
    if length is None:
        return
    multipart = (request.mimetype or "").startswith("multipart/")
    limit = current_app.config["MAX_CONTENT_LENGTH" if multipart else "MAX_JSON_BODY"]
    if length > limit:
        raise RequestError.PAYLOAD_TOO_LARGE()


def register_error_handlers(app: Flask, *, html_error_page: HtmlErrorPage | None = None) -> None:
    """``html_error_page(status)`` renders pages outside /api/ (the storefront's look)."""
    if html_error_page is not None:
        app.extensions["nongjia.html_error_page"] = html_error_page
    # Registered after flask-smorest's own HTTPException handler, so this one wins.
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(OperationalError, handle_operational_error)
    app.register_error_handler(Exception, handle_unexpected)
    app.before_request(check_request_size)
