"""Do register, resend and forgot-password take as long for an address with an account as for
one without? Medians side by side, measured on a running service.

    python -m scripts.benchmarks.timing               60 requests per case (make timing)
    python -m scripts.benchmarks.timing --requests 200

It creates a scratch database on the server of BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/postgres), starts the service as `make run` would (one
worker, production settings, rate limits off, an SMTP sink), registers one account, then sends
each route's requests alternately for that account's address and for addresses nobody has, and
prints p50 and p90 of each side. Not a test: timings depend on the machine, so it reports and
leaves the judging to the reader (docs/SECURITY.md records a run).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from scripts.benchmarks.api import smtp_sink, start_service
from scripts.benchmarks.common import DEFAULT_ADMIN_URL, percentile
from scripts.databases import create_database, database_url, drop_database

PASSWORD = "tangerine-obelisk-42"  # noqa: S105 - a benchmark account's password
WARM_UP = 5


def unknown_address() -> str:
    return f"nobody-{uuid.uuid4().hex[:12]}@example.com"


def timed(client: httpx.Client, path: str, body: dict[str, str]) -> float:
    """Milliseconds for one request, which must answer 202."""
    started = time.perf_counter()
    response = client.post(path, json=body)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 202:
        raise SystemExit(f"{path} answered {response.status_code}: {response.text}")
    return elapsed


def measure(
    client: httpx.Client,
    path: str,
    known: Callable[[], dict[str, str]],
    unknown: Callable[[], dict[str, str]],
    requests: int,
) -> tuple[list[float], list[float]]:
    """Alternate the two cases, so load from elsewhere on the machine weighs on both alike."""
    for _ in range(WARM_UP):
        timed(client, path, known())
        timed(client, path, unknown())
    with_account: list[float] = []
    without: list[float] = []
    for _ in range(requests):
        with_account.append(timed(client, path, known()))
        without.append(timed(client, path, unknown()))
    return with_account, without


def main() -> None:
    """Run the measurement and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=60, help="requests per case")
    args = parser.parse_args()
    admin_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_ADMIN_URL)
    name = f"blokid_timing_{uuid.uuid4().hex[:8]}"
    create_database(admin_url, name)
    try:
        with smtp_sink() as smtp_port, tempfile.TemporaryDirectory() as workdir:
            server = start_service(database_url(admin_url, name), 1, Path(workdir), smtp_port)
            try:
                rows = run(server.base, args.requests)
            finally:
                server.stop()
    finally:
        drop_database(database_url(admin_url, name))
    print(f"{args.requests} requests per case, one worker, alternating the cases (ms)\n")
    print("| route | with an account p50 | without p50 | with p90 | without p90 |")
    print("|---|---|---|---|---|")
    for route, known, unknown in rows:
        print(
            f"| {route} | {statistics.median(known):.2f} | {statistics.median(unknown):.2f} "
            f"| {percentile(known, 0.9):.2f} | {percentile(unknown, 0.9):.2f} |"
        )


def run(base: str, requests: int) -> list[tuple[str, list[float], list[float]]]:
    """The three routes, each measured for a known and for unknown addresses."""
    owner = f"owner-{uuid.uuid4().hex[:12]}@example.com"
    api = f"{base}/api/v1"
    with httpx.Client(base_url=api, timeout=30) as client:
        timed(client, "/auth/register", {"email": owner, "password": PASSWORD})
        rows = []
        print("register...", file=sys.stderr)
        rows.append(
            (
                "register (taken / new address)",
                *measure(
                    client,
                    "/auth/register",
                    lambda: {"email": owner, "password": PASSWORD},
                    lambda: {"email": unknown_address(), "password": PASSWORD},
                    requests,
                ),
            )
        )
        for route, path in (
            ("resend (unverified account / none)", "/auth/verify-email/resend"),
            ("forgot-password (account / none)", "/auth/forgot-password"),
        ):
            print(f"{path}...", file=sys.stderr)
            rows.append(
                (
                    route,
                    *measure(
                        client,
                        path,
                        lambda: {"email": owner},
                        lambda: {"email": unknown_address()},
                        requests,
                    ),
                )
            )
    return rows


if __name__ == "__main__":
    main()
