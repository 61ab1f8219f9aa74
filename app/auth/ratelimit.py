"""Fixed-window rate limits, shared through Redis when configured, in process otherwise.

If Redis stops answering, the limiter falls back to its in-process counters (per instance) and the
service keeps answering; it tries Redis again five seconds later.
"""

import ipaddress
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from app.errors import RateLimited

logger = logging.getLogger("app.ratelimit")

_MAX_LOCAL_KEYS = 100_000


def rate_limit_redis(url: str) -> Redis:
    """A Redis client for the counters: short timeouts, so a stuck Redis costs a request half a
    second before the in-process fallback takes over, and one retry on a connection error only
    (the first command after a Redis restart meets a connection the restart closed). Timeouts are
    not retried: the command may have run, and running it twice would count twice."""
    return Redis.from_url(
        url,
        socket_connect_timeout=0.5,
        socket_timeout=0.5,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )


# Count one hit unless the limit is reached, in one step: a refused hit is never counted, so
# nothing has to be taken back (a take-back could land in another window).
_HIT_SCRIPT = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[1]) then return -1 end
count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return count
"""
# Give back one hit of that exact window, never below zero.
_REFUND_SCRIPT = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""


# Failed password checks of one account in one window are one Redis hash: a field per client
# network and a field for the whole account, so one step counts both, and clearing the account
# (after a password reset) is one DEL whatever the networks were.
_FAILURE_HIT_SCRIPT = """
local network = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local total = tonumber(redis.call('HGET', KEYS[1], 'all') or '0')
if network >= tonumber(ARGV[2]) or total >= tonumber(ARGV[3]) then return -1 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('HINCRBY', KEYS[1], 'all', 1)
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""
_FAILURE_REFUND_SCRIPT = """
for _, field in ipairs({ARGV[1], 'all'}) do
  local count = tonumber(redis.call('HGET', KEYS[1], field) or '0')
  if count > 0 then redis.call('HINCRBY', KEYS[1], field, -1) end
end
return 0
"""
_TOTAL = "all"


