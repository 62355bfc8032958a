"""Fakes of external services that speak the real protocol on loopback (DESIGN.md §5)."""

from tests.fakes.wechat_server import FakeWeChat

__all__ = ["FakeWeChat"]
