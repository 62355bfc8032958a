"""Extensions created unbound; ``create_app`` binds them."""

from http import HTTPStatus

from apispec import BasePlugin
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_smorest import Api

from api.schemas.common import ErrorSchema
from models.base import db

__all__ = ["api", "db", "limiter", "migrate"]

migrate = Migrate()


class BodyErrorsPlugin(BasePlugin):
    """Document the answers every operation with a request body can give before its arguments
    are parsed: 400 (malformed JSON), 413 (too large) and 415 (not JSON), see api/errors.py."""

    STATUSES = (400, 413, 415)

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        for operation in (operations or {}).values():
            if isinstance(operation, dict) and "requestBody" in operation:
                responses = operation.setdefault("responses", {})
                for status in self.STATUSES:
                    responses.setdefault(str(status), HTTPStatus(status).name)


class NongjiaApi(Api):
    # Every documented error uses the one error shape.
    ERROR_SCHEMA = ErrorSchema
    # No catch-all "default" response: each operation lists the statuses it can answer, so a
    # status it does not list is a bug the fuzzer (tests/api/test_fuzz.py) reports.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _init_spec(self, *, extra_plugins=None, **kwargs):
        plugins = [*(extra_plugins or ()), BodyErrorsPlugin()]
        super()._init_spec(extra_plugins=plugins, **kwargs)


api = NongjiaApi()


def _client_key() -> str:
    # Behind a proxy the app sees the proxy's address; ProxyFix (PROXY_FIX_HOPS, set up in
    # create_app) makes remote_addr the client again, so one key function serves both.
    return get_remote_address() or "unknown"


limiter = Limiter(key_func=_client_key, default_limits=[], headers_enabled=True)
