"""Password rules and hashing.

argon2id at OWASP's minimum (m = 19 MiB, t = 2, p = 1: ~45 ms here) rather than pwdlib's default
(64 MiB, t = 3, p = 4: ~330 ms): it meets the recommendation at a seventh of the latency and a third
of the memory per concurrent hash. Hashes run in worker threads, at most
`PASSWORD_HASH_CONCURRENCY` at once, so a login flood neither blocks the event loop nor exhausts
memory, in threads of their own that the kernel schedules after the event loop (niceness 10),
so reads keep their latency during a flood of logins. Legacy bcrypt hashes still verify and are
upgraded on login.
"""

import asyncio
import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

MIN_LENGTH = 8
MAX_LENGTH = 128
BCRYPT_MAX_BYTES = 72

_hasher = PasswordHash(
    (Argon2Hasher(memory_cost=19 * 1024, time_cost=2, parallelism=1), BcryptHasher())
)
_limit: asyncio.Semaphore | None = None
_limit_size = 4
_executor: ThreadPoolExecutor | None = None
# How much less the hashing threads weigh with the kernel's scheduler than the event loop's.
HASHING_NICENESS = 10


def configure_hash_concurrency(size: int) -> None:
    """Set how many hashes may run at once (read at start-up)."""
    global _limit, _limit_size, _executor
    _limit_size = size
    _limit = None
    if _executor is not None:
        _executor.shutdown(wait=False)
    _executor = None


def _lower_priority() -> None:
    # Each hashing thread yields the CPU to the event loop's thread: a flood of logins then takes
    # what the reads leave, instead of queueing every read behind the hashes. Linux applies a
    # niceness to the one thread whose id is given; elsewhere this is a best effort.
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


def _hashing_pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(
            max_workers=_limit_size,
            thread_name_prefix="password-hash",
            initializer=_lower_priority,
        )
    return _executor


def _semaphore() -> asyncio.Semaphore:
    global _limit
    if _limit is None:
        _limit = asyncio.Semaphore(_limit_size)
    return _limit


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The bundled list of common passwords (from zxcvbn's frequency lists), lowercased."""
    path = Path(__file__).with_name("common_passwords.txt")
    return frozenset(
        line.strip().lower() for line in path.read_text(encoding="utf-8").splitlines() if line
    )


def password_problem(password: str, email: str | None = None, *, screen: bool = True) -> str | None:
    """Why the password is refused, or None when it is acceptable.

    The length bounds always apply. `screen` also refuses the bundled common passwords and the
    email address or its local part (PASSWORD_SCREENING).
    """
    if len(password) < MIN_LENGTH:
        return f"The password must have at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"The password must have at most {MAX_LENGTH} characters."
    if not screen:
        return None
    lowered = password.lower()
    if lowered in common_passwords():
        return "This password is too common."
    if email:
        address = email.lower()
        if lowered in (address, address.split("@", 1)[0]):
            return "The password must not be the email address."
    return None


async def hash_password(password: str) -> str:
    """An argon2id hash, computed off the event loop."""
    async with _semaphore():
        return await asyncio.get_running_loop().run_in_executor(
            _hashing_pool(), _hasher.hash, password
        )


_DUMMY_HASH = _hasher.hash("dummy password for timing equalisation")


def _verify(password: str, stored_hash: str | None) -> tuple[bool, str | None]:
    if stored_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False, None
    if stored_hash.startswith("$2") and len(password.encode()) > BCRYPT_MAX_BYTES:
        # bcrypt 5 raises for more than 72 bytes; such a password cannot be this account's.
        _hasher.verify("x", _DUMMY_HASH)
        return False, None
    try:
        return _hasher.verify_and_update(password, stored_hash)
    except ValueError:
        return False, None


async def verify_password(password: str, stored_hash: str | None) -> tuple[bool, str | None]:
    """(matches, new hash to store or None). With no stored hash, spends a dummy hash's time."""
    async with _semaphore():
        return await asyncio.get_running_loop().run_in_executor(
            _hashing_pool(), _verify, password, stored_hash
        )
