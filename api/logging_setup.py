"""Logging that never carries personal data: a filter masks ID and phone numbers."""

from __future__ import annotations

import logging
import re

_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
_PHONE_RE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def scrub(text: str) -> str:
    text = _ID_RE.sub(lambda m: m.group(1)[:4] + "*" * 10 + m.group(2), text)
    return _PHONE_RE.sub(r"\1****\2", text)


class PersonalDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_filter() -> None:
    """Attach the filter to the root handlers (and to new records through the root logger)."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    for handler in root.handlers:
        if not any(isinstance(f, PersonalDataFilter) for f in handler.filters):
            handler.addFilter(PersonalDataFilter())
    # urllib3 logs full URLs at DEBUG, and WeChat puts the app secret in the query string.
    logging.getLogger("urllib3").setLevel(logging.INFO)
