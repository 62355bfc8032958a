"""The app's WeChat client, built from config once, with one access-token cache per app.

With ``REDIS_URL`` set, every instance and worker shares the token through Redis; otherwise
each process keeps its own (stable_token hands every caller the same token, so both are safe).
"""

from __future__ import annotations

from pathlib import Path

import redis
from flask import current_app

from wechat import MemoryTokenCache, MiniProgramClient, RedisTokenCache
from wechat.pay import WeChatPayClient

_CACHE_KEY = "nongjia.wechat_token_cache"


def _token_cache():
    cache = current_app.extensions.get(_CACHE_KEY)
    if cache is None:
        url = current_app.config.get("REDIS_URL")
        if url:
            # Short timeouts and no retry loop: a Redis outage must cost a token fetch, not 10 s.
            client = redis.Redis.from_url(
                url, socket_timeout=0.5, socket_connect_timeout=0.5, retry_on_timeout=False
            )
            cache = RedisTokenCache(client, key_prefix="nongjia:wechat:")
        else:
            cache = MemoryTokenCache()
        current_app.extensions[_CACHE_KEY] = cache
    return cache


_CLIENT_KEY = "nongjia.wechat_client"
_CLIENT_SETTINGS = ("WECHAT_API_BASE", "WECHAT_APPID", "WECHAT_SECRET", "WECHAT_TIMEOUT")


def wechat_client() -> MiniProgramClient:
    """One client per app, so its HTTP connections are reused and its token-fetch lock really
    queues this process's threads behind one fetch; rebuilt if its settings change."""
    cfg = current_app.config
    settings = tuple(cfg[name] for name in _CLIENT_SETTINGS)
    cached = current_app.extensions.get(_CLIENT_KEY)
    if cached is not None and cached[0] == settings:
        return cached[1]
    api_base, appid, secret, timeout = settings
    client = MiniProgramClient(
        api_base=api_base,
        appid=appid,
        secret=secret,
        timeout=timeout,
        token_cache=_token_cache(),
    )
    current_app.extensions[_CLIENT_KEY] = (settings, client)
    return client


_PAY_KEY = "nongjia.wechat_pay_client"
_PAY_SETTINGS = (
    "WECHATPAY_API_BASE",
    "WECHATPAY_MCHID",
    "WECHAT_APPID",
    "WECHATPAY_PRIVATE_KEY_PATH",
    "WECHATPAY_CERT_SERIAL",
    "WECHATPAY_PUBLIC_KEY_PATH",
    "WECHATPAY_PUBLIC_KEY_ID",
    "WECHATPAY_APIV3_KEY",
    "WECHAT_TIMEOUT",
)


def wechat_pay_client() -> WeChatPayClient:
    """One WeChat Pay client per app (keys read once, connections reused); rebuilt if its
    settings change."""
    cfg = current_app.config
    settings = tuple(cfg[name] for name in _PAY_SETTINGS)
    cached = current_app.extensions.get(_PAY_KEY)
    if cached is not None and cached[0] == settings:
        return cached[1]
    base, mchid, appid, key_path, serial, public_key_path, public_key_id, apiv3_key, timeout = (
        settings
    )
    client = WeChatPayClient(
        api_base=base,
        mchid=mchid,
        appid=appid,
        private_key_pem=Path(key_path).read_bytes(),
        cert_serial=serial,
        wechatpay_public_key_pem=Path(public_key_path).read_bytes(),
        wechatpay_public_key_id=public_key_id,
        apiv3_key=apiv3_key,
        timeout=timeout,
    )
    current_app.extensions[_PAY_KEY] = (settings, client)
    return client
