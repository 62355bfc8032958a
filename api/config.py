"""Every setting of the app, declared once: ``SETTINGS`` (read from the environment), ``FIXED``
(the same in every deployment) and ``DERIVED`` (computed from settings).

Local defaults give a working app (SQLite under instance/, dev login on). ``APP_ENV=production``
refuses to start without its secrets and turns dev-only features off; each setting's row says
what production demands of it. The README's configuration table lists the same rows
(tests/unit/test_config.py holds them together).

Adding a setting is adding one row::

    Setting("WECHATPAY_MCHID", str, "", "merchant number of WeChat Pay",
            required=Required(when=When("PAYMENTS_ENABLED")))

and one row in the README's table. Read it as ``current_app.config["WECHATPAY_MCHID"]``.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from media.images import MAX_BYTES

DEV_SECRET = "dev-only-secret-key-not-for-production"
# 32 bytes, base64url: only ever used outside production.
DEV_PII_KEY = "ZGV2LW9ubHktcGlpLWtleS0zMi1ieXRlcy1sb25nISE="
MEDIA_BACKENDS = ("local", "s3")


class ConfigError(RuntimeError):
    """Raised at start-up when the configuration is incomplete or a value cannot be read."""


# --- how values are read --------------------------------------------------------------------

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(raw)


# The type of a setting decides how its environment text is read.
PARSERS: dict[type, Callable[[str], Any]] = {str: str, int: int, float: float, bool: parse_bool}
_TYPE_NAMES = {str: "text", int: "an integer", float: "a number", bool: "1 or 0"}


def normalise_database_url(url: str) -> str:
    """Accept the common ``postgres://`` spellings and route them to psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _no_trailing_slash(url: str) -> str:
    return url.rstrip("/")


def _basis_points(value: int) -> int:
    if not 0 <= value <= 10_000:
        raise ConfigError("PLATFORM_FEE_BPS must be between 0 and 10000")
    return value


def _positive(value: int) -> int:
    if value <= 0:
        raise ConfigError("PAYOUT_DAILY_CAP_FEN must be positive")
    return value


def _remark(value: str) -> str:
    if not 0 < len(value) <= 32:
        raise ConfigError("WECHATPAY_TRANSFER_REMARK must be 1 to 32 characters")
    return value


def _report_infos(raw: str) -> str:
    """Checked at start-up: a JSON list of {info_type, info_content} strings (WeChat refuses a
    transfer without them). Kept as text; services/payouts.py reads it."""
    try:
        infos = json.loads(raw)
    except ValueError:
        raise ConfigError("WECHATPAY_TRANSFER_REPORT_INFOS must be JSON") from None
    if not (
        isinstance(infos, list)
        and infos
        and all(
            isinstance(i, dict)
            and set(i) == {"info_type", "info_content"}
            and all(isinstance(v, str) and v for v in i.values())
            for i in infos
        )
    ):
        raise ConfigError(
            "WECHATPAY_TRANSFER_REPORT_INFOS must be a list of {info_type, info_content}"
        )
    return raw


def _lower(value: str) -> str:
    return value.strip().lower()


# --- the vocabulary of the table -------------------------------------------------------------


@dataclass(frozen=True)
class When:
    """A condition on another setting (named by its environment variable): true when that
    setting equals ``value``, or, without a value, when it is set (on, non-empty, non-zero)."""

    setting: str
    value: Any = None

    def holds(self, values_by_env: Mapping[str, Any]) -> bool:
        current = values_by_env[self.setting]
        return bool(current) if self.value is None else current == self.value

    def __str__(self) -> str:
        return f"{self.setting}={'1' if self.value is None else self.value}"


@dataclass(frozen=True)
class Required:
    """The setting must not be empty: in production (where its local default does not apply),
    or with ``everywhere=True`` in every environment; with ``when``, only while that holds."""

    when: When | None = None
    everywhere: bool = False

    def applies(self, production: bool, values_by_env: Mapping[str, Any]) -> bool:
        if not (production or self.everywhere):
            return False
        return self.when is None or self.when.holds(values_by_env)


