"""The short version of each failure scenario (`make chaos` runs them in full).

Each starts its own PostgreSQL cluster, SMTP server and service with two workers (and Redis for
the Redis scenario), so it can break them; see scripts/chaos/scenarios.py for what each asserts.
"""

import shutil

import pytest

from scripts.chaos.cluster import Unavailable, server_binaries
from scripts.chaos.scenarios import SCENARIOS, run

pytestmark = pytest.mark.slow


def _missing(name: str) -> str | None:
    """Why the scenario cannot run on this machine, or None."""
    try:
        server_binaries()
    except Unavailable as exc:
        return str(exc)
    if SCENARIOS[name].with_redis and shutil.which("redis-server") is None:
        return "no redis-server on PATH (apt-get install redis-server)"
    return None


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_service_survives(name):
    reason = _missing(name)
    if reason:
        pytest.skip(reason)
    result = run(name, full=False)
    assert result.ok, "\n".join(result.failures)
