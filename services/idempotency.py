"""``Idempotency-Key`` for POSTs that move goods or money.

The key is remembered in the same transaction as what the request made, under a unique
constraint: a retry (or a concurrent duplicate) finds the resource the first request made; the
same key with another body is refused. Nothing is remembered for a request that failed, so a
retry after a refusal is simply tried again (a refused request wrote nothing).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from models import IdempotencyKey, User, db
from services.error_codes import RequestError

MAX_KEY_LENGTH = 128


@dataclass(frozen=True)
class Idempotency:
    key: str
    scope: str  # what kind of request, e.g. "order.create"
    fingerprint: str

    @classmethod
    def of(cls, key: str | None, scope: str, body: Any) -> Idempotency:
        if not key:
            raise RequestError.IDEMPOTENCY_KEY_REQUIRED()
        if len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
            raise RequestError.IDEMPOTENCY_KEY_INVALID(errors={"Idempotency-Key": ["格式有误"]})
        canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)
        return cls(key, scope, hashlib.sha256(canonical.encode()).hexdigest())


def find(actor: User, request: Idempotency) -> int | None:
    """The id of what an earlier request with this key made, or None."""
    row = db.session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.user_id == actor.id,
            IdempotencyKey.scope == request.scope,
            IdempotencyKey.key == request.key,
        )
    )
    if row is None:
        return None
    if row.fingerprint != request.fingerprint:
        raise RequestError.IDEMPOTENCY_KEY_REUSED()
    return row.resource_id


def remember(actor_id: int, request: Idempotency, resource_id: int) -> None:
    """Add the key to the caller's transaction (a concurrent twin fails its commit on the
    unique constraint, and then finds this one)."""
    db.session.add(
        IdempotencyKey(
            user_id=actor_id,
            scope=request.scope,
            key=request.key,
            fingerprint=request.fingerprint,
            resource_id=resource_id,
        )
    )
