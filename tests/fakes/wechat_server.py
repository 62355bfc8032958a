"""A fake api.weixin.qq.com speaking real HTTP on loopback.

It answers like WeChat does (wechat.md §1.1): HTTP 200 for every API error with a JSON
``{"errcode", "errmsg"}`` body, ``text/plain`` content type, single-use login codes. Tests drive it
with ``issue_code`` (what wx.login would return), ``expire_tokens``, ``set_risky_words`` /
``set_review_words``, ``unsubscribe`` (subscribe messages to that openid answer 43101), and inject
failures with ``fail_next*`` / ``delay_next``. What it accepted is kept in ``shipping_uploads``
and ``subscribe_messages``.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

# The text fields msg_sec_check v2 scans.
FIELDS_CHECKED = ("content", "title", "nickname", "signature")

SHIPPING_PATH = "/wxa/sec/order/upload_shipping_info"
SUBSCRIBE_PATH = "/cgi-bin/message/subscribe/send"
# upload_shipping_info's documented errcodes (wechat.md §4.8 and WeChat's API page).
SHIPPING_DONE = 10060002  # 支付单已完成发货，无法继续发货: a second upload for one payment
LOGISTICS_TYPE_INVALID = 10060005
SPLIT_ONLY_FOR_EXPRESS = 10060006
IS_ALL_DELIVERED_MISSING = 10060007
ITEM_DESC_EMPTY = 10060008
ITEM_DESC_TOO_LONG = 10060009
SHIPPING_PARAM_INVALID = 10060014
SHIPPING_LIST_TOO_LONG = 10060024
EXPRESS_COMPANY_TOO_LONG = 10060025
TRACKING_NO_TOO_LONG = 10060026
ORDER_NUMBER_TYPE_INVALID = 268485194
TRANSACTION_ID_MISSING = 268485195
MCHID_MISSING = 268485196
OUT_TRADE_NO_MISSING = 268485197
UPLOAD_TIME_INVALID = 268485216
DELIVERY_MODE_INVALID = 268485224
TRACKING_NO_MISSING = 268485226
EXPRESS_COMPANY_MISSING = 268485227
UNIFIED_NEEDS_ONE_ITEM = 268485228

# subscribe/send's value rules by keyword type (wechat.md §3), checked here independently of
# the client's own fitting: a value the client lets through wrongly is refused with 47003.
_SUBSCRIBE_RULES: dict[str, re.Pattern[str]] = {
    "thing": re.compile(r"^.{1,20}$", re.S),
    "character_string": re.compile(r"^[\x21-\x7e]{1,32}$"),
    "letter": re.compile(r"^[A-Za-z]{1,32}$"),
    "phrase": re.compile(r"^[\u3400-\u9fff\uf900-\ufaff]{1,5}$"),
    "name": re.compile(r"^([\u3400-\u9fff\uf900-\ufaff·]{1,10}|[A-Za-z ]{1,20})$"),
    "amount": re.compile(r"^[¥$]\d{1,10}(\.\d{1,2})?元?$"),
    "number": re.compile(r"^-?\d{1,32}(\.\d+)?$"),
    "phone_number": re.compile(r"^[0-9+\-()* ]{1,17}$"),
    "car_number": re.compile(r"^.{1,8}$"),
}


@dataclass(frozen=True)
class _Login:
    openid: str
    unionid: str | None
    session_key: str


class _QuietHandler(WSGIRequestHandler):
    # The default handler logs every request line, query string (secret, code) included.
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class FakeWeChat:
    def __init__(self, appid: str = "wxtestappid", secret: str = "test-secret") -> None:
        self.appid = appid
        self.secret = secret
        self._lock = threading.Lock()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._clear()

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeWeChat:
        self._server = make_server(
            "127.0.0.1", 0, self._wsgi_app, threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-wechat", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeWeChat:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeWeChat is not started")
        return f"http://127.0.0.1:{self._server.server_port}"

    # -- test controls --------------------------------------------------------------------

    def issue_code(
        self, openid: str, *, unionid: str | None = None, session_key: str | None = None
    ) -> str:
        """Return a fresh login code, as wx.login gives the mini-program."""
        code = secrets.token_hex(16)
        if session_key is None:
            session_key = base64.b64encode(secrets.token_bytes(16)).decode()
        with self._lock:
            self._codes[code] = _Login(openid, unionid, session_key)
        return code

    def fail_next(
        self, errcode: int, errmsg: str = "", *, times: int = 1, path: str | None = None
    ) -> None:
        """The next ``times`` calls to ``path`` (any path if None) answer this errcode."""
        body = json.dumps({"errcode": errcode, "errmsg": errmsg or f"fake error {errcode}"})
        with self._lock:
            self._failures.extend([(path, 200, body)] * times)

    def fail_next_http(self, status: int, body: str = "", *, path: str | None = None) -> None:
        """The next call to ``path`` (any path if None) answers this HTTP status with this raw
        body (garbage allowed)."""
        with self._lock:
            self._failures.append((path, status, body))

    def fail_next_shipping(
        self, errcode: int = -1, *, times: int = 1, http_status: int | None = None
    ) -> None:
        """The next ``times`` shipping uploads answer this errcode (or, given ``http_status``,
        that HTTP status with an empty body) and are not recorded."""
        for _ in range(times):
            if http_status is not None:
                self.fail_next_http(http_status, path=SHIPPING_PATH)
            else:
                self.fail_next(errcode, path=SHIPPING_PATH)

    def hang_next_shipping(self, seconds: float) -> None:
        """The next shipping upload sleeps this long before answering (a client timeout)."""
        self.delay_next(seconds, path=SHIPPING_PATH)

    def unsubscribe(self, openid: str) -> None:
        """Subscribe messages to this openid answer 43101 (refused, or no subscription left)."""
        with self._lock:
            self._unsubscribed.add(openid)

    @property
    def shipping_uploads(self) -> list[dict[str, Any]]:
        """Bodies of the shipping uploads accepted since the last reset(), oldest first."""
        with self._lock:
            return list(self._shipping_uploads)

    @property
    def subscribe_messages(self) -> list[dict[str, Any]]:
        """Bodies of the subscribe messages sent since the last reset(), oldest first."""
        with self._lock:
            return list(self._subscribe_messages)

    def expire_tokens(self) -> None:
        """The current access_token stops working; stable_token hands out a new one."""
        with self._lock:
            self._token = None

    def set_risky_words(self, words: list[str]) -> None:
        """msg_sec_check says risky (label 20001) for text containing any of these."""
        with self._lock:
            self._risky_words = list(words)

    def set_review_words(self, words: list[str]) -> None:
        """msg_sec_check says review (label 20006) for text containing any of these."""
        with self._lock:
            self._review_words = list(words)

    def delay_next(self, seconds: float, *, path: str | None = None) -> None:
        """The next call to ``path`` (any path if None) sleeps this long before answering."""
        with self._lock:
            self._delays.append((path, seconds))

    @property
    def requests(self) -> list[tuple[str, str, dict[str, str]]]:
        """(method, path, query) of every request seen since the last reset()."""
        with self._lock:
            return list(self._log)

    @property
    def bodies(self) -> list[bytes]:
        """Raw body of every request seen since the last reset(), parallel to ``requests``."""
        with self._lock:
            return list(self._bodies)

    def calls(self, path: str) -> int:
        """How many requests went to ``path`` since the last reset()."""
        return sum(1 for _, seen, _ in self.requests if seen == path)

    def reset(self) -> None:
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        self._codes: dict[str, _Login] = {}
        self._used: set[str] = set()
        self._failures: deque[tuple[str | None, int, str]] = deque()
        self._delays: deque[tuple[str | None, float]] = deque()
        self._log: list[tuple[str, str, dict[str, str]]] = []
        self._bodies: list[bytes] = []
        self._token: str | None = None
        self._risky_words: list[str] = []
        self._review_words: list[str] = []
        self._shipping_uploads: list[dict[str, Any]] = []
        self._shipped_keys: set[tuple[Any, ...]] = set()
        self._subscribe_messages: list[dict[str, Any]] = []
        self._unsubscribed: set[str] = set()

    # -- HTTP -----------------------------------------------------------------------------

    def _wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        raw_body = request.get_data()
        with self._lock:
            self._log.append((request.method, request.path, request.args.to_dict()))
            self._bodies.append(raw_body)
            delay = self._pop_delay(request.path)
            failure = self._pop_failure(request.path)
        if delay:
            time.sleep(delay)  # outside the lock, so other requests go on meanwhile
        if failure is not None:
            status, body = failure
            response = Response(body, status=status, content_type="text/plain")
        elif request.path == "/sns/jscode2session":
            response = self._reply(self._jscode2session(request))
        elif request.path == "/cgi-bin/stable_token":
            response = self._reply(self._stable_token(request))
        elif request.path == "/wxa/msg_sec_check":
            response = self._reply(self._msg_sec_check(request))
        elif request.path == SHIPPING_PATH:
            response = self._reply(self._upload_shipping_info(request))
        elif request.path == SUBSCRIBE_PATH:
            response = self._reply(self._subscribe_send(request))
        else:
            response = Response("404 Not Found", status=404, content_type="text/plain")
        return response(environ, start_response)

    def _pop_delay(self, path: str) -> float:
        # Called under the lock, like _pop_failure.
        for index, (target, seconds) in enumerate(self._delays):
            if target is None or target == path:
                del self._delays[index]
                return seconds
        return 0.0

    def _pop_failure(self, path: str) -> tuple[int, str] | None:
        # Called under the lock. The first queued failure aimed at this path (or any) wins.
        for index, (target, status, body) in enumerate(self._failures):
            if target is None or target == path:
                del self._failures[index]
                return status, body
        return None

    @staticmethod
    def _reply(payload: dict[str, Any]) -> Response:
        # WeChat answers text/plain without a charset; clients must parse JSON regardless.
        return Response(json.dumps(payload, ensure_ascii=False), content_type="text/plain")

    @staticmethod
    def _error(errcode: int, errmsg: str) -> dict[str, Any]:
        # Real errmsg values end with a request id; tests should not match on exact text.
        return {"errcode": errcode, "errmsg": f"{errmsg} rid: {secrets.token_hex(4)}"}

    def _jscode2session(self, request: Request) -> dict[str, Any]:
        if request.method != "GET":
            # WeChat reads parameters from the query only and says "appid missing" to a POST.
            return self._error(41002, "appid missing")
        args = request.args
        if not args.get("appid"):
            return self._error(41002, "appid missing")
        if args["appid"] != self.appid:
            return self._error(40013, "invalid appid")
        if not args.get("secret"):
            return self._error(41004, "appsecret missing")
        if args["secret"] != self.secret:
            return self._error(40125, "invalid appsecret")
        if not args.get("js_code"):
            return self._error(41008, "missing code")
        if args.get("grant_type") != "authorization_code":  # code as for cgi-bin/token [mem]
            return self._error(40002, "invalid grant_type")
        code = args["js_code"]
        with self._lock:
            if code in self._used:
                return self._error(40163, "code been used")
            login = self._codes.pop(code, None)
            if login is None:
                return self._error(40029, "invalid code")
            self._used.add(code)
        payload = {"session_key": login.session_key, "openid": login.openid}
        if login.unionid is not None:
            payload["unionid"] = login.unionid
        return payload

    @staticmethod
    def _json_body(request: Request) -> dict[str, Any] | None:
        try:
            body = json.loads(request.get_data())
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _stable_token(self, request: Request) -> dict[str, Any]:
        if request.method != "POST":
            return self._error(43002, "require POST method")
        body = self._json_body(request)
        if body is None:
            return self._error(47001, "data format error")
        if not body.get("appid"):
            return self._error(41002, "appid missing")
        if body["appid"] != self.appid:
            return self._error(40013, "invalid appid")
        if not body.get("secret"):
            return self._error(41004, "appsecret missing")
        if body["secret"] != self.secret:
            return self._error(40125, "invalid appsecret")
        if body.get("grant_type") != "client_credential":
            return self._error(40002, "invalid grant_type")
        with self._lock:
            # Normal mode hands out the same token until it expires; force_refresh replaces it.
            if self._token is None or body.get("force_refresh") is True:
                self._token = "fake-at-" + secrets.token_urlsafe(48)
            return {"access_token": self._token, "expires_in": 7200}

    def _msg_sec_check(self, request: Request) -> dict[str, Any]:
        if request.method != "POST":
            return self._error(43302, "require POST method")
        with self._lock:
            token, risky_words, review_words = self._token, self._risky_words, self._review_words
        if token is None or request.args.get("access_token") != token:
            return self._error(40001, "invalid credential, access_token is invalid or not latest")
        body = self._json_body(request)
        if body is None or body.get("version") != 2:
            return self._error(47001, "data format error")
        if not body.get("openid") or not body.get("content"):
            return self._error(44002, "empty post data")
        if body.get("scene") not in (1, 2, 3, 4):
            return self._error(40129, "invalid scene")
        if len(body["content"]) > 2500:  # the documented limit, in characters
            return self._error(47001, "data format error")
        text = " ".join(str(body.get(field) or "") for field in FIELDS_CHECKED)
        if any(word in text for word in risky_words):
            suggest, label = "risky", 20001
        elif any(word in text for word in review_words):
            suggest, label = "review", 20006
        else:
            suggest, label = "pass", 100
        detail = {"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label}
        return {
            "errcode": 0,
            "errmsg": "ok",
            "result": {"suggest": suggest, "label": label},
            "detail": [detail | {"prob": 90}, {"strategy": "keyword", "errcode": 0}],
            "trace_id": secrets.token_hex(12),
        }

    def _token_refused(self, request: Request) -> dict[str, Any] | None:
        with self._lock:
            token = self._token
        if token is None or request.args.get("access_token") != token:
            return self._error(40001, "invalid credential, access_token is invalid or not latest")
        return None

    def _upload_shipping_info(self, request: Request) -> dict[str, Any]:
        if request.method != "POST":
            return self._error(43002, "require POST method")
        refused = self._token_refused(request)
        if refused is not None:
            return refused
        body = self._json_body(request)
        if body is None:
            return self._error(47001, "data format error")
        order_key = body.get("order_key")
        if not isinstance(order_key, dict):
            return self._error(SHIPPING_PARAM_INVALID, "order_key missing")
        key: tuple[Any, ...]
        if order_key.get("order_number_type") == 1:
            if not order_key.get("mchid"):
                return self._error(MCHID_MISSING, "mchid missing")
            if not order_key.get("out_trade_no"):
                return self._error(OUT_TRADE_NO_MISSING, "out_trade_no missing")
            key = (1, order_key["mchid"], order_key["out_trade_no"])
        elif order_key.get("order_number_type") == 2:
            if not order_key.get("transaction_id"):
                return self._error(TRANSACTION_ID_MISSING, "transaction_id missing")
            key = (2, order_key["transaction_id"])
        else:
            return self._error(ORDER_NUMBER_TYPE_INVALID, "invalid order_number_type")
        problem = self._shipping_problem(body)
        if problem is not None:
            return self._error(*problem)
        with self._lock:
            # WeChat keeps one shipping record per payment; this fake refuses any repeat with
            # "支付单已完成发货" (real WeChat allows one re-shipment before 10060003).
            if key in self._shipped_keys:
                return self._error(SHIPPING_DONE, "支付单已完成发货，无法继续发货")
            self._shipped_keys.add(key)
            self._shipping_uploads.append(body)
        return {"errcode": 0, "errmsg": "ok"}

    @staticmethod
    def _shipping_problem(body: dict[str, Any]) -> tuple[int, str] | None:
        logistics_type, mode = body.get("logistics_type"), body.get("delivery_mode")
        if logistics_type not in (1, 2, 3, 4):
            return LOGISTICS_TYPE_INVALID, "物流类型有误"
        if mode not in (1, 2):
            return DELIVERY_MODE_INVALID, "invalid delivery_mode"
        items = body.get("shipping_list")
        if not isinstance(items, list) or not items:
            return SHIPPING_PARAM_INVALID, "shipping_list missing"
        if len(items) > 15:
            return SHIPPING_LIST_TOO_LONG, "物流信息列表太长"
        if mode == 1 and len(items) != 1:
            return UNIFIED_NEEDS_ONE_ITEM, "统一发货模式下，物流信息列表长度必须为 1"
        if mode == 2 and logistics_type != 1:
            return SPLIT_ONLY_FOR_EXPRESS, "非快递发货时不允许分拆发货"
        if mode == 2 and not isinstance(body.get("is_all_delivered"), bool):
            return IS_ALL_DELIVERED_MISSING, "分拆发货模式下必须填写 is_all_delivered 字段"
        for item in items:
            if not isinstance(item, dict) or not item.get("item_desc"):
                return ITEM_DESC_EMPTY, "商品描述 item_desc 字段不能为空"
            if len(item["item_desc"]) > 120:
                return ITEM_DESC_TOO_LONG, "商品描述 item_desc 字段太长"
            if logistics_type == 1:
                if not item.get("tracking_no"):
                    return TRACKING_NO_MISSING, "物流单号不能为空"
                if not item.get("express_company"):
                    return EXPRESS_COMPANY_MISSING, "物流公司编码不能为空"
            if len(str(item.get("tracking_no", "")).encode()) > 128:
                return TRACKING_NO_TOO_LONG, "物流单号太长"
            if len(str(item.get("express_company", "")).encode()) > 128:
                return EXPRESS_COMPANY_TOO_LONG, "物流公司编码太长"
            contact = item.get("contact") or {}
            phones = [contact.get("receiver_contact"), contact.get("consignor_contact")]
            if item.get("express_company") == "SF" and not any(phones):
                # WeChat documents the rule (顺丰 needs a contact) but no code of its own.
                return SHIPPING_PARAM_INVALID, "顺丰发货须填写联系方式"
            if any(phone and "*" not in phone for phone in phones):
                # Contacts travel masked, the last four digits in clear (189****1234).
                return SHIPPING_PARAM_INVALID, "联系方式须掩码传输"
        try:
            uploaded = datetime.fromisoformat(str(body.get("upload_time")))
        except ValueError:
            uploaded = None
        if uploaded is None or uploaded.tzinfo is None:
            return UPLOAD_TIME_INVALID, "上传时间非法，请按照 RFC 3339 格式填写"
        payer = body.get("payer")
        if not isinstance(payer, dict) or not payer.get("openid"):
            return SHIPPING_PARAM_INVALID, "payer.openid missing"
        return None

    def _subscribe_send(self, request: Request) -> dict[str, Any]:
        if request.method != "POST":
            return self._error(43002, "require POST method")
        refused = self._token_refused(request)
        if refused is not None:
            return refused
        body = self._json_body(request)
        if body is None:
            return self._error(47001, "data format error")
        if not body.get("touser"):
            return self._error(40003, "invalid openid")
        if not body.get("template_id"):
            return self._error(40037, "invalid template_id")
        if "page" in body and not isinstance(body["page"], str):
            return self._error(41030, "invalid page")
        if body.get("miniprogram_state", "formal") not in ("developer", "trial", "formal"):
            return self._error(47003, "argument invalid! miniprogram_state invalid")
        if body.get("lang", "zh_CN") not in ("zh_CN", "en_US", "zh_HK", "zh_TW"):
            return self._error(47003, "argument invalid! lang invalid")
        data = body.get("data")
        if not isinstance(data, dict) or not data:
            return self._error(47003, "argument invalid! data invalid")
        for name, entry in data.items():
            value = entry.get("value") if isinstance(entry, dict) else None
            rule = _SUBSCRIBE_RULES.get(re.sub(r"\d+$", "", name))
            if not isinstance(value, str) or (rule is not None and not rule.match(value)):
                return self._error(47003, f"argument invalid! data.{name}.value invalid")
        with self._lock:
            if body["touser"] in self._unsubscribed:
                return self._error(43101, "user refuse to accept the msg")
            self._subscribe_messages.append(body)
        return {"errcode": 0, "errmsg": "ok", "msgid": secrets.randbelow(10**12)}
