"""Photos: upload (validate, store every variant, record one row), URLs and batch look-ups.

The bytes are hostile until ``media.process_image`` says otherwise; the keys are content-addressed,
so the same photo uploaded twice (by anyone) is processed and stored once and answered from its
row the second time. A failed upload leaves no row, and the variants it wrote are deleted again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from media import (
    ImageProblem,
    ImageRejected,
    LocalStorage,
    S3Storage,
    Storage,
    StorageUnavailable,
    process_image,
)
from models import Media, MediaUpload, User, db
from services.error_codes import MediaError

log = logging.getLogger(__name__)

_EXTENSION_KEY = "nongjia.media_storage"
# The settings a storage is built from: a change (tests switch backends) builds a new one.
_STORAGE_SETTINGS = (
    "MEDIA_BACKEND",
    "MEDIA_ROOT",
    "MEDIA_BASE_URL",
    "S3_BUCKET",
    "S3_ENDPOINT_URL",
    "S3_REGION",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "S3_PUBLIC_BASE_URL",
)


# --- storage ------------------------------------------------------------------------------------


def storage() -> Storage:
    """The app's storage backend, built from its config once and kept in ``app.extensions``.

    boto3 clients are thread-safe and slow to build (tens of milliseconds), so one serves every
    request of the process; it is rebuilt only when the media settings change.
    """
    app = current_app
    settings = tuple(app.config.get(name) or "" for name in _STORAGE_SETTINGS)
    cached = app.extensions.get(_EXTENSION_KEY)
    if cached is not None and cached[0] == settings:
        return cached[1]
    built = _build_storage(app.config)
    app.extensions[_EXTENSION_KEY] = (settings, built)
    return built


def reset_storage() -> None:
    """Forget the app's cached storage (the next ``storage()`` builds it from the config)."""
    current_app.extensions.pop(_EXTENSION_KEY, None)


def _build_storage(config) -> Storage:
    backend = config.get("MEDIA_BACKEND") or "local"
    if backend == "local":
        return LocalStorage(config["MEDIA_ROOT"], base_url=config.get("MEDIA_BASE_URL") or "/media")
    if backend == "s3":
        if not config.get("S3_BUCKET"):  # Config.from_env refuses this; a dict config may not
            raise RuntimeError("MEDIA_BACKEND=s3 needs S3_BUCKET")
        return S3Storage(
            bucket=config["S3_BUCKET"],
            endpoint_url=config.get("S3_ENDPOINT_URL") or None,
            region=config.get("S3_REGION") or None,
            access_key=config.get("S3_ACCESS_KEY_ID") or None,
            secret_key=config.get("S3_SECRET_ACCESS_KEY") or None,
            public_base_url=config.get("S3_PUBLIC_BASE_URL") or None,
        )
    raise RuntimeError(f"unknown MEDIA_BACKEND {backend!r}")


# --- upload -------------------------------------------------------------------------------------


def upload_media(actor: User, *, data: bytes) -> Media:
    """Validate and store an uploaded photo; the existing row if these bytes were seen before."""
    media, _ = store_media(actor, data=data)
    return media


def store_media(actor: User, *, data: bytes) -> tuple[Media, bool]:
    """``upload_media``, also telling whether the photo is new (False: an earlier row)."""
    sha = hashlib.sha256(data).hexdigest()
    existing = _by_sha256(sha)
    if existing is not None:  # no decoding, no storage call: a re-upload costs a query or two
        _record_uploader(existing, actor)
        return existing, False
    try:
        processed = process_image(data)
    except ImageRejected as exc:
        log.info("upload by user %s rejected: %s", actor.id, exc)
        raise IMAGE_PROBLEMS[exc.problem]() from exc

    store = storage()
    written: list[str] = []
    try:
        for variant in processed.variants:
            store.put(variant.key, variant.data, variant.content_type)
            written.append(variant.key)
        media = Media(
            sha256=processed.sha256,
            uploaded_by_id=actor.id,
            source_type=processed.source_type,
            width=processed.width,
            height=processed.height,
            variants=[
                {
                    "width": v.width,
                    "height": v.height,
                    "format": v.format,
                    "content_type": v.content_type,
                    "key": v.key,
                }
                for v in processed.variants
            ],
        )
        db.session.add(media)
        db.session.add(MediaUpload(media=media, user_id=actor.id))
        db.session.commit()
    except IntegrityError:
        # The same photo, committed by a concurrent request between our look-up and our insert:
        # its row names the very keys we wrote (same bytes, same keys), so nothing is deleted.
        db.session.rollback()
        existing = _by_sha256(sha)
        if existing is None:  # another constraint (the uploader's row is gone): ours failed
            _discard(store, sha, written)
            raise
        _record_uploader(existing, actor)
        return existing, False
    except StorageUnavailable as exc:
        db.session.rollback()
        log.warning("upload by user %s: storage unavailable: %s", actor.id, exc)
        _discard(store, sha, written)
        raise MediaError.STORAGE_UNAVAILABLE() from exc
    except BaseException:
        db.session.rollback()
        _discard(store, sha, written)
        raise
    return media, True


