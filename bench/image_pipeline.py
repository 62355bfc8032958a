"""media.process_image against a naive Pillow pipeline, on a 12-megapixel phone-like photo.

Both pipelines produce the same six outputs (240, 750 and 1280 px wide, WebP and JPEG) with the
same encoder settings (``media.images.WEBP_OPTIONS`` / ``JPEG_OPTIONS``), so what differs is
how the pixels get there: JPEG draft (DCT-scaled) decoding and a resize cascade, against a full
decode and a ``copy()`` + ``thumbnail()`` from 12 MP for every size.

Time: median of RUNS runs each, the pipelines interleaved so drift hits both alike. The six
saves alone are timed too: they are most of the time and the same in both, so the ratio
without them shows what the pipeline itself gains.

Memory: peak RSS growth, each pipeline run once in a fresh subprocess. tracemalloc would be
useless here: Pillow allocates pixel buffers in C, outside Python's allocator.

    python -m bench.image_pipeline
"""

from __future__ import annotations

import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw

from media.images import DEFAULT_WIDTHS, JPEG_OPTIONS, WEBP_OPTIONS, process_image

RUNS = int(os.environ.get("BENCH_IMAGE_RUNS", "7"))
SIZE = (4000, 3000)
ROOT = Path(__file__).resolve().parents[1]


def phone_photo(size: tuple[int, int] = SIZE) -> bytes:
    """A 12 MP JPEG at quality 90 that encodes like a photo (~3.5 MB): smooth colour fields,
    hard-edged 'fruit', mid-scale texture and per-pixel sensor noise. Pure noise would be
    unrealistically expensive to encode; flat colour unrealistically cheap."""
    w, h = size
    rng = random.Random(7)
    blobs = [
        Image.effect_noise((w // 100, h // 100), 70).resize(size, Image.BICUBIC) for _ in "rgb"
    ]
    img = Image.blend(
        Image.merge("RGB", blobs), Image.linear_gradient("L").resize(size).convert("RGB"), 0.35
    )
    draw = ImageDraw.Draw(img)
    for _ in range(60):
        x, y, r = rng.randrange(w), rng.randrange(h), rng.randrange(60, 400)
        colour = (rng.randrange(120, 256), rng.randrange(200), rng.randrange(80))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour, outline=(40, 30, 20), width=6)
    texture = Image.effect_noise((w // 4, h // 4), 25).resize(size, Image.BICUBIC)
    noise = ImageChops.add(texture, Image.effect_noise(size, 3), offset=-128)
    img = Image.merge("RGB", [ImageChops.add(band, noise, offset=-128) for band in img.split()])
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def naive(data: bytes) -> list[bytes]:
    """What one writes first: open, then per size copy + thumbnail + save. No draft mode."""
    img = Image.open(io.BytesIO(data))
    out = []
    for width in DEFAULT_WIDTHS:
        small = img.copy()  # copy() loads all 12 MP, so thumbnail() can no longer draft
        small.thumbnail((width, 10 * width))
        for fmt, options in (("WEBP", WEBP_OPTIONS), ("JPEG", JPEG_OPTIONS)):
            buf = io.BytesIO()
            small.save(buf, fmt, **options)
            out.append(buf.getvalue())
    return out


def ours(data: bytes) -> list[bytes]:
    return [v.data for v in process_image(data).variants]


PIPELINES = {"naive Pillow": naive, "process_image": ours}


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def peak_rss_growth_kib(name: str, path: str) -> int:
    """Run in a fresh interpreter: peak RSS during one run minus RSS before it, in KiB.

    Linux's VmHWM, reset first through /proc/self/clear_refs. Not getrusage's ru_maxrss: the
    kernel carries the parent's peak into a child across fork + exec, so a child started by a
    big parent reports the parent's peak as its own.
    """
    data = Path(path).read_bytes()
    Path("/proc/self/clear_refs").write_text("5")  # peak := current
    before = _status_kib("VmRSS")
    PIPELINES[name](data)
    return _status_kib("VmHWM") - before


def measure_rss(name: str, path: str) -> int:
    cmd = [sys.executable, "-m", "bench.image_pipeline", "--rss", name, path]
    return int(subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout)


def encoding_only(data: bytes):
    """The six saves alone, from ready-made sizes: the part both pipelines share."""
    sizes = [decode(v.data) for v in process_image(data).variants[::2]]

    def encode(_: bytes) -> None:
        for img in sizes:
            img.save(io.BytesIO(), "WEBP", **WEBP_OPTIONS)
            img.save(io.BytesIO(), "JPEG", **JPEG_OPTIONS)

    return encode


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def run() -> dict:
    data = phone_photo()
    sizes = {name: sum(map(len, fn(data))) for name, fn in PIPELINES.items()}  # also a warm-up
    timed = {**PIPELINES, "encoding": encoding_only(data)}
    times: dict[str, list[float]] = {name: [] for name in timed}
    for _ in range(RUNS):  # interleaved, so load from elsewhere on the machine hits all alike
        for name, fn in timed.items():
            start = time.perf_counter()
            fn(data)
            times[name].append(time.perf_counter() - start)
    with tempfile.NamedTemporaryFile(suffix=".jpg") as f:
        f.write(data)
        f.flush()
        rss = {name: measure_rss(name, f.name) for name in PIPELINES}
    ms = {name: statistics.median(t) * 1000 for name, t in times.items()}
    return {"input_mb": len(data) / 1e6, "ms": ms, "rss_kib": rss, "out_bytes": sizes}


def main() -> None:
    r = run()
    ms, rss, base = r["ms"], r["rss_kib"], "naive Pillow"
    print(f"Image pipeline: {SIZE[0]}x{SIZE[1]} JPEG q90 ({r['input_mb']:.1f} MB) -> 6 outputs; "
          f"median of {RUNS} runs; peak RSS growth in a fresh process")  # fmt: skip
    print(f"{'pipeline':16} {'ms':>7} {'ratio':>6} {'RSS MiB':>8} {'ratio':>6} {'out kB':>7}")
    for name in PIPELINES:
        print(
            f"{name:16} {ms[name]:7.0f} {ms[name] / ms[base]:6.2f} {rss[name] / 1024:8.1f} "
            f"{rss[name] / rss[base]:6.2f} {r['out_bytes'][name] / 1000:7.0f}"
        )
    enc = ms["encoding"]
    print(f"of which encoding, identical in both: {enc:.0f} ms; ratio without it: "
          f"{(ms['process_image'] - enc) / (ms[base] - enc):.2f}")  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:2] == ["--rss"]:
        print(peak_rss_growth_kib(sys.argv[2], sys.argv[3]))
    else:
        main()
