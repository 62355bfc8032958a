"""Accounts: WeChat, staff and dev login, bearer tokens, role grants."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import select

from models import AuthToken, Household, Region, RoleGrant, Station, User, WorkUnit, db
from models.base import utcnow
from models.enums import RegionLevel, Role
from services import audit, pii
from services.error_codes import AuthError, CommonError
from services.wechat_gateway import wechat_client
from wechat import errors as wx

log = logging.getLogger(__name__)
_STRONG = PasswordHasher()
# Tests set PASSWORD_HASH_CHEAP so thousands of accounts cost nothing; production never does.
_CHEAP = PasswordHasher.from_parameters(profiles.CHEAPEST)
_DUMMY_PASSWORD = "nongjia-dummy-password"
_dummy_hashes: dict[int, str] = {}


def _hasher() -> PasswordHasher:
    cheap = (
        current_app.config.get("PASSWORD_HASH_CHEAP")
        and current_app.config.get("APP_ENV") != "production"
    )
    return _CHEAP if cheap else _STRONG


def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verified against when the username is unknown, so both paths cost the same time."""
    key = id(hasher)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = hasher.hash(_DUMMY_PASSWORD)
    return _dummy_hashes[key]


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(user: User, kind: str) -> tuple[str, AuthToken]:
    raw = secrets.token_urlsafe(32)
    token = AuthToken(
        user=user,
        token_hash=_hash_token(raw),
        kind=kind,
        expires_at=utcnow() + timedelta(hours=current_app.config["TOKEN_TTL_HOURS"]),
    )
    user.last_login_at = utcnow()
    db.session.add(token)
    return raw, token


def _find_or_create_wechat_user(openid: str, *, unionid: str | None, nickname: str = "") -> User:
    user = db.session.scalar(select(User).where(User.openid == openid))
    if user is None:
        user = User(openid=openid, nickname=nickname, is_active=True)
        user.grants.append(RoleGrant(role=Role.BUYER))
        db.session.add(user)
    if unionid:
        user.unionid = unionid
    if not user.is_active:
        raise AuthError.ACCOUNT_DISABLED()
    return user


def login_with_wechat(*, code: str) -> tuple[User, str, AuthToken]:
    """wx.login code → jscode2session → our own opaque token. session_key stays here."""
    try:
        session = wechat_client().code2session(code)
    except wx.InvalidCode:
        raise AuthError.INVALID_WECHAT_CODE() from None
    except wx.RateLimited:
        raise AuthError.WECHAT_RATE_LIMITED() from None
    except wx.RiskyUser:
        raise AuthError.WECHAT_RISKY_USER() from None
    except wx.WeChatConfigError as exc:
        log.error("WeChat rejected our app credentials (errcode %s)", exc.errcode)
        raise AuthError.WECHAT_UNAVAILABLE() from None
    except wx.WeChatError as exc:
        log.warning("WeChat login failed (errcode %s)", exc.errcode)
        raise AuthError.WECHAT_UNAVAILABLE() from None
    user = _find_or_create_wechat_user(session.openid, unionid=session.unionid)
    user.session_key_cipher = pii.encrypt(session.session_key)
    raw, token = issue_token(user, "wechat")
    db.session.commit()
    return user, raw, token


def login_dev(*, openid: str, nickname: str | None = None) -> tuple[User, str, AuthToken]:
    if not current_app.config["DEV_LOGIN_ENABLED"]:
        raise CommonError.NOT_FOUND()
    user = _find_or_create_wechat_user(openid, unionid=None, nickname=nickname or "")
    if nickname:
        user.nickname = nickname
    raw, token = issue_token(user, "dev")
    db.session.commit()
    return user, raw, token


