"""A fake api.weixin.qq.com speaking real HTTP on loopback.

It answers like WeChat does (wechat.md §1.1): HTTP 200 for every API error with a JSON
``{"errcode", "errmsg"}`` body, ``text/plain`` content type, single-use login codes. Tests drive it
with ``issue_code`` (what wx.login would return), ``expire_tokens``, ``set_risky_words`` /
``set_review_words``, and inject failures with ``fail_next*`` / ``delay_next``.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

# The text fields msg_sec_check v2 scans.
FIELDS_CHECKED = ("content", "title", "nickname", "signature")


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

    def delay_next(self, seconds: float) -> None:
        """The next call sleeps this long before answering."""
        with self._lock:
            self._delays.append(seconds)

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
        self._delays: deque[float] = deque()
        self._log: list[tuple[str, str, dict[str, str]]] = []
        self._bodies: list[bytes] = []
        self._token: str | None = None
        self._risky_words: list[str] = []
        self._review_words: list[str] = []

    # -- HTTP -----------------------------------------------------------------------------

    def _wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        raw_body = request.get_data()
        with self._lock:
            self._log.append((request.method, request.path, request.args.to_dict()))
            self._bodies.append(raw_body)
            delay = self._delays.popleft() if self._delays else 0.0
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
        else:
            response = Response("404 Not Found", status=404, content_type="text/plain")
        return response(environ, start_response)

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
