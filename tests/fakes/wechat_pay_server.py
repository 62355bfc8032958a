"""A fake api.mch.weixin.qq.com (WeChat Pay API v3) speaking real HTTP on loopback.

It behaves as wechat.md §4 describes: every merchant request must carry a valid
``WECHATPAY2-SHA256-RSA2048`` Authorization (else 401 ``SIGN_ERROR``); every answer, errors
included, is signed with the platform key and carries ``Wechatpay-Serial: PUB_KEY_ID_...``;
errors are ``{"code", "message"}`` with WeChat Pay's HTTP statuses. Orders, refunds and
商家转账 bills (``wechat_pay_transfers.py``) live in memory. Keys are made per instance: the
merchant's API key pair, the platform ("WeChat Pay public key") pair, and an impostor pair for
forgeries.

Tests drive it with ``pay`` (the buyer paid), ``complete_refund``, ``confirm_transfer`` /
``fail_transfer`` / ``user_cancel_transfer`` (how a transfer bill ends), and inject trouble with
``fail_next`` (an error answer), ``hang_next`` (a slow answer, for timeouts) and
``forge_next`` (an answer that must fail verification). ``notification`` (in
``wechat_pay_notify.py``) builds callbacks exactly as WeChat Pay would post them.
"""

from __future__ import annotations

import json
import re
import secrets
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from tests.fakes.wechat_pay_keys import (
    KeyPair,
    digits,
    parse_authorization,
    random_text,
    signed_answer_text,
    signed_request_text,
)
from tests.fakes.wechat_pay_ledger import PayLedger, error
from tests.fakes.wechat_pay_notify import NotificationBuilder
from tests.fakes.wechat_pay_transfers import TransferBook

SIGNTEST_PREFIX = "WECHATPAY/SIGNTEST/"
FORGERIES = ("wrong_key", "wrong_serial", "stale", "unsigned", "tampered", "signtest")
_ROUTES = [
    ("POST", re.compile(r"/v3/pay/transactions/jsapi"), "prepay"),
    ("GET", re.compile(r"/v3/pay/transactions/out-trade-no/(?P<no>[^/]+)"), "query"),
    ("POST", re.compile(r"/v3/pay/transactions/out-trade-no/(?P<no>[^/]+)/close"), "close"),
    ("POST", re.compile(r"/v3/refund/domestic/refunds"), "refund"),
    ("GET", re.compile(r"/v3/refund/domestic/refunds/(?P<no>[^/]+)"), "query_refund"),
    ("POST", re.compile(r"/v3/fund-app/mch-transfer/transfer-bills"), "transfer_create"),
    (
        "GET",
        re.compile(r"/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/(?P<no>[^/]+)"),
        "transfer_query",
    ),
    (
        "POST",
        re.compile(r"/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/(?P<no>[^/]+)/cancel"),
        "transfer_cancel",
    ),
]


