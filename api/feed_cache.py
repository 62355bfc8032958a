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

import math
import threading
import time
from collections.abc import Callable
from enum import Enum

from cachetools import TTLCache
from flask import current_app

_EXTENSION_KEY = "nongjia.feed_cache"
# Encoded bytes per worker: a 50-card page is about 25 kB, so this holds hundreds of pages.
MAX_BYTES = 16 * 1024 * 1024
# What an entry costs beyond its body (key tuple, timestamps, the cache's own links): counted,
# so a stream of one-off keyword searches cannot grow a worker far past MAX_BYTES.
ENTRY_OVERHEAD = 512


class PageCache:
    def __init__(
        self, seconds: int, max_bytes: int = MAX_BYTES, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self._timer = timer
        self._pages: TTLCache = TTLCache(
            maxsize=max_bytes, ttl=seconds, timer=timer, getsizeof=_entry_size
        )
        # cachetools' caches are not thread-safe, and gunicorn's gthread workers are threaded.
        self._lock = threading.Lock()

    def get_or_build(self, key: tuple, build: Callable[[], bytes]) -> tuple[bytes, int]:
        """The page and how many more whole seconds it stays fresh."""
        with self._lock:
            entry = self._pages.get(key)
        if entry is None:
            # Built outside the lock: a slow query must not hold up pages already cached.
            entry = (self._timer(), build())
            if _entry_size(entry) <= self._pages.maxsize:
                with self._lock:
                    self._pages[key] = entry
        built_at, body = entry
        return body, max(0, math.ceil(self.seconds - (self._timer() - built_at)))


def _entry_size(entry: tuple[float, bytes]) -> int:
    return len(entry[1]) + ENTRY_OVERHEAD


def page_key(args: dict) -> tuple:
    """Parsed query arguments (defaults filled in) as a key: ``?limit=20`` and no limit at all
    are the same page."""
    return tuple(sorted((name, _plain(value)) for name, value in args.items()))


def _plain(value):
    return value.value if isinstance(value, Enum) else value


def feed_cache() -> PageCache | None:
    """The app's page cache, or None when ``CATALOG_CACHE_SECONDS`` is 0; rebuilt when the
    setting changes."""
    app = current_app
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
    body, fresh_for = cache.get_or_build(page_key(args), build)
    # What is left of the page's life, not all of it: a proxy or phone keeping it on top of
    # this worker would otherwise double the lag the feed promises.
    return body, {"Cache-Control": f"public, max-age={fresh_for}"}
