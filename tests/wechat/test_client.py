"""MiniProgramClient against the loopback fake WeChat (tests/fakes/wechat_server.py)."""

from __future__ import annotations

import pickle

import pytest
import requests

from tests.fakes import FakeWeChat
from tests.wechat.conftest import make_client
from wechat import (
    Code2Session,
    InvalidCode,
    MiniProgramClient,
    RateLimited,
    RiskyUser,
    WeChatBusy,
    WeChatConfigError,
    WeChatError,
    WeChatUnavailable,
    raise_for_errcode,
)

SESSION_KEY = "c2VjcmV0LXNlc3Npb24ta2V5"


def assert_no_secrets(exc: BaseException, *secrets: str) -> None:
    for text in (str(exc), repr(exc)):
        for secret in secrets:
            assert secret not in text


# -- success -------------------------------------------------------------------------------


def test_code2session_without_unionid(fake_wechat, client):
    code = fake_wechat.issue_code("o-farmer-1", session_key=SESSION_KEY)

    result = client.code2session(code)

    assert result == Code2Session(openid="o-farmer-1", session_key=SESSION_KEY, unionid=None)
    [(method, path, query)] = fake_wechat.requests
    assert (method, path) == ("GET", "/sns/jscode2session")
    assert query == {
        "appid": "wxtestappid",
        "secret": "test-secret",
        "js_code": code,
        "grant_type": "authorization_code",
    }


def test_code2session_with_unionid(fake_wechat, client):
    code = fake_wechat.issue_code("o-buyer-2", unionid="u-buyer-2")

    result = client.code2session(code)

    assert (result.openid, result.unionid) == ("o-buyer-2", "u-buyer-2")
    assert result.session_key  # the fake made one up


def test_session_key_hidden_from_repr(fake_wechat, client):
    result = client.code2session(fake_wechat.issue_code("o-1", session_key=SESSION_KEY))

    assert SESSION_KEY not in repr(result)
    assert SESSION_KEY not in str(result)
    assert "o-1" in repr(result)


def test_trailing_slash_in_api_base(fake_wechat):
    client = make_client(fake_wechat, api_base=fake_wechat.base_url + "/")

    assert client.code2session(fake_wechat.issue_code("o-1")).openid == "o-1"


# -- login code errors ---------------------------------------------------------------------


def test_invalid_code_is_not_retried(fake_wechat, client):
    with pytest.raises(InvalidCode) as info:
        client.code2session("not-a-code")

    assert info.value.errcode == 40029
    assert len(fake_wechat.requests) == 1


def test_reused_code(fake_wechat, client):
    code = fake_wechat.issue_code("o-1", session_key=SESSION_KEY)
    client.code2session(code)

    with pytest.raises(InvalidCode) as info:
        client.code2session(code)

    assert info.value.errcode == 40163
    assert_no_secrets(info.value, SESSION_KEY, code, fake_wechat.secret)


@pytest.mark.parametrize(
    ("errcode", "exc_type"),
    [(45011, RateLimited), (45009, RateLimited), (40226, RiskyUser)],
)
def test_errcodes_map_to_exceptions_without_retry(fake_wechat, client, errcode, exc_type):
    fake_wechat.fail_next(errcode, times=3)

    with pytest.raises(exc_type) as info:
        client.code2session(fake_wechat.issue_code("o-1"))

    assert info.value.errcode == errcode
    assert len(fake_wechat.requests) == 1


def test_chinese_errmsg_survives_text_plain(fake_wechat, client):
    # text/plain without charset: decoding as ISO-8859-1 would garble this.
    fake_wechat.fail_next(45011, "请求过于频繁")

    with pytest.raises(RateLimited) as info:
        client.code2session(fake_wechat.issue_code("o-1"))

    assert info.value.errmsg == "请求过于频繁"


# -- busy ----------------------------------------------------------------------------------


def test_busy_once_then_success(fake_wechat, client):
    code = fake_wechat.issue_code("o-1")
    fake_wechat.fail_next(-1, "system error")

    assert client.code2session(code).openid == "o-1"
    assert len(fake_wechat.requests) == 2


def test_busy_twice_exhausts_retries(fake_wechat):
    client = make_client(fake_wechat, busy_retries=1)
    fake_wechat.fail_next(-1, "system error", times=2)

    with pytest.raises(WeChatBusy) as info:
        client.code2session(fake_wechat.issue_code("o-1"))

    assert info.value.errcode == -1
    assert len(fake_wechat.requests) == 2


def test_busy_without_retries(fake_wechat):
    client = make_client(fake_wechat, busy_retries=0)
    fake_wechat.fail_next(-1)

    with pytest.raises(WeChatBusy):
        client.code2session(fake_wechat.issue_code("o-1"))
    assert len(fake_wechat.requests) == 1


# -- configuration -------------------------------------------------------------------------


