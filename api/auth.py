"""Bearer tokens, ``current_user`` and role decorators.

Coarse checks (is there a valid token, does the user hold one of these roles) happen here;
object-level checks (whose household, which county) happen in the services.
"""

from __future__ import annotations

import functools
from http import HTTPStatus

from flask import g, request
from flask_smorest import Blueprint

from models import AuthToken, User
from models.enums import Role
from services import accounts
from services.errors import NotAuthenticated, PermissionDenied

BEARER_SCHEME = {"type": "http", "scheme": "bearer", "description": "token from /api/v1/auth/*"}


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def current_user() -> User:
    return g.current_user


def current_token() -> AuthToken:
    return g.current_token


def _authenticate(roles: tuple[Role, ...]) -> None:
    raw = _bearer_token()
    if raw is None:
        raise NotAuthenticated()
    found = accounts.authenticate(raw)
    if found is None:
        raise NotAuthenticated("登录已过期，请重新登录", code="token_invalid")
    g.current_user, g.current_token = found
    if roles and not any(found[0].has_role(role) for role in roles):
        raise PermissionDenied()


def protected(blp: Blueprint, *roles: Role, errors: tuple[int, ...] = (403, 404)):
    """Require a valid token (and one of ``roles`` when given); document it in the spec."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            _authenticate(roles)
            return view(*args, **kwargs)

        documented = blp.doc(security=[{"bearerAuth": []}])(wrapper)
        for status in (401, *errors):
            documented = blp.alt_response(status, response=HTTPStatus(status).name)(documented)
        return documented

    return decorator


def documents(blp: Blueprint, *statuses: int):
    """Document further error answers of an operation (409, 413, 415, 429, 503 ...)."""

    def decorator(view):
        for status in statuses:
            view = blp.alt_response(status, response=HTTPStatus(status).name)(view)
        return view

    return decorator
