"""Domain errors raised by services. Each has a stable snake_case ``code`` the mini-program
switches on and a short Chinese ``message`` a farmer can read in a toast. The HTTP status of each
class lives in one table in ``api/errors.py``; services never build responses."""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"
    message = "请求无法完成"

    def __init__(
        self, message: str | None = None, *, code: str | None = None, errors: dict | None = None
    ) -> None:
        self.message = message or type(self).message
        self.code = code or type(self).code
        self.errors = errors
        super().__init__(self.code)


class NotAuthenticated(DomainError):
    code = "unauthorized"
    message = "请先登录"


class PermissionDenied(DomainError):
    code = "forbidden"
    message = "无操作权限"


class NotFound(DomainError):
    code = "not_found"
    message = "内容不存在"


class InvalidInput(DomainError):
    code = "validation_error"
    message = "填写的信息有误"


class UnsupportedMedia(DomainError):
    """The uploaded file is of a type the endpoint does not take (415)."""

    code = "unsupported_type"
    message = "不支持的文件类型"


class PayloadTooLarge(DomainError):
    """The uploaded file is larger than the endpoint takes (413)."""

    code = "file_too_large"
    message = "文件太大"


class Conflict(DomainError):
    code = "conflict"
    message = "数据已存在或已变化"


class InvalidState(DomainError):
    code = "invalid_state"
    message = "当前状态不能进行此操作"


class UpstreamUnavailable(DomainError):
    code = "service_unavailable"
    message = "系统繁忙，请稍后再试"


class RateLimited(DomainError):
    code = "rate_limited"
    message = "操作太频繁，请稍后再试"
