"""Bearer tokens, ``current_user`` and role decorators.

Coarse checks (is there a valid token, does the user hold one of these roles) happen here;
object-level checks (whose household, which county) happen in the services.
"""

from __future__ import annotations

import functools

from flask import g, request

from api.blueprint import Blueprint
from models import AuthToken, User
from models.enums import Role
from services import accounts
from services.error_codes import CommonError

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
        raise CommonError.UNAUTHORIZED()
    found = accounts.authenticate(raw)
    if found is None:
        raise CommonError.TOKEN_INVALID()
    g.current_user, g.current_token = found
    if roles and not any(found[0].has_role(role) for role in roles):
        raise CommonError.FORBIDDEN()


def protected(blp: Blueprint, *roles: Role):
    """Require a valid token (and one of ``roles`` when given); document it in the spec.

    Put it right under the route, above ``@blp.arguments``: decorators run top down, so the
    token is checked before any argument is parsed, and a request without one learns nothing
    about the schema (401, not 422).
    """

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            _authenticate(roles)
            return view(*args, **kwargs)

        documented = blp.doc(security=[{"bearerAuth": []}])(wrapper)
        codes = [CommonError.UNAUTHORIZED, CommonError.TOKEN_INVALID]
        if roles:
            codes.append(CommonError.FORBIDDEN)
        return blp.declare_errors(documented, codes)

    return decorator
