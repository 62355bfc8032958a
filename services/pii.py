"""Personal data: validation, encryption at rest, keyed-hash indexes and masking (PIPL).

ID numbers are encrypted with AES-256-GCM under ``PII_ENCRYPTION_KEY``; uniqueness is checked
through an HMAC-SHA256 "blind index" keyed by a separate key derived from the same secret, so
the database never holds a value that can be reversed without the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from services.errors import InvalidInput

_CIPHER_VERSION = "v1"
_PHONE_RE = re.compile(r"^1[3-9]\d{9}$")


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


def _master_key() -> bytes:
    raw = current_app.config["PII_ENCRYPTION_KEY"]
    key = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    if len(key) != 32:
        raise RuntimeError("PII_ENCRYPTION_KEY must be 32 bytes, base64 encoded")
    return key


def encrypt(plaintext: str) -> str:
    key = _derive(_master_key(), b"nongjia pii encryption")
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), _CIPHER_VERSION.encode())
    return f"{_CIPHER_VERSION}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def decrypt(token: str) -> str:
    version, _, payload = token.partition(":")
    if version != _CIPHER_VERSION:
        raise ValueError("unknown ciphertext version")
    key = _derive(_master_key(), b"nongjia pii encryption")
    blob = base64.urlsafe_b64decode(payload)
    return AESGCM(key).decrypt(blob[:12], blob[12:], version.encode()).decode()


def blind_index(value: str) -> str:
    key = _derive(_master_key(), b"nongjia pii blind index")
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def normalise_id_number(raw: str) -> str:
    """Validate an 18-character resident ID (GB 11643: checksum, birth date, region)."""
    value = (raw or "").strip().upper()
    if len(value) != 18:
        raise InvalidInput(
            "身份证号码格式有误",
            code="invalid_id_number",
            errors={"id_number": ["须为18位身份证号码"]},
        )
    try:
        # Not ric.validate(): it rejects an address code that did not exist in the birth year,
        # but the code is that of the place of registration when the number was issued, so
        # every farmer born before their county got today's code would be refused.
        if not value[:17].isdigit() or value[-1] != ric.calc_check_digit(value):
            raise ValidationError()
        ric.get_birth_date(value)
        if not _known_address_code(value[:6]):
            raise ValidationError()
        return value
    except ValidationError:
        raise InvalidInput(
            "身份证号码有误",
            code="invalid_id_number",
            errors={"id_number": ["身份证号码校验未通过"]},
        ) from None


def _known_address_code(code: str) -> bool:
    info = {k for _, props in numdb.get("cn/loc").info(code) for k in props}
    return "county" in info


def normalise_phone(raw: str | None) -> str | None:
    if raw in (None, ""):
        return None
    value = re.sub(r"[\s-]", "", raw)
    for prefix in ("+86", "0086"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    if not _PHONE_RE.match(value):
        raise InvalidInput(
            "手机号码有误", code="invalid_phone", errors={"phone": ["须为11位手机号码"]}
        )
    return value


def mask_id_number(value: str) -> str:
    return f"{value[:4]}{'*' * (len(value) - 8)}{value[-4:]}"


def mask_phone(value: str | None) -> str | None:
    return None if not value else f"{value[:3]}****{value[-4:]}"


def mask_name(value: str) -> str:
    """李** for 李四五: the public sees only the family name."""
    return value[:1] + "*" * max(len(value) - 1, 1) if value else ""
