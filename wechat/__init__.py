"""Thin in-house clients for the WeChat APIs, with every host configurable (DESIGN.md §4)."""

from wechat.client import Code2Session, MiniProgramClient
from wechat.errors import (
    AccessTokenInvalid,
    InvalidCode,
    RateLimited,
    RiskyUser,
    WeChatBusy,
    WeChatConfigError,
    WeChatError,
    WeChatUnavailable,
    raise_for_errcode,
)

__all__ = [
    "AccessTokenInvalid",
    "Code2Session",
    "InvalidCode",
    "MiniProgramClient",
    "RateLimited",
    "RiskyUser",
    "WeChatBusy",
    "WeChatConfigError",
    "WeChatError",
    "WeChatUnavailable",
    "raise_for_errcode",
]
