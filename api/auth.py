"""Bearer tokens, ``current_user`` and role decorators.

Coarse checks (is there a valid token, does the user hold one of these roles) happen here;
object-level checks (whose household, which county) happen in the services.
"""

from __future__ import annotations

import functools
from http import HTTPStatus

from flask import g, request

from api.blueprint import Blueprint
from api.routing import current_view
from models import AuthToken, User
from models.enums import Role
from services import accounts
from services.errors import NotAuthenticated, PermissionDenied

# Who may use the county console: county staff (in their counties) and platform admins.
STAFF_ROLES = (Role.COUNTY_STAFF, Role.PLATFORM_ADMIN)

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


# Set on protected views (and carried up by functools.wraps): the roles they require.
_ROLES_ATTR = "_nongjia_roles"


def authenticate_before_parsing() -> None:
    """before_request: check the token of a protected view before its arguments are parsed.

    ``@blp.arguments`` usually sits above ``@protected``, so without this a request with no
    token and a bad body would get 422 (and learn about the schema) instead of 401.
    """
    roles = getattr(current_view(), _ROLES_ATTR, None)
    if roles is not None:
        _authenticate(roles)


def protected(blp: Blueprint, *roles: Role, errors: tuple[int, ...] = (403, 404)):
    """Require a valid token (and one of ``roles`` when given); document it in the spec.

    The check runs in ``authenticate_before_parsing``, whatever the order of the decorators;
    the wrapper repeats it only if that hook did not run (e.g. a view called directly).
    """

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if "current_user" not in g:
                _authenticate(roles)
            return view(*args, **kwargs)

        setattr(wrapper, _ROLES_ATTR, roles)
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
