"""Pytest fixtures for the fakes; the root conftest loads this module via ``pytest_plugins``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