def _record_uploader(media: Media, actor: User) -> None:
    """The same bytes from someone else: they may use the photo in their listings too."""
    known = db.session.scalar(
        select(MediaUpload.id).where(
            MediaUpload.media_id == media.id, MediaUpload.user_id == actor.id
        )
    )
    if known is not None:
        return
    db.session.add(MediaUpload(media_id=media.id, user_id=actor.id))
    try:
        db.session.commit()
    except IntegrityError:  # the same user's concurrent upload recorded it first
        db.session.rollback()


def usable_media_ids(actor: User, media_ids: list[int]) -> set[int]:
    """Which of ``media_ids`` the actor has uploaded (and may therefore attach to a listing)."""
    if not media_ids:
        return set()
    query = select(MediaUpload.media_id).where(
        MediaUpload.user_id == actor.id, MediaUpload.media_id.in_(media_ids)
    )
    return set(db.session.scalars(query))


def _by_sha256(sha: str) -> Media | None:
    return db.session.scalar(select(Media).where(Media.sha256 == sha))


def _discard(store: Storage, sha: str, keys: list[str]) -> None:
    """Best effort: delete what a failed upload wrote, unless a row now names those keys.

    Keys are content-addressed, so a concurrent upload of the same photo that did commit owns
    the same files; its row is the only sign of it. (The window between this look-up and the
    deletes remains; a re-upload of the photo writes the files again.)
    """
    if not keys:
        return
    try:
        if _by_sha256(sha) is not None:
            return
    except Exception:  # the database may be why the upload failed: then nobody committed it
        db.session.rollback()
    for key in keys:
        try:
            store.delete(key)
        except Exception:
            log.warning("could not delete %s after a failed upload", key, exc_info=True)


# How each problem the image library finds is told to the user.
IMAGE_PROBLEMS: dict[ImageProblem, MediaError] = {
    ImageProblem.EMPTY: MediaError.EMPTY_FILE,
    ImageProblem.TOO_MANY_BYTES: MediaError.FILE_TOO_LARGE,
    ImageProblem.UNSUPPORTED: MediaError.UNSUPPORTED_TYPE,
    ImageProblem.CORRUPT: MediaError.CORRUPT_IMAGE,
    ImageProblem.TOO_MANY_PIXELS: MediaError.IMAGE_TOO_LARGE,
    ImageProblem.BOMB: MediaError.DECOMPRESSION_BOMB,
}


# --- reading ------------------------------------------------------------------------------------


def media_urls(media: Media) -> list[dict]:
    """Public variants of a photo, smallest first: ``{"width", "height", "format", "url"}``."""
    store = storage()
    return [
        {
            "width": v["width"],
            "height": v["height"],
            "format": v["format"],
            "url": store.url(v["key"]),
        }
        for v in media.variants
    ]


def load_media(ids: Iterable[int]) -> dict[int, Media]:
    """Photos by id, in one query (for pages listing many products); unknown ids are absent."""
    wanted = {i for i in ids if isinstance(i, int) and not isinstance(i, bool)}
    if not wanted:
        return {}
    rows = db.session.scalars(select(Media).where(Media.id.in_(wanted)))
    return {media.id: media for media in rows}
