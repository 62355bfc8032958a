"""A MiniProgramClient pointed at the loopback fake WeChat, for every test here."""

from __future__ import annotations

import pytest

from tests.fakes import FakeWeChat
from wechat import MiniProgramClient


def make_client(fake: FakeWeChat, **overrides) -> MiniProgramClient:
    options = {"api_base": fake.base_url, "appid": fake.appid, "secret": fake.secret}
    return MiniProgramClient(**(options | overrides))


@pytest.fixture
def client(fake_wechat: FakeWeChat) -> MiniProgramClient:
    return make_client(fake_wechat)
