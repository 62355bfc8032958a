"""Validate an uploaded photo and turn it into the fixed variants the apps show.

Everything here treats the bytes as hostile: the type comes from magic bytes, dimensions are
checked from the header before any pixel is decoded, every decoder failure becomes an
``ImageRejected`` naming the ``ImageProblem``, and no metadata of the original (EXIF with GPS,
XMP, ICC, JPEG comments) survives into a variant.
"""

from __future__ import annotations

import hashlib
import io
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from PIL import Image, ImageCms, ImageFile, ImageOps

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024
MAX_SIDE = 12_000  # px; longer than any phone sensor, shorter than a forged header
MAX_PIXELS = 50_000_000  # a 48-megapixel phone mode still fits
DEFAULT_WIDTHS = (240, 750, 1280)

# Process-wide on purpose: a web worker has no business decoding bombs anywhere.
# Pillow warns between MAX_IMAGE_PIXELS and twice that and only raises beyond it; the filter turns
# the warning into an error. ``warnings.catch_warnings`` would be per call but is not thread-safe
# under gunicorn's gthread workers, and a test runner may reset the filter, so _open() checks the
# pixel count itself as well.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)
ImageFile.LOAD_TRUNCATED_IMAGES = False

# Encoder settings shared with bench/image_pipeline.py so the comparison there is like for like.
WEBP_OPTIONS = {"quality": 80, "method": 4}
# Progressive: a 3G phone shows a blurry whole picture early instead of a top strip.
JPEG_OPTIONS = {"quality": 82, "optimize": True, "progressive": True}

# sniffed type → Pillow format name (Image.open only tries that one decoder)
_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}

try:  # HEIC (iPhone photos sent as files) only when the optional pillow-heif is installed
    import pillow_heif
except ImportError:  # pragma: no cover - depends on the environment
    pass
else:
    # thumbnails=False: its draft() would otherwise swap in the file's embedded thumbnail, whose
    # pixels the sender chooses freely. Depth maps and auxiliary images are never shown.
    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
    _PIL_FORMATS["image/heic"] = "HEIF"

SUPPORTED_TYPES = frozenset(_PIL_FORMATS)  # what sniff_type can return

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


class ImageProblem(StrEnum):
    """What is wrong with an upload. The library names the problem; how it is told to the user
    (code, Chinese message, HTTP status) is the error catalog's business."""

    EMPTY = "empty"
    TOO_MANY_BYTES = "too_many_bytes"
    UNSUPPORTED = "unsupported"
    # Truncated or otherwise undecodable. One problem: Pillow fails truncated WebP on open,
    # JPEG cut in its header on open and JPEG cut in its pixels on load, so no split holds.
    CORRUPT = "corrupt"
    TOO_MANY_PIXELS = "too_many_pixels"
    BOMB = "bomb"


class ImageRejected(Exception):
    """An upload that is not a usable photo; ``problem`` says why."""

    def __init__(self, problem: ImageProblem, detail: str = "") -> None:
        self.problem = problem
        self.detail = detail  # for logs only: never shown to the user
        super().__init__(f"{problem}: {detail}" if detail else str(problem))


@dataclass(frozen=True, slots=True)
class Variant:
    width: int
    height: int
    format: str  # "webp" | "jpeg"
    content_type: str
    data: bytes
    key: str


@dataclass(frozen=True, slots=True)
class ProcessedImage:
    sha256: str  # of the uploaded bytes
    width: int  # after EXIF orientation
    height: int
    source_type: str  # sniffed MIME type
    variants: list[Variant]


