"""Uniform mapping of WeChat ``errcode`` values to exceptions.

Every WeChat API answers ``{"errcode": N, "errmsg": "..."}`` on failure; callers catch the
subclass that says what to do (ask for a new code, back off, fix config, retry later) instead of
comparing numbers. Messages carry only the errcode and WeChat's errmsg, never request parameters,
so an exception can be logged or shown in a traceback without leaking the secret or a login code.
"""

from __future__ import annotations

from typing import Any


class WeChatError(Exception):
    """A WeChat API call failed. ``errcode`` is None when WeChat gave no answer at all."""

    def __init__(self, errcode: int | None, errmsg: str = "") -> None:
        # Args mirror __init__ so the exception pickles (RQ jobs, multiprocessing).
        super().__init__(errcode, errmsg)
        self.errcode = errcode
        self.errmsg = errmsg

    def __str__(self) -> str:
        return f"WeChat errcode {self.errcode}: {self.errmsg}"


class InvalidCode(WeChatError):
    """The login code is unknown, expired or already used: the client must call wx.login again."""


class RateLimited(WeChatError):
    """Per-user (45011) or per-app (45009) quota exhausted."""


class WeChatBusy(WeChatError):
    """errcode -1: WeChat asks to retry later."""


class RiskyUser(WeChatError):
    """errcode 40226: WeChat blocks this user's login as high-risk."""


class WeChatConfigError(WeChatError):
    """Our appid/secret are wrong or missing: an operator problem, not a user one."""


class WeChatUnavailable(WeChatError):
    """No usable answer: network error, timeout, HTTP error status or a body that is not JSON."""

    def __init__(self, errcode: int | None = None, errmsg: str = "") -> None:
        super().__init__(errcode, errmsg)

    def __str__(self) -> str:
        return f"WeChat unavailable: {self.errmsg}"


class AccessTokenInvalid(WeChatError):
    """The access_token is invalid or expired: drop the cached one, fetch once, retry once."""


class InvalidOpenId(WeChatError):
    """The openid is malformed or belongs to another appid (40003, 43104)."""


class UserNotRecent(WeChatError):
    """errcode 61010: content checks need a user who opened the mini-program in the last 2 h."""


class RiskyContent(WeChatError):
    """errcode 87014: v1-style "content is risky"; msg_sec_check turns it into a risky verdict."""


ERRCODE_EXCEPTIONS: dict[int, type[WeChatError]] = {
    -1: WeChatBusy,
    40029: InvalidCode,
    40163: InvalidCode,
    45009: RateLimited,
    45011: RateLimited,
    40226: RiskyUser,
    40013: WeChatConfigError,
    40125: WeChatConfigError,
    41002: WeChatConfigError,
    41004: WeChatConfigError,
    41008: WeChatConfigError,
    40001: AccessTokenInvalid,
    40014: AccessTokenInvalid,
    42001: AccessTokenInvalid,
    40003: InvalidOpenId,
    43104: InvalidOpenId,
    61010: UserNotRecent,
    87014: RiskyContent,
}


def raise_for_errcode(payload: dict[str, Any]) -> None:
    """Raise the exception matching ``payload["errcode"]``; return if it is absent or 0."""
    raw = payload.get("errcode", 0)
    try:
        errcode = int(raw or 0)
    except (TypeError, ValueError):
        raise WeChatUnavailable(None, "malformed errcode in response") from None
    if errcode == 0:
        return
    errmsg = str(payload.get("errmsg") or "")
    raise ERRCODE_EXCEPTIONS.get(errcode, WeChatError)(errcode, errmsg)
