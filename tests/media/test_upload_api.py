"""POST /api/v1/media end to end: multipart in, variants in storage, one row, URLs that work.

Local storage under a temp MEDIA_ROOT per test (so files can be counted), S3 against the real
SeaweedFS of tests/media/conftest.py. Every file is built in memory (tests/media/test_images.py).
"""

from __future__ import annotations

import io
import socket
import urllib.request
import uuid
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from api.app import create_app
from api.config import Config, ConfigError
from api.extensions import limiter
from media import LocalStorage, S3Storage, StorageUnavailable
from media.storage import CACHE_CONTROL
from models import Media, db
from services import media as media_service
from services.error_codes import MediaError
from tests.factories import assert_error
from tests.media.test_images import (
    BASELINE,
    LEAKS,
    bomb_png,
    camera_jpeg,
    encode,
    jpeg_with_size,
    photo,
    raw_png,
)

URL = "/api/v1/media"


@pytest.fixture(autouse=True)
def media_root(app, tmp_path, monkeypatch) -> Path:
    """Local storage in a directory of this test's own, uploads unthrottled (but see below)."""
    root = tmp_path / "media"
    monkeypatch.setitem(app.config, "MEDIA_BACKEND", "local")
    monkeypatch.setitem(app.config, "MEDIA_ROOT", str(root))
    monkeypatch.setitem(app.config, "MEDIA_BASE_URL", "/media")
    monkeypatch.setitem(app.config, "MEDIA_UPLOAD_RATE_LIMIT", "100000 per minute")
    yield root
    with app.app_context():
        media_service.reset_storage()


@pytest.fixture
def farmer(world):
    return world.user("种苹果的老李")


def upload(client, person, data: bytes, *, name="file", filename="photo.jpg", ctype="image/jpeg"):
    headers = person.headers if person else {}
    form = {name: (io.BytesIO(data), filename, ctype)}
    return client.post(URL, data=form, headers=headers, content_type="multipart/form-data")


def rows(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Media))


def files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


# --- who may upload -----------------------------------------------------------------------------