def test_wrong_secret(fake_wechat):
    client = make_client(fake_wechat, secret="wrong-secret-value")
    code = fake_wechat.issue_code("o-1")

    with pytest.raises(WeChatConfigError) as info:
        client.code2session(code)

    assert info.value.errcode == 40125
    assert len(fake_wechat.requests) == 1
    assert_no_secrets(info.value, "wrong-secret-value", code)
    assert "wrong-secret-value" not in repr(client)


def test_wrong_appid(fake_wechat):
    client = make_client(fake_wechat, appid="wxsomeoneelse")

    with pytest.raises(WeChatConfigError) as info:
        client.code2session(fake_wechat.issue_code("o-1"))

    assert info.value.errcode == 40013


# -- no usable answer ----------------------------------------------------------------------


def test_http_502(fake_wechat, client):
    fake_wechat.fail_next_http(502, "<html>Bad Gateway</html>")

    with pytest.raises(WeChatUnavailable) as info:
        client.code2session(fake_wechat.issue_code("o-1"))

    assert info.value.errcode is None
    assert len(fake_wechat.requests) == 1


def test_non_json_body(fake_wechat, client):
    fake_wechat.fail_next_http(200, "<html>not json</html>")

    with pytest.raises(WeChatUnavailable):
        client.code2session(fake_wechat.issue_code("o-1"))


def test_json_without_openid(fake_wechat, client):
    fake_wechat.fail_next_http(200, '{"errcode": 0, "errmsg": "ok"}')

    with pytest.raises(WeChatUnavailable):
        client.code2session(fake_wechat.issue_code("o-1"))


def test_timeout(fake_wechat):
    client = make_client(fake_wechat, timeout=0.3)
    code = fake_wechat.issue_code("o-1")
    fake_wechat.delay_next(1.0)

    with pytest.raises(WeChatUnavailable) as info:
        client.code2session(code)

    assert_no_secrets(info.value, code, fake_wechat.secret)
    assert info.value.__cause__ is None  # requests' message would carry the URL with secrets
    assert len(fake_wechat.requests) == 1


def test_connection_refused():
    with FakeWeChat() as fake:
        base_url, appid, secret = fake.base_url, fake.appid, fake.secret
    client = MiniProgramClient(api_base=base_url, appid=appid, secret=secret)

    with pytest.raises(WeChatUnavailable) as info:
        client.code2session("some-code")

    assert_no_secrets(info.value, "some-code", secret)


def test_logs_hold_no_secrets(fake_wechat, client, caplog):
    code = fake_wechat.issue_code("o-1", session_key=SESSION_KEY)
    client.code2session(code)
    fake_wechat.fail_next(40226)
    with caplog.at_level("DEBUG", logger="wechat"), pytest.raises(RiskyUser):
        client.code2session(fake_wechat.issue_code("o-2"))

    assert "40226" in caplog.text
    for secret in (SESSION_KEY, code, fake_wechat.secret):
        assert secret not in caplog.text


# -- errors module -------------------------------------------------------------------------


def test_raise_for_errcode_passes_success_and_unknown_codes_are_generic():
    raise_for_errcode({"openid": "o"})
    raise_for_errcode({"errcode": 0, "errmsg": "ok"})
    with pytest.raises(WeChatError) as info:
        raise_for_errcode({"errcode": 99999, "errmsg": "new"})
    assert type(info.value) is WeChatError
    assert str(info.value) == "WeChat errcode 99999: new"


def test_errors_pickle():
    exc = pickle.loads(pickle.dumps(InvalidCode(40029, "invalid code")))
    assert (type(exc), exc.errcode, exc.errmsg) == (InvalidCode, 40029, "invalid code")


# -- the fake itself -----------------------------------------------------------------------


def test_fake_refuses_post(fake_wechat):
    code = fake_wechat.issue_code("o-1")
    query = {"appid": fake_wechat.appid, "secret": fake_wechat.secret, "js_code": code}

    response = requests.post(f"{fake_wechat.base_url}/sns/jscode2session", params=query, timeout=5)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain"
    assert response.json()["errcode"] == 41002


@pytest.mark.parametrize(
    ("drop", "errcode"), [("appid", 41002), ("secret", 41004), ("js_code", 41008)]
)
def test_fake_missing_params(fake_wechat, drop, errcode):
    query = {
        "appid": fake_wechat.appid,
        "secret": fake_wechat.secret,
        "js_code": fake_wechat.issue_code("o-1"),
        "grant_type": "authorization_code",
    }
    del query[drop]

    response = requests.get(f"{fake_wechat.base_url}/sns/jscode2session", params=query, timeout=5)

    assert response.json()["errcode"] == errcode


def test_fake_reset_clears_codes_failures_and_log(fake_wechat, client):
    code = fake_wechat.issue_code("o-1")
    fake_wechat.fail_next(-1, times=5)
    fake_wechat.reset()

    with pytest.raises(InvalidCode):
        client.code2session(code)
    assert len(fake_wechat.requests) == 1
