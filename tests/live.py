"""Running the real server in a subprocess for tests that need several processes."""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from app.config import ROOT_DIR


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(base: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{base} did not become ready")


SERVER_START_TIMEOUT = 120.0


@contextmanager
def running_service(env: dict[str, str], port: int, log_path: Path) -> Iterator[str]:
    """The app under uvicorn in a subprocess on `port`, its output in `log_path`; yields its base
    URL once /health/ready answers, and stops it afterwards. Waits generously (importing the app
    alone can take 15 s on a loaded machine) and fails at once, with the log, if it dies."""
    base = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port)],
            cwd=ROOT_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if server.poll() is not None:
                pytest.fail(
                    f"the service exited with {server.returncode}; its log:\n{log_path.read_text()}"
                )
            try:
                wait_ready(base, timeout=5)
                break
            except TimeoutError:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"the service was not ready within {SERVER_START_TIMEOUT} s; its log:\n"
                        f"{log_path.read_text()}"
                    )
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
