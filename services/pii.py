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

from services.error_codes import HouseholdError

_CIPHER_VERSION = "v1"
# The characters str.isspace() (so str.strip()) counts as blank, spelled out for patterns:
# ``\s`` differs between Python and the regex engines that read the published spec.
BLANKS = (
    "\\t\\n\\x0b\\x0c\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000"
)
_B = f"[{BLANKS}]"
_BD = f"[{BLANKS}-]"

# What a client may send (the spec publishes both patterns; these functions enforce them).
# A mainland mobile number, optionally after +86 or 0086, with blanks or dashes anywhere.
# ASCII digits only: ``\d`` would also take full-width and other Unicode digits.
PHONE_PATTERN = (
    f"^(?:{_BD}*(?:(?:\\+{_BD}*8{_BD}*6|0{_BD}*0{_BD}*8{_BD}*6){_BD}*)?"
    f"1{_BD}*[3-9](?:{_BD}*[0-9]){{9}}{_BD}*)?$"
)
# 17 digits and a check character (x in either case), blanks around it ignored.
ID_NUMBER_PATTERN = f"^{_B}*[0-9]{{17}}[0-9Xx]{_B}*$"
_PHONE_RE = re.compile(PHONE_PATTERN)
_ID_NUMBER_RE = re.compile(ID_NUMBER_PATTERN)


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
    if not _ID_NUMBER_RE.fullmatch(raw or ""):
        raise HouseholdError.INVALID_ID_NUMBER(
            errors={"id_number": ["须为18位身份证号码"]},
        )
    value = raw.strip().upper()
    # Not ric.validate(): it rejects an address code that did not exist in the birth year, but
    # the code is that of the place of registration when the number was issued, so every
    # farmer born before their county got today's code would be refused.
    if value[-1] != ric.calc_check_digit(value):
        problem = "校验位不符"
    elif not _real_birth_date(value):
        problem = "出生日期不存在"
    elif not _known_address_code(value[:6]):
        problem = "地区码不存在"
    else:
        return value
    raise HouseholdError.INVALID_ID_NUMBER(errors={"id_number": [problem]})


def _real_birth_date(value: str) -> bool:
    try:
        ric.get_birth_date(value)
    except ValidationError:
        return False
    return True


def _known_address_code(code: str) -> bool:
    info = {k for _, props in numdb.get("cn/loc").info(code) for k in props}
    return "county" in info


def normalise_phone(raw: str | None) -> str | None:
    if raw in (None, ""):
        return None
    if not _PHONE_RE.fullmatch(raw):
        raise HouseholdError.INVALID_PHONE(errors={"phone": ["须为11位手机号码"]})
    return re.sub(r"[^0-9]", "", raw)[-11:]  # drops blanks, dashes and the +86 / 0086 prefix


def mask_id_number(value: str) -> str:
    return f"{value[:4]}{'*' * (len(value) - 8)}{value[-4:]}"


def mask_phone(value: str | None) -> str | None:
    return None if not value else f"{value[:3]}****{value[-4:]}"


def mask_name(value: str) -> str:
    """李** for 李四五: the public sees only the family name."""
    return value[:1] + "*" * max(len(value) - 1, 1) if value else ""
