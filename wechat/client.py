"""Thin client for the WeChat mini-program server APIs (api.weixin.qq.com).

Only ``code2session`` exists for now; later APIs (stable_token, msgSecCheck, ...) go through
``_get_json`` / ``_post_json`` so they share timeouts, parsing, errcode mapping and busy retries.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import requests

from wechat.errors import WeChatBusy, WeChatError, WeChatUnavailable, raise_for_errcode

log = logging.getLogger(__name__)


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
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.appid = appid
        self._secret = secret
        self.timeout = timeout
        self.busy_retries = busy_retries
        self._session = session or requests.Session()

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
