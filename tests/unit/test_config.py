import re
from pathlib import Path

import pytest

from api import config
from api.config import (
    DEV_PII_KEY,
    SETTINGS,
    Config,
    ConfigError,
    Setting,
    normalise_database_url,
)

ROOT = Path(__file__).resolve().parents[2]


def test_local_defaults_work_without_env(tmp_path):
    cfg = Config.from_env({}, instance_path=str(tmp_path))
    assert f"sqlite:///{tmp_path}/nongjia.db" == cfg.SQLALCHEMY_DATABASE_URI
    assert cfg.DEV_LOGIN_ENABLED is True
    assert cfg.RATELIMIT_STORAGE_URI == "memory://"
    assert cfg.CATALOG_CACHE_SECONDS == 5


def test_feed_cache_lifetime_from_env(tmp_path):
    cfg = Config.from_env({"CATALOG_CACHE_SECONDS": "0"}, instance_path=str(tmp_path))
    assert cfg.CATALOG_CACHE_SECONDS == 0
    with pytest.raises(ConfigError, match="CATALOG_CACHE_SECONDS"):
        Config.from_env({"CATALOG_CACHE_SECONDS": "five"}, instance_path=str(tmp_path))


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.type is not str], ids=str)
def test_unreadable_values_stop_start_up_naming_the_variable(setting):
    with pytest.raises(ConfigError, match=setting.env):
        Config.from_env({setting.env: "abc"})


def test_switches_read_the_usual_spellings():
    for raw, value in (("1", True), ("Yes", True), ("on", True), ("0", False), ("FALSE", False)):
        assert Config.from_env({"WECHAT_CONTENT_CHECK": raw}).WECHAT_CONTENT_CHECK is value


def test_empty_variables_count_as_unset(tmp_path):
    env = {s.env: "" for s in SETTINGS}
    assert (
        Config.from_env(env, instance_path=str(tmp_path)).as_flask_config()
        == Config.from_env({}, instance_path=str(tmp_path)).as_flask_config()
    )


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


def test_every_setting_is_declared_once():
    keys = [s.flask_key for s in SETTINGS] + [d.key for d in config.DERIVED] + list(config.FIXED)
    assert len(keys) == len(set(keys))
    assert len({s.env for s in SETTINGS}) == len(SETTINGS)


def test_upload_limit_comes_from_the_image_pipeline():
    from media.images import MAX_BYTES

    assert MAX_BYTES < Config.from_env({}).MAX_CONTENT_LENGTH < MAX_BYTES + 1024 * 1024


WECHATPAY_FILES = {
    "WECHATPAY_MCHID": "1900000109",
    "WECHATPAY_APIV3_KEY": "k" * 32,
    "WECHATPAY_PRIVATE_KEY_PATH": "/etc/nongjia/apiclient_key.pem",
    "WECHATPAY_CERT_SERIAL": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
    "WECHATPAY_PUBLIC_KEY_PATH": "/etc/nongjia/pub_key.pem",
    "WECHATPAY_PUBLIC_KEY_ID": "PUB_KEY_ID_0114232134912410000000000000",
}


def test_wechat_pay_settings_are_required_in_production_while_payments_are_on():
    production = {
        "APP_ENV": "production",
        "SECRET_KEY": "s" * 32,
        "DATABASE_URL": "postgres://db/nongjia",
        "PII_ENCRYPTION_KEY": "k" * 44,
        "WECHAT_APPID": "wx1",
        "WECHAT_SECRET": "x",
    }
    assert Config.from_env(production).WECHATPAY_MCHID == ""  # payments off: not needed
    assert Config.from_env({"WECHATPAY_ENABLED": "1"}).WECHATPAY_ENABLED is True  # locally
    for missing in WECHATPAY_FILES:
        partial = {k: v for k, v in WECHATPAY_FILES.items() if k != missing}
        with pytest.raises(ConfigError, match=rf"{missing} \(needed by WECHATPAY_ENABLED=1\)"):
            Config.from_env(production | partial | {"WECHATPAY_ENABLED": "1"})
    cfg = Config.from_env(production | WECHATPAY_FILES | {"WECHATPAY_ENABLED": "1"})
    assert cfg.as_flask_config()["WECHATPAY_MCHID"] == "1900000109"


def test_dev_payments_are_off_in_production():
    production = {
        "APP_ENV": "production",
        "SECRET_KEY": "s" * 32,
        "DATABASE_URL": "postgres://db/nongjia",
        "PII_ENCRYPTION_KEY": "k" * 44,
        "WECHAT_APPID": "wx1",
        "WECHAT_SECRET": "x",
        "DEV_PAYMENTS_ENABLED": "1",
    }
    assert Config.from_env(production).DEV_PAYMENTS_ENABLED is False
    assert Config.from_env({}).DEV_PAYMENTS_ENABLED is True


# --- the README's configuration table -----------------------------------------------------------


def _readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(f"\n## {title}\n", 1)[1]
    return re.split(r"\n## ", section, maxsplit=1)[0]


def _table_rows(text: str) -> dict[str, list[str]]:
    """The first Markdown table in ``text``: variable name → the other cells."""
    rows: dict[str, list[str]] = {}
    lines = text[text.index("\n|") + 1 :].splitlines()
    for line in lines[2:]:  # after the header and its rule
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        names = re.fullmatch(r"`([A-Z0-9_]+)`", cells[0])
        assert names, f"one variable per row: {line}"
        assert names[1] not in rows, f"listed twice: {names[1]}"
        rows[names[1]] = cells[1:]
    return rows


def _documented_default(setting: Setting) -> str:
    value = setting.local_default("instance")
    if setting.secret and value:
        return "dev value"
    if value in ("", None):
        return "empty"
    if setting.type is bool:
        return "`1`" if value else "`0`"
    if setting.type is float:
        return f"`{value:g}`"
    return f"`{value}`"


def test_readme_lists_every_setting_with_its_default():
    section = _readme_section("Configuration")
    rows = _table_rows(section.split("\n### ", 1)[0])
    assert set(rows) == {s.env for s in SETTINGS}
    for setting in SETTINGS:
        default = rows[setting.env][0]
        documented = _documented_default(setting)
        assert default == documented or default.startswith(documented + " "), (setting.env, default)


def test_readme_lists_the_server_variables():
    """The serving table names what gunicorn.conf.py and the app factory read, and nothing else."""
    section = _readme_section("Configuration")
    rows = _table_rows(section.split("\n### Serving\n", 1)[1])
    read = {
        name
        for path in ("gunicorn.conf.py", "api/app.py")
        for name in re.findall(r"os\.environ\.get\(\"([A-Z0-9_]+)\"", (ROOT / path).read_text())
    }
    assert set(rows) == read
