"""Public catalog pages, kept for a few seconds.

A feed page is the same for whoever asks (nothing in it depends on the caller), and the
mini-program's first screen asks for the same few pages over and over: the whole feed, each
county's, each category's. Each worker keeps the encoded pages it built for
``CATALOG_CACHE_SECONDS`` (0 turns this off), so a rush of shoppers costs one query per page
and worker instead of one per shopper, and the same figure goes out as ``Cache-Control`` for
the proxy and the phone.

What it costs: a listing approved, delisted or sold out shows in the feed up to that many
seconds late. Nothing that decides a sale reads the feed: the product page, the trace page
and ordering read the database every time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import Enum

from cachetools import TTLCache
from flask import current_app

_EXTENSION_KEY = "nongjia.feed_cache"
# Encoded bytes per worker: a 50-card page is about 25 kB, so this holds hundreds of pages.
MAX_BYTES = 16 * 1024 * 1024


class PageCache:
    def __init__(
        self, seconds: int, max_bytes: int = MAX_BYTES, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self._pages: TTLCache = TTLCache(maxsize=max_bytes, ttl=seconds, timer=timer, getsizeof=len)
        # cachetools' caches are not thread-safe, and gunicorn's gthread workers are threaded.
        self._lock = threading.Lock()

    def get_or_build(self, key: tuple, build: Callable[[], bytes]) -> bytes:
        with self._lock:
            body = self._pages.get(key)
        if body is None:
            # Built outside the lock: a slow query must not hold up pages already cached.
            body = build()
            if len(body) <= self._pages.maxsize:
                with self._lock:
                    self._pages[key] = body
        return body

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()


def page_key(args: dict) -> tuple:
    """Parsed query arguments (defaults filled in) as a key: ``?limit=20`` and no limit at all
    are the same page."""
    return tuple(sorted((name, _plain(value)) for name, value in args.items()))


def _plain(value):
    return value.value if isinstance(value, Enum) else value


def feed_cache() -> PageCache | None:
    """The app's page cache, or None when ``CATALOG_CACHE_SECONDS`` is 0; rebuilt when the
    setting changes."""
    app = current_app._get_current_object()
    seconds = int(app.config.get("CATALOG_CACHE_SECONDS") or 0)
    if seconds <= 0:
        return None
    cache = app.extensions.get(_EXTENSION_KEY)
    if cache is None or cache.seconds != seconds:
        cache = app.extensions[_EXTENSION_KEY] = PageCache(seconds)
    return cache


def cached_page(args: dict, build: Callable[[], bytes]) -> tuple[bytes, dict]:
    """The encoded page for ``args`` and the caching headers to send with it."""
    cache = feed_cache()
    if cache is None:
        return build(), {"Cache-Control": "no-cache"}
    body = cache.get_or_build(page_key(args), build)
    return body, {"Cache-Control": f"public, max-age={cache.seconds}"}