REQUIRED_IN_PRODUCTION = Required()
# The WeChat Pay settings: needed in production once payments are on.
PAYMENTS_ON = Required(when=When("WECHATPAY_ENABLED"))


@dataclass(frozen=True)
class Setting:
    env: str  # the environment variable
    type: type  # str, int, float or bool: PARSERS[type] reads the text
    # Local default: a value, or a function of the instance path.
    default: Any
    meaning: str  # one line; the README's table says more where needed
    key: str = ""  # Flask config key when it differs from the variable's name
    normalise: Callable[[Any], Any] | None = None  # applied to environment values and defaults
    choices: tuple = ()  # allowed values (after normalising), in every environment
    required: Required | None = None
    production_value: Any = None  # not None: the value in production, whatever the environment
    # Production refuses the local default even when the environment spells it out.
    production_not_default: bool = False
    secret: bool = False  # never shown (the README says "dev value")

    @property
    def flask_key(self) -> str:
        return self.key or self.env

    def local_default(self, instance_path: str) -> Any:
        value = self.default(instance_path) if callable(self.default) else self.default
        return self.normalise(value) if self.normalise else value

    def read(self, raw: str) -> Any:
        try:
            value = PARSERS[self.type](raw)
        except ValueError:
            shown = "a secret" if self.secret else repr(raw)
            raise ConfigError(f"{self.env} must be {_TYPE_NAMES[self.type]}, not {shown}") from None
        return self.normalise(value) if self.normalise else value


@dataclass(frozen=True)
class Derived:
    key: str
    compute: Callable[[Mapping[str, Any]], Any]  # from the settings, by Flask key
    meaning: str


# --- the table ---------------------------------------------------------------------------------

