"""Fixed-window rate limits, shared through Redis when configured, in process otherwise.

If Redis stops answering, the limiter falls back to its in-process counters (per instance) and the
service keeps answering; it goes back to Redis on the next window once Redis answers again.
"""

import logging
import time
from collections import OrderedDict

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.errors import RateLimited

logger = logging.getLogger("app.ratelimit")

_MAX_LOCAL_KEYS = 100_000


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
        count += increment
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
        A `None` key is not limited (an exempt client)."""
        if not self.enabled or key is None:
            return
        count, left = await self._count(key, 1)
        if count > limit:
            raise RateLimited(int(left) + 1)

    async def check(self, key: str | None, limit: int) -> None:
        """Raise `RateLimited` if `key` already reached `limit` in this window, counting nothing
        (for limits on failures, recorded with `record` once the outcome is known)."""
        if not self.enabled or key is None:
            return
        count, left = await self._count(key, 0)
        if count >= limit:
            raise RateLimited(int(left) + 1)

    async def record(self, key: str | None) -> None:
        """Count one event for `key` without refusing anything."""
        if self.enabled and key is not None:
            await self._count(key, 1)
