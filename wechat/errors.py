"""Uniform mapping of WeChat ``errcode`` values (and WeChat Pay v3 error codes) to exceptions.

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


# -- WeChat Pay API v3 --------------------------------------------------------------------
#
# WeChat Pay answers a failure with an HTTP status and ``{"code": "...", "message": "..."}``
# (wechat.md §4). The classes say what the caller should do: fix the request (PayRequestInvalid),
# accept that the object is not there (PayNotFound), or query before trying again because the
# outcome is unknown (PayUnavailable, PayBusy, PayResponseForged). No class retries by itself.


class PayError(Exception):
    """A WeChat Pay call failed. ``code`` is WeChat Pay's error code (``PARAM_ERROR`` ...), None
    when no usable answer came back; ``http_status`` is None when no answer came back at all.
    ``verified`` says whether the error answer itself carried a valid WeChat Pay signature
    (error answers need not be signed; successful ones always must be)."""

    def __init__(
        self,
        code: str | None,
        message: str = "",
        http_status: int | None = None,
        verified: bool = False,
    ) -> None:
        # Args mirror __init__ so the exception pickles (RQ jobs, multiprocessing).
        super().__init__(code, message, http_status, verified)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.verified = verified

    def __str__(self) -> str:
        return f"WeChat Pay error ({self._what()}): {self.message}"

    def _what(self) -> str:
        parts = [self.code or "no code"]
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        return ", ".join(parts)


class PayRequestInvalid(PayError):
    """A 4xx refusal: the request as sent will never succeed, so do not retry it unchanged."""


class PayAuthError(PayRequestInvalid):
    """Our merchant credentials are wrong (SIGN_ERROR, NO_AUTH, APPID_MCHID_NOT_MATCH ...):
    an operator problem, not a buyer's."""


class PayOrderClosed(PayRequestInvalid):
    """ORDER_CLOSED: the order is closed; pay again only under a new out_trade_no."""


class PayOrderPaid(PayRequestInvalid):
    """ORDERPAID: the order is already paid (closing it or ordering it again is refused)."""


class PayNotEnough(PayRequestInvalid):
    """NOT_ENOUGH: the refund cannot be covered (balance, or more than the order has left)."""


class PayNotFound(PayError):
    """ORDER_NOT_EXIST / RESOURCE_NOT_EXISTS: WeChat Pay has no such order or refund."""


class PayUnavailable(PayError):
    """No usable answer: timeout, connection error, 5xx, or an answer that cannot be read. The
    request may or may not have taken effect: query before retrying (with the same numbers)."""

    def __str__(self) -> str:
        return f"WeChat Pay unavailable ({self._what()}): {self.message}"


class PayBusy(PayUnavailable):
    """SYSTEM_ERROR, FREQUENCY_LIMITED, BANK_ERROR, USERPAYING: WeChat Pay asks to try later."""


class PayResponseForged(PayError):
    """The answer failed signature verification (bad or missing signature, unknown serial,
    stale timestamp): it may not come from WeChat Pay. Nothing in it is used; treat the
    outcome as unknown and alert, since it means something between us and WeChat Pay lies."""

    def __str__(self) -> str:
        return f"WeChat Pay answer failed verification (HTTP {self.http_status}): {self.message}"


class NotificationRejected(Exception):
    """A callback that must not be trusted; answer it with a 4xx/5xx so WeChat Pay retries.

    ``reason`` is one of NOTIFICATION_REJECT_REASONS: ``bad_signature`` (missing or wrong
    signature, including WeChat Pay's deliberate ``WECHATPAY/SIGNTEST/`` probes),
    ``wrong_serial`` (signed with a key we do not know), ``stale`` (timestamp too far from now:
    a replay), ``undecryptable`` (the resource does not decrypt with our APIv3 key) and
    ``malformed`` (verified and decrypted, but not the JSON we expect)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        text = f"WeChat Pay notification rejected ({self.reason})"
        return f"{text}: {self.detail}" if self.detail else text


NOTIFICATION_REJECT_REASONS = (
    "bad_signature",
    "wrong_serial",
    "stale",
    "undecryptable",
    "malformed",
)

PAY_CODE_EXCEPTIONS: dict[str, type[PayError]] = {
    "SIGN_ERROR": PayAuthError,
    "NO_AUTH": PayAuthError,
    "NOAUTH": PayAuthError,
    "APPID_MCHID_NOT_MATCH": PayAuthError,
    "MCH_NOT_EXISTS": PayAuthError,
    "ORDER_CLOSED": PayOrderClosed,
    "ORDERPAID": PayOrderPaid,
    "ORDER_PAID": PayOrderPaid,
    "NOT_ENOUGH": PayNotEnough,
    "ORDER_NOT_EXIST": PayNotFound,
    "ORDERNOTEXIST": PayNotFound,
    "RESOURCE_NOT_EXISTS": PayNotFound,
    "SYSTEM_ERROR": PayBusy,
    "SYSTEMERROR": PayBusy,
    "FREQUENCY_LIMITED": PayBusy,
    "BANK_ERROR": PayBusy,
    "BANKERROR": PayBusy,
    "USERPAYING": PayBusy,
}


def pay_error_for(
    http_status: int, code: str | None, message: str = "", *, verified: bool = False
) -> PayError:
    """The exception for a WeChat Pay error answer. Known codes decide; otherwise the status
    does, but only when WeChat Pay's ``code`` is there: a bare 4xx (a proxy, a wrong host)
    says nothing about the order, so it counts as unavailable, never as "not found"."""
    cls: type[PayError]
    if code is not None and code in PAY_CODE_EXCEPTIONS:
        cls = PAY_CODE_EXCEPTIONS[code]
    elif code is None:
        cls = PayUnavailable
    elif http_status == 429 or http_status >= 500:
        cls = PayBusy
    elif http_status == 404:
        cls = PayNotFound
    elif http_status == 401:
        cls = PayAuthError
    elif 400 <= http_status < 500:
        cls = PayRequestInvalid
    else:
        cls = PayUnavailable
    return cls(code, message, http_status, verified)
