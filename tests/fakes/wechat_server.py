"""A fake api.weixin.qq.com speaking real HTTP on loopback.

It answers like WeChat does (wechat.md §1.1): HTTP 200 for every API error with a JSON
``{"errcode", "errmsg"}`` body, ``text/plain`` content type, single-use login codes. Tests drive it
with ``issue_code`` (what wx.login would return) and inject failures with ``fail_next*`` /
``delay_next``.
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

    def fail_next(self, errcode: int, errmsg: str = "", *, times: int = 1) -> None:
        """The next ``times`` calls, whatever their path, answer this errcode."""
        body = json.dumps({"errcode": errcode, "errmsg": errmsg or f"fake error {errcode}"})
        with self._lock:
            self._failures.extend([(200, body)] * times)

    def fail_next_http(self, status: int, body: str = "") -> None:
        """The next call answers this HTTP status with this raw body (garbage allowed)."""
        with self._lock:
            self._failures.append((status, body))

    def delay_next(self, seconds: float) -> None:
        """The next call sleeps this long before answering."""
        with self._lock:
            self._delays.append(seconds)

    @property
    def requests(self) -> list[tuple[str, str, dict[str, str]]]:
        """(method, path, query) of every request seen since the last reset()."""
        with self._lock:
            return list(self._log)

    def reset(self) -> None:
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        self._codes: dict[str, _Login] = {}
        self._used: set[str] = set()
        self._failures: deque[tuple[int, str]] = deque()
        self._delays: deque[float] = deque()
        self._log: list[tuple[str, str, dict[str, str]]] = []

    # -- HTTP -----------------------------------------------------------------------------

    def _wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:
            self._log.append((request.method, request.path, request.args.to_dict()))
            delay = self._delays.popleft() if self._delays else 0.0
            failure = self._failures.popleft() if self._failures else None
        if delay:
            time.sleep(delay)  # outside the lock, so other requests go on meanwhile
        if failure is not None:
            status, body = failure
            response = Response(body, status=status, content_type="text/plain")
        elif request.path == "/sns/jscode2session":
            response = self._reply(self._jscode2session(request))
        else:
            response = Response("404 Not Found", status=404, content_type="text/plain")
        return response(environ, start_response)

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
