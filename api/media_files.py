"""Development only: serve LocalStorage files at MEDIA_BASE_URL (default ``/media``).

In production nginx (or a CDN in front of the bucket) serves photos; this route answers 404
there, and whenever MEDIA_BACKEND is not ``local``. Keys are checked with the storage's own rule
(no ``..``, no dot-files such as half-written ``.tmp-*``), and a file reached through a symlink
out of MEDIA_ROOT is refused too.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, send_from_directory

from media.storage import CACHE_CONTROL, check_key

bp = Blueprint("media_files", __name__)


def init_app(app: Flask) -> None:
    """Register the route at the path of MEDIA_BASE_URL (``/media``, or ``/media`` of
    ``http://192.168.1.5:8000/media``: the mini-program needs absolute URLs, even in a test)."""
    prefix = urlsplit(app.config.get("MEDIA_BASE_URL") or "/media").path.rstrip("/")
    if prefix.startswith("/"):
        app.register_blueprint(bp, url_prefix=prefix)


@bp.get("/<path:key>")
def media_file(key: str):
    config = current_app.config
    if config.get("MEDIA_BACKEND") != "local" or config.get("APP_ENV") == "production":
        abort(404)
    try:
        check_key(key)
    except ValueError:
        abort(404)
    root = Path(config["MEDIA_ROOT"]).resolve()
    path = (root / key).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        abort(404)
    response = send_from_directory(root, key, max_age=31_536_000)
    # Content-addressed keys never change: the phone may keep them for a year.
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