SETTINGS: tuple[Setting, ...] = (
    Setting("APP_ENV", str, "development", "`production` enforces the production rules below"),
    Setting(
        "DATABASE_URL",
        str,
        lambda instance: f"sqlite:///{instance}/nongjia.db",
        "SQLAlchemy URL of the database",
        key="SQLALCHEMY_DATABASE_URI",
        normalise=normalise_database_url,
        required=REQUIRED_IN_PRODUCTION,
    ),
    Setting(
        "SECRET_KEY",
        str,
        DEV_SECRET,
        "Flask secret",
        required=REQUIRED_IN_PRODUCTION,
        production_not_default=True,
        secret=True,
    ),
    Setting(
        "PII_ENCRYPTION_KEY",
        str,
        DEV_PII_KEY,
        "32 bytes, urlsafe base64: encrypts ID numbers and keys their blind index",
        required=REQUIRED_IN_PRODUCTION,
        production_not_default=True,
        secret=True,
    ),
    Setting(
        "DEV_LOGIN_ENABLED",
        bool,
        True,
        "POST /api/v1/auth/dev-login",
        production_value=False,
    ),
    Setting("TOKEN_TTL_HOURS", int, 24 * 30, "lifetime of bearer tokens"),
    Setting(
        "WECHAT_APPID",
        str,
        "wxdevappid",
        "mini-program AppID",
        required=REQUIRED_IN_PRODUCTION,
    ),
    Setting(
        "WECHAT_SECRET",
        str,
        "dev-wechat-secret",
        "mini-program AppSecret",
        required=REQUIRED_IN_PRODUCTION,
        secret=True,
    ),
    Setting(
        "WECHAT_API_BASE",
        str,
        "https://api.weixin.qq.com",
        "WeChat API host",
        normalise=_no_trailing_slash,
    ),
    Setting("WECHAT_TIMEOUT", float, 5.0, "seconds per WeChat call"),
    Setting(
        "WECHATPAY_API_BASE",
        str,
        "https://api.mch.weixin.qq.com",
        "WeChat Pay host",
        normalise=_no_trailing_slash,
    ),
    # 0 trusts none: no spoofed addresses slipping past the login rate limit when nothing sits
    # in front.
    Setting("PROXY_FIX_HOPS", int, 0, "number of trusted proxies setting X-Forwarded-*"),
    # See api/feed_cache.py.
    Setting("CATALOG_CACHE_SECONDS", int, 5, "seconds a public feed page is served from memory"),
    Setting("REDIS_URL", str, "", "Redis for rate limits shared by all instances"),
    Setting("LOGIN_RATE_LIMIT", str, "20 per minute", "per client address, on every login"),
    # Invitation codes are 8 digits: guessing must stay far slower than their 7-day lifetime.
    Setting("JOIN_RATE_LIMIT", str, "10 per minute", "per address, on redeeming a member code"),
    Setting("RATELIMIT_ENABLED", bool, True, "rate limiting at all"),
    Setting(
        "MEDIA_BACKEND",
        str,
        "local",
        "where photo variants go",
        normalise=_lower,
        choices=MEDIA_BACKENDS,
    ),
    Setting(
        "MEDIA_ROOT",
        str,
        lambda instance: f"{instance}/media",
        "directory of local photo files",
    ),
    # The app serves local files there itself outside production.
    Setting(
        "MEDIA_BASE_URL",
        str,
        "/media",
        "where clients fetch local photo files",
        normalise=_no_trailing_slash,
    ),
    # An S3 store without a bucket would only fail at the first upload.
    Setting(
        "S3_BUCKET",
        str,
        "",
        "bucket of photo variants",
        required=Required(when=When("MEDIA_BACKEND", "s3"), everywhere=True),
    ),
    Setting("S3_ENDPOINT_URL", str, "", "S3 API endpoint (empty: AWS)"),
    Setting("S3_REGION", str, "", "region of the bucket"),
    Setting("S3_ACCESS_KEY_ID", str, "", "S3 access key (empty: boto3's usual chain)"),
    Setting(
        "S3_SECRET_ACCESS_KEY",
        str,
        "",
        "S3 secret key (empty: boto3's usual chain)",
        secret=True,
    ),
    # Usually a CDN; empty: endpoint/bucket/key.
    Setting(
        "S3_PUBLIC_BASE_URL",
        str,
        "",
        "public address of the bucket",
        normalise=_no_trailing_slash,
    ),
    # Per signed-in user (not per address: a village shares one NAT address).
    Setting("MEDIA_UPLOAD_RATE_LIMIT", str, "60 per hour", "per signed-in user, on uploads"),
    # Trace-code QR labels encode {PUBLIC_BASE_URL}/t/<code>.
    Setting("PUBLIC_BASE_URL", str, "http://127.0.0.1:8000", "the public storefront's address"),
    # On top of services/data/banned_words.txt.
    Setting("BANNED_WORDS", str, "", "extra banned words, comma separated"),
    # Before listings reach the county's queue.
    Setting("WECHAT_CONTENT_CHECK", bool, False, "also run listings through msgSecCheck"),
    # --- buying ---
    Setting("ORDER_PAYMENT_TIMEOUT_MINUTES", int, 30, "an unpaid order expires after this long"),
    Setting("TRANSFER_WAIT_DAYS", int, 7, "an order waits this long for an announced transfer"),
    Setting("TRANSFER_PAYEE_NAME", str, "", "account name units transfer to (对公转账)"),
    Setting("TRANSFER_PAYEE_BANK", str, "", "bank of that account"),
    Setting("TRANSFER_PAYEE_ACCOUNT", str, "", "that account's number; empty: no transfers"),
    Setting(
        "DEV_PAYMENTS_ENABLED",
        bool,
        True,
        "the dev payment method (the verified-notification path without WeChat)",
        production_value=False,
    ),
    # --- fulfilment ---
    Setting("ACCEPT_WITHIN_HOURS", int, 48, "a paid ShopOrder not accepted by then is overdue"),
    Setting("HAND_IN_WITHIN_DAYS", int, 3, "days after acceptance to hand the goods in"),
    Setting("AUTO_CONFIRM_DAYS", int, 10, "a shipped ShopOrder counts as received after this"),
    Setting("AFTER_SALES_DAYS", int, 7, "a delivered ShopOrder completes after this"),
    Setting(
        "NOTIFICATIONS_BACKEND",
        str,
        "log",
        "`log` (write to the log) or `wechat` (subscribe messages)",
    ),
    Setting("WECHAT_TMPL_NEW_SHOP_ORDER", str, "", "subscribe template: a new ShopOrder"),
    Setting("WECHAT_TMPL_SHIPPED", str, "", "subscribe template: goods shipped"),
    Setting("WECHAT_TMPL_REFUND", str, "", "subscribe template: money refunded"),
    Setting("WECHAT_MINIPROGRAM_STATE", str, "formal", "subscribe messages open this version"),
    # --- ledger and payouts ---
    Setting(
        "PLATFORM_FEE_BPS",
        int,
        0,
        "platform fee on a completed sale, in basis points (0: households keep every fen)",
        normalise=_basis_points,
    ),
    Setting(
        "PAYOUT_DAILY_CAP_FEN",
        int,
        2_000_000,
        "most a WeChat transfer pays one user per day; a larger request is capped",
        normalise=_positive,
    ),
    Setting("PAYOUT_BATCH_THRESHOLD_FEN", int, 10_000, "default least balance a batch pays out"),
    Setting(
        "WECHATPAY_TRANSFER_SCENE_ID", str, "1005", "商家转账 scene (转账场景) approved for us"
    ),
    Setting(
        "WECHATPAY_TRANSFER_REPORT_INFOS",
        str,
        '[{"info_type":"岗位类型","info_content":"农产品销售"},'
        '{"info_type":"报酬说明","info_content":"农产品销售货款"}]',
        "that scene's report infos, JSON: exactly its info_type values",
        normalise=_report_infos,
    ),
    Setting(
        "WECHATPAY_TRANSFER_REMARK",
        str,
        "农家微店货款",
        "shown to the farmer with a transfer (at most 32 characters)",
        normalise=_remark,
    ),
    Setting(
        "WECHATPAY_TRANSFER_PERCEPTION",
        str,
        "",
        "user_recv_perception shown with the transfer (empty: the scene's default)",
    ),
    Setting("WECHATPAY_ENABLED", bool, False, "WeChat Pay on"),
    *(
        Setting(env, str, "", meaning, required=PAYMENTS_ON, secret=secret)
        for env, meaning, secret in (
            ("WECHATPAY_MCHID", "merchant number", False),
            ("WECHATPAY_APIV3_KEY", "APIv3 key (decrypts notifications)", True),
            ("WECHATPAY_PRIVATE_KEY_PATH", "merchant private key (PEM file)", False),
            ("WECHATPAY_CERT_SERIAL", "serial of the merchant certificate", False),
            ("WECHATPAY_PUBLIC_KEY_PATH", "WeChat Pay public key (PEM file)", False),
            ("WECHATPAY_PUBLIC_KEY_ID", "id of that public key (Wechatpay-Serial)", False),
        )
    ),
)