def test_anonymous_is_401_and_nothing_is_stored(app, client, media_root):
    assert_error(upload(client, None, BASELINE), 401, "unauthorized")
    bogus = client.post(
        URL,
        data={"file": (io.BytesIO(BASELINE), "a.jpg", "image/jpeg")},
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert_error(bogus, 401, "token_invalid")
    assert rows(app) == 0 and files(media_root) == []


# --- the success path ---------------------------------------------------------------------------


def test_upload_answers_variants_that_can_be_fetched_clean(app, client, farmer, media_root):
    data = camera_jpeg(6)  # stored sideways, EXIF with GPS, XMP, ICC, a comment
    response = upload(client, farmer, data)
    assert response.status_code == 201, response.json
    body = response.json
    assert set(body) == {"id", "sha256", "width", "height", "variants"}
    assert (body["width"], body["height"]) == (800, 600)  # upright
    assert len(body["sha256"]) == 64
    # 240, 750 (1280 is wider than the photo: never upscaled), each as WebP and JPEG
    assert [(v["width"], v["format"]) for v in body["variants"]] == [
        (240, "jpeg"),
        (240, "webp"),
        (750, "jpeg"),
        (750, "webp"),
    ]
    for variant in body["variants"]:
        assert set(variant) == {"width", "height", "format", "url"}
        assert variant["url"].startswith("/media/img/")
        got = client.get(variant["url"])
        assert got.status_code == 200
        assert got.headers["Cache-Control"] == CACHE_CONTROL
        assert got.headers["X-Content-Type-Options"] == "nosniff"
        assert got.mimetype == f"image/{variant['format']}"
        img = decode(got.data)
        assert img.format == variant["format"].upper()
        assert img.size == (variant["width"], variant["height"])
        assert not img.getexif()  # no EXIF at all, GPS above all
        assert not any(leak in got.data for leak in LEAKS)
    with app.app_context():
        row = db.session.get(Media, body["id"])
        assert row.sha256 == body["sha256"] and row.source_type == "image/jpeg"
        assert row.uploaded_by_id == farmer.id
    assert len(files(media_root)) == 4


def test_the_same_photo_twice_is_stored_once(app, client, world, farmer, media_root, monkeypatch):
    puts, decodes = [], []
    real_put, real_process = LocalStorage.put, media_service.process_image

    def counting_put(self, key, data, content_type):
        puts.append(key)
        return real_put(self, key, data, content_type)

    def counting_process(data, **kwargs):
        decodes.append(len(data))
        return real_process(data, **kwargs)

    monkeypatch.setattr(LocalStorage, "put", counting_put)
    monkeypatch.setattr(media_service, "process_image", counting_process)
    data = encode(photo((1600, 1200)), "JPEG")
    first = upload(client, farmer, data)
    assert first.status_code == 201
    assert len(puts) == 6 and len(decodes) == 1  # 240, 750, 1280 × WebP, JPEG
    again = upload(client, farmer, data, filename="again.jpg")
    someone_else = upload(client, world.user(), data, filename="IMG_0001.JPG")
    for response in (again, someone_else):
        assert response.status_code == 200
        assert response.json == first.json
    assert len(puts) == 6 and len(decodes) == 1  # nothing decoded, nothing written again
    assert rows(app) == 1 and len(files(media_root)) == 6


def test_png_and_webp_sources(client, farmer):
    for fmt in ("PNG", "WEBP"):
        response = upload(client, farmer, encode(photo((300, 200)), fmt), filename="x.bin")
        assert response.status_code == 201, response.json
        assert (response.json["width"], response.json["height"]) == (300, 200)
        assert {v["width"] for v in response.json["variants"]} == {240}


def test_exif_gps_never_reaches_storage(client, farmer, media_root):
    data = camera_jpeg(1)
    assert all(leak in data for leak in LEAKS[:2])  # the GPS coordinates are in the upload
    assert upload(client, farmer, data).status_code == 201
    stored = files(media_root)
    assert stored
    for path in stored:
        content = path.read_bytes()
        assert not any(leak in content for leak in LEAKS), path
        assert not decode(content).getexif()


# --- hostile uploads: a clear 4xx in the one error shape, nothing left behind ------------------

HOSTILE = {
    "text named photo.jpg": (b"not a jpeg, only text saved as photo.jpg", 415, "unsupported_type"),
    "truncated jpeg": (BASELINE[: len(BASELINE) // 2], 422, "corrupt_image"),
    "jpeg magic then garbage": (b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4, 422, "corrupt_image"),
    "pixel bomb (png of zeros, 64 MP)": (bomb_png(8000, 8000), 422, "decompression_bomb"),
    "png declaring 100000x100000": (raw_png(100_000, 100_000), 422, "decompression_bomb"),
    "png 20000 px wide": (raw_png(20_000, 10, rows=b"\x00" * 20_001 * 10), 422, "image_too_large"),
    "jpeg 12001 px tall": (jpeg_with_size(100, 12_001), 422, "image_too_large"),
    "svg": (
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script/></svg>',
        415,
        "unsupported_type",
    ),
    "zero bytes": (b"", 422, "empty_file"),
    "pdf": (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<<>>\n%%EOF",
        415,
        "unsupported_type",
    ),
    "html": (b"<html><script>alert(document.cookie)</script></html>", 415, "unsupported_type"),
    "gif": (encode(photo((40, 30)), "GIF"), 415, "unsupported_type"),
    "over 10 MB": (
        BASELINE + b"\x00" * (10 * 1024 * 1024 + 1 - len(BASELINE)),
        413,
        "file_too_large",
    ),
}


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")  # as media.images sets it
def test_hostile_upload_is_refused_cleanly(app, client, farmer, media_root, name):
    data, status, code = HOSTILE[name]
    response = upload(client, farmer, data, filename="photo.jpg", ctype="image/jpeg")
    assert_error(response, status, code)
    assert rows(app) == 0
    assert files(media_root) == []


def test_messages_are_the_librarys(client, farmer):
    assert upload(client, farmer, b"GIF89a").json["message"] == "只支持 JPG、PNG、WebP 图片"
    assert upload(client, farmer, BASELINE[:1000]).json["message"] == "图片已损坏，请重新拍摄"


def test_body_over_the_request_cap_is_413_before_anything(app, client, farmer, media_root):
    big = b"\xff\xd8\xff" + b"\x00" * app.config["MAX_CONTENT_LENGTH"]
    assert_error(upload(client, farmer, big), 413, "payload_too_large")
    assert rows(app) == 0 and files(media_root) == []


# --- malformed requests -------------------------------------------------------------------------


def test_missing_file_is_422(client, farmer):
    empty_form = client.post(
        URL, data={}, headers=farmer.headers, content_type="multipart/form-data"
    )
    body = assert_error(empty_form, 422, "validation_error")
    assert body["errors"] == {"files": {"file": ["请选择一张图片"]}}
    assert_error(client.post(URL, headers=farmer.headers), 422, "validation_error")
    as_json = client.post(URL, json={"file": "photo.jpg"}, headers=farmer.headers)
    assert_error(as_json, 422, "validation_error")


def test_two_files_in_one_call_are_422(app, client, farmer, media_root):
    form = {
        "file": [
            (io.BytesIO(BASELINE), "a.jpg", "image/jpeg"),
            (io.BytesIO(encode(photo((64, 48)), "PNG")), "b.png", "image/png"),
        ]
    }
    response = client.post(URL, data=form, headers=farmer.headers)
    body = assert_error(response, 422, "validation_error")
    assert body["errors"] == {"files": {"file": ["一次只能上传一张图片"]}}
    assert rows(app) == 0 and files(media_root) == []


def test_a_second_file_field_is_422(app, client, farmer):
    form = {
        "file": (io.BytesIO(BASELINE), "a.jpg", "image/jpeg"),
        "thumb": (io.BytesIO(BASELINE), "b.jpg", "image/jpeg"),
    }
    body = assert_error(client.post(URL, data=form, headers=farmer.headers), 422, "unknown_field")
    assert "thumb" in body["errors"]["files"]
    assert rows(app) == 0


def test_wrong_field_name_is_422(app, client, farmer):
    body = assert_error(upload(client, farmer, BASELINE, name="image"), 422, "unknown_field")
    assert set(body["errors"]["files"]) == {"image", "file"}
    assert rows(app) == 0


def test_text_parts_are_422(app, client, farmer):
    form = {"file": (io.BytesIO(BASELINE), "a.jpg", "image/jpeg"), "purpose": "product"}
    assert_error(client.post(URL, data=form, headers=farmer.headers), 422, "unknown_field")
    # The file sent as a text field (no filename): not an upload
    as_text = client.post(URL, data={"file": "abc"}, headers=farmer.headers)
    body = assert_error(as_text, 422, "validation_error")
    assert body["errors"]["files"]["file"] == ["请以文件形式上传图片"]
    assert rows(app) == 0


# --- storage failures ---------------------------------------------------------------------------


def test_storage_failure_midway_deletes_what_was_written(app, client, farmer, monkeypatch):
    root = Path(app.config["MEDIA_ROOT"])
    real_put = LocalStorage.put
    calls = []

    def flaky_put(self, key, data, content_type):
        calls.append(key)
        if len(calls) == 3:
            raise StorageUnavailable("disk full")
        return real_put(self, key, data, content_type)

    monkeypatch.setattr(LocalStorage, "put", flaky_put)
    response = upload(client, farmer, encode(photo((1600, 1200)), "JPEG"))
    assert_error(response, 503, "storage_unavailable")
    assert response.json["message"] == MediaError.STORAGE_UNAVAILABLE.message
    assert len(calls) == 3
    assert rows(app) == 0 and files(root) == []


def test_database_failure_deletes_the_variants(app, client, farmer, media_root, monkeypatch):
    def broken_commit():
        raise OperationalError("COMMIT", {}, Exception("database is locked"))

    with monkeypatch.context() as patch:
        patch.setattr(db.session, "commit", broken_commit)
        response = upload(client, farmer, BASELINE)
    assert_error(response, 503, "service_unavailable")
    assert rows(app) == 0 and files(media_root) == []


def test_concurrent_upload_of_the_same_photo_answers_its_row(
    app, client, world, farmer, monkeypatch
):
    """Two requests with the same photo: both miss the look-up, the second insert meets the
    unique sha256 (IntegrityError) and answers the first one's row, keeping the shared files."""
    root = Path(app.config["MEDIA_ROOT"])
    first = upload(client, farmer, BASELINE)
    assert first.status_code == 201
    real_lookup = media_service._by_sha256
    misses = []

    def lookup_missing_once(sha):
        if not misses:
            misses.append(sha)
            return None  # as if the other request had not committed yet
        return real_lookup(sha)

    monkeypatch.setattr(media_service, "_by_sha256", lookup_missing_once)
    second = upload(client, world.user(), BASELINE)
    assert misses and second.status_code == 200
    assert second.json == first.json
    assert rows(app) == 1
    assert len(files(root)) == len(first.json["variants"])  # the first row's files are kept


# --- S3 (SeaweedFS) -----------------------------------------------------------------------------


def _use_s3(app, monkeypatch, endpoint: str, bucket: str) -> None:
    for name, value in {
        "MEDIA_BACKEND": "s3",
        "S3_ENDPOINT_URL": endpoint,
        "S3_BUCKET": bucket,
        "S3_REGION": "",
        "S3_ACCESS_KEY_ID": "test",
        "S3_SECRET_ACCESS_KEY": "test",
        "S3_PUBLIC_BASE_URL": "",
    }.items():
        monkeypatch.setitem(app.config, name, value)
    with app.app_context():
        media_service.reset_storage()


def test_s3_upload_stores_every_variant_in_the_bucket(app, client, farmer, seaweedfs, monkeypatch):
    bucket = f"media-{uuid.uuid4().hex[:12]}"
    _use_s3(app, monkeypatch, seaweedfs, bucket)
    with app.app_context():
        store = media_service.storage()
        assert isinstance(store, S3Storage) and store.bucket == bucket
        store.ensure_bucket()
    response = upload(client, farmer, camera_jpeg(3))
    assert response.status_code == 201, response.json
    with app.app_context():
        keys = [v["key"] for v in db.session.get(Media, response.json["id"]).variants]
    listed = store.client.list_objects_v2(Bucket=bucket)
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(keys)
    for variant, key in zip(response.json["variants"], keys, strict=True):
        assert variant["url"] == f"{seaweedfs}/{bucket}/{key}"
        head = store.client.head_object(Bucket=bucket, Key=key)
        assert head["ContentType"] == f"image/{variant['format']}"
        assert head["CacheControl"] == CACHE_CONTROL
        with urllib.request.urlopen(variant["url"], timeout=5) as resp:  # public read
            content = resp.read()
        assert decode(content).size == (variant["width"], variant["height"])
        assert not any(leak in content for leak in LEAKS)
    # The dev route serves local files only
    assert client.get(f"/media/{keys[0]}").status_code == 404


def test_s3_public_base_url(app, farmer, seaweedfs, monkeypatch):
    _use_s3(app, monkeypatch, seaweedfs, "media")
    monkeypatch.setitem(app.config, "S3_PUBLIC_BASE_URL", "https://img.example.cn/m")
    with app.app_context():
        row = Media(
            variants=[{"width": 1, "height": 1, "format": "webp", "key": "img/ab/c/1.webp"}]
        )
        assert media_service.media_urls(row)[0]["url"] == "https://img.example.cn/m/img/ab/c/1.webp"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_s3_down_is_503_and_leaves_no_row(app, client, farmer, monkeypatch):
    _use_s3(app, monkeypatch, f"http://127.0.0.1:{_closed_port()}", "media")
    response = upload(client, farmer, BASELINE)
    body = assert_error(response, 503, "storage_unavailable")
    assert body["message"] == "图片存储暂时不可用，请稍后再试"
    assert rows(app) == 0


# --- rate limit ---------------------------------------------------------------------------------


def test_uploads_are_limited_per_user_not_per_address(app, client, world, farmer, monkeypatch):
    monkeypatch.setitem(app.config, "MEDIA_UPLOAD_RATE_LIMIT", "3 per hour")
    limiter.reset()
    for size in (40, 41, 42):
        assert upload(client, farmer, encode(photo((size, 30)), "PNG")).status_code == 201
    refused = upload(client, farmer, encode(photo((43, 30)), "PNG"))
    assert_error(refused, 429, "rate_limited")
    assert "Retry-After" in refused.headers
    # Someone else behind the same address (a village NAT) still has their own budget
    assert upload(client, world.user(), encode(photo((44, 30)), "PNG")).status_code == 201
    # and a caller without a token is told to sign in, not to slow down
    assert_error(upload(client, None, BASELINE), 401, "unauthorized")
    assert rows(app) == 4


# --- serving local files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/media/../nongjia.db",
        "/media/img/../../x",
        "/media/%2e%2e/%2e%2e/etc/passwd",
        "/media/img/.tmp-abc",
        "/media/img/aa/none/240.webp",
        "/media//etc/passwd",
        "/media/img\\x.webp",
    ],
)
def test_media_route_refuses_escapes_and_unknown_keys(client, media_root, path):
    (media_root / "img").mkdir(parents=True)
    (media_root / "img" / ".tmp-abc").write_bytes(b"half written")
    (media_root.parent / "secret.txt").write_text("outside")
    # (werkzeug first redirects "//" to "/": still inside the root, still nothing there)
    assert client.get(path, follow_redirects=True).status_code == 404


def test_media_route_refuses_symlinks_out_of_the_root(client, media_root):
    (media_root / "img").mkdir(parents=True)
    secret = media_root.parent / "secret.jpg"
    secret.write_bytes(b"outside")
    (media_root / "img" / "link.jpg").symlink_to(secret)
    assert client.get("/media/img/link.jpg").status_code == 404


def test_media_route_is_off_in_production(app, client, farmer, monkeypatch):
    url = upload(client, farmer, BASELINE).json["variants"][0]["url"]
    assert client.get(url).status_code == 200
    monkeypatch.setitem(app.config, "APP_ENV", "production")
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("base_url", "rule"),
    [
        ("/media", "/media/<path:key>"),
        ("http://192.168.1.5:8000/photos/", "/photos/<path:key>"),
        ("https://img.example.cn", None),
    ],
)
def test_media_route_follows_media_base_url(tmp_path, base_url, rule):
    other = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'other.db'}",
            "MEDIA_BASE_URL": base_url,
        }
    )
    rules = {r.rule for r in other.url_map.iter_rules() if r.endpoint == "media_files.media_file"}
    assert rules == ({rule} if rule else set())


