"""Single-use 8-digit member codes (a household's, a unit's): made, stored hashed, claimed once.

Eight digits are easy to read aloud or type on a cheap phone; they are guessable only as fast
as ``JOIN_RATE_LIMIT`` lets anyone try, and live for ``TTL``.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import cast

from sqlalchemy import CursorResult, update

from models import User, db
from models.base import utcnow

TTL = timedelta(days=7)


def new_code() -> str:
    return f"{secrets.randbelow(10**8):08d}"


def hash_code(code: str, *, scope: str = "") -> str:
    """What is stored (never the code); ``scope`` keeps one kind's codes apart from another's."""
    return hashlib.sha256(f"{scope}{code}".encode()).hexdigest()


def claim(model: type, invite_id: int, actor: User) -> bool:
    """Mark the invite used by ``actor`` with one conditional update: of two people racing for
    a code, exactly one wins (the caller refuses the other)."""
    claimed = cast(
        CursorResult,
        db.session.execute(
            update(model)
            .where(model.id == invite_id, model.used_at.is_(None))  # type: ignore[attr-defined]
            .values(used_at=utcnow(), used_by_id=actor.id)
        ),
    )
    return claimed.rowcount == 1