DERIVED: tuple[Derived, ...] = (
    Derived(
        "RATELIMIT_STORAGE_URI",
        lambda s: s["REDIS_URL"] or "memory://",
        "where flask-limiter counts: Redis when REDIS_URL is set",
    ),
)

# Not read from the environment: the same everywhere (tests override them through create_app).
FIXED: dict[str, Any] = {
    # Uploads are at most MAX_BYTES plus the multipart envelope; JSON bodies are far smaller
    # (see errors.check_request_size).
    "MAX_CONTENT_LENGTH": MAX_BYTES + 64 * 1024,
    "MAX_JSON_BODY": 256 * 1024,
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    # flask-smorest / OpenAPI
    "API_TITLE": "Nongjia API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "openapi.json",
    "JSON_SORT_KEYS": False,
    "TESTING": False,
}


def _check_table(settings: tuple[Setting, ...]) -> None:
    """A table that declares a key twice or names an unknown setting in a condition fails at
    import, not in production."""
    names = {s.env for s in settings}
    keys = [s.flask_key for s in settings] + [d.key for d in DERIVED] + list(FIXED)
    if len(names) < len(settings) or len(set(keys)) < len(keys):
        raise TypeError("a setting is declared twice")
    for s in settings:
        if s.type not in PARSERS:
            raise TypeError(f"{s.env}: unsupported type {s.type!r}")
        if s.required and s.required.when and s.required.when.setting not in names:
            raise TypeError(f"{s.env}: condition on unknown setting {s.required.when.setting}")
        if s.production_not_default and callable(s.default):
            raise TypeError(f"{s.env}: a development value must not depend on the instance path")