def sniff_type(data: bytes) -> str | None:
    """MIME type of a supported image from its magic bytes, else None. Never from a name."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if "image/heic" in SUPPORTED_TYPES and data[4:8] == b"ftyp":
        # ISO-BMFF: major brand, minor version, then compatible brands (mif1 files list heic)
        brands = {data[8:12]} | {data[i : i + 4] for i in range(16, min(len(data), 64), 4)}
        if brands & _HEIF_BRANDS:
            return "image/heic"
    return None


def process_image(
    data: bytes, *, widths: Sequence[int] = DEFAULT_WIDTHS, max_bytes: int = MAX_BYTES
) -> ProcessedImage:
    """Validate ``data`` and return its WebP and JPEG variants, one pair per width it reaches.

    Never upscales: widths wider than the photo are skipped, and a photo narrower than every
    width gets one pair at its own size. Raises ``ImageRejected`` for anything a client sent.
    """
    if not widths or min(widths) < 1:
        raise ValueError("widths must be positive")
    if not data:
        raise ImageRejected(ImageProblem.EMPTY)
    if len(data) > max_bytes:
        raise ImageRejected(ImageProblem.TOO_MANY_BYTES, f"{len(data)} bytes")
    source_type = sniff_type(data)
    if source_type is None:
        raise ImageRejected(ImageProblem.UNSUPPORTED, repr(data[:16]))
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # someone flipped the global: truncation must fail here
        log.warning("ImageFile.LOAD_TRUNCATED_IMAGES was True; resetting it to False")
        ImageFile.LOAD_TRUNCATED_IMAGES = False

    sha = hashlib.sha256(data).hexdigest()
    header = _open(data, _PIL_FORMATS[source_type])
    img, (width, height) = _decode(header, max(widths))
    icc = img.info.get("icc_profile")
    img = _flatten(img)
    targets = sorted({w for w in widths if w <= width}, reverse=True) or [width]

    variants: list[Variant] = []
    for w in targets:  # largest first: each size is resampled from the one before
        h = max(1, round(height * w / width))
        if img.size != (w, h):
            # BICUBIC, as Image.thumbnail uses: at these ratios LANCZOS looks the same and costs
            # ~40% more. reducing_gap lets a big step start with a cheap box reduce().
            img = img.resize((w, h), Image.Resampling.BICUBIC, reducing_gap=3.0)
        if not variants:  # colour-convert the largest variant, not the (bigger) decoded image
            img = _to_srgb(img, icc)
        variants += [_encode(img, sha, w, "webp"), _encode(img, sha, w, "jpeg")]
    return ProcessedImage(sha, width, height, source_type, sorted(variants, key=_order))


def variant_key(sha256: str, width: int, fmt: str) -> str:
    """Content-addressed key: the same upload always lands on the same keys."""
    ext = "jpg" if fmt == "jpeg" else fmt
    return f"img/{sha256[:2]}/{sha256}/{width}.{ext}"


def _open(data: bytes, pil_format: str) -> ImageFile.ImageFile:
    """Parse the header only (no pixels yet) and refuse absurd sizes before decoding."""
    try:
        img = Image.open(io.BytesIO(data), formats=[pil_format])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(ImageProblem.BOMB, str(exc)) from exc
    except MemoryError:
        raise
    except Exception as exc:  # Pillow's header parsers raise a zoo of types on hostile input
        raise ImageRejected(ImageProblem.CORRUPT, f"{type(exc).__name__}: {exc}") from exc
    w, h = img.size
    if w * h > MAX_PIXELS:
        raise ImageRejected(ImageProblem.BOMB, f"{w}x{h}")
    if max(w, h) > MAX_SIDE:
        raise ImageRejected(ImageProblem.TOO_MANY_PIXELS, f"{w}x{h}")
    if min(w, h) < 1:
        raise ImageRejected(ImageProblem.CORRUPT, f"{w}x{h}")
    return img


def _decode(header: ImageFile.ImageFile, max_width: int) -> tuple[Image.Image, tuple[int, int]]:
    """Decode every pixel (so truncation fails), upright, as small as the variants allow.

    Returns the decoded image and the full upright size of the original.
    """
    img: Image.Image = header
    orientation = _orientation(header)
    turned = orientation in (5, 6, 7, 8)  # stored sideways: display width is stored height
    w, h = img.size[::-1] if turned else img.size
    target_w = min(max_width, w)
    target = (target_w, max(1, round(h * target_w / w)))
    # JPEG's DCT scaling decodes at 1/2, 1/4 or 1/8 size, never below the size asked for: far
    # less time and memory than decoding 12 MP and throwing most of it away. Other formats'
    # draft() does nothing. (Subclasses matter: phones' MPO files are JPEGs with extra frames.)
    header.draft("RGB", target[::-1] if turned else target)
    try:
        header.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(ImageProblem.BOMB, str(exc)) from exc
    except MemoryError:
        raise
    except Exception as exc:  # OSError("image file is truncated"), SyntaxError, ValueError, ...
        raise ImageRejected(ImageProblem.CORRUPT, f"{type(exc).__name__}: {exc}") from exc
    if orientation != 1:
        try:
            img = ImageOps.exif_transpose(img)
        except Exception:  # broken EXIF on a readable photo: keep the photo, lose the rotation
            log.warning("could not apply EXIF orientation", exc_info=True)
            w, h = (h, w) if turned else (w, h)
    return img, (w, h)


def _orientation(img: Image.Image) -> int:
    try:
        value = img.getexif().get(0x0112, 1)  # Orientation; Pillow also reads XMP's here
    except Exception:  # cheap phones write odd EXIF; a photo is still a photo
        return 1
    return value if value in range(1, 9) else 1


def _flatten(img: Image.Image) -> Image.Image:
    """Reduce any decoded mode to L, RGB or CMYK (what resize and ImageCms take), 8 bits."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greys: convert("L") would clip everything above 255 to white.
        return img.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info:
        # Alpha on white: JPEG has none, and WebP follows suit. (convert() to the same mode
        # would copy: at 50 MP that is 200 MB more.)
        rgba = img if img.mode == "RGBA" else img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return img if img.mode in ("L", "RGB", "CMYK") else img.convert("RGB")


def _to_srgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    """8-bit RGB in sRGB with no metadata left in ``info``.

    An embedded ICC profile is converted, not just dropped: iPhones tag Display P3 and CMYK
    files come with press profiles, and dropping those shifts the reds and greens of produce.
    The result carries no profile, which browsers and WeChat read as sRGB.
    """
    if icc:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(img, src, _SRGB, outputMode="RGB")
            img = converted if converted is not None else img  # None only when done in place
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            # Broken, or not matching the pixels (an RGB profile on a grey PNG): keep the pixels.
            log.info("unusable ICC profile ignored", exc_info=True)
    if img.mode != "RGB":
        img = img.convert("RGB")
    img.info = {}  # EXIF, XMP, ICC, JPEG comments: Pillow's JPEG saver copies the comment over
    return img


def _encode(img: Image.Image, sha: str, width: int, fmt: str) -> Variant:
    buf = io.BytesIO()
    if fmt == "webp":
        img.save(buf, "WEBP", **WEBP_OPTIONS)
    else:
        img.save(buf, "JPEG", **JPEG_OPTIONS)
    return Variant(
        width, img.height, fmt, f"image/{fmt}", buf.getvalue(), variant_key(sha, width, fmt)
    )


def _order(v: Variant) -> tuple[int, str]:
    return (v.width, v.format)
