"""The service as `make run` starts it (`python -m scripts.serve`), with two workers."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.config import ROOT_DIR
from scripts.chaos.cluster import _alive, _children
from scripts.chaos.ports import free_port

SECRET_KEY = "chaos-secret-key-that-is-long-enough-for-hs256"  # noqa: S105 - a throwaway service


class Service:
    """One service instance: a uvicorn supervisor and its worker processes."""

    def __init__(
        self,
        folder: Path,
        database_url: str,
        *,
        smtp_port: int,
        redis_url: str | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.folder = folder
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = folder / "service.log"
        self.env = {
            **os.environ,
            "ENVIRONMENT": "production",
            "DATABASE_URL": database_url,
            "SECRET_KEY": SECRET_KEY,
            "PUBLIC_URL": self.base,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "WORKERS": "2",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_port),
            "REDIS_URL": redis_url or "",
            # Limits are the subject of the Redis scenario only; elsewhere they would throttle
            # the load the scenario drives.
            "RATE_LIMIT_ENABLED": "false",
            # Mail is checked at the end of every scenario: send promptly, retry soon.
            "MAIL_POLL_SECONDS": "0.1",
            "MAIL_MAX_BACKOFF_SECONDS": "2",
            # A killed worker's log lines would otherwise die in its buffer.
            "PYTHONUNBUFFERED": "1",
            **(settings or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 180) -> None:
        """Start the supervisor and wait until /health/ready answers 200."""
        self.folder.mkdir(parents=True, exist_ok=True)
        log = self.log.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-m", "scripts.serve"],
            cwd=ROOT_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service exited at start-up:\n{self.log_tail()}")
            if self.ready() and len(self.workers()) == 2:
                return
            time.sleep(0.1)
        raise RuntimeError(f"the service was not ready in {timeout:.0f} s:\n{self.log_tail()}")

    def ready(self) -> bool:
        """Whether /health/ready answers 200."""
        try:
            return httpx.get(f"{self.base}/health/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def pid(self) -> int:
        """The supervisor's pid."""
        if self.process is None:
            raise RuntimeError("the service is not running")
        return self.process.pid

    def workers(self) -> list[int]:
        """The live worker processes (children of the supervisor running the app)."""
        if self.process is None:
            return []
        found = []
        for child in _children(self.pid):
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            # multiprocessing's helper (the resource tracker) is a child too; workers are the
            # spawned interpreters.
            if b"spawn_main" in command and _alive(child):
                found.append(child)
        return sorted(found)

    def started_workers(self) -> list[int]:
        """Pids of every worker that finished its start-up, from the log, oldest first."""
        started = []
        for line in self.log.read_text(errors="replace").splitlines():
            if "Application startup complete" in line and "[" in line:
                continue
            if "Started server process [" in line:
                started.append(int(line.split("Started server process [", 1)[1].split("]", 1)[0]))
        return started

    def signal(self, number: signal.Signals) -> None:
        """Send a signal to the supervisor."""
        os.kill(self.pid, number)

    def wait(self, timeout: float) -> int | None:
        """Wait for the supervisor to exit; its exit status, or None if it still runs."""
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL the whole process group if it does not end in 30 s."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
            if self.wait(30) is None:
                os.killpg(self.pid, signal.SIGKILL)
                self.process.wait()
        else:
            # The supervisor is gone; make sure no worker outlives it.
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process = None

    def log_tail(self, lines: int = 40) -> str:
        """The service's last warnings, errors and supervisor lines (access lines left out)."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        kept = [line for line in text.splitlines() if '"app.access"' not in line]
        return "\n".join(kept[-lines:])
