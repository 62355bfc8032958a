"""Login through the fake WeChat server, staff and dev login, tokens, logout, rate limits."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from api.extensions import limiter
from models import AuthToken, User, db
from models.base import utcnow
from models.enums import Role
from services import pii
from tests.factories import assert_error

LOGIN = "/api/v1/auth/wechat-login"


def test_wechat_login_creates_a_buyer_and_keeps_session_key_server_side(app, client, fake_wechat):
    code = fake_wechat.issue_code("oOPENID-1", unionid="uUNION-1", session_key="SK-very-secret")
    response = client.post(LOGIN, json={"code": code})
    assert response.status_code == 200
    body = response.json
    assert body["token_type"] == "Bearer" and len(body["token"]) >= 40
    assert [r["role"] for r in body["user"]["roles"]] == [Role.BUYER.value]
    assert "SK-very-secret" not in response.get_data(as_text=True)
    assert "oOPENID-1" not in response.get_data(as_text=True)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.openid == "oOPENID-1"))
        assert user.unionid == "uUNION-1"
        assert "SK-very-secret" not in user.session_key_cipher
        assert pii.decrypt(user.session_key_cipher) == "SK-very-secret"
        token = db.session.scalar(select(AuthToken).where(AuthToken.user_id == user.id))
        assert body["token"] not in token.token_hash  # only the hash is stored
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.json["id"] == body["user"]["id"]
    assert fake_wechat.requests[0][1] == "/sns/jscode2session"


def test_same_openid_logs_into_the_same_user(client, fake_wechat):
    first = client.post(LOGIN, json={"code": fake_wechat.issue_code("oSAME")}).json
    second = client.post(LOGIN, json={"code": fake_wechat.issue_code("oSAME")}).json
    assert first["user"]["id"] == second["user"]["id"]
    assert first["token"] != second["token"]


@pytest.mark.parametrize(
    "errcode, status, error",
    [
        (40029, 401, "invalid_wechat_code"),
        (40163, 401, "invalid_wechat_code"),
        (45011, 429, "wechat_rate_limited"),
        (40226, 403, "wechat_risky_user"),
        (40125, 503, "wechat_unavailable"),
        (-1, 503, "wechat_unavailable"),
    ],
)
def test_wechat_errors_map_to_clear_answers(app, client, fake_wechat, errcode, status, error):
    fake_wechat.fail_next(errcode, "fake", times=3)
    response = client.post(LOGIN, json={"code": "any-code"})
    assert_error(response, status, error)
    with app.app_context():
        assert db.session.scalar(select(User.id)) is None


def test_unknown_and_reused_codes_are_refused(client, fake_wechat):
    assert_error(client.post(LOGIN, json={"code": "never-issued"}), 401, "invalid_wechat_code")
    code = fake_wechat.issue_code("oONCE")
    assert client.post(LOGIN, json={"code": code}).status_code == 200
    assert_error(client.post(LOGIN, json={"code": code}), 401, "invalid_wechat_code")


def test_wechat_down_is_503(client, fake_wechat):
    fake_wechat.fail_next_http(502, "<html>bad gateway</html>")
    assert_error(client.post(LOGIN, json={"code": "x"}), 503, "wechat_unavailable")


def test_wechat_login_needs_a_code(client):
    assert_error(client.post(LOGIN, json={}), 422, "validation_error")
    assert_error(client.post(LOGIN, json={"code": ""}), 422, "validation_error")


def test_dev_login_is_404_when_disabled(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "DEV_LOGIN_ENABLED", False)
    assert_error(client.post("/api/v1/auth/dev-login", json={"openid": "x"}), 404, "not_found")


def test_dev_login_rejects_odd_openids(client):
    assert_error(
        client.post("/api/v1/auth/dev-login", json={"openid": "a b"}), 422, "validation_error"
    )


def test_staff_login(client, world):
    world.staff()  # creates staff-340323-N with the factory password
    with client.application.app_context():
        username = db.session.scalar(select(User.username).where(User.username.isnot(None)))
    ok = client.post(
        "/api/v1/auth/staff-login",
        json={"username": username, "password": "correct horse battery staple"},
    )
    assert ok.status_code == 200
    assert ok.json["user"]["roles"][0]["role"] == "county_staff"
    wrong = client.post("/api/v1/auth/staff-login", json={"username": username, "password": "nope"})
    unknown = client.post("/api/v1/auth/staff-login", json={"username": "ghost", "password": "x"})
    assert (
        assert_error(wrong, 401, "invalid_credentials")["message"]
        == assert_error(unknown, 401, "invalid_credentials")["message"]
    )


def test_logout_revokes_the_token(client, world):
    person = world.user()
    assert client.post("/api/v1/auth/logout", headers=person.headers).status_code == 204
    assert_error(client.get("/api/v1/me", headers=person.headers), 401, "token_invalid")


def test_expired_token_is_401(app, client, world):
    person = world.user()
    with app.app_context():
        token = db.session.scalar(select(AuthToken).where(AuthToken.user_id == person.id))
        token.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert_error(client.get("/api/v1/me", headers=person.headers), 401, "token_invalid")


def test_disabled_user_token_is_401(app, client, world):
    person = world.user()
    with app.app_context():
        db.session.get(User, person.id).is_active = False
        db.session.commit()
    assert_error(client.get("/api/v1/me", headers=person.headers), 401, "token_invalid")


def _console_username(app, person) -> str:
    with app.app_context():
        return db.session.get(User, person.id).username


def test_set_password_command_prints_a_generated_password(app, client, world):
    staff = world.staff()
    username = _console_username(app, staff)
    result = app.test_cli_runner().invoke(args=["users", "set-password", "--username", username])
    assert result.exit_code == 0, result.output
    password = re.search(r"new password for #\d+ \S+: (\S+);", result.output).group(1)
    login = client.post(
        "/api/v1/auth/staff-login", json={"username": username, "password": password}
    )
    assert login.status_code == 200


@pytest.mark.parametrize(
    "args,error",
    [
        (["set-password", "--username", "{username}", "--password", "short"], "weak_password"),
        (["set-password", "--username", "ghost", "--password", "long-enough-1"], "user_not_found"),
        (["deactivate", "--user-id", "999999"], "user_not_found"),
        (["revoke", "--user-id", "999999", "--role", "buyer"], "user_not_found"),
        (["revoke", "--user-id", "{user_id}", "--role", "platform_admin"], "grant_not_found"),
    ],
)
def test_refused_account_commands_keep_the_sessions(app, client, world, args, error):
    staff = world.staff()
    filled = [a.format(username=_console_username(app, staff), user_id=staff.id) for a in args]
    result = app.test_cli_runner().invoke(args=["users", *filled])
    assert result.exit_code != 0
    assert error in result.output
    assert client.get("/api/v1/me", headers=staff.headers).status_code == 200


def test_deactivating_twice_is_harmless(app, client, world):
    person = world.user()
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["users", "deactivate", "--user-id", str(person.id)])
        assert result.exit_code == 0, result.output
    assert_error(client.get("/api/v1/me", headers=person.headers), 401, "token_invalid")


@pytest.mark.parametrize(
    "header, error",
    [
        ("", "unauthorized"),
        ("Bearer", "unauthorized"),
        ("Bearer ", "unauthorized"),
        ("Basic abc", "unauthorized"),
        ("Token abc", "unauthorized"),
        # Only a bearer token that is there but unknown is an invalid (or expired) one.
        ("Bearer not-a-real-token", "token_invalid"),
    ],
)
def test_bad_authorization_headers_are_401(client, header, error):
    response = client.get("/api/v1/me", headers={"Authorization": header} if header else {})
    assert_error(response, 401, error)


def test_login_is_rate_limited(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "3 per minute")
    limiter.reset()
    try:
        answers = [
            client.post("/api/v1/auth/dev-login", json={"openid": f"rl{i}"}).status_code
            for i in range(4)
        ]
        assert answers == [200, 200, 200, 429]
        last = client.post("/api/v1/auth/dev-login", json={"openid": "rl9"})
        assert_error(last, 429, "rate_limited")
        assert "Retry-After" in last.headers or "X-RateLimit-Reset" in last.headers
    finally:
        limiter.reset()


def _redis_up() -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.2).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_rate_limits_are_shared_through_redis(tmp_path):
    """Two app instances (two gunicorn workers, two hosts) count against one limit in Redis."""
    import secrets

    from api.app import create_app

    prefix = f"nongjia-test-{secrets.token_hex(4)}"

    def instance():
        return create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'redis.db'}",
                "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
                "RATELIMIT_KEY_PREFIX": prefix,
                "LOGIN_RATE_LIMIT": "2 per minute",
            }
        ).test_client()

    first, second = instance(), instance()
    # The body is invalid on purpose: the limit is counted before the body is read.
    codes = [
        c.post("/api/v1/auth/staff-login", json={}).status_code for c in (first, second, first)
    ]
    assert codes == [422, 422, 429]
