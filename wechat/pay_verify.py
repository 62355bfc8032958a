"""Checking what WeChat Pay sends us: the signature of an answer or callback (wechat.md §4.2)
and the encrypted resource of a callback (§4.5)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import rsa

from wechat import pay_crypto
from wechat.errors import NotificationRejected
from wechat.pay_models import Malformed, Notification, parse_notification

log = logging.getLogger(__name__)

_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class HeaderSource(Protocol):
    """A dict of headers, ``requests``' headers or Flask's ``request.headers``."""

    def items(self) -> Iterable[tuple[str, str]]: ...


def lowered(headers: HeaderSource) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def is_probe(headers: Mapping[str, str]) -> bool:
    """WeChat Pay's deliberate bad-signature callback (``WECHATPAY/SIGNTEST/...``)."""
    return headers.get("wechatpay-signature", "").startswith(pay_crypto.SIGNTEST_PREFIX)


def check_signed(
    public_keys: Mapping[str, rsa.RSAPublicKey],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    max_skew: timedelta,
) -> str | None:
    """None if WeChat Pay signed ``body`` with these (lower-cased) headers, else why not:
    ``bad_signature`` (missing, malformed, wrong, or a probe), ``wrong_serial`` (a key id not
    in ``public_keys``) or ``stale`` (timestamp more than ``max_skew`` from ``now``, either
    way). The serial and the time are checked before the signature."""
    signature = headers.get("wechatpay-signature", "")
    timestamp = headers.get("wechatpay-timestamp", "")
    nonce_str = headers.get("wechatpay-nonce", "")
    if not signature or not nonce_str or not _TIMESTAMP.fullmatch(timestamp):
        return "bad_signature"
    signature_type = headers.get("wechatpay-signature-type")
    if signature_type is not None and signature_type != pay_crypto.SIGNATURE_TYPE:
        return "bad_signature"
    public_key = public_keys.get(headers.get("wechatpay-serial", ""))
    if public_key is None:
        return "wrong_serial"
    if abs(now - int(timestamp)) > max_skew.total_seconds():
        return "stale"
    message = pay_crypto.answer_message(timestamp, nonce_str, body)
    if not pay_crypto.verify(public_key, message, signature):  # probes fail here
        return "bad_signature"
    return None


def open_notification(apiv3_key: bytes, body: bytes) -> Notification:
    """Decrypt and parse a callback whose signature has been checked."""
    try:
        envelope = json.loads(body)
    except ValueError:
        raise _rejected("malformed", "body is not JSON") from None
    resource = envelope.get("resource") if isinstance(envelope, dict) else None
    if not isinstance(resource, dict):
        raise _rejected("malformed", "no resource")
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise _rejected("undecryptable", "unknown algorithm")
    ciphertext, nonce_str = resource.get("ciphertext"), resource.get("nonce")
    associated_data = resource.get("associated_data") or ""
    if not (
        isinstance(ciphertext, str)
        and isinstance(nonce_str, str)
        and isinstance(associated_data, str)
    ):
        raise _rejected("malformed", "resource fields are not strings")
    try:
        plaintext = pay_crypto.decrypt_resource(
            apiv3_key,
            nonce_str=nonce_str,
            ciphertext_b64=ciphertext,
            associated_data=associated_data,
        )
    except pay_crypto.DecryptionFailed:
        raise _rejected("undecryptable", "resource does not decrypt") from None
    try:
        data = json.loads(plaintext)
        if not isinstance(data, dict):
            raise Malformed("resource is not an object")
        return parse_notification(envelope, data)
    except ValueError as exc:  # Malformed included
        detail = str(exc) if isinstance(exc, Malformed) else "resource is not JSON"
        raise _rejected("malformed", detail) from None


def _rejected(reason: str, detail: str) -> NotificationRejected:
    log.warning("wechat pay notification rejected: %s (%s)", reason, detail)
    return NotificationRejected(reason, detail)
