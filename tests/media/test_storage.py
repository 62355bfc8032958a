"""Storage backends: LocalStorage on a temp dir, S3Storage against a real SeaweedFS on loopback."""

from __future__ import annotations

import os
import socket
import urllib.request
import uuid
from pathlib import Path

import pytest

from media.storage import CACHE_CONTROL, LocalStorage, S3Storage, StorageUnavailable

KEY = "img/ab/abcdef/240.webp"
BAD_KEYS = [
    "../escape.webp",
    "img/../../escape.webp",
    "/etc/passwd",
    "img//double.webp",
    "img/./x.webp",
    "img/.hidden",
    "img\\win.webp",
    "img/nul\x00.webp",
    "",
    "img/",
]


# --- LocalStorage -------------------------------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "media", base_url="/media/")


def test_local_put_exists_url_delete(local: LocalStorage) -> None:
    assert not local.exists(KEY)
    local.put(KEY, b"webp-bytes", "image/webp")
    assert local.exists(KEY)
    assert (local.root / KEY).read_bytes() == b"webp-bytes"
    assert local.url(KEY) == f"/media/{KEY}"
    local.delete(KEY)
    assert not local.exists(KEY)
    local.delete(KEY)  # deleting what is gone is fine


def test_local_put_is_idempotent_and_readable_by_others(local: LocalStorage) -> None:
    local.put(KEY, b"one", "image/webp")
    local.put(KEY, b"one", "image/webp")
    path = local.root / KEY
    assert path.read_bytes() == b"one"
    assert path.stat().st_mode & 0o777 == 0o644  # nginx must be able to serve it
    assert [p.name for p in path.parent.iterdir()] == ["240.webp"]  # no temp files left


def test_local_put_is_atomic_on_failure(local: LocalStorage, monkeypatch) -> None:
    local.put(KEY, b"old", "image/webp")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(StorageUnavailable) as info:
        local.put(KEY, b"new", "image/webp")
    assert "No space left" in info.value.detail
    path = local.root / KEY
    assert path.read_bytes() == b"old"  # the old file is intact...
    assert [p.name for p in path.parent.iterdir()] == ["240.webp"]  # ...and no debris


@pytest.mark.parametrize("key", BAD_KEYS)
def test_local_refuses_keys_that_escape(local: LocalStorage, key: str) -> None:
    for call in (
        lambda: local.put(key, b"x", "image/webp"),
        lambda: local.exists(key),
        lambda: local.delete(key),
        lambda: local.url(key),
    ):
        with pytest.raises(ValueError):
            call()
    assert not (local.root.parent / "escape.webp").exists()


def test_local_refuses_symlink_out_of_root(local: LocalStorage, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    local.root.mkdir(parents=True)
    (local.root / "img").symlink_to(outside)
    with pytest.raises(ValueError):
        local.put("img/x.webp", b"x", "image/webp")
    assert not (outside / "x.webp").exists()


def test_local_unwritable_root_is_storage_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")  # a file where the root directory should be
    with pytest.raises(StorageUnavailable):
        LocalStorage(blocker).put(KEY, b"x", "image/webp")


# --- S3Storage against SeaweedFS ----------------------------------------------------------------


@pytest.fixture
def s3(seaweedfs: str) -> S3Storage:
    storage = S3Storage(
        bucket=f"media-{uuid.uuid4().hex[:12]}",
        endpoint_url=seaweedfs,
        access_key="test",
        secret_key="test",
    )
    storage.ensure_bucket()
    return storage


def test_s3_put_exists_delete(s3: S3Storage) -> None:
    assert s3.exists(KEY) is False  # HEAD 404
    s3.put(KEY, b"webp-bytes", "image/webp")
    assert s3.exists(KEY) is True
    s3.delete(KEY)
    assert s3.exists(KEY) is False
    s3.delete(KEY)  # idempotent


def test_s3_put_is_idempotent_and_stores_headers(s3: S3Storage) -> None:
    s3.put(KEY, b"jpeg-bytes", "image/jpeg")
    s3.put(KEY, b"jpeg-bytes", "image/jpeg")
    head = s3.client.head_object(Bucket=s3.bucket, Key=KEY)
    assert head["ContentType"] == "image/jpeg"
    assert head["CacheControl"] == CACHE_CONTROL
    assert head["ContentLength"] == len(b"jpeg-bytes")


def test_s3_url(s3: S3Storage, seaweedfs: str) -> None:
    s3.put(KEY, b"webp-bytes", "image/webp")
    url = s3.url(KEY)
    assert url == f"{seaweedfs}/{s3.bucket}/{KEY}"
    # SeaweedFS without an S3 config serves anonymous reads, as a public bucket would.
    with urllib.request.urlopen(url, timeout=5) as resp:
        assert resp.read() == b"webp-bytes"
        assert resp.headers["Content-Type"] == "image/webp"
    public = S3Storage(bucket="b", endpoint_url=seaweedfs, public_base_url="https://img.example/m/")
    assert public.url(KEY) == f"https://img.example/m/{KEY}"


def test_s3_ensure_bucket_twice(s3: S3Storage) -> None:
    s3.ensure_bucket()
    s3.put(KEY, b"x", "image/webp")
    assert s3.exists(KEY)


def test_s3_refuses_bad_keys(s3: S3Storage) -> None:
    with pytest.raises(ValueError):
        s3.put("../x", b"x", "image/webp")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unreachable(endpoint: str) -> S3Storage:
    return S3Storage(
        bucket="media",
        endpoint_url=endpoint,
        access_key="test",
        secret_key="test",
        connect_timeout=0.5,
        read_timeout=0.5,
        max_attempts=1,
    )


@pytest.mark.parametrize("call", ["put", "exists", "delete", "ensure_bucket"])
def test_s3_connection_refused_is_storage_unavailable(call: str) -> None:
    storage = _unreachable(f"http://127.0.0.1:{_closed_port()}")
    args = {"put": (KEY, b"x", "image/webp"), "exists": (KEY,), "delete": (KEY,)}.get(call, ())
    with pytest.raises(StorageUnavailable) as info:
        getattr(storage, call)(*args)
    assert info.value.detail  # what failed, for the log


def test_s3_silent_server_is_storage_unavailable() -> None:
    """A server that accepts connections and never answers: the read timeout must fire.

    The kernel completes the handshake for a listening socket nobody accept()s, so no thread
    is needed to play the hung server.
    """
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        storage = _unreachable(f"http://127.0.0.1:{server.getsockname()[1]}")
        with pytest.raises(StorageUnavailable):
            storage.put(KEY, b"x", "image/webp")
