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
