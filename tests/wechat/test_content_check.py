"""stable_token caching, passive refresh and msgSecCheck v2 against the loopback fake WeChat."""

from __future__ import annotations

import json
import secrets
import socket
import threading

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.fakes import FakeWeChat
from tests.wechat.conftest import make_client
from wechat.client import (
    CONTENT_CHUNK,
    ContentVerdict,
    MemoryTokenCache,
    MiniProgramClient,
    RedisTokenCache,
    _chunks,
)
from wechat.errors import (
    AccessTokenInvalid,
    InvalidOpenId,
    UserNotRecent,
    WeChatConfigError,
    WeChatUnavailable,
)

TOKEN = "/cgi-bin/stable_token"
CHECK = "/wxa/msg_sec_check"
OPENID = "o-farmer-1"


def check(client: MiniProgramClient, content: str = "新鲜土鸡蛋", **extra) -> ContentVerdict:
    return client.msg_sec_check(openid=OPENID, content=content, **extra)


def posted(fake: FakeWeChat, path: str) -> list[dict]:
    return [
        json.loads(body)
        for (_, seen, _), body in zip(fake.requests, fake.bodies, strict=True)
        if seen == path
    ]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- access_token ------------------------------------------------------------------------


def test_token_fetched_once_and_reused(fake_wechat, client):
    token = client.access_token()
    check(client)
    check(client)

    assert client.access_token() == token
    assert fake_wechat.calls(TOKEN) == 1
    assert posted(fake_wechat, TOKEN) == [
        {
            "grant_type": "client_credential",
            "appid": fake_wechat.appid,
            "secret": fake_wechat.secret,
            "force_refresh": False,
        }
    ]
    # The secret travels in the body only; the token in the query only (47001 otherwise).
    assert all("secret" not in query for _, _, query in fake_wechat.requests)
    assert [query["access_token"] for _, path, query in fake_wechat.requests if path == CHECK] == [
        token,
        token,
    ]


def test_token_shared_across_threads(fake_wechat, client):
    barrier = threading.Barrier(12)
    verdicts: list[ContentVerdict] = []

    def work() -> None:
        barrier.wait()
        verdicts.append(check(client))

    threads = [threading.Thread(target=work) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [v.suggest for v in verdicts] == ["pass"] * 12
    assert fake_wechat.calls(TOKEN) == 1
    assert fake_wechat.calls(CHECK) == 12


def test_token_refetched_when_300_seconds_or_less_remain(fake_wechat):
    clock = FakeClock()
    client = make_client(fake_wechat, token_cache=MemoryTokenCache(clock=clock))
    client.access_token()

    clock.now += 7200 - 301
    client.access_token()
    assert fake_wechat.calls(TOKEN) == 1

    clock.now += 2
    client.access_token()
    assert fake_wechat.calls(TOKEN) == 2


def test_memory_cache_forgets_expired_entries():
    clock = FakeClock()
    cache = MemoryTokenCache(clock=clock)
    cache.set("k", "t", 10)

    assert cache.get("k") == ("t", 10)
    clock.now += 10
    assert cache.get("k") is None
    cache.set("k", "t", 10)
    cache.delete("k")
    assert cache.get("k") is None


def test_passive_refresh_after_expiry(fake_wechat, client):
    old = client.access_token()
    fake_wechat.expire_tokens()
    before = len(fake_wechat.requests)

    assert check(client).suggest == "pass"

    paths = [path for _, path, _ in fake_wechat.requests[before:]]
    assert paths == [CHECK, TOKEN, CHECK]
    assert client.access_token() != old
    assert posted(fake_wechat, TOKEN)[-1]["force_refresh"] is False


@pytest.mark.parametrize("errcode", [40001, 42001, 40014])
def test_passive_refresh_retries_once_never_loops(fake_wechat, client, errcode):
    client.access_token()
    fake_wechat.fail_next(errcode, times=5, path=CHECK)

    with pytest.raises(AccessTokenInvalid) as info:
        check(client)

    assert info.value.errcode == errcode
    assert fake_wechat.calls(CHECK) == 2
    assert fake_wechat.calls(TOKEN) == 2


def test_bad_secret_is_a_config_error(fake_wechat):
    client = make_client(fake_wechat, secret="wrong-secret-value")

    with pytest.raises(WeChatConfigError) as info:
        check(client)

    assert info.value.errcode == 40125
    assert fake_wechat.calls(TOKEN) == 1
    assert "wrong-secret-value" not in str(info.value)


# -- verdicts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "suggest", "label"),
    [
        ("自家种的红薯，软糯香甜", "pass", 100),
        ("保证最低价，加微信返现", "review", 20006),
        ("这里有违禁品出售", "risky", 20001),
    ],
)
def test_verdicts(fake_wechat, client, content, suggest, label):
    fake_wechat.set_review_words(["返现"])
    fake_wechat.set_risky_words(["违禁品"])

    verdict = check(client, content)

    assert (verdict.suggest, verdict.label) == (suggest, label)
    assert verdict.trace_id


def test_body_fields_and_optional_ones_omitted(fake_wechat, client):
    fake_wechat.set_risky_words(["违禁"])

    verdict = check(client, "红薯", scene=3, title="违禁标题")

    assert verdict.suggest == "risky"  # the title is checked too
    [body] = posted(fake_wechat, CHECK)
    assert body == {
        "version": 2,
        "openid": OPENID,
        "scene": 3,
        "content": "红薯",
        "title": "违禁标题",
    }


