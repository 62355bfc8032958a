"""Pytest fixtures for the fakes; the root conftest loads this module via ``pytest_plugins``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.wechat_pay_server import FakeWeChatPay
from tests.fakes.wechat_server import FakeWeChat


@pytest.fixture(scope="session")
def fake_wechat_server() -> Iterator[FakeWeChat]:
    """One fake WeChat for the whole run: starting a server per test would be slow."""
    with FakeWeChat() as server:
        yield server


@pytest.fixture
def fake_wechat(fake_wechat_server: FakeWeChat) -> FakeWeChat:
    """The shared fake, with codes, queued failures and the request log cleared."""
    fake_wechat_server.reset()
    return fake_wechat_server


@pytest.fixture(scope="session")
def fake_wechat_pay_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeWeChatPay]:
    """One fake WeChat Pay for the whole run (making its RSA keys takes a moment). Its key files
    (``merchant_private_key_path``, ``public_key_path``) sit in a temporary directory."""
    with FakeWeChatPay(key_dir=tmp_path_factory.mktemp("wechatpay-keys")) as server:
        yield server


@pytest.fixture
def fake_wechat_pay(fake_wechat_pay_server: FakeWeChatPay) -> FakeWeChatPay:
    """The shared fake WeChat Pay, with orders, refunds, queued trouble and the log cleared."""
    fake_wechat_pay_server.reset()
    return fake_wechat_pay_server


@pytest.fixture
def pay(app, fake_wechat_pay: FakeWeChatPay) -> Iterator[FakeWeChatPay]:
    """WeChat Pay on, pointed at the fake, for one test."""
    fake = fake_wechat_pay
    settings = {
        "WECHATPAY_ENABLED": True,
        "WECHATPAY_API_BASE": fake.base_url,
        "WECHATPAY_MCHID": fake.mchid,
        "WECHATPAY_APIV3_KEY": fake.apiv3_key,
        "WECHATPAY_PRIVATE_KEY_PATH": str(fake.merchant_private_key_path),
        "WECHATPAY_CERT_SERIAL": fake.merchant_serial,
        "WECHATPAY_PUBLIC_KEY_PATH": str(fake.public_key_path),
        "WECHATPAY_PUBLIC_KEY_ID": fake.public_key_id,
        "WECHAT_APPID": fake.appid,
        # WeChat Pay takes only https notify addresses.
        "PUBLIC_BASE_URL": "https://nongjia.test",
    }
    before = {key: app.config[key] for key in settings}
    app.config.update(settings)
    yield fake
    app.config.update(before)


def forget_access_token(app) -> None:
    """No access token left in the app's cache (the fake forgot the one it issued when it was
    reset): the next call fetches one, and every call is counted once."""
    from services.wechat_gateway import wechat_client

    with app.app_context():
        client = wechat_client()
        client._token_cache.delete(client._token_key)


@pytest.fixture
def wechat(app, fake_wechat: FakeWeChat, pay: FakeWeChatPay) -> FakeWeChat:
    """WeChat Pay on (the ``pay`` fake), and the fake mini-program API with a fresh token."""
    forget_access_token(app)
    return fake_wechat
