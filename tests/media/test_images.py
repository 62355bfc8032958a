"""The image pipeline against honest photos and a hostile-upload set, all generated here.

No binary fixture is committed: every file is built in memory, by Pillow or byte by byte.
"""

from __future__ import annotations

import io
import random
import re
import struct
import warnings
import zlib

import pytest
from PIL import Image, ImageCms, ImageFile

from api.errors import status_of
from media.images import SUPPORTED_TYPES, ImageRejected, process_image, sniff_type
from services.media import IMAGE_PROBLEMS

HAS_HEIF = "image/heic" in SUPPORTED_TYPES

# --- builders -----------------------------------------------------------------------------------


def encode(img: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def photo(size=(800, 600)) -> Image.Image:
    """Something photo-like: gradients plus noise, so JPEG has real work to do."""
    noise = Image.effect_noise((size[0] // 8 or 1, size[1] // 8 or 1), 60).resize(size)
    grad = Image.linear_gradient("L").resize(size)
    return Image.merge("RGB", (noise, grad, grad.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))


def quadrants(size=(800, 600)) -> Image.Image:
    """Upright reference: red top-left, green top-right, blue bottom-left, white bottom-right."""
    img = Image.new("RGB", size, "white")
    w, h = size
    img.paste((255, 0, 0), (0, 0, w // 2, h // 2))
    img.paste((0, 255, 0), (w // 2, 0, w, h // 2))
    img.paste((0, 0, 255), (0, h // 2, w // 2, h))
    return img


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def raw_png(width: int, height: int, *, depth=8, color=0, rows: bytes | None = None, extra=b""):
    """A PNG written byte by byte: any header, any (possibly absent) pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    idat = png_chunk(b"IDAT", zlib.compress(rows, 9)) if rows is not None else b""
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + extra + idat + png_chunk(b"IEND", b"")


def jpeg_with_size(width: int, height: int) -> bytes:
    """A real small JPEG whose SOF header is patched to claim another size."""
    data = bytearray(encode(photo((64, 48)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def rejected(data: bytes, **kwargs) -> ImageRejected:
    with pytest.raises(ImageRejected) as info:
        process_image(data, **kwargs)
    return info.value


def told(error: ImageRejected):
    """The catalog entry the upload service answers this problem with."""
    return IMAGE_PROBLEMS[error.problem]


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def close(c1, c2, tol=40) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(c1, c2, strict=True))


# --- sniffing -----------------------------------------------------------------------------------


def test_sniff_supported_types() -> None:
    img = photo((32, 32))
    assert sniff_type(encode(img, "JPEG")) == "image/jpeg"
    assert sniff_type(encode(img, "PNG")) == "image/png"
    assert sniff_type(encode(img, "WEBP")) == "image/webp"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xd8",  # too short to be a JPEG
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
        b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>",
        b"RIFF\x24\x00\x00\x00WAVEfmt ",
        b"BM" + b"\x00" * 60,
        b"II*\x00" + b"\x00" * 60,  # TIFF
        b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1",
    ],
)
def test_sniff_refuses_everything_else(data: bytes) -> None:
    assert sniff_type(data) is None


# --- hostile uploads ----------------------------------------------------------------------------

BASELINE = encode(photo(), "JPEG", quality=90)
PROGRESSIVE = encode(photo(), "JPEG", quality=90, progressive=True)


def bomb_png(width: int, height: int) -> bytes:
    """A 1-bit PNG of zeros: a few kilobytes on the wire, width × height pixels in memory."""
    row = b"\x00" * (1 + (width + 7) // 8)
    return raw_png(width, height, depth=1, rows=row * height)


HOSTILE = {
    "text named photo.jpg": (b"not a jpeg, only text saved as photo.jpg", "unsupported_type"),
    "zero bytes": (b"", "empty_file"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>', "unsupported_type"),
    "gif": (encode(photo((40, 30)), "GIF"), "unsupported_type"),
    "pdf": (b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<<>>\n%%EOF", "unsupported_type"),
    "html": (b"<html><script>alert(document.cookie)</script></html>", "unsupported_type"),
    "bmp": (encode(photo((40, 30)), "BMP"), "unsupported_type"),
    "tiff": (encode(photo((40, 30)), "TIFF"), "unsupported_type"),
    "truncated baseline jpeg": (BASELINE[: len(BASELINE) // 2], "corrupt_image"),
    "truncated progressive jpeg": (PROGRESSIVE[: len(PROGRESSIVE) // 2], "corrupt_image"),
    "jpeg magic then garbage": (b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4, "corrupt_image"),
    "jpeg cut inside its header": (BASELINE[:300], "corrupt_image"),
    "truncated png": (encode(photo(), "PNG")[:5000], "corrupt_image"),
    "png without pixel data": (raw_png(100, 100), "corrupt_image"),
    "truncated webp": (encode(photo(), "WEBP")[:2000], "corrupt_image"),
    "png declaring 100000x100000": (raw_png(100_000, 100_000), "decompression_bomb"),
    "jpeg declaring 65500x65500": (jpeg_with_size(65_500, 65_500), "decompression_bomb"),
    "png bomb of zeros, 64 MP": (bomb_png(8000, 8000), "decompression_bomb"),
    "png 20000 px wide": (raw_png(20_000, 10, rows=b"\x00" * 20_001 * 10), "image_too_large"),
    "jpeg 12001 px tall": (jpeg_with_size(100, 12_001), "image_too_large"),
    "png zero width": (raw_png(0, 10), "corrupt_image"),
}


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")  # as media.images sets it
def test_hostile_upload_is_rejected_with_its_code(name: str) -> None:
    data, code = HOSTILE[name]
    entry = told(rejected(data))
    assert entry.code == code
    assert status_of(entry) == (415 if code == "unsupported_type" else 422)
    assert entry.message and not entry.message.isascii()  # Chinese, for the toast


def test_messages_farmers_can_read() -> None:
    assert told(rejected(b"GIF89a")).message == "只支持 JPG、PNG、WebP 图片"
    assert told(rejected(BASELINE[:1000])).message == "图片已损坏，请重新拍摄"
    assert told(rejected(raw_png(20_000, 10))).message == "图片尺寸过大"


def test_file_over_the_byte_limit() -> None:
    entry = told(rejected(BASELINE, max_bytes=len(BASELINE) - 1))
    assert (entry.code, status_of(entry)) == ("file_too_large", 413)
    assert "10MB" in entry.message
    assert process_image(BASELINE, max_bytes=len(BASELINE)).variants


@pytest.mark.parametrize("bomb_warning", ["error", "ignore"])
def test_pixel_limit_holds_whatever_the_warning_filter(bomb_warning: str) -> None:
    """60 MP sits between Pillow's warning and error thresholds; a test runner (or another
    library) may have reset our warning filter, and the explicit check must still refuse."""
    with warnings.catch_warnings():
        warnings.simplefilter(bomb_warning, Image.DecompressionBombWarning)
        assert told(rejected(jpeg_with_size(10_000, 6_000))).code == "decompression_bomb"


def test_png_text_chunk_bomb() -> None:
    """A zTXt chunk inflating to 64 MB: Pillow stops inflating at MAX_TEXT_CHUNK (1 MB)."""
    bomb = zlib.compress(b"\x00" * 64_000_000, 9)
    extra = png_chunk(b"zTXt", b"Comment\x00\x00" + bomb)
    assert told(rejected(raw_png(8, 8, rows=b"\x00" * 9 * 8, extra=extra))).code == "corrupt_image"


def test_truncated_images_stay_refused_if_someone_flips_the_global(monkeypatch) -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    assert told(rejected(BASELINE[: len(BASELINE) // 2])).code == "corrupt_image"
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_mutated_files_never_raise_anything_else() -> None:
    """Random truncations and byte flips of valid files: a variant set or ImageRejected."""
    rng = random.Random(20261123)
    small = photo((120, 90))
    seeds = [
        encode(small, "JPEG"),
        encode(small, "JPEG", progressive=True),
        encode(small, "PNG"),
        encode(small.convert("RGBA"), "PNG"),
        encode(small.convert("P"), "PNG"),
        encode(small, "WEBP"),
        encode(small, "WEBP", lossless=True),
    ]
    outcomes = {"ok": 0, "rejected": 0}
    for _ in range(300):
        data = bytearray(rng.choice(seeds))
        if rng.random() < 0.5:
            del data[rng.randrange(64, len(data)) :]
        for _ in range(rng.randrange(1, 8)):
            data[rng.randrange(12, len(data))] = rng.randrange(256)
        try:
            process_image(bytes(data))
            outcomes["ok"] += 1
        except ImageRejected:
            outcomes["rejected"] += 1
    assert outcomes["ok"] > 0 and outcomes["rejected"] > 0, outcomes


# --- metadata and orientation -------------------------------------------------------------------

GPS_IFD = 0x8825


def exif_with_gps(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "NongjiaTestCam"  # Make
    exif[0x0112] = orientation
    exif[0x8298] = "Copyright Farmer Li"
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"  # GPSLatitudeRef
    gps[2] = (31.0, 52.0, 12.34)  # GPSLatitude
    gps[3] = "E"
    gps[4] = (117.0, 17.0, 56.78)
    gps[18] = "WGS-84"  # GPSMapDatum
    return exif


XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
    b'syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" '
    b'exif:GPSLatitude="31,52.2057N" exif:GPSLongitude="117,17.9463E"/></rdf:RDF></x:xmpmeta>'
)
# The GPS coordinates as EXIF stores them: three big-endian rationals each (12.34" = 617/50).
GPS_RATIONALS = [
    struct.pack(">6L", 31, 1, 52, 1, 617, 50),
    struct.pack(">6L", 117, 1, 17, 1, 2839, 50),
]
LEAKS = [
    *GPS_RATIONALS,
    *(b"Exif", b"NongjiaTestCam", b"Farmer Li", b"WGS-84", b"GPSLatitude", b"xmpmeta"),
    *(b"ICC_PROFILE", b"Shot at home", b"http://ns.adobe.com"),
]

# Stored pixels for each EXIF orientation, so that the displayed picture is quadrants().
STORED = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # displayed after turning 90° clockwise
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def camera_jpeg(orientation: int, size=(800, 600)) -> bytes:
    upright = quadrants(size)
    method = STORED[orientation]  # not a truth test: FLIP_LEFT_RIGHT is 0
    stored = upright if method is None else upright.transpose(method)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encode(
        stored, "JPEG", quality=95, exif=exif_with_gps(orientation), xmp=XMP, icc_profile=icc,
        comment=b"Shot at home 31.8701N 117.2991E",
    )  # fmt: skip


def assert_upright_quadrants(img: Image.Image) -> None:
    w, h = img.size
    px = img.convert("RGB")
    expected = {
        (w // 4, h // 4): (255, 0, 0),
        (3 * w // 4, h // 4): (0, 255, 0),
        (w // 4, 3 * h // 4): (0, 0, 255),
        (3 * w // 4, 3 * h // 4): (255, 255, 255),
    }
    for xy, colour in expected.items():
        assert close(px.getpixel(xy), colour), (xy, px.getpixel(xy), colour)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_applied_and_every_trace_of_metadata_dropped(orientation: int) -> None:
    data = camera_jpeg(orientation)
    assert all(needle in data for needle in [*GPS_RATIONALS, b"NongjiaTestCam", b"WGS-84"])

    result = process_image(data)

    assert (result.width, result.height) == (800, 600)
    assert [(v.width, v.format) for v in result.variants] == [
        (240, "jpeg"), (240, "webp"), (750, "jpeg"), (750, "webp"),
    ]  # fmt: skip
    for v in result.variants:
        for leak in LEAKS:
            assert leak not in v.data, (v.key, leak)
        out = decode(v.data)
        assert out.format == v.format.upper()
        assert not out.getexif()
        assert not {"exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment"} & set(out.info)
        assert out.size == (v.width, v.height)
        assert_upright_quadrants(out)


def test_orientation_with_jpeg_draft_scaling() -> None:
    """A big sideways photo decoded at reduced DCT scale still ends upright and exact."""
    data = camera_jpeg(6, size=(2800, 2000))
    result = process_image(data, widths=(240, 600))
    assert (result.width, result.height) == (2800, 2000)
    assert [(v.width, v.height) for v in result.variants] == [(240, 171)] * 2 + [(600, 429)] * 2
    for v in result.variants:
        assert_upright_quadrants(decode(v.data))


# --- colour, modes and sizes --------------------------------------------------------------------


def test_png_alpha_flattened_on_white() -> None:
    img = Image.new("RGBA", (800, 600), (0, 0, 0, 0))  # transparent ...
    img.paste((200, 0, 0, 255), (0, 0, 400, 600))  # ... with an opaque red left half
    result = process_image(encode(img, "PNG"))
    for v in result.variants:
        out = decode(v.data)
        assert out.mode == "RGB"
        assert close(out.getpixel((v.width // 4, v.height // 2)), (200, 0, 0))
        assert close(out.getpixel((3 * v.width // 4, v.height // 2)), (255, 255, 255), tol=8)


def test_palette_png_with_transparency() -> None:
    img = Image.new("P", (300, 200), 0)
    img.putpalette([0, 0, 0, 0, 128, 0] + [0] * 762)
    img.paste(1, (150, 0, 300, 200))
    result = process_image(encode(img, "PNG", transparency=0))
    out = decode(result.variants[0].data)
    assert close(out.getpixel((10, 10)), (255, 255, 255), tol=8)
    assert close(out.getpixel((230, 100)), (0, 128, 0))


def linear_rgb_profile() -> bytes:
    """sRGB with its tone curve's gamma patched to 1.0: a real, different RGB profile."""
    icc = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    para = icc.index(b"para")  # 'para', reserved, function type, reserved, then gamma (s15.16)
    icc[para + 12 : para + 16] = struct.pack(">i", 1 << 16)
    return bytes(icc)


def test_icc_profile_is_converted_to_srgb_then_dropped() -> None:
    grey = Image.new("RGB", (300, 200), (128, 128, 128))
    result = process_image(encode(grey, "JPEG", quality=95, icc_profile=linear_rgb_profile()))
    for v in result.variants:
        out = decode(v.data)
        assert "icc_profile" not in out.info
        # 128 in a linear space is much lighter than 128 in sRGB; dropping the profile
        # without converting would have left 128.
        assert close(out.getpixel((150, 100)), (192, 192, 192), tol=6)


LAB_PROFILE = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()


@pytest.mark.parametrize("icc", [b"not a profile" * 10, LAB_PROFILE], ids=["garbage", "lab"])
def test_unusable_icc_profile_is_ignored(icc: bytes) -> None:
    grey = Image.new("RGB", (300, 200), (128, 128, 128))
    result = process_image(encode(grey, "PNG", icc_profile=icc))
    out = decode(result.variants[0].data)
    assert "icc_profile" not in out.info
    assert close(out.getpixel((150, 100)), (128, 128, 128), tol=4)


def test_cmyk_jpeg() -> None:
    img = Image.new("CMYK", (800, 600), (0, 255, 255, 0))  # pure red in ink
    result = process_image(encode(img, "JPEG", quality=95))
    assert result.source_type == "image/jpeg"
    for v in result.variants:
        out = decode(v.data)
        assert out.mode == "RGB"
        assert close(out.getpixel((10, 10)), (255, 0, 0))


def test_16_bit_grey_png_is_scaled_not_clipped() -> None:
    """Pillow's convert('L') clips 16-bit values at 255: mid-grey would come out white."""
    rows = b"".join(b"\x00" + struct.pack(">H", 32768) * 300 for _ in range(200))
    result = process_image(raw_png(300, 200, depth=16, color=0, rows=rows))
    out = decode(result.variants[0].data)
    assert close(out.getpixel((150, 100)), (128, 128, 128), tol=4)


def test_16_bit_rgb_png() -> None:
    pixel = struct.pack(">HHH", 65535, 32768, 0)  # orange
    rows = b"".join(b"\x00" + pixel * 300 for _ in range(200))
    result = process_image(raw_png(300, 200, depth=16, color=2, rows=rows))
    out = decode(result.variants[0].data)
    assert close(out.getpixel((150, 100)), (255, 128, 0), tol=6)


def test_webp_source() -> None:
    result = process_image(encode(photo((1000, 750)), "WEBP"))
    assert result.source_type == "image/webp"
    assert [v.width for v in result.variants] == [240, 240, 750, 750]


def test_mpo_from_a_phone_is_a_jpeg() -> None:
    """Some phones save MPO (a JPEG with extra frames); Pillow opens it as its own class."""
    frames = [photo((800, 600)), quadrants((800, 600))]
    data = encode(frames[0], "MPO", save_all=True, append_images=frames[1:])
    result = process_image(data)
    assert result.source_type == "image/jpeg"
    assert [v.width for v in result.variants] == [240, 240, 750, 750]


def test_small_image_is_never_upscaled() -> None:
    result = process_image(encode(photo((100, 80)), "PNG"))
    assert [(v.width, v.height, v.format) for v in result.variants] == [
        (100, 80, "jpeg"), (100, 80, "webp"),
    ]  # fmt: skip
    for v in result.variants:
        assert decode(v.data).size == (100, 80)


def test_widths_between_sizes() -> None:
    result = process_image(encode(photo((1000, 500)), "JPEG"))
    assert [(v.width, v.height) for v in result.variants[::2]] == [(240, 120), (750, 375)]


def test_tall_and_one_pixel_images() -> None:
    assert process_image(encode(photo((1, 1)), "PNG")).variants[0].height == 1
    tall = process_image(encode(Image.new("RGB", (300, 9000), "green"), "PNG"))
    assert [(v.width, v.height) for v in tall.variants[::2]] == [(240, 7200)]


def test_variant_fields_and_content_addressed_keys() -> None:
    data = encode(photo((1600, 1200)), "JPEG")
    first, again = process_image(data), process_image(data)
    other = process_image(encode(photo((1600, 1200)), "JPEG", quality=80))

    assert first.sha256 == again.sha256
    assert [v.key for v in first.variants] == [v.key for v in again.variants]
    assert not {v.key for v in first.variants} & {v.key for v in other.variants}
    sha = first.sha256
    assert re.fullmatch(r"[0-9a-f]{64}", sha)
    assert {v.key for v in first.variants} == {
        f"img/{sha[:2]}/{sha}/{w}.{ext}" for w in (240, 750, 1280) for ext in ("webp", "jpg")
    }
    for v in first.variants:
        assert v.content_type == {"webp": "image/webp", "jpeg": "image/jpeg"}[v.format]
        assert decode(v.data).size == (v.width, v.height)


def test_widths_must_be_positive() -> None:
    with pytest.raises(ValueError):
        process_image(BASELINE, widths=())


@pytest.mark.skipif(not HAS_HEIF, reason="pillow-heif not installed")
def test_heic_source() -> None:
    data = encode(quadrants((800, 600)), "HEIF", quality=90, exif=exif_with_gps(1))
    assert sniff_type(data) == "image/heic"
    result = process_image(data)
    assert result.source_type == "image/heic"
    for v in result.variants:
        assert b"NongjiaTestCam" not in v.data and b"Exif" not in v.data
        assert_upright_quadrants(decode(v.data))
