"""Codes printed on labels. Trace codes (一品一码) open the public trace page, for a product or
for a batch handed in at a station, so they are unique across both; label codes name a
ShopOrder on the slip a farmer brings to the station, typed by hand when a scan fails."""

from __future__ import annotations

import secrets
import string

from sqlalchemy import select

from models import Batch, Product, ShopOrder, db

_TRACE_ALPHABET = string.ascii_letters + string.digits
# No 0/O or 1/I/L: an operator reads these aloud and types them.
_LABEL_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
TRACE_CODE_LENGTH = 10
LABEL_CODE_LENGTH = 12


def new_trace_code() -> str:
    """Ten base62 characters (~59 bits): short enough for a label, impossible to guess."""
    while True:
        code = "".join(secrets.choice(_TRACE_ALPHABET) for _ in range(TRACE_CODE_LENGTH))
        taken = db.session.scalar(select(Product.id).where(Product.trace_code == code))
        if taken is None and db.session.scalar(select(Batch.id).where(Batch.code == code)) is None:
            return code


def new_label_code() -> str:
    """Twelve characters of an unambiguous alphabet (~59 bits)."""
    while True:
        code = "".join(secrets.choice(_LABEL_ALPHABET) for _ in range(LABEL_CODE_LENGTH))
        if db.session.scalar(select(ShopOrder.id).where(ShopOrder.label_code == code)) is None:
            return code
