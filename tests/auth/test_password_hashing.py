"""Password hashing runs off the event loop, a bounded number at a time."""

import asyncio
import threading
import time

from app.auth import passwords


async def test_hashes_are_bounded_and_the_loop_keeps_running(monkeypatch):
    running = 0
    peak = 0
    lock = threading.Lock()

    def slow_hash(password: str) -> str:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)  # a hash holding its thread, as argon2 does
        with lock:
            running -= 1
        return "hashed"

    monkeypatch.setattr(passwords._hasher, "hash", slow_hash)
    passwords.configure_hash_concurrency(2)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        for _ in range(10):
            await asyncio.sleep(0.01)
            ticks += 1

    try:
        await asyncio.gather(ticker(), *(passwords.hash_password("p") for _ in range(6)))
    finally:
        passwords.configure_hash_concurrency(4)
    assert peak == 2
    assert ticks == 10


def test_policy_rejects_common_and_email_like_passwords():
    assert passwords.password_problem("qwertyuiop") is not None
    assert passwords.password_problem("ann.smith", "Ann.Smith@example.com") is not None
    assert passwords.password_problem("a" * 129) is not None
    assert passwords.password_problem("tangerine-obelisk-42", "ann@example.com") is None
    assert len(passwords.common_passwords()) >= 10_000


class TestHashingThreads:
    async def test_hashes_run_in_threads_the_scheduler_puts_after_the_event_loop(self):
        import os
        import threading

        from app.auth import passwords

        await passwords.hash_password("a password to hash")
        own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        hashing = passwords._hashing_pool().submit(
            lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        )
        assert hashing.result(timeout=10) == min(19, own + passwords.HASHING_NICENESS)
