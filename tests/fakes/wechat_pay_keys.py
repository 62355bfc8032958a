"""WeChat Pay's side of the v3 cryptography, written apart from ``wechat/pay_crypto.py`` on
purpose so the fake checks the client instead of agreeing with it by construction: keys made
per run, the merchant's Authorization header verified, answers and callbacks signed, callback
resources encrypted, sensitive fields decrypted."""

from __future__ import annotations

import base64
import re
import secrets
import string
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEME = "WECHATPAY2-SHA256-RSA2048"
_AUTH_FIELD = re.compile(r'\s*(\w+)="([^"]*)"\s*(?:,|$)')
_ALNUM = string.ascii_letters + string.digits


def random_text(length: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def digits(length: int) -> str:
    return random_text(length, string.digits)


@dataclass(frozen=True)
class KeyPair:
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> KeyPair:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @property
    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,  # apiclient_key.pem is PKCS#8
            serialization.NoEncryption(),
        )

    @property
    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, message: bytes) -> str:
        raw = self.private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(raw).decode()

    def verifies(self, message: bytes, signature_b64: str) -> bool:
        try:
            raw = base64.b64decode(signature_b64, validate=True)
            self.private_key.public_key().verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return False
        return True

    def oaep_decrypt(self, ciphertext_b64: str) -> str:
        oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
        return self.private_key.decrypt(base64.b64decode(ciphertext_b64), oaep).decode()


def parse_authorization(header: str) -> dict[str, str] | None:
    """The fields of ``WECHATPAY2-SHA256-RSA2048 mchid="..",nonce_str="..",...``, or None."""
    scheme, _, rest = header.partition(" ")
    if scheme != SCHEME:
        return None
    fields: dict[str, str] = {}
    position = 0
    while position < len(rest):
        match = _AUTH_FIELD.match(rest, position)
        if match is None:
            return None
        fields[match.group(1)] = match.group(2)
        position = match.end()
    return fields


def signed_request_text(method: str, uri: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return b"\n".join(
        [method.encode(), uri.encode(), timestamp.encode(), nonce.encode(), body, b""]
    )


def signed_answer_text(timestamp: str, nonce: str, body: bytes) -> bytes:
    return b"\n".join([timestamp.encode(), nonce.encode(), body, b""])


def encrypt_resource(apiv3_key: str, plaintext: bytes, associated_data: str) -> dict[str, str]:
    """A callback ``resource`` block: AEAD_AES_256_GCM, 12-character nonce, tag appended."""
    nonce = random_text(12)
    sealed = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), plaintext, associated_data.encode())
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(sealed).decode(),
        "associated_data": associated_data,
        "nonce": nonce,
    }
