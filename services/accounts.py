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

from models import AuthToken, Household, Region, RoleGrant, User, db
from models.base import utcnow
from models.enums import RegionLevel, Role
from services import audit, pii
from services.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RateLimited,
    UpstreamUnavailable,
)
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
        raise PermissionDenied("账号已停用", code="account_disabled")
    return user


def login_with_wechat(*, code: str) -> tuple[User, str, AuthToken]:
    """wx.login code → jscode2session → our own opaque token. session_key stays here."""
    try:
        session = wechat_client().code2session(code)
    except wx.InvalidCode:
        raise NotAuthenticated("登录凭证无效，请重试", code="invalid_wechat_code") from None
    except wx.RateLimited:
        raise RateLimited(code="wechat_rate_limited") from None
    except wx.RiskyUser:
        raise PermissionDenied("该微信账号暂时无法登录", code="wechat_risky_user") from None
    except wx.WeChatConfigError as exc:
        log.error("WeChat rejected our app credentials (errcode %s)", exc.errcode)
        raise UpstreamUnavailable(code="wechat_unavailable") from None
    except wx.WeChatError as exc:
        log.warning("WeChat login failed (errcode %s)", exc.errcode)
        raise UpstreamUnavailable(code="wechat_unavailable") from None
    user = _find_or_create_wechat_user(session.openid, unionid=session.unionid)
    user.session_key_cipher = pii.encrypt(session.session_key)
    raw, token = issue_token(user, "wechat")
    db.session.commit()
    return user, raw, token


def login_dev(*, openid: str, nickname: str | None = None) -> tuple[User, str, AuthToken]:
    if not current_app.config["DEV_LOGIN_ENABLED"]:
        raise NotFound()
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
        hasher.verify(user.password_hash if user else _dummy_hash(hasher), password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None or not user.password_hash or not user.is_active:
        raise NotAuthenticated("用户名或密码错误", code="invalid_credentials")
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


# --- console accounts and role grants (CLI and demo data) ---------------------------------


def create_staff_user(
    *,
    username: str,
    password: str,
    nickname: str = "",
    county_code: str | None = None,
    platform_admin: bool = False,
) -> User:
    if len(password) < 10:
        raise InvalidInput("密码至少10位", code="weak_password")
    if db.session.scalar(select(User).where(User.username == username)):
        raise Conflict("用户名已存在", code="username_taken")
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
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound("用户不存在")
    user.password_hash = _hasher().hash(password)
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
        raise NotFound("用户不存在")
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
    )
    db.session.commit()
    return grant


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
            raise InvalidInput("地区代码不适用于该角色", code="invalid_scope")
    if household_id is not None and db.session.get(Household, household_id) is None:
        raise InvalidInput("农户不存在", code="invalid_scope")
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
        raise InvalidInput("角色缺少适用范围", code="invalid_scope")
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
