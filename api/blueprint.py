"""The Blueprint every v1 module uses: flask-smorest's, with a stricter argument parser, body
checks that run after the token, and the error codes each operation can answer.

An operation's error codes are declared with ``@blp.errors(ShopError.SHOP_EXISTS, ...)``;
``@protected`` and ``@blp.arguments`` add the codes they can answer themselves. The spec lists
them per operation (``x-error-codes``, and one response per status naming its codes), and the
test suite checks every error answered in a test against that list.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from http import HTTPStatus

import flask_smorest
from apispec import BasePlugin
from flask import request
from webargs.flaskparser import FlaskParser

from services.error_codes import CommonError, RequestError
from services.errors import ErrorCode

# Set on every documented view (and carried up by functools.wraps, which copies the reference):
# the catalog entries the operation can answer.
ERRORS_ATTR = "_nongjia_error_codes"
SPEC_KEY = "x-error-codes"

_BODY_LOCATIONS = {"json", "form", "files"}
_BODY_CODES = (
    RequestError.MALFORMED_JSON,
    RequestError.PAYLOAD_TOO_LARGE,
    RequestError.UNSUPPORTED_MEDIA_TYPE,
    RequestError.UNKNOWN_FIELD,
    CommonError.VALIDATION_ERROR,
)
_QUERY_CODES = (RequestError.UNKNOWN_FIELD, CommonError.VALIDATION_ERROR)


class StrictParser(FlaskParser):
    # webargs drops unknown query parameters by default; ours reject them (422 unknown_field)
    # like unknown JSON fields, so a misspelt filter never silently returns the wrong list.
    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,
        "querystring": None,
    }


def declared_errors(view: Callable | None) -> frozenset[ErrorCode]:
    """The codes a view declares (empty for views outside the API)."""
    return frozenset(getattr(view, ERRORS_ATTR, ()))


def _has_body() -> bool:
    return (
        bool(request.content_length)
        or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    )


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = StrictParser()

    def errors(self, *entries: ErrorCode):
        """Document (and allow, in the test suite's check) the codes an operation answers."""

        def decorator(view):
            return self.declare_errors(view, entries)

        return decorator

    def declare_errors(self, view, entries: Iterable[ErrorCode]):
        declared = view.__dict__.get(ERRORS_ATTR)
        if declared is None:
            declared = set()
            setattr(view, ERRORS_ATTR, declared)
        declared.update(entries)
        # Re-emitted whole each time: the outermost declaration carries every code.
        codes = sorted(entry.code for entry in declared)
        return self.doc(**{SPEC_KEY: codes})(view)

    def arguments(self, schema, *, location: str = "json", required: bool | None = None, **kw):
        """flask-smorest's ``arguments``, where a body is required only if the schema has a
        required field (an action whose fields are all optional takes an empty body) unless
        the view says so (a PATCH); its body's type and presence are checked here, so after
        ``@protected`` (which sits above) has checked the token."""
        takes_body = location in _BODY_LOCATIONS
        if required is None:
            instance = schema() if isinstance(schema, type) else schema
            required = takes_body and any(f.required for f in instance.fields.values())
        parse = super().arguments(schema, location=location, required=required, **kw)

        def decorator(view):
            parsed = parse(view)

            @functools.wraps(parsed)
            def wrapper(*args, **kwargs):
                if location == "json":
                    _check_json_body(required)
                return parsed(*args, **kwargs)

            codes = [*(_BODY_CODES if takes_body else _QUERY_CODES)]
            if takes_body and required:
                codes.append(RequestError.MISSING_BODY)
            return self.declare_errors(wrapper, codes)

        return decorator


def _check_json_body(required: bool) -> None:
    if _has_body() and not request.is_json:
        raise RequestError.UNSUPPORTED_MEDIA_TYPE()
    if required and not _has_body():
        # Parsed, a missing body would read as {}: a PATCH would answer 200 having done nothing.
        raise RequestError.MISSING_BODY()


class ErrorCodesPlugin(BasePlugin):
    """Turn each operation's ``x-error-codes`` into one error response per status, whose
    description names the codes (``insufficient_stock``: 库存不足 ...)."""

    def __init__(self, status_of: Callable[[ErrorCode], int], lookup: Callable[[str], ErrorCode]):
        self._status_of = status_of
        self._lookup = lookup

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        for operation in (operations or {}).values():
            if not isinstance(operation, dict) or SPEC_KEY not in operation:
                continue
            by_status: dict[int, list[ErrorCode]] = {}
            for code in operation[SPEC_KEY]:
                entry = self._lookup(code)
                by_status.setdefault(self._status_of(entry), []).append(entry)
            responses = operation.setdefault("responses", {})
            for status, entries in sorted(by_status.items()):
                lines = "; ".join(f"`{e.code}` {e.message}" for e in entries)
                responses[str(status)] = {
                    "description": f"{HTTPStatus(status).phrase}: {lines}",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