def login_staff(*, username: str, password: str) -> tuple[User, str, AuthToken]:
    user = db.session.scalar(select(User).where(User.username == username))
    hasher = _hasher()
    try:
        # An account without a password is checked against the dummy too (and refused below).
        hasher.verify((user.password_hash if user else None) or _dummy_hash(hasher), password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None or not user.password_hash or not user.is_active:
        raise AuthError.INVALID_CREDENTIALS()
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    raw, token = issue_token(user, "staff")
    db.session.commit()
    return user, raw, token


def authenticate(raw_token: str) -> tuple[User, AuthToken] | None:
    token = db.session.scalar(
        select(AuthToken).where(AuthToken.token_hash == _hash_token(raw_token))
    )
    if token is None or token.revoked_at is not None or token.expires_at <= utcnow():
        return None
    if not token.user.is_active:
        return None
    return token.user, token


def logout(actor: User, *, token: AuthToken) -> None:
    token.revoked_at = utcnow()
    db.session.commit()


def revoke_tokens(user: User) -> int:
    """End every session of the user at once (in the caller's transaction; it commits).

    Done whenever what a token stood for changes: a new password, a role taken away, a member
    removed from a household, an account switched off. Returns how many tokens were live.
    """
    live = db.session.scalars(
        select(AuthToken).where(AuthToken.user_id == user.id, AuthToken.revoked_at.is_(None))
    ).all()
    now = utcnow()
    for token in live:
        token.revoked_at = now
    return len(live)


# --- console accounts and role grants (CLI and demo data) ---------------------------------

MIN_PASSWORD_LENGTH = 10


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError.WEAK_PASSWORD()


def create_staff_user(
    *,
    username: str,
    password: str,
    nickname: str = "",
    county_code: str | None = None,
    platform_admin: bool = False,
) -> User:
    _check_password(password)
    if db.session.scalar(select(User).where(User.username == username)):
        raise AuthError.USERNAME_TAKEN()
    user = User(
        username=username, nickname=nickname or username, password_hash=_hasher().hash(password)
    )
    db.session.add(user)
    if county_code:
        _add_grant(user, Role.COUNTY_STAFF, region_code=county_code)
    if platform_admin:
        _add_grant(user, Role.PLATFORM_ADMIN)
    audit.record(None, "user.create_staff", "user", username, county_code=county_code)
    db.session.commit()
    return user


def set_password(*, username: str, password: str) -> User:
    """A new password ends every session opened with the old one."""
    _check_password(password)
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise AuthError.USER_NOT_FOUND()
    user.password_hash = _hasher().hash(password)
    revoked = revoke_tokens(user)
    audit.record(None, "user.set_password", "user", user.id, tokens_revoked=revoked)
    db.session.commit()
    return user


def deactivate_user(actor: User | None, *, user_id: int) -> User:
    """Switch an account off: its tokens stop working at once and it cannot log in again."""
    user = db.session.get(User, user_id)
    if user is None:
        raise AuthError.USER_NOT_FOUND()
    was_active = user.is_active
    user.is_active = False
    revoked = revoke_tokens(user)
    audit.record(
        actor, "user.deactivate", "user", user.id, was_active=was_active, tokens_revoked=revoked
    )
    db.session.commit()
    return user


def grant_role(
    granter: User | None,
    *,
    user_id: int,
    role: Role,
    region_code: str | None = None,
    household_id: int | None = None,
    unit_id: int | None = None,
    station_id: int | None = None,
) -> RoleGrant:
    user = db.session.get(User, user_id)
    if user is None:
        raise AuthError.USER_NOT_FOUND()
    grant = _add_grant(
        user,
        role,
        region_code=region_code,
        household_id=household_id,
        unit_id=unit_id,
        station_id=station_id,
        granted_by=granter,
    )
    audit.record(
        granter,
        "user.grant_role",
        "user",
        user.id,
        role=role.value,
        region_code=region_code,
        household_id=household_id,
        unit_id=unit_id,
        station_id=station_id,
    )
    db.session.commit()
    return grant


def revoke_role(
    revoker: User | None,
    *,
    user_id: int,
    role: Role,
    region_code: str | None = None,
    household_id: int | None = None,
    unit_id: int | None = None,
    station_id: int | None = None,
) -> None:
    """Take one scoped role away; the user's tokens are revoked with it, so no session opened
    while they held the role outlives it."""
    user = db.session.get(User, user_id)
    if user is None:
        raise AuthError.USER_NOT_FOUND()
    scope = (role, region_code, household_id, unit_id, station_id)
    grant = next(
        (
            g
            for g in user.grants
            if (g.role, g.region_code, g.household_id, g.unit_id, g.station_id) == scope
        ),
        None,
    )
    if grant is None:
        raise AuthError.GRANT_NOT_FOUND()
    user.grants.remove(grant)  # delete-orphan: the row goes
    revoked = revoke_tokens(user)
    audit.record(
        revoker,
        "user.revoke_role",
        "user",
        user.id,
        role=role.value,
        region_code=region_code,
        household_id=household_id,
        unit_id=unit_id,
        station_id=station_id,
        tokens_revoked=revoked,
    )
    db.session.commit()


_SCOPE_RULES = {
    # role: the level of region its scope names
    Role.COUNTY_STAFF: RegionLevel.COUNTY,
    Role.HELPER: RegionLevel.VILLAGE,
}


def _add_grant(
    user: User,
    role: Role,
    *,
    region_code=None,
    household_id=None,
    unit_id=None,
    station_id=None,
    granted_by: User | None = None,
) -> RoleGrant:
    if region_code is not None:
        region = db.session.get(Region, region_code)
        if region is None or region.level != _SCOPE_RULES.get(role):
            raise AuthError.INVALID_SCOPE(errors={"region_code": ["地区代码不适用于该角色"]})
    if household_id is not None and db.session.get(Household, household_id) is None:
        raise AuthError.INVALID_SCOPE(errors={"household_id": ["农户不存在"]})
    if unit_id is not None and db.session.get(WorkUnit, unit_id) is None:
        raise AuthError.INVALID_SCOPE(errors={"unit_id": ["单位不存在"]})
    if station_id is not None and db.session.get(Station, station_id) is None:
        raise AuthError.INVALID_SCOPE(errors={"station_id": ["站点不存在"]})
    scoped = {
        Role.FARMER: household_id is not None,
        Role.HELPER: (household_id is not None) != (region_code is not None),
        Role.COUNTY_STAFF: region_code is not None,
        Role.UNIT_ADMIN: unit_id is not None,
        Role.UNIT_MEMBER: unit_id is not None,
        Role.STATION_OPERATOR: station_id is not None,
        Role.BUYER: True,
        Role.PLATFORM_ADMIN: True,
    }
    if not scoped[role]:
        raise AuthError.INVALID_SCOPE(errors={"scope": ["角色缺少适用范围"]})
    for g in user.grants:
        if (g.role, g.region_code, g.household_id, g.unit_id, g.station_id) == (
            role,
            region_code,
            household_id,
            unit_id,
            station_id,
        ):
            return g
    grant = RoleGrant(
        role=role,
        region_code=region_code,
        household_id=household_id,
        unit_id=unit_id,
        station_id=station_id,
        granted_by_id=granted_by.id if granted_by else None,
    )
    user.grants.append(grant)
    return grant
