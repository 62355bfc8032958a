"""一品一码 labels: the public URL of a trace code and its QR image (segno)."""

from __future__ import annotations

import io

import segno
from flask import current_app

from services import catalog


def trace_url(code: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/t/{code}"


def qr_image(code: str, *, fmt: str, scale: int) -> tuple[bytes, str]:
    """The label for a code that exists (404 otherwise), as PNG or SVG bytes."""
    catalog.require_trace_code(code)
    # Level M survives a smudged or creased label; the URL is short enough to stay small.
    qr = segno.make(trace_url(code), error="m", micro=False)
    out = io.BytesIO()
    qr.save(out, kind=fmt, scale=scale, border=2)
    return out.getvalue(), "image/png" if fmt == "png" else "image/svg+xml"
