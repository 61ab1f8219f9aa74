"""Fixed-window rate limits, shared through Redis when configured, in process otherwise.

If Redis stops answering, the limiter falls back to its in-process counters (per instance) and the
service keeps answering; it goes back to Redis on the next window once Redis answers again.
"""

import logging
import time
from collections import OrderedDict

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.errors import RateLimited

logger = logging.getLogger("app.ratelimit")

_MAX_LOCAL_KEYS = 100_000


def rate_limit_redis(url: str) -> Redis:
    """A Redis client for the counters: short timeouts, so a stuck Redis costs a request about a
    second (two attempts) before the in-process fallback takes over, and one retry on a fresh
    connection, so the first command after a Redis restart does not fail on a connection the
    restart closed."""
    return Redis.from_url(
        url,
        socket_connect_timeout=0.5,
        socket_timeout=0.5,
        retry=Retry(NoBackoff(), 1),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )


class RateLimiter:
    """Counts hits per key in fixed windows and raises `RateLimited` past the limit."""

    def __init__(self, *, enabled: bool, window_seconds: int, redis: Redis | None = None) -> None:
        self.enabled = enabled
        self.window = window_seconds
        self.redis = redis
        self._local: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._redis_down_until = 0.0

    def _local_hit(self, key: str, window_index: int, increment: int = 1) -> int:
        start, count = self._local.get(key, (window_index, 0))
        if start != window_index:
            start, count = window_index, 0
        count = max(0, count + increment)
        self._local[key] = (start, count)
        self._local.move_to_end(key)
        while len(self._local) > _MAX_LOCAL_KEYS:
            self._local.popitem(last=False)
        return count

    async def _redis_hit(self, key: str, window_index: int, increment: int = 1) -> int | None:
        if self.redis is None or time.monotonic() < self._redis_down_until:
            return None
        redis_key = f"ratelimit:{key}:{window_index}"
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incrby(redis_key, increment)
                pipe.expire(redis_key, self.window + 1)
                count, _ = await pipe.execute()
            return int(count)
        except (RedisError, OSError) as exc:
            logger.warning("redis unavailable for rate limits (%s): using in-process counters", exc)
            self._redis_down_until = time.monotonic() + 5
            return None

    async def _count(self, key: str, increment: int) -> tuple[int, float]:
        """The key's count in the current window after adding `increment`, and the seconds
        until that window ends."""
        now = time.time()
        window_index = int(now // self.window)
        count = await self._redis_hit(key, window_index, increment)
        if count is None:
            count = self._local_hit(key, window_index, increment)
        return count, (window_index + 1) * self.window - now

    async def hit(self, key: str | None, limit: int) -> None:
        """Count one hit for `key`; raise `RateLimited` with the seconds left when over `limit`.
        A refused hit is taken back: only what was let through counts. A `None` key is not
        limited (an exempt client)."""
        if not self.enabled or key is None:
            return
        count, left = await self._count(key, 1)
        if count > limit:
            await self._count(key, -1)
            raise RateLimited(int(left) + 1)

    async def refund(self, key: str | None) -> None:
        """Take back one hit of `key` (for limits on failures: every attempt is counted before it
        runs, so concurrent attempts cannot all pass, and a success gives its hit back)."""
        if self.enabled and key is not None:
            await self._count(key, -1)
