"""Fixed-window rate limits, shared through Redis when configured, in process otherwise.

If Redis stops answering, the limiter falls back to its in-process counters (per instance) and the
service keeps answering; it tries Redis again five seconds later.
"""

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


@dataclass(frozen=True, slots=True)
class Hit:
    """A counted hit: the store and window key it was counted in, so a refund undoes exactly it."""

    in_redis: bool
    window_key: str


class RateLimiter:
    """Counts hits per key in fixed windows and raises `RateLimited` past the limit."""

    def __init__(self, *, enabled: bool, window_seconds: int, redis: Redis | None = None) -> None:
        self.enabled = enabled
        self.window = window_seconds
        self.redis = redis
        self._local: OrderedDict[str, int] = OrderedDict()
        self._redis_down_until = 0.0
        self._hit_script = redis.register_script(_HIT_SCRIPT) if redis else None
        self._refund_script = redis.register_script(_REFUND_SCRIPT) if redis else None

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
        now = time.time()
        window_index = int(now // self.window)
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

    async def refund(self, hit: Hit | None) -> None:
        """Take back a hit counted by `hit` (for limits on failures: every attempt is counted
        while it runs, so concurrent attempts cannot all pass, and a success gives it back)."""
        if hit is None:
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


def limiter_of(request: Request) -> RateLimiter:
    """The app's rate limiter, as a dependency."""
    limiter: RateLimiter = request.app.state.limiter
    return limiter


Limiter = Annotated[RateLimiter, Depends(limiter_of)]
