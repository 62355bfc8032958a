"""Domain errors and the machinery of the error-code catalog.

Every error a client can receive has one entry in ``services/error_codes.py``: a stable
snake_case code the mini-program switches on, a short Chinese message a farmer can read in a
toast, and a *kind* (one of the classes below). Services raise by code::

    raise ProductError.REVIEW_PENDING(errors={"status": ["pending"]})

The kind says what went wrong in terms any client understands (not found, conflict, ...);
``api/errors.py`` maps each kind to its HTTP status, so no status is written below ``api/``.
"""

from __future__ import annotations

from enum import Enum
from typing import TypeVar


class DomainError(Exception):
    """Raised by services with one catalog entry and optional field details."""

    def __init__(self, entry: ErrorCode, *, errors: dict | None = None) -> None:
        if not isinstance(self, entry.kind):
            raise TypeError(f"{entry.code} is a {entry.kind.__name__}, not {type(self).__name__}")
        self.entry = entry
        self.code = entry.code
        self.message = entry.message
        self.errors = errors
        super().__init__(entry.code)


# The kinds. Tests and callers may catch a kind; services raise catalog entries.
class BadRequest(DomainError):
    """The request cannot be read at all (not JSON, not UTF-8 ...)."""


class NotAuthenticated(DomainError):
    """No usable credentials."""


class PermissionDenied(DomainError):
    """The caller may see the object but not do this with it."""


class NotFound(DomainError):
    """No such object, or one the caller may not see (its existence is not revealed)."""


class MethodNotAllowed(DomainError):
    pass


class NotAcceptable(DomainError):
    pass


class Conflict(DomainError):
    """The request clashes with data that exists (a duplicate, a race lost)."""


class InvalidState(DomainError):
    """The object's state does not allow this action now."""


class PayloadTooLarge(DomainError):
    pass


class PreconditionRequired(DomainError):
    """A header the operation needs was not sent (an ``Idempotency-Key``)."""


class UriTooLong(DomainError):
    pass


class UnsupportedMedia(DomainError):
    """The body is of a type the endpoint does not take."""


class InvalidInput(DomainError):
    """Well-formed, but the values break a rule."""


class RateLimited(DomainError):
    pass


class InternalError(DomainError):
    """A bug on our side; details go to the log, never to the client."""


class UpstreamUnavailable(DomainError):
    """A service we depend on (WeChat, storage, the database) is unavailable for now."""


KINDS: tuple[type[DomainError], ...] = (
    BadRequest,
    NotAuthenticated,
    PermissionDenied,
    NotFound,
    MethodNotAllowed,
    NotAcceptable,
    Conflict,
    InvalidState,
    PayloadTooLarge,
    PreconditionRequired,
    UriTooLong,
    UnsupportedMedia,
    InvalidInput,
    RateLimited,
    InternalError,
    UpstreamUnavailable,
)


class ErrorCode(Enum):
    """Base of the per-domain catalogs. A member is declared as ``NAME = (code, message, kind)``
    and is called to make the exception: ``raise ShopError.SHOP_EXISTS()``."""

    code: str
    message: str
    kind: type[DomainError]

    def __new__(cls, code: str, message: str, kind: type[DomainError]) -> ErrorCode:
        entry = object.__new__(cls)
        entry._value_ = code
        entry.code, entry.message, entry.kind = code, message, kind
        return entry

    def __call__(self, *, errors: dict | None = None) -> DomainError:
        return self.kind(self, errors=errors)

    @property
    def domain(self) -> str:
        return type(self).__name__.removesuffix("Error")


# Every code of every domain, in declaration order.
_REGISTRY: dict[str, ErrorCode] = {}
C = TypeVar("C", bound=type[ErrorCode])


def register(catalog: C) -> C:
    """Class decorator of each domain catalog: refuses a code declared twice (``Enum`` would
    silently turn a repeated value into an alias) and a kind the API cannot answer."""
    if len(catalog._member_names_) != len(catalog.__members__):
        raise ValueError(f"{catalog.__name__} declares a code twice")
    for entry in catalog:
        if entry.code in _REGISTRY:
            raise ValueError(f"error code {entry.code!r} declared twice")
        if entry.kind not in KINDS:
            raise ValueError(f"{entry.code}: unknown kind {entry.kind!r}")
        _REGISTRY[entry.code] = entry
    return catalog


def all_codes() -> dict[str, ErrorCode]:
    """Every catalog entry by code, in declaration order."""
    import services.error_codes  # noqa: F401  (importing it declares the catalogs)

    return dict(_REGISTRY)
