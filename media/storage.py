"""Where variants live: a local directory (default) or any S3-compatible object store.

Keys are content-addressed (see ``media.images.variant_key``), so ``put`` is idempotent and
objects never change once written. Every backend failure surfaces as ``StorageUnavailable``.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

CACHE_CONTROL = "public, max-age=31536000, immutable"

# Segments of letters, digits, '.', '_', '-' that never start with a dot: no '..', no hidden or
# temporary files, no absolute paths, no backslashes, the same rule for every backend.
_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*")


class StorageUnavailable(Exception):
    """The store could not be reached or refused the operation; the upload may be retried."""

    def __init__(self, detail: str = "") -> None:
        self.detail = detail  # for logs only
        super().__init__(detail or "storage unavailable")


class Storage(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def url(self, key: str) -> str: ...


def check_key(key: str) -> str:
    """Keys come from our own code, so a bad one is a bug: ValueError, not StorageUnavailable."""
    if not isinstance(key, str) or len(key) > 512 or not _KEY.fullmatch(key):
        raise ValueError(f"invalid storage key: {key!r}")
    return key


class LocalStorage:
    """Files under ``root``, served by the web server (or nginx) under ``base_url``."""

    def __init__(self, root: str | os.PathLike[str], base_url: str = "/media") -> None:
        self.root = Path(root).resolve()
        self.base_url = base_url.rstrip("/")

    def _path(self, key: str) -> Path:
        path = self.root / check_key(key)
        # The key rule already forbids '..'; this also catches a symlink pointing out of root.
        if not path.resolve().is_relative_to(self.root):
            raise ValueError(f"storage key escapes the root: {key!r}")
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write beside the target and rename over it: readers see the old file or the whole
            # new one, never a half-written photo, and a crash leaves only a dot-file behind.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.chmod(tmp, 0o644)  # mkstemp makes 0600; nginx runs as another user
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StorageUnavailable(f"put {key}: {exc}") from exc

    def exists(self, key: str) -> bool:
        try:
            return self._path(key).is_file()
        except OSError as exc:
            raise StorageUnavailable(f"exists {key}: {exc}") from exc

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"delete {key}: {exc}") from exc

    def url(self, key: str) -> str:
        return f"{self.base_url}/{check_key(key)}"


class S3Storage:
    """Any S3-compatible store (AWS, Tencent COS, Aliyun OSS, SeaweedFS, MinIO) through boto3."""

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        public_base_url: str | None = None,
        connect_timeout: float = 2,
        read_timeout: float = 10,
        max_attempts: int = 2,
    ) -> None:
        self.bucket = bucket
        self.region = region
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            # total_max_attempts counts the first try; botocore's "max_attempts" counts retries.
            retries={"total_max_attempts": max_attempts, "mode": "standard"},
            # Path style works on every S3 clone and with bucket names that contain dots.
            s3={"addressing_style": "path"},
            # botocore >= 1.36 adds CRC checksums (and aws-chunked bodies over HTTPS) that several
            # S3-compatible stores reject; send them only where the API requires them.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        # A private session: boto3's default session is not safe to share between threads.
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region or "us-east-1",
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=config,
        )

    def put(self, key: str, data: bytes, content_type: str) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=check_key(key),
                Body=data,
                ContentType=content_type,
                CacheControl=CACHE_CONTROL,
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"put {key}: {exc}") from exc

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=check_key(key))
        except ClientError as exc:
            if _status(exc) == 404:
                return False
            # 403 here usually means a missing key without s3:ListBucket: a config problem.
            raise StorageUnavailable(f"exists {key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"exists {key}: {exc}") from exc
        return True

    def delete(self, key: str) -> None:
        try:  # S3 answers 204 for a missing key too, so a second delete is harmless
            self.client.delete_object(Bucket=self.bucket, Key=check_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"delete {key}: {exc}") from exc

    def url(self, key: str) -> str:
        check_key(key)
        if self.public_base_url:  # usually a CDN in front of the bucket
            return f"{self.public_base_url}/{key}"
        return f"{self.client.meta.endpoint_url.rstrip('/')}/{self.bucket}/{key}"

    def ensure_bucket(self) -> None:
        """Create the bucket if it is missing (tests and local development)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if _status(exc) != 404:
                raise StorageUnavailable(f"head bucket {self.bucket}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"head bucket {self.bucket}: {exc}") from exc
        kwargs: dict = {"Bucket": self.bucket}
        if self.region and self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self.client.create_bucket(**kwargs)
        except self.client.exceptions.BucketAlreadyOwnedByYou:
            pass  # created meanwhile by another test worker or app instance
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"create bucket {self.bucket}: {exc}") from exc


def _status(exc: ClientError) -> int | None:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
