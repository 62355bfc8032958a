"""Thin client for the WeChat mini-program server APIs (api.weixin.qq.com).

Every API goes through ``_get_json`` / ``_post_json`` so they share timeouts, parsing, errcode
mapping and busy retries; APIs that need an access_token go through ``_post_with_token``, which
adds the cached stable_token and the passive refresh (wechat.md §1.3).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Protocol

import redis
import requests

from wechat.errors import (
    AccessTokenInvalid,
    RiskyContent,
    WeChatBusy,
    WeChatError,
    WeChatUnavailable,
    raise_for_errcode,
)

log = logging.getLogger(__name__)

# Refetch when fewer seconds than this remain: WeChat hands out the next token 5 min before expiry.
TOKEN_REFRESH_MARGIN = 300.0
# msgSecCheck refuses content longer than this many characters (wechat.md §2.1).
CONTENT_CHUNK = 2500
# Consecutive chunks overlap so a word padded to straddle a boundary is still seen whole once.
CHUNK_OVERLAP = 50
# v1's 87014 carries no label; 21000 is v2's "other".
LABEL_OTHER = 21000

Suggest = Literal["pass", "review", "risky"]
_SEVERITY: dict[str, int] = {"pass": 0, "review": 1, "risky": 2}

# upload_shipping_info: "the payment has completed shipping" and "the payment used its one
# re-shipping" (wechat.md §4.8): either way WeChat already holds shipping information for it.
SHIPPING_ALREADY_UPLOADED = frozenset({10060002, 10060003})
# subscribe/send: the user refused, or has no subscription left; normal, not an error (§3).
NOT_SUBSCRIBED = 43101
# subscribe/send: a value broke its keyword's rule; errmsg names the field (§3).
PARAMETER_RULE_VIOLATED = 47003


@dataclass(frozen=True)
class Code2Session:
    """Result of jscode2session. session_key must stay server-side (wechat.md §1.1)."""

    openid: str
    session_key: str
    unionid: str | None = None

    def __repr__(self) -> str:
        return (
            f"Code2Session(openid={self.openid!r}, session_key=<hidden>, unionid={self.unionid!r})"
        )


@dataclass(frozen=True)
class ContentVerdict:
    """msgSecCheck's answer: pass → publish, review → staff queue, risky → reject (§2.1).
    Keep ``label`` and ``trace_id`` for the audit trail."""

    suggest: Suggest
    label: int
    trace_id: str | None = None


# -- access_token caches ------------------------------------------------------------------


class CachedToken(NamedTuple):
    token: str
    ttl: float  # seconds left


class AccessTokenCache(Protocol):
    """Where tokens live between calls. Each cache keeps its own clock (the TTL travels with the
    entry), so Redis-backed instances on hosts with skewed clocks still agree."""

    def get(self, key: str) -> CachedToken | None: ...

    def set(self, key: str, token: str, ttl: float) -> None: ...

    def delete(self, key: str) -> None: ...


class MemoryTokenCache:
    """Per-process cache: a dict under a lock, entries gone once their TTL has run out."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[str, float]] = {}

    def get(self, key: str) -> CachedToken | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            token, deadline = entry
            ttl = deadline - self._clock()
            if ttl <= 0:
                del self._entries[key]
                return None
            return CachedToken(token, ttl)

    def set(self, key: str, token: str, ttl: float) -> None:
        with self._lock:
            self._entries[key] = (token, self._clock() + ttl)

    def delete(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


class RedisTokenCache:
    """Shared by every worker and host: one fetch serves them all. Redis's own key expiry is the
    clock. A Redis outage degrades to fetching per call (stable_token allows 10,000/min) rather
    than failing the WeChat call."""

    def __init__(self, redis_client: redis.Redis, key_prefix: str = "nongjia:") -> None:
        self._redis = redis_client
        self._prefix = key_prefix

    def get(self, key: str) -> CachedToken | None:
        try:
            with self._redis.pipeline() as pipe:  # MULTI: value and TTL from the same instant
                pipe.get(self._prefix + key)
                pipe.pttl(self._prefix + key)
                token, ttl_ms = pipe.execute()
        except redis.RedisError as exc:
            log.warning("token cache get failed: %s", type(exc).__name__)
            return None
        if token is None or ttl_ms <= 0:  # -2 missing, -1 no expiry (not ours)
            return None
        if isinstance(token, bytes):
            token = token.decode()
        return CachedToken(token, ttl_ms / 1000)

    def set(self, key: str, token: str, ttl: float) -> None:
        if ttl <= 0:
            return
        try:
            self._redis.set(self._prefix + key, token, px=int(ttl * 1000))
        except redis.RedisError as exc:
            log.warning("token cache set failed: %s", type(exc).__name__)

    def delete(self, key: str) -> None:
        try:
            self._redis.delete(self._prefix + key)
        except redis.RedisError as exc:
            log.warning("token cache delete failed: %s", type(exc).__name__)


# -- the client ---------------------------------------------------------------------------


class MiniProgramClient:
    def __init__(
        self,
        *,
        api_base: str,
        appid: str,
        secret: str,
        timeout: float = 5.0,
        busy_retries: int = 1,
        session: requests.Session | None = None,
        token_cache: AccessTokenCache | None = None,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.appid = appid
        self._secret = secret
        self.timeout = timeout
        self.busy_retries = busy_retries
        self._session = session or requests.Session()
        # Default: private to this client. Share one cache (or use Redis) across short-lived
        # clients, otherwise each of them fetches its own token.
        self._token_cache: AccessTokenCache = token_cache or MemoryTokenCache()
        self._token_key = f"wechat:access_token:{appid}"
        # Threads of this process queue behind one fetch. No cross-process lock is needed:
        # stable_token without force_refresh hands everyone the same token.
        self._fetch_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MiniProgramClient(api_base={self.api_base!r}, appid={self.appid!r})"

    def code2session(self, code: str) -> Code2Session:
        """Exchange a wx.login code for the user's openid, session_key and unionid."""
        payload = self._get_json(
            "/sns/jscode2session",
            {
                "appid": self.appid,
                "secret": self._secret,
                "js_code": code,
                "grant_type": "authorization_code",
            },
        )
        openid, session_key = payload.get("openid"), payload.get("session_key")
        if not isinstance(openid, str) or not openid or not isinstance(session_key, str):
            raise WeChatUnavailable(None, "jscode2session answered without openid/session_key")
        unionid = payload.get("unionid")
        return Code2Session(openid=openid, session_key=session_key, unionid=unionid or None)

    def access_token(self) -> str:
        """A token valid for more than TOKEN_REFRESH_MARGIN seconds, from the cache if it can."""
        cached = self._token_cache.get(self._token_key)
        if cached is not None and cached.ttl > TOKEN_REFRESH_MARGIN:
            return cached.token
        with self._fetch_lock:
            cached = self._token_cache.get(self._token_key)  # another thread may have fetched
            if cached is not None and cached.ttl > TOKEN_REFRESH_MARGIN:
                return cached.token
            return self._fetch_token()

    def _fetch_token(self) -> str:
        # force_refresh stays false: true would invalidate the token other workers hold.
        payload = self._post_json(
            "/cgi-bin/stable_token",
            {
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self._secret,
                "force_refresh": False,
            },
        )
        token, expires_in = payload.get("access_token"), payload.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int | float):
            raise WeChatUnavailable(None, "stable_token answered without access_token/expires_in")
        self._token_cache.set(self._token_key, token, float(expires_in))
        return token

    def _drop_token(self, token: str) -> None:
        with self._fetch_lock:
            cached = self._token_cache.get(self._token_key)
            # Keep a newer token another thread already fetched; drop only the one refused.
            if cached is not None and cached.token == token:
                self._token_cache.delete(self._token_key)

    def msg_sec_check(
        self,
        *,
        openid: str,
        content: str,
        scene: int = 2,
        title: str | None = None,
        nickname: str | None = None,
        signature: str | None = None,
    ) -> ContentVerdict:
        """Check user text with msgSecCheck v2; the openid's user must have opened the
        mini-program within 2 h. Long content is checked chunk by chunk, the worst verdict wins.
        """
        extras = {"title": title, "nickname": nickname, "signature": signature}
        base = {"version": 2, "openid": openid, "scene": scene}
        base |= {name: value for name, value in extras.items() if value is not None}
        worst: ContentVerdict | None = None
        for chunk in _chunks(content):
            verdict = self._check_chunk(base | {"content": chunk})
            if worst is None or _SEVERITY[verdict.suggest] > _SEVERITY[worst.suggest]:
                worst = verdict
            if worst.suggest == "risky":
                break  # nothing can be worse: spare the remaining calls
        assert worst is not None  # _chunks yields at least one chunk
        return worst

    def _check_chunk(self, body: dict[str, Any]) -> ContentVerdict:
        try:
            payload = self._post_with_token("/wxa/msg_sec_check", body)
        except RiskyContent:
            return ContentVerdict("risky", LABEL_OTHER)
        result = payload.get("result")
        if not isinstance(result, dict) or result.get("suggest") not in _SEVERITY:
            raise WeChatUnavailable(None, "msg_sec_check answered without a known suggest")
        suggest = result["suggest"]
        try:
            label = int(result["label"])  # documented as a string, sent as a number
        except (KeyError, TypeError, ValueError):
            raise WeChatUnavailable(None, "msg_sec_check answered without a label") from None
        trace_id = payload.get("trace_id")
        return ContentVerdict(suggest, label, trace_id if isinstance(trace_id, str) else None)

    def upload_shipping_info(self, body: dict[str, Any]) -> None:
        """Tell WeChat how a payment's goods left (wechat.md §4.8): ``order_key``,
        ``logistics_type``, ``delivery_mode``, ``shipping_list``, ``upload_time``, ``payer``.
        Funds stay frozen until it is recorded; WeChat takes it once per payment and answers a
        repeat with an errcode of ``SHIPPING_ALREADY_UPLOADED``."""
        self._post_with_token("/wxa/sec/order/upload_shipping_info", body)

    def send_subscribe_message(
        self,
        *,
        touser: str,
        template_id: str,
        data: dict[str, str],
        page: str | None = None,
        miniprogram_state: str = "formal",
        lang: str = "zh_CN",
    ) -> bool:
        """Send a one-time subscribe message (wechat.md §3). ``data`` maps template keywords to
        plain values, fitted to their keyword's rule first (``fit_subscribe_value``). False when
        the user has no subscription left (43101: normal, nothing to report); True when sent."""
        body: dict[str, Any] = {
            "touser": touser,
            "template_id": template_id,
            "miniprogram_state": miniprogram_state,
            "lang": lang,
            "data": {key: {"value": fit_subscribe_value(key, v)} for key, v in data.items()},
        }
        if page:
            body["page"] = page
        try:
            self._post_with_token("/cgi-bin/message/subscribe/send", body)
        except WeChatError as exc:
            if exc.errcode == NOT_SUBSCRIBED:
                return False
            if exc.errcode == PARAMETER_RULE_VIOLATED:
                # Our rules let a value through that WeChat refuses: the errmsg names the field.
                log.error(
                    "subscribe message %s refused by WeChat's value rules: %s",
                    template_id,
                    exc.errmsg,
                )
            raise
        return True

    # -- shared plumbing ------------------------------------------------------------------

    def _get_json(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        return self._call("GET", path, params=params)

    def _post_json(
        self, path: str, body: dict[str, Any], params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        # Raw UTF-8 rather than \uXXXX escapes, as wechatpy sends it: the text WeChat checks
        # (msgSecCheck content) should arrive exactly as the user wrote it.
        data = json.dumps(body, ensure_ascii=False).encode()
        return self._call(
            "POST",
            path,
            params=params,
            data=data,
            headers={"Content-Type": "application/json; charset=utf-8"},
        )

    def _post_with_token(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with ?access_token=; on 40001/42001/40014 drop the token, fetch a new one and
        retry once. A second refusal is raised: looping would burn the stable_token quota."""
        token = self.access_token()
        try:
            return self._post_json(path, body, params={"access_token": token})
        except AccessTokenInvalid:
            log.info("wechat %s refused the access_token; refetching once", path)
            self._drop_token(token)
        return self._post_json(path, body, params={"access_token": self.access_token()})

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One logical call: retry only on errcode -1, never on 4xxxx codes or network errors
        (the request may have reached WeChat and consumed a single-use code)."""
        attempt = 0
        while True:
            try:
                return self._request_once(method, path, **kwargs)
            except WeChatBusy:
                if attempt >= self.busy_retries:
                    raise
                attempt += 1
                time.sleep(0.2 * attempt)

    def _request_once(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._session.request(
                method, self.api_base + path, timeout=self.timeout, **kwargs
            )
        except requests.RequestException as exc:
            # `from None` and only the class name: requests' messages embed the full URL,
            # whose query string holds the secret and the login code.
            log.warning("wechat %s %s failed: %s", method, path, type(exc).__name__)
            raise WeChatUnavailable(None, f"{type(exc).__name__} calling {path}") from None
        if response.status_code >= 400:
            log.warning("wechat %s %s answered HTTP %s", method, path, response.status_code)
            raise WeChatUnavailable(None, f"HTTP {response.status_code} from {path}")
        try:
            # Parse the bytes, not response.text: WeChat often says text/plain without a
            # charset, which requests would decode as ISO-8859-1 and garble Chinese errmsg.
            payload = json.loads(response.content)
        except ValueError:
            log.warning("wechat %s %s answered a non-JSON body", method, path)
            raise WeChatUnavailable(None, f"non-JSON body from {path}") from None
        if not isinstance(payload, dict):
            raise WeChatUnavailable(None, f"unexpected JSON from {path}")
        try:
            raise_for_errcode(payload)
        except WeChatError as exc:
            log.warning("wechat %s %s errcode=%s", method, path, exc.errcode)
            raise
        return payload


# -- subscribe message values ------------------------------------------------------------------

# The keyword type is the key without its number: thing2 → thing, character_string1 →
# character_string.
_KEYWORD_RE = re.compile(r"^([a-z_]+?)\d*$")
_NON_CJK_RE = re.compile(r"[^\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Digits, letters and printable ASCII symbols (character_string, up to 32 of them).
_NOT_ASCII_PRINTABLE_RE = re.compile(r"[^\x21-\x7e]")
_NOT_LETTER_RE = re.compile(r"[^A-Za-z]")
_LETTERS_RE = re.compile(r"^[A-Za-z ]+$")
_NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?$")
_AMOUNT_RE = re.compile(r"^[¥$]?(\d+(\.\d{1,2})?)元?$")
_PHONE_RE = re.compile(r"^[0-9+\-()* ]{1,17}$")
_TIME_RE = re.compile(r"^[0-9年月日时分秒:：\-/ ~.T]+$")
_SYMBOL_RE = re.compile(r"^[^\w\s]{1,5}$")

# Lengths in characters, for the types cut to fit.
_MAX_LENGTH = {"thing": 20, "character_string": 32, "letter": 32, "car_number": 8, "phrase": 5}


def _cut(value: str, limit: int) -> str:
    """At most ``limit`` characters; a cut text ends with an ellipsis so it reads as cut."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def fit_subscribe_value(key: str, value: str) -> str:
    """``value`` made to pass the rule of ``key``'s keyword type (wechat.md §3), or ValueError
    when it cannot be without changing its meaning (an amount, a number, a phone number or a
    time that is not one). Text is cut, characters the type does not take are dropped."""
    match = _KEYWORD_RE.match(key)
    kind = match.group(1) if match else key
    text = " ".join(str(value).split())  # one line, blanks collapsed
    if kind == "thing":
        return _cut(text, _MAX_LENGTH["thing"]) or "-"
    if kind == "character_string":
        kept = _NOT_ASCII_PRINTABLE_RE.sub("", text)[: _MAX_LENGTH["character_string"]]
        return kept or "-"
    if kind == "letter":
        kept = _NOT_LETTER_RE.sub("", text)[: _MAX_LENGTH["letter"]]
        if not kept:
            raise ValueError(f"{key}: no letters in the value")
        return kept
    if kind == "phrase":
        kept = _NON_CJK_RE.sub("", text)[: _MAX_LENGTH["phrase"]]
        if not kept:
            raise ValueError(f"{key}: a phrase is Chinese characters only")
        return kept
    if kind == "name":
        if _LETTERS_RE.match(text):
            return text[:20]
        return text[:10]
    if kind == "car_number":
        return text[: _MAX_LENGTH["car_number"]]
    if kind == "amount":
        plain = text.replace(",", "").replace(" ", "").replace("￥", "¥")
        amount = _AMOUNT_RE.match(plain)
        if amount is None or sum(c.isdigit() for c in amount.group(1)) > 10:
            raise ValueError(f"{key}: not an amount like ¥12.50")
        return plain if plain[0] in "¥$" else "¥" + plain
    if kind == "number":
        if not _NUMBER_RE.match(text) or sum(c.isdigit() for c in text) > 32:
            raise ValueError(f"{key}: not a number of at most 32 digits")
        return text
    if kind == "phone_number":
        if not _PHONE_RE.match(text):
            raise ValueError(f"{key}: not a phone number of at most 17 digits or symbols")
        return text
    if kind in ("time", "date"):
        if not text or not _TIME_RE.match(text) or not any(c.isdigit() for c in text):
            raise ValueError(f"{key}: not a time or date")
        return text
    if kind == "symbol":
        if not _SYMBOL_RE.match(text):
            raise ValueError(f"{key}: not 1 to 5 symbols")
        return text
    return text  # enum and types this table does not know: WeChat judges them


def subscribe_amount(fen: int) -> str:
    """An ``amount`` keyword's value: ¥12.50 for 1250 fen."""
    return f"¥{fen // 100}.{fen % 100:02d}"


def _chunks(content: str) -> list[str]:
    """Pieces of at most CONTENT_CHUNK characters, overlapping by CHUNK_OVERLAP."""
    if len(content) <= CONTENT_CHUNK:
        return [content]
    step = CONTENT_CHUNK - CHUNK_OVERLAP
    last_start = len(content) - CONTENT_CHUNK
    starts = [*range(0, last_start, step), last_start]
    return [content[start : start + CONTENT_CHUNK] for start in starts]