def client_network(address: str) -> str:
    """The network a client address is counted as: an IPv4 address itself, an IPv6 address its
    /64 (one subscriber usually holds a whole /64, so counting single IPv6 addresses would let
    one client rotate through billions of them). An IPv4-mapped IPv6 address is its IPv4
    address; anything unparseable is kept as it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass(frozen=True, slots=True)
class Hit:
    """A counted hit: the store and window key it was counted in, so a refund undoes exactly it.
    `field` is set for a failure hit: the network's field of the account's hash."""

    in_redis: bool
    window_key: str
    field: str | None = None


class RateLimiter:
    """Counts hits per key in fixed windows and raises `RateLimited` past the limit."""

    def __init__(self, *, enabled: bool, window_seconds: int, redis: Redis | None = None) -> None:
        self.enabled = enabled
        self.window = window_seconds
        self.redis = redis
        self._local: OrderedDict[str, int] = OrderedDict()
        self._local_failures: OrderedDict[str, dict[str, int]] = OrderedDict()
        self._redis_down_until = 0.0
        self._hit_script = redis.register_script(_HIT_SCRIPT) if redis else None
        self._refund_script = redis.register_script(_REFUND_SCRIPT) if redis else None
        self._failure_hit_script = redis.register_script(_FAILURE_HIT_SCRIPT) if redis else None
        self._failure_refund_script = (
            redis.register_script(_FAILURE_REFUND_SCRIPT) if redis else None
        )

    def _local_hit(self, window_key: str, limit: int) -> bool:
        count = self._local.get(window_key, 0)
        if count >= limit:
            return False
        self._local[window_key] = count + 1
        self._local.move_to_end(window_key)
        while len(self._local) > _MAX_LOCAL_KEYS:
            self._local.popitem(last=False)
        return True

    def _redis_usable(self) -> bool:
        return self.redis is not None and time.monotonic() >= self._redis_down_until

    def _redis_failed(self, exc: BaseException) -> None:
        logger.warning("redis unavailable for rate limits (%s): using in-process counters", exc)
        self._redis_down_until = time.monotonic() + 5

    async def hit(self, key: str | None, limit: int) -> Hit | None:
        """Count one hit for `key`, or raise `RateLimited` with the seconds left when `limit`
        hits are already counted in this window (a refused hit is not counted). Returns the hit,
        for `refund`; None when nothing was counted (disabled, or a `None` key: an exempt
        client)."""
        if not self.enabled or key is None:
            return None
        now, window_index = self._window()
        window_key = f"ratelimit:{key}:{window_index}"
        counted: bool | None = None
        if self._redis_usable() and self._hit_script is not None:
            try:
                result = await self._hit_script(keys=[window_key], args=[limit, self.window + 1])
                counted = int(result) >= 0
            except (RedisError, OSError) as exc:
                self._redis_failed(exc)
        in_redis = counted is not None
        if counted is None:
            counted = self._local_hit(window_key, limit)
        if not counted:
            raise RateLimited(int((window_index + 1) * self.window - now) + 1)
        return Hit(in_redis=in_redis, window_key=window_key)

    def _window(self) -> tuple[float, int]:
        now = time.time()
        return now, int(now // self.window)

    async def hit_failure(
        self, account: str, network: str, *, per_network: int, per_account: int
    ) -> Hit | None:
        """Count one password check of `account` from `network` (see `client_network`), or raise
        `RateLimited` when that network has `per_network` failures in this window or the
        account `per_account` from every network together.

        A stranger who fails from their own network uses up only that network's share: the
        owner, from another network, is refused only once the account's ceiling is reached,
        which takes a distributed attack. The hit is refunded when the password turns out
        right (`refund`); `clear_failures` forgets the account after a password reset.
        """
        if not self.enabled:
            return None
        now, window_index = self._window()
        window_key = f"ratelimit:{account}:{window_index}"
        field = f"net:{network}"
        counted: bool | None = None
        if self._redis_usable() and self._failure_hit_script is not None:
            try:
                result = await self._failure_hit_script(
                    keys=[window_key], args=[field, per_network, per_account, self.window + 1]
                )
                counted = int(result) >= 0
            except (RedisError, OSError) as exc:
                self._redis_failed(exc)
        in_redis = counted is not None
        if counted is None:
            counted = self._local_failure_hit(window_key, field, per_network, per_account)
        if not counted:
            raise RateLimited(int((window_index + 1) * self.window - now) + 1)
        return Hit(in_redis=in_redis, window_key=window_key, field=field)

    def _local_failure_hit(
        self, window_key: str, field: str, per_network: int, per_account: int
    ) -> bool:
        counts = self._local_failures.setdefault(window_key, {})
        if counts.get(field, 0) >= per_network or counts.get(_TOTAL, 0) >= per_account:
            return False
        counts[field] = counts.get(field, 0) + 1
        counts[_TOTAL] = counts.get(_TOTAL, 0) + 1
        self._local_failures.move_to_end(window_key)
        while len(self._local_failures) > _MAX_LOCAL_KEYS:
            self._local_failures.popitem(last=False)
        return True

    async def clear_failures(self, account: str) -> None:
        """Forget the account's failed password checks of this window (a password reset proved
        the owner: whatever strangers tried no longer holds them back)."""
        _, window_index = self._window()
        window_key = f"ratelimit:{account}:{window_index}"
        self._local_failures.pop(window_key, None)
        if self._redis_usable() and self.redis is not None:
            try:
                await self.redis.delete(window_key)
            except (RedisError, OSError) as exc:
                self._redis_failed(exc)

    async def refund(self, hit: Hit | None) -> None:
        """Take back a hit counted by `hit` (for limits on failures: every attempt is counted
        while it runs, so concurrent attempts cannot all pass, and a success gives it back)."""
        if hit is None:
            return
        if hit.field is not None:
            await self._refund_failure(hit, hit.field)
            return
        if not hit.in_redis:
            count = self._local.get(hit.window_key, 0)
            if count > 0:
                self._local[hit.window_key] = count - 1
            return
        if self._refund_script is None:
            return
        try:
            await self._refund_script(keys=[hit.window_key])
        except (RedisError, OSError) as exc:
            # The hit stays counted until its window ends: refusing too much, never too little.
            self._redis_failed(exc)

    async def _refund_failure(self, hit: Hit, field: str) -> None:
        if not hit.in_redis:
            counts = self._local_failures.get(hit.window_key)
            if counts is not None:
                for name in (field, _TOTAL):
                    if counts.get(name, 0) > 0:
                        counts[name] -= 1
            return
        if self._failure_refund_script is None:
            return
        try:
            await self._failure_refund_script(keys=[hit.window_key], args=[field])
        except (RedisError, OSError) as exc:
            self._redis_failed(exc)


async def limiter_of(request: Request) -> RateLimiter:
    """The app's rate limiter, as a dependency (async: FastAPI runs a plain function dependency
    in its thread pool, a hand-off that costs more than this lookup)."""
    limiter: RateLimiter = request.app.state.limiter
    return limiter


Limiter = Annotated[RateLimiter, Depends(limiter_of)]
