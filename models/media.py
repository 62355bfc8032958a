"""Uploaded photos and their stored variants."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Model, utcnow


class Media(Model):
    """One photo, keyed by the SHA-256 of the uploaded bytes: the same photo is stored once."""

    __tablename__ = "media"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    source_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int]
    height: Mapped[int]
    # [{"width", "height", "format", "content_type", "key"}, ...]
    variants: Mapped[list[dict]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MediaUpload(Model):
    """Who has sent a photo: its first uploader and everyone who uploaded the same bytes since.

    A listing may use only photos its editor uploaded (or that it already shows): photo ids are
    small numbers, and another household's unpublished photo must not be one guess away.
    """

    __tablename__ = "media_uploads"
    __table_args__ = (UniqueConstraint("media_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    media: Mapped[Media] = relationship()
