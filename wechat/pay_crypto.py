"""The five cryptographic primitives of WeChat Pay API v3 (wechat.md §4.1–4.5), on
``cryptography`` only: request signatures, answer/callback verification, AES-256-GCM
decryption of callback resources, RSA-OAEP encryption of sensitive fields, and the paySign of
``wx.requestPayment``.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import string

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
# WeChat Pay sends some callbacks with a signature starting with this on purpose, to check that
# merchants verify signatures; such a callback must be rejected like any other bad signature.
SIGNTEST_PREFIX = "WECHATPAY/SIGNTEST/"

_NONCE_ALPHABET = string.ascii_uppercase + string.digits


class DecryptionFailed(Exception):
    """The resource does not decrypt (wrong key, tampered ciphertext, bad encoding)."""


def nonce(length: int = 32) -> str:
    """A random string for nonce_str / nonceStr (WeChat Pay takes at most 32 characters)."""
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(length))


def load_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    """The merchant API private key (``apiclient_key.pem``)."""
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the merchant API key must be an RSA private key")
    return key


def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    """A WeChat Pay public key (``pub_key.pem``) or, for merchants still in certificate mode, a
    platform certificate, whose public key is used."""
    key: object
    if b"BEGIN CERTIFICATE" in pem:
        key = x509.load_pem_x509_certificate(pem).public_key()
    else:
        key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the WeChat Pay public key must be an RSA public key")
    return key


def sign(private_key: rsa.RSAPrivateKey, message: bytes) -> str:
    """Base64 of RSA-SHA256 (PKCS#1 v1.5) over ``message``."""
    signature = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify(public_key: rsa.RSAPublicKey, message: bytes, signature_b64: str) -> bool:
    """Whether ``signature_b64`` is WeChat Pay's RSA-SHA256 signature of ``message``."""
    if signature_b64.startswith(SIGNTEST_PREFIX):
        return False
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def request_message(
    method: str, path_with_query: str, timestamp: str, nonce_str: str, body: bytes
) -> bytes:
    """What a merchant request signs (§4.1): the body exactly as sent, empty for GET."""
    head = f"{method}\n{path_with_query}\n{timestamp}\n{nonce_str}\n".encode()
    return head + body + b"\n"


def answer_message(timestamp: str, nonce_str: str, body: bytes) -> bytes:
    """What WeChat Pay signs in an answer or callback (§4.2): the raw body bytes."""
    return f"{timestamp}\n{nonce_str}\n".encode() + body + b"\n"


def authorization(
    *,
    mchid: str,
    serial_no: str,
    private_key: rsa.RSAPrivateKey,
    method: str,
    path_with_query: str,
    body: bytes,
    timestamp: str,
    nonce_str: str,
) -> str:
    """The ``Authorization`` header of a merchant request."""
    message = request_message(method, path_with_query, timestamp, nonce_str, body)
    signature = sign(private_key, message)
    return (
        f'{SIGNATURE_TYPE} mchid="{mchid}",nonce_str="{nonce_str}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


def pay_sign(
    private_key: rsa.RSAPrivateKey, *, appid: str, timestamp: str, nonce_str: str, package: str
) -> str:
    """paySign of wx.requestPayment (§4.4): over ``appId\\ntimeStamp\\nnonceStr\\npackage\\n``."""
    return sign(private_key, f"{appid}\n{timestamp}\n{nonce_str}\n{package}\n".encode())


def decrypt_resource(
    apiv3_key: bytes, *, nonce_str: str, ciphertext_b64: str, associated_data: str
) -> bytes:
    """AEAD_AES_256_GCM of a callback resource (§4.5): key = the APIv3 key's 32 bytes, the tag
    is the ciphertext's last 16 bytes."""
    try:
        ciphertext = base64.b64decode(ciphertext_b64, validate=True)
        return AESGCM(apiv3_key).decrypt(nonce_str.encode(), ciphertext, associated_data.encode())
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise DecryptionFailed(type(exc).__name__) from None


def encrypt_sensitive(public_key: rsa.RSAPublicKey, text: str) -> str:
    """RSAES-OAEP (SHA-1, MGF1-SHA1) of a sensitive field, Base64 (§4.3)."""
    ciphertext = public_key.encrypt(
        text.encode(),
        padding.OAEP(
            mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None
        ),
    )
    return base64.b64encode(ciphertext).decode()
