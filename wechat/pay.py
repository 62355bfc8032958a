"""Thin in-house client for WeChat Pay API v3 (api.mch.weixin.qq.com), direct-merchant JSAPI
payments for the mini-program: order, pay parameters, query, close, refund, refund query, and
callback verification (wechat.md §4.1–4.6; §4.9 for why not a third-party SDK); 商家转账
(transfer bills, §4.8) comes from ``wechat/pay_transfers.py``.

Every request is signed (§4.1) and every successful answer verified with the WeChat Pay public
key (§4.2) before anything in it is used; an answer that fails raises ``PayResponseForged``.
Error answers are verified when they carry a signature (a bad one raises
``PayResponseForged`` too); unsigned ones are read for their code, as the official SDKs do, and
the exception says ``verified=False``: an unsigned error can only make us not do something,
never make us believe money moved. Calls have a timeout and are never retried here: after
``PayUnavailable`` the caller queries, then retries with the same out_trade_no/out_refund_no.
"""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import requests

from wechat import pay_crypto
from wechat.errors import (
    NotificationRejected,
    PayError,
    PayResponseForged,
    PayUnavailable,
    pay_error_for,
)
from wechat.pay_models import (
    Malformed,
    Notification,
    Refund,
    Transaction,
    parse_refund,
    parse_transaction,
)
from wechat.pay_transfers import USER_NAME_REQUIRED_FROM_FEN as USER_NAME_REQUIRED_FROM_FEN
from wechat.pay_transfers import TransferBills
from wechat.pay_verify import HeaderSource, check_signed, is_probe, lowered, open_notification

log = logging.getLogger(__name__)

# How far an answer's Wechatpay-Timestamp may be from our clock (§4.2).
ANSWER_MAX_SKEW = timedelta(minutes=5)
# WeChat Pay shows and expects Beijing time; time_expire is sent with this offset.
CHINA_TZ = timezone(timedelta(hours=8), "CST")
CURRENCY = "CNY"

_OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")
_OUT_REFUND_NO = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")


