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

    def _local_hit(self, key: str, window_index: int) -> int:
        start, count = self._local.get(key, (window_index, 0))
        if start != window_index:
            start, count = window_index, 0
        count += 1
        self._local[key] = (start, count)
        self._local.move_to_end(key)
        while len(self._local) > _MAX_LOCAL_KEYS:
            self._local.popitem(last=False)
        return count

    async def _redis_hit(self, key: str, window_index: int) -> int | None:
        if self.redis is None or time.monotonic() < self._redis_down_until:
            return None
        redis_key = f"ratelimit:{key}:{window_index}"
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(redis_key)
                pipe.expire(redis_key, self.window + 1)
                count, _ = await pipe.execute()
            return int(count)
        except (RedisError, OSError) as exc:
            logger.warning("redis unavailable for rate limits (%s): using in-process counters", exc)
            self._redis_down_until = time.monotonic() + 5
            return None

    async def hit(self, key: str, limit: int) -> None:
        """Count one hit for `key`; raise `RateLimited` with the seconds left when over `limit`."""
        if not self.enabled:
            return
        now = time.time()
        window_index = int(now // self.window)
        count = await self._redis_hit(key, window_index)
        if count is None:
            count = self._local_hit(key, window_index)
        if count > limit:
            retry_after = int((window_index + 1) * self.window - now) + 1
            raise RateLimited(retry_after)
