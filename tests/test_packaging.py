"""The wheel carries everything the app reads at run time.

The wheel is built from a copy of the source (the working tree is left alone), installed into a
temporary folder, and used from a subprocess whose working directory is elsewhere, so the
source tree cannot be imported: migrations run from the installed ``migrations/``, the region
seed and the banned-word list are read from ``services/data/``, and pages are rendered from
``storefront/templates/`` with ``storefront/static/``. Nothing is downloaded: the build uses the
setuptools of this environment, without build isolation.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
# Not part of any build: the environment, caches, local data, build output.
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "instance", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
    ".pytest_cache", ".ruff_cache", ".hypothesis", "htmlcov", ".coverage",
)  # fmt: skip
# What setuptools says when a folder of data is not a listed package (setup.cfg must list it).
BUILD_WARNINGS = ("Package would be ignored", "as data is deprecated", "is not in `packages`")


def test_installed_wheel_runs_migrations_submits_a_listing_and_renders_pages(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=NOT_COPIED)
    wheel, log = build_wheel(source, tmp_path / "dist")
    for warning in BUILD_WARNINGS:
        assert warning not in log, f"the build warns {warning!r}:\n{log}"

    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(set(data_files()) - names)
    assert not missing, f"not in the wheel: {missing}"
    assert not any(n.startswith("tests/") or "__pycache__" in n for n in names)

    site = tmp_path / "site"
    pip("install", "--no-deps", "--no-index", "--no-compile", "--target", str(site), str(wheel))
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "APP_ENV"))}
    env.pop("DATABASE_URL", None)
    env |= {"PYTHONPATH": str(site), "INSTANCE_PATH": str(work / "instance")}
    result = subprocess.run(
        [PYTHON, "-c", INSTALLED_APP_CHECK, str(site), str(work)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("ok"), result.stdout


def data_files() -> list[str]:
    """Every file the code opens at run time, as paths inside the wheel."""
    folders = ["services/data", "storefront/templates", "storefront/static", "migrations"]
    found = []
    for folder in folders:
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                found.append(path.relative_to(ROOT).as_posix())
    return [f for f in found if f != "services/data/README.md"]  # notes, not read by the code


def pip(*args: str) -> str:
    result = subprocess.run(
        [PYTHON, "-m", "pip", *args], capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def build_wheel(source: Path, out: Path) -> tuple[Path, str]:
    """(the wheel, the build's output). ``pip wheel`` when this environment's setuptools can
    make wheels (it needs setuptools >= 70.1 or the ``wheel`` package); otherwise setuptools
    builds the same file set (``build_py`` applies ``packages`` and ``package_data``, as
    ``bdist_wheel`` does) and it is packed here as a pure-Python wheel."""
    out.mkdir()
    if _setuptools_makes_wheels():
        log = pip(
            *("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-v"),
            *("-w", str(out), str(source)),
        )
        return next(out.glob("*.whl")), log
    lib, meta = out / "lib", out / "meta"
    meta.mkdir()
    setup = [PYTHON, "-W", "always", "-c", "from setuptools import setup; setup()"]
    commands = ["build_py", "--build-lib", str(lib), "egg_info", "--egg-base", str(meta)]
    result = subprocess.run(
        setup + commands, cwd=source, capture_output=True, text=True, timeout=180
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    return _pack_wheel(lib, next(meta.glob("*.egg-info")), out), log


def _setuptools_makes_wheels() -> bool:
    return any(
        importlib.util.find_spec(name) is not None
        for name in ("wheel", "setuptools.command.bdist_wheel")
    )


WHEEL_FILE = "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def _pack_wheel(lib: Path, egg_info: Path, out: Path) -> Path:
    metadata = (egg_info / "PKG-INFO").read_text(encoding="utf-8")
    fields = dict(line.split(": ", 1) for line in metadata.splitlines()[:3] if ": " in line)
    name, version = fields["Name"], fields["Version"]
    dist_info = f"{name}-{version}.dist-info"
    wheel = out / f"{name}-{version}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:

        def add(arcname: str, data: bytes) -> None:
            archive.writestr(arcname, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{arcname},sha256={digest.decode()},{len(data)}")

        for path in sorted(p for p in lib.rglob("*") if p.is_file()):
            add(path.relative_to(lib).as_posix(), path.read_bytes())
        add(f"{dist_info}/METADATA", metadata.encode())
        add(f"{dist_info}/top_level.txt", (egg_info / "top_level.txt").read_bytes())
        add(f"{dist_info}/WHEEL", WHEEL_FILE.encode())
        record.append(f"{dist_info}/RECORD,,")
        archive.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return wheel


# Runs in the subprocess: argv = [site, work]. Prints "ok" last when everything held.
INSTALLED_APP_CHECK = textwrap.dedent(
    """
    import base64, secrets, sys
    from pathlib import Path

    site, work = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()

    import api, api.app, media, models, services, storefront, wechat
    for module in (api, media, models, services, storefront, wechat):
        assert Path(module.__file__).resolve().is_relative_to(site), module.__file__
    assert Path(api.app._migrations_dir()).resolve().is_relative_to(site)

    from sqlalchemy import select
    from api.app import create_app
    from models import Product, Shop, db
    from models.enums import ProductStatus, ShopStatus
    from services import precheck, products

    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{work / 'packaged.db'}",
        "PII_ENCRYPTION_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "SECRET_KEY": secrets.token_hex(16),
        "MEDIA_ROOT": str(work / "media"),
        "PASSWORD_HASH_CHEAP": True,
        "RATELIMIT_ENABLED": False,
        "WECHAT_CONTENT_CHECK": False,
        "CATALOG_CACHE_SECONDS": 0,
    })
    cli = app.test_cli_runner()
    # What `make run` does: the schema by the shipped migrations, then the demo data, whose
    # listings are created and submitted through the services (the banned-word pre-check).
    for command in (["db", "upgrade"], ["seed-demo"]):
        outcome = cli.invoke(args=command)
        assert outcome.exit_code == 0, (command, outcome.output, repr(outcome.exception))

    with app.app_context():
        banned = precheck.banned_words()
        assert banned, "banned_words.txt read as empty"
        shop = db.session.scalar(select(Shop).where(Shop.status == ShopStatus.APPROVED))
        listed = db.session.scalars(
            select(Product).where(Product.status == ProductStatus.LISTED).order_by(Product.id)
        ).all()
        assert listed, "the demo listed nothing"
        farmer = db.session.get(models.User, listed[0].created_by_id)
        flagged = products.create_product(
            farmer,
            shop_id=shop.id,
            content={
                "title": "土鸡蛋",
                "category": "禽蛋",
                "unit": "箱",
                "story": "保证" + banned[0],
                "media_ids": list(listed[0].media_ids),
                "skus": [{"spec_name": "30枚装", "price_fen": 4500, "stock": 5}],
            },
        )
        products.submit_product(farmer, flagged.id)
        assert db.session.get(Product, flagged.id).flagged, "a banned word went unflagged"
        product_id, code, shop_id = listed[0].id, listed[0].trace_code, shop.id

    client = app.test_client()
    pages = ["/", f"/shops/{shop_id}", f"/products/{product_id}", f"/t/{code}"]
    for path in pages + ["/static/storefront/storefront.css"]:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    home = client.get("/").get_data(as_text=True)
    assert "桂兰家的土鸡蛋" in home and f'href="/shops/{shop_id}"' in home
    missing = client.get("/t/NO-SUCH-CODE")
    assert missing.status_code == 404 and "页面找不到了" in missing.get_data(as_text=True)
    print("ok")
    """
)
