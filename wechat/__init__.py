"""Thin in-house clients for the WeChat APIs, with every host configurable (DESIGN.md §4)."""

from wechat.client import (
    AccessTokenCache,
    Code2Session,
    ContentVerdict,
    MemoryTokenCache,
    MiniProgramClient,
    RedisTokenCache,
)
from wechat.errors import (
    AccessTokenInvalid,
    InvalidCode,
    InvalidOpenId,
    RateLimited,
    RiskyContent,
    RiskyUser,
    UserNotRecent,
    WeChatBusy,
    WeChatConfigError,
    WeChatError,
    WeChatUnavailable,
    raise_for_errcode,
)

__all__ = [
    "AccessTokenCache",
    "AccessTokenInvalid",
    "Code2Session",
    "ContentVerdict",
    "InvalidCode",
    "InvalidOpenId",
    "MemoryTokenCache",
    "MiniProgramClient",
    "RateLimited",
    "RedisTokenCache",
    "RiskyContent",
    "RiskyUser",
    "UserNotRecent",
    "WeChatBusy",
    "WeChatConfigError",
    "WeChatError",
    "WeChatUnavailable",
    "raise_for_errcode",
]