def test_label_sent_as_string(fake_wechat, client):
    answer = {"errcode": 0, "errmsg": "ok", "result": {"suggest": "review", "label": "20006"}}
    fake_wechat.fail_next_http(200, json.dumps(answer), path=CHECK)

    assert check(client) == ContentVerdict("review", 20006, None)


def test_v1_risky_errcode_is_a_risky_verdict(fake_wechat, client):
    fake_wechat.fail_next(87014, "risky content", path=CHECK)

    assert check(client).suggest == "risky"


def test_answer_without_suggest_is_unavailable(fake_wechat, client):
    fake_wechat.fail_next_http(200, '{"errcode": 0, "errmsg": "ok"}', path=CHECK)

    with pytest.raises(WeChatUnavailable):
        check(client)


def test_chinese_content_sent_unescaped(fake_wechat, client):
    fake_wechat.set_review_words(["土鸡蛋"])
    content = "农家散养土鸡蛋，每天现捡 🥚"

    assert check(client, content).suggest == "review"
    [raw] = [
        body
        for (_, path, _), body in zip(fake_wechat.requests, fake_wechat.bodies, strict=True)
        if path == CHECK
    ]
    assert content.encode() in raw
    assert b"\\u" not in raw


# -- long content --------------------------------------------------------------------------


def test_chunks_cover_content_within_limit():
    content = "".join(chr(0x4E00 + i % 500) for i in range(6000))

    pieces = _chunks(content)

    assert all(len(piece) <= CONTENT_CHUNK for piece in pieces)
    assert pieces[0] == content[:CONTENT_CHUNK] and content.endswith(pieces[-1])
    assert _chunks("短") == ["短"]
    assert _chunks("") == [""]


def test_long_content_chunked_and_worst_verdict_wins(fake_wechat, client):
    fake_wechat.set_review_words(["返现"])
    fake_wechat.set_risky_words(["违禁品"])
    content = "返现" + "好" * 3000 + "违禁品" + "好" * 1000

    verdict = check(client, content)

    assert (verdict.suggest, verdict.label) == ("risky", 20001)
    sent = [body["content"] for body in posted(fake_wechat, CHECK)]
    assert len(sent) == 2
    assert all(len(piece) <= CONTENT_CHUNK for piece in sent)


def test_long_content_review_beats_pass(fake_wechat, client):
    fake_wechat.set_review_words(["返现"])

    verdict = check(client, "好" * 4000 + "返现")

    assert verdict.suggest == "review"
    assert fake_wechat.calls(CHECK) == 2


def test_long_content_stops_at_first_risky_chunk(fake_wechat, client):
    fake_wechat.set_risky_words(["违禁品"])

    assert check(client, "违禁品" + "好" * 7000).suggest == "risky"
    assert fake_wechat.calls(CHECK) == 1


def test_word_straddling_a_chunk_boundary_is_caught(fake_wechat, client):
    fake_wechat.set_risky_words(["违禁品"])
    content = "好" * (CONTENT_CHUNK - 1) + "违禁品" + "好" * 100

    assert check(client, content).suggest == "risky"


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("errcode", "exc_type"),
    [(40003, InvalidOpenId), (43104, InvalidOpenId), (61010, UserNotRecent)],
)
def test_openid_errors(fake_wechat, client, errcode, exc_type):
    fake_wechat.fail_next(errcode, path=CHECK)

    with pytest.raises(exc_type) as info:
        check(client)

    assert info.value.errcode == errcode
    assert fake_wechat.calls(CHECK) == 1


def test_connection_refused_is_unavailable():
    with FakeWeChat() as fake:
        client = make_client(fake)

    with pytest.raises(WeChatUnavailable):
        check(client)


def test_http_error_on_check_is_unavailable(fake_wechat, client):
    fake_wechat.fail_next_http(502, "<html>Bad Gateway</html>", path=CHECK)

    with pytest.raises(WeChatUnavailable):
        check(client)


# -- Redis token cache ---------------------------------------------------------------------


@pytest.fixture
def redis_client(redis_url):
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=0.5)
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client):
    prefix = f"test-{secrets.token_hex(8)}:"
    yield prefix
    keys = list(redis_client.scan_iter(match=prefix + "*"))
    if keys:
        redis_client.delete(*keys)


def test_redis_cache_shared_by_two_clients(fake_wechat, redis_client, redis_prefix):
    first, second = (
        make_client(fake_wechat, token_cache=RedisTokenCache(redis_client, redis_prefix))
        for _ in range(2)
    )

    assert check(first).suggest == "pass"
    assert check(second).suggest == "pass"

    assert fake_wechat.calls(TOKEN) == 1
    assert first.access_token() == second.access_token()
    [key] = redis_client.scan_iter(match=redis_prefix + "*")
    assert 7100 < redis_client.ttl(key) <= 7200


def test_redis_cache_roundtrip(redis_client, redis_prefix):
    cache = RedisTokenCache(redis_client, redis_prefix)

    assert cache.get("k") is None
    cache.set("k", "t", 60)
    token, ttl = cache.get("k")
    assert token == "t" and 59 < ttl <= 60
    cache.delete("k")
    assert cache.get("k") is None


def test_redis_outage_falls_back_to_fetching(fake_wechat):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # No retries: redis-py 8 otherwise backs off for seconds on every refused connection.
    dead = redis.Redis(host="127.0.0.1", port=port, retry=Retry(NoBackoff(), 0))
    client = make_client(fake_wechat, token_cache=RedisTokenCache(dead, "x:"))

    assert check(client).suggest == "pass"
    assert fake_wechat.calls(TOKEN) == 1
