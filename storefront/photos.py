"""Photos for the pages: the stored variants of one photo as ``<picture>`` sources.

Every upload is kept at up to three widths (240, 750, 1280 px), each as WebP and as JPEG
(``media.images``); a photo smaller than a width has no variant of that width. The browser picks
the variant from ``srcset`` and the ``sizes`` the page gives, so a phone downloads the 750 px
file where the 240 px one would look blurred, and never the 1280 px one it does not need.
"""

from __future__ import annotations

from dataclasses import dataclass

from models import Media
from services.media import media_urls

# How wide each kind of photo is shown (storefront.css: <main> is at most 640 px wide with 12 px
# padding, a card adds 12 px; the product grid has two columns on a phone, three from 640 px).
FULL_WIDTH = "(min-width: 640px) 592px, calc(100vw - 48px)"
GRID_CELL = "(min-width: 640px) 200px, calc(50vw - 17px)"

# The width of the plain ``src`` for browsers without srcset: the largest variant up to this.
FALLBACK_WIDTH = 750


@dataclass(frozen=True)
class Photo:
    src: str
    width: int  # of the largest variant: the page never shows it wider than this
    height: int
    webp_srcset: str
    jpeg_srcset: str


def photo(media: Media | None) -> Photo | None:
    """A photo's ``<picture>`` sources, or None for a missing photo or one with no variants."""
    if media is None:
        return None
    variants = sorted(media_urls(media), key=lambda v: v["width"])
    if not variants:
        return None
    jpeg = [v for v in variants if v["format"] == "jpeg"]
    webp = [v for v in variants if v["format"] == "webp"]
    fallback_pool = jpeg or webp
    fitting = [v for v in fallback_pool if v["width"] <= FALLBACK_WIDTH]
    fallback = fitting[-1] if fitting else fallback_pool[0]
    largest = variants[-1]
    return Photo(
        src=fallback["url"],
        width=largest["width"],
        height=largest["height"],
        webp_srcset=_srcset(webp),
        jpeg_srcset=_srcset(jpeg),
    )


def _srcset(variants: list[dict]) -> str:
    return ", ".join(f"{v['url']} {v['width']}w" for v in variants)


def photos(media_ids: list[int] | None, media: dict[int, Media]) -> list[Photo]:
    """A listing's photos in its order; ids with no loaded photo are left out."""
    found = (photo(media.get(i)) for i in media_ids or [])
    return [p for p in found if p is not None]


def cover(media_ids: list[int] | None, media: dict[int, Media]) -> Photo | None:
    """The first of a listing's photos that can be shown."""
    for media_id in media_ids or []:
        found = photo(media.get(media_id))
        if found is not None:
            return found
    return None