_check_table(SETTINGS)


# --- the resolved configuration --------------------------------------------------------------


class Config:
    """The resolved settings, one attribute per Flask key (``cfg.MEDIA_BACKEND``)."""

    settings: ClassVar[tuple[Setting, ...]] = SETTINGS
    derived: ClassVar[tuple[Derived, ...]] = DERIVED

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        _check_table(cls.settings)

    def __init__(self, values: Mapping[str, Any]) -> None:
        """``values`` by Flask key, one per setting; derived and fixed values are added."""
        missing = {s.flask_key for s in self.settings} - set(values)
        if missing:
            raise TypeError(f"no value for {', '.join(sorted(missing))}")
        resolved = copy.deepcopy(FIXED) | dict(values)
        for d in self.derived:
            resolved[d.key] = d.compute(resolved)
        self.__dict__.update(resolved)

    if TYPE_CHECKING:  # every setting is an attribute, set from the table at run time

        def __getattr__(self, name: str) -> Any: ...

    @property
    def is_production(self) -> bool:
        return self.APP_ENV == "production"

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, instance_path: str = "instance"
    ) -> Config:
        env = dict(os.environ if env is None else env)
        production = env.get("APP_ENV") == "production"
        values = {}
        for s in cls.settings:
            raw = env.get(s.env)
            if production and s.production_value is not None:
                value = s.production_value
            elif raw not in (None, ""):
                value = s.read(raw)
            elif production and s.required and not s.required.everywhere:
                value = "" if s.type is str else None
            else:
                value = s.local_default(instance_path)
            values[s.flask_key] = value
        cfg = cls(values)
        if production:
            cfg.check_production()
        else:
            cfg.check_media()
        return cfg

    def check_production(self) -> None:
        self._check(production=True)

    def check_media(self) -> None:
        """The rules of every environment. Photo storage is where they bite today: an unknown
        backend or an S3 store without a bucket would only fail at the first upload."""
        self._check(production=False)

    def _check(self, *, production: bool) -> None:
        by_env = {s.env: getattr(self, s.flask_key) for s in self.settings}
        for s in self.settings:
            if s.choices and by_env[s.env] not in s.choices:
                choices = ", ".join(map(str, s.choices))
                raise ConfigError(f"{s.env} must be one of {choices}, not {by_env[s.env]!r}")
        missing = [
            f"{s.env} (needed by {s.required.when})" if s.required.when else s.env
            for s in self.settings
            if s.required and s.required.applies(production, by_env) and by_env[s.env] in ("", None)
        ]
        if missing:
            where = "production configuration" if production else "configuration"
            raise ConfigError(f"{where} is missing: {', '.join(missing)}")
        if not production:
            return
        forced = [
            s.env
            for s in self.settings
            if s.production_value is not None and by_env[s.env] != s.production_value
        ]
        if forced:
            raise ConfigError(f"production forces another value of: {', '.join(forced)}")
        dev_values = [
            s.env
            for s in self.settings
            if s.production_not_default and by_env[s.env] == s.local_default("instance")
        ]
        if dev_values:
            names = ", ".join(dev_values)
            raise ConfigError(f"production must not use the development value of: {names}")

    def as_flask_config(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k.isupper()}
