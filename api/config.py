"""One Config class read from environment variables.

Local defaults give a working app (SQLite under instance/, dev login on). ``APP_ENV=production``
refuses to start without its secrets and turns dev-only features off.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEV_SECRET = "dev-only-secret-key-not-for-production"
# 32 bytes, base64url: only ever used outside production.
DEV_PII_KEY = "ZGV2LW9ubHktcGlpLWtleS0zMi1ieXRlcy1sb25nISE="
MEDIA_BACKENDS = ("local", "s3")


class ConfigError(RuntimeError):
    """Raised at start-up when production configuration is incomplete."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(env: dict, name: str, default: int) -> int:
    raw = env.get(name)
    return int(raw) if raw not in (None, "") else default


def normalise_database_url(url: str) -> str:
    """Accept the common ``postgres://`` spellings and route them to psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@dataclass
class Config:
    APP_ENV: str = "development"
    SECRET_KEY: str = DEV_SECRET
    SQLALCHEMY_DATABASE_URI: str = ""
    PII_ENCRYPTION_KEY: str = DEV_PII_KEY
    DEV_LOGIN_ENABLED: bool = True
    TOKEN_TTL_HOURS: int = 24 * 30
    MEDIA_BACKEND: str = "local"  # "local" or "s3"
    MEDIA_ROOT: str = ""
    # Where clients fetch local files; the app serves them there outside production.
    MEDIA_BASE_URL: str = "/media"
    S3_ENDPOINT_URL: str = ""
    S3_BUCKET: str = ""
    S3_REGION: str = ""
    S3_ACCESS_KEY_ID: str = ""
    S3_SECRET_ACCESS_KEY: str = ""
    # Public address of the bucket (usually a CDN); empty: endpoint/bucket/key.
    S3_PUBLIC_BASE_URL: str = ""
    # Per signed-in user (not per address: a village shares one NAT address).
    MEDIA_UPLOAD_RATE_LIMIT: str = "60 per hour"
    WECHAT_APPID: str = ""
    WECHAT_SECRET: str = ""
    WECHAT_API_BASE: str = "https://api.weixin.qq.com"
    WECHAT_TIMEOUT: float = 5.0
    WECHATPAY_API_BASE: str = "https://api.mch.weixin.qq.com"
    # Where the public storefront lives: trace-code QR labels encode {PUBLIC_BASE_URL}/t/<code>.
    PUBLIC_BASE_URL: str = "http://127.0.0.1:8000"
    # Extra banned words (comma separated) on top of services/data/banned_words.txt.
    BANNED_WORDS: str = ""
    # Send listings through WeChat's msgSecCheck before they reach the county's queue.
    WECHAT_CONTENT_CHECK: bool = False
    REDIS_URL: str = ""
    # Seconds a public feed page is served from memory (and may be cached by proxies and
    # phones); 0 reads the database for every request. See api/feed_cache.py.
    CATALOG_CACHE_SECONDS: int = 5
    # How many proxies in front of the app set X-Forwarded-*; 0 trusts none (no spoofed
    # addresses slipping past the login rate limit when nothing sits in front).
    PROXY_FIX_HOPS: int = 0
    RATELIMIT_ENABLED: bool = True
    RATELIMIT_STORAGE_URI: str = "memory://"
    LOGIN_RATE_LIMIT: str = "20 per minute"
    # Invitation codes are 8 digits: guessing must stay far slower than their 7-day lifetime.
    JOIN_RATE_LIMIT: str = "10 per minute"
    # Uploads are at most 10 MB; JSON bodies are far smaller (see errors.check_request_body).
    MAX_CONTENT_LENGTH: int = 10 * 1024 * 1024 + 64 * 1024
    MAX_JSON_BODY: int = 256 * 1024
    SQLALCHEMY_ENGINE_OPTIONS: dict = field(default_factory=lambda: {"pool_pre_ping": True})
    # flask-smorest / OpenAPI
    API_TITLE: str = "Nongjia API"
    API_VERSION: str = "v1"
    OPENAPI_VERSION: str = "3.0.3"
    OPENAPI_URL_PREFIX: str = "/api"
    OPENAPI_JSON_PATH: str = "openapi.json"
    JSON_SORT_KEYS: bool = False
    TESTING: bool = False

    @property
    def is_production(self) -> bool:
        return self.APP_ENV == "production"

    @classmethod
    def from_env(cls, env: dict | None = None, *, instance_path: str = "instance") -> Config:
        env = dict(os.environ if env is None else env)
        app_env = env.get("APP_ENV", "development")
        production = app_env == "production"
        redis_url = env.get("REDIS_URL", "")
        cfg = cls(
            APP_ENV=app_env,
            SECRET_KEY=env.get("SECRET_KEY") or ("" if production else DEV_SECRET),
            SQLALCHEMY_DATABASE_URI=normalise_database_url(
                env.get("DATABASE_URL")
                or ("" if production else f"sqlite:///{instance_path}/nongjia.db")
            ),
            PII_ENCRYPTION_KEY=env.get("PII_ENCRYPTION_KEY") or ("" if production else DEV_PII_KEY),
            # Dev login can never be switched on in production, whatever the env says.
            DEV_LOGIN_ENABLED=False if production else _bool(env.get("DEV_LOGIN_ENABLED"), True),
            TOKEN_TTL_HOURS=_int(env, "TOKEN_TTL_HOURS", 24 * 30),
            MEDIA_BACKEND=(env.get("MEDIA_BACKEND") or "local").strip().lower(),
            MEDIA_ROOT=env.get("MEDIA_ROOT") or f"{instance_path}/media",
            MEDIA_BASE_URL=(env.get("MEDIA_BASE_URL") or "/media").rstrip("/"),
            S3_ENDPOINT_URL=env.get("S3_ENDPOINT_URL", ""),
            S3_BUCKET=env.get("S3_BUCKET", ""),
            S3_REGION=env.get("S3_REGION", ""),
            S3_ACCESS_KEY_ID=env.get("S3_ACCESS_KEY_ID", ""),
            S3_SECRET_ACCESS_KEY=env.get("S3_SECRET_ACCESS_KEY", ""),
            S3_PUBLIC_BASE_URL=env.get("S3_PUBLIC_BASE_URL", "").rstrip("/"),
            MEDIA_UPLOAD_RATE_LIMIT=env.get("MEDIA_UPLOAD_RATE_LIMIT") or "60 per hour",
            WECHAT_APPID=env.get("WECHAT_APPID", "" if production else "wxdevappid"),
            WECHAT_SECRET=env.get("WECHAT_SECRET", "" if production else "dev-wechat-secret"),
            WECHAT_API_BASE=env.get("WECHAT_API_BASE", "https://api.weixin.qq.com").rstrip("/"),
            WECHAT_TIMEOUT=float(env.get("WECHAT_TIMEOUT") or 5.0),
            WECHATPAY_API_BASE=env.get(
                "WECHATPAY_API_BASE", "https://api.mch.weixin.qq.com"
            ).rstrip("/"),
            PUBLIC_BASE_URL=env.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000"),
            BANNED_WORDS=env.get("BANNED_WORDS", ""),
            WECHAT_CONTENT_CHECK=_bool(env.get("WECHAT_CONTENT_CHECK"), False),
            REDIS_URL=redis_url,
            CATALOG_CACHE_SECONDS=_int(env, "CATALOG_CACHE_SECONDS", 5),
            PROXY_FIX_HOPS=_int(env, "PROXY_FIX_HOPS", 0),
            RATELIMIT_ENABLED=_bool(env.get("RATELIMIT_ENABLED"), True),
            RATELIMIT_STORAGE_URI=redis_url or "memory://",
            LOGIN_RATE_LIMIT=env.get("LOGIN_RATE_LIMIT", "20 per minute"),
            JOIN_RATE_LIMIT=env.get("JOIN_RATE_LIMIT", "10 per minute"),
        )
        cfg.check_media()
        if production:
            cfg.check_production()
        return cfg

    def check_production(self) -> None:
        missing = [
            name
            for name in (
                "SECRET_KEY",
                "SQLALCHEMY_DATABASE_URI",
                "PII_ENCRYPTION_KEY",
                "WECHAT_APPID",
                "WECHAT_SECRET",
            )
            if not getattr(self, name)
        ]
        if missing:
            names = ", ".join("DATABASE_URL" if n.startswith("SQLALCHEMY") else n for n in missing)
            raise ConfigError(f"production configuration is missing: {names}")
        self.check_media()
        if self.SECRET_KEY == DEV_SECRET or self.PII_ENCRYPTION_KEY == DEV_PII_KEY:
            raise ConfigError("production must not use the development keys")

    def check_media(self) -> None:
        """Photo storage must be usable in every environment: an unknown backend or an S3 store
        without a bucket would only fail at the first upload."""
        if self.MEDIA_BACKEND not in MEDIA_BACKENDS:
            choices = ", ".join(MEDIA_BACKENDS)
            raise ConfigError(f"MEDIA_BACKEND must be one of {choices}, not {self.MEDIA_BACKEND!r}")
        if self.MEDIA_BACKEND == "s3" and not self.S3_BUCKET:
            raise ConfigError("configuration is missing: S3_BUCKET (needed by MEDIA_BACKEND=s3)")

    def as_flask_config(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k.isupper()}
