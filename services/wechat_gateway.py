"""The app's WeChat client, built from config, sharing one access-token cache per app.

With ``REDIS_URL`` set, every instance and worker shares the token through Redis; otherwise
each process keeps its own (stable_token hands every caller the same token, so both are safe).
"""

from __future__ import annotations

import redis
from flask import current_app

from wechat import MemoryTokenCache, MiniProgramClient, RedisTokenCache

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


def wechat_client() -> MiniProgramClient:
    cfg = current_app.config
    return MiniProgramClient(
        api_base=cfg["WECHAT_API_BASE"],
        appid=cfg["WECHAT_APPID"],
        secret=cfg["WECHAT_SECRET"],
        timeout=cfg["WECHAT_TIMEOUT"],
        token_cache=_token_cache(),
    )