@dataclass(frozen=True)
class PayRequest:
    """One request as the fake saw it. ``uri`` is the raw path and query that was signed;
    ``kind`` the API (prepay, query, close, refund, query_refund, transfer_create,
    transfer_query, transfer_cancel; None if unknown);
    ``signed`` whether its Authorization verified."""

    method: str
    path: str
    uri: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    kind: str | None
    signed: bool

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Directive:
    target: str | None  # a kind, a path, or None for any request
    action: str  # fail | hang | forge
    status: int = 500
    code: str | None = ""
    message: str = ""
    signed: bool = True
    seconds: float = 0.0
    processed: bool = True
    how: str = ""


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class FakeWeChatPay(NotificationBuilder):
    def __init__(
        self, *, mchid: str = "1900000109", appid: str = "wxtestappid", key_dir: Path | None = None
    ) -> None:
        self.mchid = mchid
        self.appid = appid
        self._merchant = KeyPair.generate()
        self._platform = KeyPair.generate()
        self._impostor = KeyPair.generate()
        self.merchant_serial = secrets.token_hex(20).upper()
        self.public_key_id = "PUB_KEY_ID_01" + digits(30)
        self.other_public_key_id = "PUB_KEY_ID_01" + digits(30)
        self.apiv3_key = random_text(32)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if key_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="fake-wechatpay-")
            key_dir = Path(self._tmp.name)
        self.merchant_private_key_path = key_dir / "apiclient_key.pem"
        self.merchant_private_key_path.write_bytes(self.merchant_private_key_pem)
        self.public_key_path = key_dir / "pub_key.pem"
        self.public_key_path.write_bytes(self.public_key_pem)
        self._lock = threading.Lock()
        self._server: Any = None
        self._clear()

    # -- keys and settings -----------------------------------------------------------------

    @property
    def merchant_private_key_pem(self) -> bytes:
        """apiclient_key.pem: what the app signs requests and paySign with."""
        return self._merchant.private_pem

    @property
    def merchant_public_key_pem(self) -> bytes:
        """What WeChat Pay (and a test checking paySign) verifies merchant signatures with."""
        return self._merchant.public_pem

    @property
    def public_key_pem(self) -> bytes:
        """The WeChat Pay public key (pub_key.pem) the app verifies answers and callbacks with."""
        return self._platform.public_pem

    def client_options(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments of ``wechat.WeChatPayClient`` pointed at this fake."""
        options = {
            "api_base": self.base_url,
            "mchid": self.mchid,
            "appid": self.appid,
            "private_key_pem": self.merchant_private_key_pem,
            "cert_serial": self.merchant_serial,
            "wechatpay_public_key_pem": self.public_key_pem,
            "wechatpay_public_key_id": self.public_key_id,
            "apiv3_key": self.apiv3_key,
        }
        return options | overrides

    def decrypt_sensitive(self, ciphertext_b64: str) -> str:
        """What WeChat Pay reads from an RSA-OAEP encrypted field (a payee's name)."""
        return self._platform.oaep_decrypt(ciphertext_b64)

    def signed_headers(
        self, body: bytes, *, timestamp: int | None = None, how: str | None = None
    ) -> dict[str, str]:
        """The Wechatpay-* headers WeChat Pay would put on ``body``; ``how`` forges them (one
        of FORGERIES except ``tampered``/``unsigned``)."""
        ts = int(time.time()) if timestamp is None else timestamp
        if how == "stale":
            ts -= 600
        nonce = random_text(32)
        signer = self._impostor if how in ("wrong_key", "wrong_serial") else self._platform
        signature = signer.sign(signed_answer_text(str(ts), nonce, body))
        if how == "signtest":
            signature = SIGNTEST_PREFIX + signature
        return {
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": signature,
            "Wechatpay-Timestamp": str(ts),
            "Wechatpay-Serial": self.other_public_key_id
            if how == "wrong_serial"
            else self.public_key_id,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeWeChatPay:
        self._server = make_server(
            "127.0.0.1", 0, self._wsgi_app, threaded=True, request_handler=_QuietHandler
        )
        thread = threading.Thread(
            target=self._server.serve_forever, name="fake-wechat-pay", daemon=True
        )
        thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> FakeWeChatPay:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeWeChatPay is not started")
        return f"http://127.0.0.1:{self._server.server_port}"

    # -- test controls --------------------------------------------------------------------

    def pay(self, out_trade_no: str, *, payer_total_fen: int | None = None) -> dict[str, Any]:
        """The buyer paid (``payer_total_fen`` less than the total: a coupon covered the rest).
        Returns the order as a query would show it."""
        with self._lock:
            return self._ledger.pay(out_trade_no, payer_total_fen=payer_total_fen)

    def complete_refund(self, out_refund_no: str, status: str = "SUCCESS") -> dict[str, Any]:
        """A PROCESSING refund ends (SUCCESS, CLOSED or ABNORMAL). Returns it as queried."""
        with self._lock:
            return self._ledger.complete_refund(out_refund_no, status)

    def fail_next(
        self,
        target: str | None,
        http_status: int,
        code: str | None,
        message: str = "",
        *,
        times: int = 1,
        signed: bool = True,
        processed: bool = False,
    ) -> None:
        """The next ``times`` signed requests to ``target`` (a kind such as ``"refund"``, a
        path, or None for any) answer this error without doing anything, or, with
        ``processed``, after doing it (a SYSTEM_ERROR that hides an order or transfer made).
        ``signed=False``: the error answer carries no signature; ``code=None``: an HTML page,
        as a proxy in the way would answer (never signed)."""
        directive = _Directive(
            target,
            "fail",
            http_status,
            code,
            message or f"fake {code}",
            signed=signed,
            processed=processed,
        )
        with self._lock:
            self._directives.extend([directive] * times)

    def hang_next(
        self, target: str | None = None, seconds: float = 1.0, *, processed: bool = True
    ) -> None:
        """The next request to ``target`` waits ``seconds`` before answering. With
        ``processed`` it takes effect first (the answer is what gets lost), otherwise not."""
        with self._lock:
            self._directives.append(
                _Directive(target, "hang", seconds=seconds, processed=processed)
            )

    def forge_next(self, target: str | None = None, how: str = "wrong_key") -> None:
        """The next request to ``target`` is processed, but its answer fails verification:
        one of FORGERIES."""
        if how not in FORGERIES:
            raise ValueError(f"unknown forgery {how!r}")
        with self._lock:
            self._directives.append(_Directive(target, "forge", how=how))

    @property
    def requests(self) -> list[PayRequest]:
        with self._lock:
            return list(self._log)

    def calls(self, kind: str) -> int:
        return sum(1 for request in self.requests if request.kind == kind)

    def order(self, out_trade_no: str) -> dict[str, Any] | None:
        """The order as a query would show it, None if never placed."""
        with self._lock:
            order = self._ledger.orders.get(out_trade_no)
            return None if order is None else self._ledger.transaction_json(order)

    def refund_record(self, out_refund_no: str) -> dict[str, Any] | None:
        with self._lock:
            refund = self._ledger.refunds.get(out_refund_no)
            return None if refund is None else self._ledger.refund_json(refund)

    # -- 商家转账 (transfer bills) ----------------------------------------------------------

    def confirm_transfer(self, out_bill_no: str) -> dict[str, Any]:
        """The user confirmed receipt in the mini-program: the bill is SUCCESS. Returns it as
        a query shows it."""
        with self._lock:
            return self._transfers.confirm(out_bill_no)

    def fail_transfer(self, out_bill_no: str, reason: str = "NAME_NOT_CORRECT") -> dict[str, Any]:
        """The transfer failed (``reason`` is the query's ``fail_reason``): the bill is FAIL."""
        with self._lock:
            return self._transfers.fail(out_bill_no, reason)

    def user_cancel_transfer(self, out_bill_no: str) -> dict[str, Any]:
        """The user refused the money or let the confirmation lapse: the bill is CANCELLED."""
        with self._lock:
            return self._transfers.user_cancel(out_bill_no)

    def transfer_record(self, out_bill_no: str) -> dict[str, Any] | None:
        """The transfer bill as a query would show it, None if never made."""
        with self._lock:
            bill = self._transfers.bills.get(out_bill_no)
            return None if bill is None else self._transfers.bill_json(bill)

    def transfer_user_name(self, out_bill_no: str) -> str | None:
        """The payee's name as WeChat Pay decrypted it from the bill's user_name (None: none
        was sent)."""
        with self._lock:
            return self._transfers._bill(out_bill_no).user_name

    def transfers_made(self) -> int:
        """How many transfer bills exist (a repeated out_bill_no makes none)."""
        with self._lock:
            return len(self._transfers.bills)

    def reset(self) -> None:
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        self._ledger = PayLedger(self.mchid, self.appid)
        self._transfers = TransferBook(self.mchid, self.appid, self.decrypt_sensitive)
        self._directives: deque[_Directive] = deque()
        self._log: list[PayRequest] = []
        self._sent: dict[tuple[str, str], dict[str, Any]] = {}  # for duplicate callbacks

    # -- HTTP -----------------------------------------------------------------------------

    def _wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        body = request.get_data()
        uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or request.full_path
        kind, params = _route(request.method, request.path)
        signed = self._authorized(request, uri, body)
        record = PayRequest(
            request.method,
            request.path,
            uri,
            request.args.to_dict(),
            dict(request.headers.items()),
            body,
            kind,
            signed,
        )
        with self._lock:
            self._log.append(record)
            directive = self._pop_directive(kind, request.path) if signed else None
        how = directive.how if directive is not None and directive.action == "forge" else None
        if not signed:
            status, payload = 401, error("SIGN_ERROR", "签名错误")
        elif directive is not None and directive.action == "fail":
            if directive.processed:
                self._handle(kind, params, request, body)
            if directive.code is None:
                return _proxy_page(directive.status)(environ, start_response)
            status, payload = directive.status, error(directive.code, directive.message)
            how = None if directive.signed else "unsigned"
        elif directive is not None and directive.action == "hang" and not directive.processed:
            time.sleep(directive.seconds)
            status, payload = 500, error("SYSTEM_ERROR", "系统繁忙，请稍后重试")
        else:
            status, payload = self._handle(kind, params, request, body)
            if directive is not None and directive.action == "hang":
                time.sleep(directive.seconds)  # outside the lock: other requests go on
        return self._answer(status, payload, how)(environ, start_response)

    def _pop_directive(self, kind: str | None, path: str) -> _Directive | None:
        for index, directive in enumerate(self._directives):
            if directive.target in (None, kind, path):
                del self._directives[index]
                return directive
        return None

    def _authorized(self, request: Request, uri: str, body: bytes) -> bool:
        fields = parse_authorization(request.headers.get("Authorization", ""))
        if fields is None or fields.get("mchid") != self.mchid:
            return False
        if fields.get("serial_no") != self.merchant_serial:
            return False
        timestamp, nonce = fields.get("timestamp", ""), fields.get("nonce_str", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
            return False
        if not nonce or len(nonce) > 32:
            return False
        text = signed_request_text(request.method, uri, timestamp, nonce, body)
        return self._merchant.verifies(text, fields.get("signature", ""))

    def _answer(self, status: int, payload: dict[str, Any] | None, how: str | None) -> Response:
        body = b""
        if payload is not None:
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Request-ID": secrets.token_hex(16)}
        if body:
            headers["Content-Type"] = "application/json; charset=utf-8"
        if how != "unsigned":
            headers |= self.signed_headers(body, how=how)
        if how == "tampered":
            body += b" "
        return Response(body, status=status, headers=headers)

    def _handle(
        self, kind: str | None, params: dict[str, str], request: Request, body: bytes
    ) -> tuple[int, dict[str, Any] | None]:
        if kind is None:
            return 404, error("NOT_FOUND", "请求的资源不存在")
        data: Any = None
        if body:
            try:
                data = json.loads(body)
            except ValueError:
                return 400, error("PARAM_ERROR", "请求体不是合法的JSON")
        with self._lock:
            if kind == "prepay":
                return self._ledger.prepay(data)
            if kind == "query":
                return self._ledger.query(params["no"], request.args.get("mchid"))
            if kind == "close":
                return self._ledger.close(params["no"], data)
            if kind == "refund":
                return self._ledger.refund(data)
            if kind == "query_refund":
                return self._ledger.query_refund(params["no"])
            if kind == "transfer_create":
                serial = request.headers.get("Wechatpay-Serial")
                return self._transfers.create(data, serial, self.public_key_id)
            if kind == "transfer_query":
                return self._transfers.query(params["no"])
            return self._transfers.cancel(params["no"])


def _proxy_page(status: int) -> Response:
    page = f"<html><body><h1>{status}</h1><hr>stgw</body></html>"
    return Response(page, status=status, content_type="text/html")


# -- request checks ------------------------------------------------------------------------


def _route(method: str, path: str) -> tuple[str | None, dict[str, str]]:
    for route_method, pattern, kind in _ROUTES:
        match = pattern.fullmatch(path)
        if match is not None and method == route_method:
            return kind, match.groupdict()
    return None, {}
