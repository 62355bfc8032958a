"""Jinja filters of the storefront pages."""

from __future__ import annotations


def yuan(fen: int | None) -> str:
    """Integer fen as yuan with two decimals: 4500 → "45.00", 5 → "0.05".

    Money stays integer fen everywhere else; only the page shows yuan, and never through a float.
    """
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{whole}.{cents:02d}"