class WeChatPayClient(TransferBills):
    def __init__(
        self,
        *,
        api_base: str,
        mchid: str,
        appid: str,
        private_key_pem: bytes,
        cert_serial: str,
        wechatpay_public_key_pem: bytes,
        wechatpay_public_key_id: str,
        apiv3_key: str,
        timeout: float = 5.0,
        session: requests.Session | None = None,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.mchid = mchid
        self.appid = appid
        self.cert_serial = cert_serial
        self.wechatpay_public_key_id = wechatpay_public_key_id
        self.timeout = timeout
        self._private_key = pay_crypto.load_private_key(private_key_pem)
        # serial / PUB_KEY_ID → key. One key today (public-key mode); platform certificates
        # of merchants still in certificate mode would be more entries (§4.2).
        self._public_keys = {
            wechatpay_public_key_id: pay_crypto.load_public_key(wechatpay_public_key_pem)
        }
        self._apiv3_key = apiv3_key.encode()
        if len(self._apiv3_key) != 32:
            raise ValueError("the APIv3 key must be 32 ASCII characters")
        self._session = session or requests.Session()

    def __repr__(self) -> str:
        return f"WeChatPayClient(api_base={self.api_base!r}, mchid={self.mchid!r})"

    # -- payments ------------------------------------------------------------------------

    def jsapi_prepay(
        self,
        *,
        out_trade_no: str,
        description: str,
        amount_fen: int,
        payer_openid: str,
        notify_url: str,
        time_expire: datetime | None = None,
        attach: str | None = None,
    ) -> str:
        """Place a JSAPI (mini-program) order and return its prepay_id (§4.4).

        out_trade_no is the idempotency key: calling again with the same parameters gives a
        prepay_id for the same order; different parameters are refused (PayRequestInvalid).
        ``time_expire`` (naive means UTC) is sent in Beijing time and cannot change later."""
        _check_out_trade_no(out_trade_no)
        _check_fen("amount_fen", amount_fen)
        body: dict[str, Any] = {
            "appid": self.appid,
            "mchid": self.mchid,
            "description": description,
            "out_trade_no": out_trade_no,
        }
        if time_expire is not None:
            body["time_expire"] = format_time(time_expire)
        if attach is not None:
            body["attach"] = attach
        body |= {
            "notify_url": notify_url,
            "amount": {"total": amount_fen, "currency": CURRENCY},
            "payer": {"openid": payer_openid},
        }
        path = "/v3/pay/transactions/jsapi"
        payload = self._expect_json(path, self._call("POST", path, body=body))
        prepay_id = payload.get("prepay_id")
        if not isinstance(prepay_id, str) or not prepay_id:
            raise _malformed(path, "no prepay_id")
        return prepay_id

    def pay_params(self, prepay_id: str) -> dict[str, str]:
        """The five arguments of ``wx.requestPayment`` (§4.4), signed with the merchant key.
        The mini-program's callback is not proof of payment: only a callback or a query is."""
        timestamp = str(int(time.time()))
        nonce_str = pay_crypto.nonce()
        package = f"prepay_id={prepay_id}"
        pay_sign = pay_crypto.pay_sign(
            self._private_key,
            appid=self.appid,
            timestamp=timestamp,
            nonce_str=nonce_str,
            package=package,
        )
        return {
            "timeStamp": timestamp,
            "nonceStr": nonce_str,
            "package": package,
            "signType": "RSA",
            "paySign": pay_sign,
        }

    def query_transaction(self, out_trade_no: str) -> Transaction:
        """The order's state at WeChat Pay (PayNotFound if it never reached WeChat Pay)."""
        _check_out_trade_no(out_trade_no)
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}"
        payload = self._expect_json(path, self._call("GET", path, params={"mchid": self.mchid}))
        try:
            transaction = parse_transaction(payload)
        except Malformed as exc:
            raise _malformed(path, str(exc)) from None
        if transaction.out_trade_no != out_trade_no or transaction.mchid != self.mchid:
            raise _malformed(path, "the answer is about another order")
        return transaction

    def close_transaction(self, out_trade_no: str) -> None:
        """Close an unpaid order (answered 204). Closing a closed order again is accepted; a
        paid one raises PayOrderPaid."""
        _check_out_trade_no(out_trade_no)
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}/close"
        self._call("POST", path, body={"mchid": self.mchid})

    # -- refunds -------------------------------------------------------------------------

    def refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        refund_fen: int,
        total_fen: int,
        reason: str,
        notify_url: str,
    ) -> Refund:
        """Ask for a refund (§4.6). A 200 means accepted, usually PROCESSING; the REFUND.*
        callback or ``query_refund`` tells the end. out_refund_no refunds once however often
        it is sent: after an error, retry with the same number."""
        _check_out_trade_no(out_trade_no)
        _check_out_refund_no(out_refund_no)
        _check_fen("refund_fen", refund_fen)
        _check_fen("total_fen", total_fen)
        if refund_fen > total_fen:
            raise ValueError("refund_fen exceeds total_fen")
        body: dict[str, Any] = {"out_trade_no": out_trade_no, "out_refund_no": out_refund_no}
        if reason:
            body["reason"] = reason
        body |= {
            "notify_url": notify_url,
            "amount": {"refund": refund_fen, "total": total_fen, "currency": CURRENCY},
        }
        path = "/v3/refund/domestic/refunds"
        return self._refund_from(path, self._call("POST", path, body=body), out_refund_no)

    def query_refund(self, out_refund_no: str) -> Refund:
        _check_out_refund_no(out_refund_no)
        path = f"/v3/refund/domestic/refunds/{quote(out_refund_no, safe='')}"
        return self._refund_from(path, self._call("GET", path), out_refund_no)

    def _refund_from(self, path: str, payload: dict[str, Any] | None, out_refund_no: str) -> Refund:
        try:
            refund = parse_refund(self._expect_json(path, payload))
        except Malformed as exc:
            raise _malformed(path, str(exc)) from None
        if refund.out_refund_no != out_refund_no:
            raise _malformed(path, "the answer is about another refund")
        return refund

    # -- sensitive fields ----------------------------------------------------------------

    def sensitive_encrypt(self, text: str) -> str:
        """RSA-OAEP ciphertext of a sensitive field (a payee's real name, §4.3), for the
        WeChat Pay public key. Requests from this client always send ``Wechatpay-Serial`` with
        that key's id, as WeChat Pay requires alongside such fields."""
        return pay_crypto.encrypt_sensitive(self._public_keys[self.wechatpay_public_key_id], text)

    # -- callbacks -----------------------------------------------------------------------

    def verify_notification(
        self,
        headers: HeaderSource,
        body: bytes,
        *,
        now: datetime | None = None,
        max_skew: timedelta = ANSWER_MAX_SKEW,
    ) -> Notification:
        """Verify and decrypt a WeChat Pay callback (§4.2, §4.5); pass the raw body bytes.

        Checks, in order: the serial is our WeChat Pay public key's id (``wrong_serial``), the
        timestamp is within ``max_skew`` of ``now``, either way (``stale``), the signature
        (``bad_signature``), then decrypts the resource with the APIv3 key
        (``undecryptable``) and parses it (``malformed``). Any failure raises
        NotificationRejected; nothing unverified is ever returned.

        WeChat Pay deliberately sends callbacks whose ``Wechatpay-Signature`` starts with
        ``WECHATPAY/SIGNTEST/`` to check that merchants verify: they are rejected as
        ``bad_signature``, like any other bad signature (answer them with a 4xx/5xx).

        Not checked here, the caller's job: that mchid, appid and the amount match our order,
        and deduplication on ``id`` and the order's state (callbacks arrive more than once)."""
        moment = now or datetime.now(UTC)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        signed_headers = lowered(headers)
        reason = check_signed(
            self._public_keys, signed_headers, body, now=moment.timestamp(), max_skew=max_skew
        )
        if reason is not None:
            if is_probe(signed_headers):
                log.info("wechat pay signature probe rejected, as it must be")
                raise NotificationRejected(reason, "signature probe")
            log.warning("wechat pay notification rejected: %s", reason)
            raise NotificationRejected(reason)
        return open_notification(self._apiv3_key, body)

    # -- shared plumbing -----------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """One signed request; the verified JSON answer (None for an empty 2xx) or raise."""
        data = b""
        headers = {"Accept": "application/json", "Wechatpay-Serial": self.wechatpay_public_key_id}
        if body is not None:
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        request = requests.Request(
            method, self.api_base + path, params=params, data=data or None, headers=headers
        )
        prepared = self._session.prepare_request(request)
        # Sign what goes on the wire: the path and query exactly as requests encoded them and
        # the very bytes of the body.
        prepared.headers["Authorization"] = pay_crypto.authorization(
            mchid=self.mchid,
            serial_no=self.cert_serial,
            private_key=self._private_key,
            method=method,
            path_with_query=prepared.path_url,
            body=data,
            timestamp=str(int(time.time())),
            nonce_str=pay_crypto.nonce(),
        )
        settings = self._session.merge_environment_settings(prepared.url, {}, None, None, None)
        try:
            response = self._session.send(
                prepared, timeout=self.timeout, allow_redirects=False, **settings
            )
        except requests.RequestException as exc:
            log.warning("wechat pay %s %s failed: %s", method, path, type(exc).__name__)
            raise PayUnavailable(None, f"{type(exc).__name__} calling {path}") from None
        return self._read(method, path, response)

    def _read(self, method: str, path: str, response: requests.Response) -> dict[str, Any] | None:
        status, content = response.status_code, response.content
        signed = "Wechatpay-Signature" in response.headers
        if 200 <= status < 300 or signed:
            reason = check_signed(
                self._public_keys,
                lowered(response.headers),
                content,
                now=time.time(),
                max_skew=ANSWER_MAX_SKEW,
            )
            if reason is not None:
                log.error("wechat pay %s %s: answer failed verification (%s)", method, path, reason)
                raise PayResponseForged(None, f"{reason} on {path}", status)
        if status >= 300:
            error = self._error_from(response, verified=signed)
            log.warning(
                "wechat pay %s %s answered HTTP %s code=%s", method, path, status, error.code
            )
            raise error
        if not content:
            return None
        try:
            payload = json.loads(content)
        except ValueError:
            raise _malformed(path, "not JSON") from None
        if not isinstance(payload, dict):
            raise _malformed(path, "not a JSON object")
        return payload

    @staticmethod
    def _error_from(response: requests.Response, *, verified: bool) -> PayError:
        code: str | None = None
        message = ""
        try:
            payload = json.loads(response.content)
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            if isinstance(payload.get("code"), str) and payload["code"]:
                code = payload["code"]
            if isinstance(payload.get("message"), str):
                message = payload["message"]
        return pay_error_for(
            response.status_code, code, message or f"HTTP {response.status_code}", verified=verified
        )

    @staticmethod
    def _expect_json(path: str, payload: dict[str, Any] | None) -> dict[str, Any]:
        if payload is None:
            raise _malformed(path, "empty answer")
        return payload


# -- helpers ------------------------------------------------------------------------------


def format_time(value: datetime) -> str:
    """RFC 3339 in Beijing time, as WeChat Pay writes it (``2025-05-20T13:29:35+08:00``);
    a naive datetime is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(CHINA_TZ).isoformat(timespec="seconds")


def _check_out_trade_no(value: str) -> None:
    # Also keeps anything odd out of the URL path.
    if not _OUT_TRADE_NO.fullmatch(value):
        raise ValueError("out_trade_no must be 6-32 characters of [0-9A-Za-z_-|*]")


def _check_out_refund_no(value: str) -> None:
    if not _OUT_REFUND_NO.fullmatch(value):
        raise ValueError("out_refund_no must be 1-64 characters of [0-9A-Za-z_-|*@]")


def _check_fen(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer number of fen")


def _malformed(path: str, detail: str) -> PayUnavailable:
    # Signed by WeChat Pay but not what it documents: the outcome is unknown, query later.
    log.error("wechat pay %s: unreadable answer (%s)", path, detail)
    return PayUnavailable(None, f"malformed answer from {path}: {detail}", None, True)
