"""Opaque page cursors: the last row's sort values, as base64 of a JSON list.

A cursor comes back from the client, so every value is parsed again as if hostile: a forged
one gets 422 ``invalid_cursor``, never a query the database cannot run.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from models import db
from models.base import MAX_ID
from services.error_codes import CommonError

Parser = Callable[[Any], Any]


def encode(*values) -> str:
    raw = json.dumps(list(values)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, *parsers: Parser) -> tuple:
    """The values ``encode`` was given, each through its parser (which raises ValueError,
    TypeError or OverflowError at anything it would not have written)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(parsers):
            raise ValueError
        return tuple(parse(value) for parse, value in zip(parsers, values, strict=True))
    except (ValueError, TypeError, OverflowError, binascii.Error):
        raise CommonError.INVALID_CURSOR(errors={"cursor": ["无效"]}) from None


def exactly(expected: str) -> Parser:
    """A marker that must match (a cursor of one sort order is no good for another)."""

    def parse(value):
        if value != expected:
            raise ValueError
        return value

    return parse


def utc_time(value) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:  # ours always carry a zone; a naive time means who knows when
        raise ValueError
    # Converted here, not in the database layer: year 1 at +05:00 has no UTC (OverflowError).
    return parsed.astimezone(UTC)


def row_id(value) -> int:
    return _bounded_int(value, low=1)


def count(value) -> int:
    return _bounded_int(value, low=0)


def _bounded_int(value, *, low: int) -> int:
    # An integer the database cannot compare would be a 500 on SQLite.
    if type(value) is not int or not low <= value <= MAX_ID:
        raise ValueError
    return value


def page_by_id(
    query,
    id_column,
    *,
    limit: int,
    cursor: str | None,
    marker: str | None = None,
    newest_first: bool = True,
) -> tuple[list, str | None]:
    """One page of ``query`` in id order (newest first by default) and the next page's cursor,
    for lists keyed by their id alone. ``marker`` names the list inside the cursor, so a cursor
    of one list is refused by another."""
    parsers = (exactly(marker), row_id) if marker else (row_id,)
    if cursor:
        last_id = decode(cursor, *parsers)[-1]
        query = query.where(id_column < last_id if newest_first else id_column > last_id)
    order = id_column.desc() if newest_first else id_column
    rows = list(db.session.scalars(query.order_by(order).limit(limit + 1)))
    items = rows[:limit]
    if len(rows) <= limit or not items:
        return items, None
    last = items[-1].id
    return items, encode(marker, last) if marker else encode(last)
