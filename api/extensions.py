"""Extensions created unbound; ``create_app`` binds them."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_smorest import Api

from api.schemas.common import ErrorSchema
from models.base import db

__all__ = ["api", "db", "limiter", "migrate"]

migrate = Migrate()


class NongjiaApi(Api):
    # Every documented error uses the one error shape.
    ERROR_SCHEMA = ErrorSchema
    # No catch-all "default" response: each operation lists the statuses it can answer, so a
    # status it does not list is a bug the fuzzer (tests/api/test_fuzz.py) reports.
    DEFAULT_ERROR_RESPONSE_NAME = None


api = NongjiaApi()


def _client_key() -> str:
    # Behind a proxy the app sees the proxy's address; ProxyFix (PROXY_FIX_HOPS, set up in
    # create_app) makes remote_addr the client again, so one key function serves both.
    return get_remote_address() or "unknown"


limiter = Limiter(key_func=_client_key, default_limits=[], headers_enabled=True)