# --- service helpers ----------------------------------------------------------------------------


def test_load_media_is_one_query(app, client, farmer):
    ids = [upload(client, farmer, encode(photo((50 + i, 40)), "PNG")).json["id"] for i in range(3)]
    with app.app_context():
        statements = []

        def count(*args):
            statements.append(args[2])

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            found = media_service.load_media([*ids, ids[0], 999_999])
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert sorted(found) == sorted(ids)
        assert len(statements) == 1
        assert media_service.load_media([]) == {}
        urls = media_service.media_urls(found[ids[0]])
        assert [u["format"] for u in urls] == ["jpeg", "webp"]
        assert all(u["url"].startswith("/media/img/") for u in urls)


def test_storage_is_built_once_per_app(app):
    with app.app_context():
        first = media_service.storage()
        assert media_service.storage() is first
        assert isinstance(first, LocalStorage)
        assert first.root == Path(app.config["MEDIA_ROOT"]).resolve()


# --- configuration ------------------------------------------------------------------------------

PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": "s" * 32,
    "DATABASE_URL": "postgres://db/nongjia",
    "PII_ENCRYPTION_KEY": "k" * 44,
    "WECHAT_APPID": "wx1",
    "WECHAT_SECRET": "x",
}


def test_production_s3_needs_a_bucket():
    with pytest.raises(ConfigError, match="S3_BUCKET"):
        Config.from_env(PRODUCTION | {"MEDIA_BACKEND": "s3"})
    cfg = Config.from_env(PRODUCTION | {"MEDIA_BACKEND": "s3", "S3_BUCKET": "photos"})
    assert cfg.S3_BUCKET == "photos"
    with pytest.raises(ConfigError, match="MEDIA_BACKEND"):
        Config.from_env({"MEDIA_BACKEND": "ftp"})


def test_media_settings_from_env(tmp_path):
    cfg = Config.from_env({}, instance_path=str(tmp_path))
    assert cfg.MEDIA_BACKEND == "local" and cfg.MEDIA_BASE_URL == "/media"
    assert f"{tmp_path}/media" == cfg.MEDIA_ROOT
    assert cfg.MEDIA_UPLOAD_RATE_LIMIT == "60 per hour"
    env = {
        "MEDIA_BACKEND": "s3",
        "S3_BUCKET": "b",
        "S3_REGION": "ap-guangzhou",
        "S3_ACCESS_KEY_ID": "AK",
        "S3_SECRET_ACCESS_KEY": "SK",
        "S3_PUBLIC_BASE_URL": "https://img.example.cn/",
        "MEDIA_UPLOAD_RATE_LIMIT": "10 per minute",
    }
    cfg = Config.from_env(env)
    assert (cfg.S3_REGION, cfg.S3_ACCESS_KEY_ID, cfg.S3_SECRET_ACCESS_KEY) == (
        "ap-guangzhou",
        "AK",
        "SK",
    )
    assert cfg.S3_PUBLIC_BASE_URL == "https://img.example.cn"
    assert cfg.MEDIA_UPLOAD_RATE_LIMIT == "10 per minute"
