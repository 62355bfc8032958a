import pytest

from api.config import DEV_PII_KEY, Config, ConfigError, normalise_database_url


def test_local_defaults_work_without_env(tmp_path):
    cfg = Config.from_env({}, instance_path=str(tmp_path))
    assert f"sqlite:///{tmp_path}/nongjia.db" == cfg.SQLALCHEMY_DATABASE_URI
    assert cfg.DEV_LOGIN_ENABLED is True
    assert cfg.RATELIMIT_STORAGE_URI == "memory://"
    assert cfg.CATALOG_CACHE_SECONDS == 5


def test_feed_cache_lifetime_from_env(tmp_path):
    cfg = Config.from_env({"CATALOG_CACHE_SECONDS": "0"}, instance_path=str(tmp_path))
    assert cfg.CATALOG_CACHE_SECONDS == 0
    with pytest.raises(ValueError):
        Config.from_env({"CATALOG_CACHE_SECONDS": "five"}, instance_path=str(tmp_path))


def test_production_refuses_to_start_without_secrets():
    with pytest.raises(ConfigError) as info:
        Config.from_env({"APP_ENV": "production"})
    for name in ("SECRET_KEY", "DATABASE_URL", "PII_ENCRYPTION_KEY", "WECHAT_APPID"):
        assert name in str(info.value)


def test_production_turns_dev_login_off_and_refuses_dev_keys():
    env = {
        "APP_ENV": "production",
        "SECRET_KEY": "s" * 32,
        "DATABASE_URL": "postgres://db/nongjia",
        "PII_ENCRYPTION_KEY": "k" * 44,
        "WECHAT_APPID": "wx1",
        "WECHAT_SECRET": "x",
        "DEV_LOGIN_ENABLED": "1",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    cfg = Config.from_env(env)
    assert cfg.DEV_LOGIN_ENABLED is False
    assert cfg.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://db/nongjia"
    assert cfg.RATELIMIT_STORAGE_URI == "redis://127.0.0.1:6379/0"
    with pytest.raises(ConfigError):
        Config.from_env(env | {"PII_ENCRYPTION_KEY": DEV_PII_KEY})


def test_database_url_spellings():
    assert normalise_database_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"
