"""`make bench`: the API's hot paths against a floor app, measured with wrk in the same run.

    python -m scripts.benchmarks.api                       1e3 and 1e6 websites, every scenario
    python -m scripts.benchmarks.api --sizes 1000 --duration 5 --rounds 1     a quick look
    python -m scripts.benchmarks.api --profile             also a py-spy profile per scenario

For each size N it creates `blokid_api_bench_<N>` on the server of BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/postgres), migrates it, seeds the policy, and loads with COPY
N websites and about N memberships. It then starts the service (`python -m scripts.serve`, as
`make run` does, with ENVIRONMENT=production and rate limits off) and the floor app
(`scripts/benchmarks/floor.py`) with the same worker count against that database, and drives them
alternately with wrk (`-t1 -c32`): every round measures the floor, then each scenario. The table
gives medians over the rounds and each scenario's throughput as a ratio of the floor's from the
same rounds, so the figures compare across machines.

Scenarios: a website read, `/users/me`, an organization's website list (first page and a deep
cursor), `GET /websites` for a member of many organizations (first page and a deep cursor),
writes (create, update, delete a website; invite), login at 32 connections against what the
machine can hash, reads during a login flood, and read throughput with two workers.

The table goes to stdout; progress to stderr. Exit status 0 whether or not targets are met.
"""

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psycopg

from app.auth.passwords import _hasher as password_hasher
from app.config import ROOT_DIR
from app.db import libpq_url
from app.pagination import encode_cursor
from scripts.benchmarks.common import (
    DEFAULT_ADMIN_URL,
    copy_rows,
    hex_id,
    random_ids,
)
from scripts.databases import create_database, database_url, drop_database, prepare

SECRET_KEY = "bench-secret-key-that-is-long-enough-for-hs256-signing"  # noqa: S105
PASSWORD = "bench password 1"  # noqa: S105 - the benchmark's own users
OWNER_EMAIL = "owner@bench.example"
MEMBER_EMAIL = "member@bench.example"
MEMBER_ORGS = 50
CREATION_STRIDE = 7919  # a prime that divides no size (sizes are powers of ten)
READ_SAMPLE = 1000
LUA = Path(__file__).with_name("wrk.lua")
PYTHON = sys.executable

READ_TARGET = 0.6
LIST_TARGET = 0.4
WRITE_TARGET = 0.3
LOGIN_TARGET = 0.8
FLAT_RATIO = 1.2
SCALING_TARGET = 1.6


def log(message: str) -> None:
    """A progress line on stderr."""
    sys.stderr.write(f"[bench] {message}\n")
    sys.stderr.flush()


# --- Data --------------------------------------------------------------------------------------


@dataclass
class Dataset:
    """What was loaded for one size, and the ids the scenarios use."""

    size: int
    owner_org: str
    scratch_org: str
    member_orgs: list[str]
    owner_websites: int
    deletable: list[str] = field(default_factory=list)
    read_ids: list[str] = field(default_factory=list)
    owner_deep_cursor: str = ""
    member_deep_cursor: str = ""


def load(url: str, size: int, *, deletable: int) -> Dataset:
    """COPY `size` websites and about `size` memberships, shaped for the scenarios.

    - the owner is admin of organization A, which holds half the websites (the organization
      list and the website reads), and of a scratch organization C (writes: new websites and
      invitations land there; `deletable` websites wait there to be deleted);
    - the member is `user` in MEMBER_ORGS organizations sharing the other websites (`GET
      /websites` for a member of many organizations);
    - filler users, each a member of a filler organization and of one website, bring the
      memberships to about `size`.
    """
    owner_share = size // 2
    member_share = size - owner_share - deletable
    fillers = max(1, size // 2)
    filler_orgs = max(1, fillers // 10)
    org_ids = random_ids(3 + MEMBER_ORGS + filler_orgs)
    user_ids = random_ids(2 + fillers)
    website_ids = random_ids(size)
    owner_hash = password_hasher.hash(PASSWORD)
    base = datetime(2026, 1, 1, tzinfo=UTC)

    def org(i: int) -> str:
        return hex_id(org_ids, i)

    a, c = org(0), org(1)
    member_orgs = [org(3 + k) for k in range(MEMBER_ORGS)]

    def website_org(j: int) -> str:
        if j < owner_share:
            return a
        if j < owner_share + deletable:
            return c
        return member_orgs[(j - owner_share - deletable) % MEMBER_ORGS]

    def users() -> Iterator[str]:
        verified = base.isoformat()
        yield f"{hex_id(user_ids, 0)}\t{OWNER_EMAIL}\t{owner_hash}\t{verified}\n"
        yield f"{hex_id(user_ids, 1)}\t{MEMBER_EMAIL}\t{owner_hash}\t{verified}\n"
        for i in range(fillers):
            yield f"{hex_id(user_ids, 2 + i)}\tfiller{i}@bench.example\t!\t{verified}\n"

    def organizations() -> Iterator[str]:
        for i in range(3 + MEMBER_ORGS + filler_orgs):
            yield f"{org(i)}\tOrganization {i}\n"

    def websites() -> Iterator[str]:
        for j in range(size):
            host = f"site{j}.bench.example"
            # Creation times interleave every organization's websites, as tenants create them
            # side by side; a multiplicative permutation of the indexes, distinct for every j.
            created = (base + timedelta(seconds=(j * CREATION_STRIDE) % size)).isoformat()
            yield (
                f"{hex_id(website_ids, j)}\t{website_org(j)}\tWebsite {j}\t"
                f"https://{host}/\t{host}\t{created}\n"
            )

    def organization_memberships() -> Iterator[str]:
        owner, member = hex_id(user_ids, 0), hex_id(user_ids, 1)
        yield f"{a}\t{owner}\tadmin\n"
        yield f"{c}\t{owner}\tadmin\n"
        for o in member_orgs:
            yield f"{o}\t{member}\tuser\n"
        for i in range(fillers):
            role = "admin" if i % 10 == 0 else "user"
            yield f"{org(3 + MEMBER_ORGS + i // 10)}\t{hex_id(user_ids, 2 + i)}\t{role}\n"

    def website_memberships() -> Iterator[str]:
        for i in range(fillers):
            site = (i * 2_654_435_761) % size
            yield f"{hex_id(website_ids, site)}\t{hex_id(user_ids, 2 + i)}\tuser\n"

    total = (2 + fillers) + (3 + MEMBER_ORGS + filler_orgs) + size + (2 + MEMBER_ORGS + fillers)
    total += fillers
    copy_rows(
        url,
        [
            (
                "users",
                "COPY users (id, email, hashed_password, email_verified_at) FROM STDIN",
                users(),
            ),
            ("organizations", "COPY organizations (id, name) FROM STDIN", organizations()),
            (
                "websites",
                "COPY websites (id, organization_id, name, url, host, created_at) FROM STDIN",
                websites(),
            ),
            (
                "organization_memberships",
                "COPY organization_memberships (organization_id, user_id, role) FROM STDIN",
                organization_memberships(),
            ),
            (
                "website_memberships",
                "COPY website_memberships (website_id, user_id, role) FROM STDIN",
                website_memberships(),
            ),
        ],
        total,
    )
    data = Dataset(
        size, str(UUID(a)), str(UUID(c)), [str(UUID(o)) for o in member_orgs], owner_share
    )
    data.deletable = [
        str(UUID(hex_id(website_ids, j))) for j in range(owner_share, owner_share + deletable)
    ]
    step = max(1, owner_share // READ_SAMPLE)
    data.read_ids = [str(UUID(hex_id(website_ids, j))) for j in range(0, owner_share, step)]
    with psycopg.connect(libpq_url(url)) as connection:
        data.owner_deep_cursor = _cursor_at(
            connection,
            "SELECT created_at, id FROM websites WHERE organization_id = %s "
            "ORDER BY created_at, id OFFSET %s LIMIT 1",
            (a, int(owner_share * 0.9)),
        )
        data.member_deep_cursor = _cursor_at(
            connection,
            "SELECT created_at, id FROM websites WHERE organization_id = ANY(%s) "
            "ORDER BY created_at, id OFFSET %s LIMIT 1",
            ([UUID(o) for o in member_orgs], int(member_share * 0.9)),
        )
    return data


def _cursor_at(connection: psycopg.Connection[Any], query: str, params: Any) -> str:
    row = connection.execute(query, params).fetchone()
    if row is None:
        return ""
    return encode_cursor(row[0], row[1])


# --- Processes ---------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A server process started for the benchmark."""

    name: str
    base: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def pids(self) -> list[int]:
        """The process and its children (uvicorn's workers)."""
        found = [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        if children.exists():
            found += [int(p) for p in children.read_text().split()]
        return found

    def stop(self) -> None:
        """SIGINT, then SIGKILL if it lingers."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def start(name: str, command: list[str], env: dict[str, str], port: int, workdir: Path) -> Server:
    """Start a server in its own process group and wait until it answers."""
    log_path = workdir / f"{name}.log"
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
        command,
        cwd=ROOT_DIR,
        env={**os.environ, **env},
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    probe = "/health/ready" if name.startswith("service") else "/docs"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited: {log_path.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(base + probe, timeout=1).status_code == 200:
                return Server(name, base, process, log_path)
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not answer within 120 s: {log_path.read_text()[-2000:]}")


def start_service(url: str, workers: int, workdir: Path, smtp_port: int) -> Server:
    """The service as `make run` starts it, in production mode with rate limits off."""
    port = free_port()
    env = {
        "DATABASE_URL": url,
        "ENVIRONMENT": "production",
        "SECRET_KEY": SECRET_KEY,
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "RATE_LIMIT_ENABLED": "false",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKERS": str(workers),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "REDIS_URL": "",
    }
    return start(f"service-w{workers}", [PYTHON, "-m", "scripts.serve"], env, port, workdir)


def start_floor(url: str, workers: int, workdir: Path) -> Server:
    """The floor app with the same worker count."""
    port = free_port()
    env = {"FLOOR_DATABASE_URL": url, "FLOOR_SECRET_KEY": SECRET_KEY}
    command = [
        PYTHON,
        "-m",
        "uvicorn",
        "scripts.benchmarks.floor:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    return start(f"floor-w{workers}", command, env, port, workdir)


@contextlib.contextmanager
def smtp_sink() -> Iterator[int]:
    """An SMTP server that accepts and drops every mail (the service's outbox needs one)."""
    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            return "250 OK"

    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


# --- wrk ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One wrk run's figures."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


@dataclass(frozen=True)
class Scenario:
    """A request mix for wrk: what `wrk.lua` does and against which server."""

    name: str
    label: str
    target: str  # "service" or "floor"
    mode: str
    path: str
    token: str = ""
    ids_file: str = ""
    body: str = ""
    connections: int = 32
    kind: str = "read"
    threads: int = 1


def wrk_command(base: str, scenario: Scenario, duration: float, tag: str) -> list[str]:
    """The wrk command line of one run."""
    return [
        "wrk",
        f"-t{scenario.threads}",
        f"-c{scenario.connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        base,
        "--",
        # wrk drops empty arguments, so "-" stands for "none".
        *(value or "-" for value in (scenario.mode, scenario.path, scenario.token)),
        *(value or "-" for value in (scenario.ids_file, scenario.body, tag)),
        str(scenario.threads),
    ]


def wrk(base: str, scenario: Scenario, duration: float, tag: str) -> Run:
    """Run wrk once; the Lua script prints its figures as one JSON line."""
    command = wrk_command(base, scenario, duration, tag)
    finished = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if finished.returncode != 0:
        raise RuntimeError(f"wrk failed: {finished.stdout[-1000:]} {finished.stderr[-1000:]}")
    output = finished.stdout
    line = next(x for x in output.splitlines() if x.startswith("{"))
    figures = json.loads(line)
    seconds = figures["duration_us"] / 1e6
    return Run(
        rps=figures["requests"] / seconds if seconds else 0.0,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        requests=figures["requests"],
        errors=figures["errors"],
    )


def wrk_available() -> bool:
    """Whether wrk is installed (Debian: `apt-get install wrk`)."""
    try:
        subprocess.run(["wrk", "--version"], capture_output=True, check=False)  # noqa: S607
    except FileNotFoundError:
        return False
    return True


# --- Scenarios ---------------------------------------------------------------------------------


def login(base: str, email: str) -> str:
    """An access token for a benchmark user."""
    answer = httpx.post(
        f"{base}/api/v1/auth/login", data={"username": email, "password": PASSWORD}, timeout=30
    )
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


def read_scenarios(data: Dataset, owner: str, member: str, ids_file: str) -> list[Scenario]:
    """The read scenarios of one size."""
    org_list = f"/api/v1/organizations/{data.owner_org}/websites?limit=20"
    return [
        Scenario(
            "get_website",
            "`GET /websites/{id}`",
            "service",
            "get",
            "/api/v1/websites/",
            owner,
            ids_file,
        ),
        Scenario("users_me", "`GET /users/me`", "service", "get", "/api/v1/users/me", owner),
        Scenario(
            "org_list",
            "`GET /organizations/{id}/websites` first page",
            "service",
            "get",
            org_list,
            owner,
            kind="list",
        ),
        Scenario(
            "org_list_deep",
            "`GET /organizations/{id}/websites` deep cursor",
            "service",
            "get",
            f"{org_list}&cursor={data.owner_deep_cursor}",
            owner,
            kind="list",
        ),
        Scenario(
            "my_websites",
            "`GET /websites` (50 organizations) first page",
            "service",
            "get",
            "/api/v1/websites?limit=20",
            member,
            kind="list",
        ),
        Scenario(
            "my_websites_deep",
            "`GET /websites` (50 organizations) deep cursor",
            "service",
            "get",
            f"/api/v1/websites?limit=20&cursor={data.member_deep_cursor}",
            member,
            kind="list",
        ),
    ]


def write_scenarios(data: Dataset, owner: str, ids_file: str, delete_file: str) -> list[Scenario]:
    """The write scenarios (run at the largest size only)."""
    scratch = data.scratch_org
    return [
        Scenario(
            "create_website",
            "`POST /organizations/{id}/websites`",
            "service",
            "create",
            f"/api/v1/organizations/{scratch}/websites",
            owner,
            kind="write",
        ),
        Scenario(
            "update_website",
            "`PATCH /websites/{id}`",
            "service",
            "update",
            "/api/v1/websites/",
            owner,
            ids_file,
            kind="write",
        ),
        Scenario(
            "delete_website",
            "`DELETE /websites/{id}`",
            "service",
            "delete",
            "/api/v1/websites/",
            owner,
            delete_file,
            kind="write",
        ),
        Scenario(
            "invite",
            "`POST /organizations/{id}/invitations`",
            "service",
            "invite",
            f"/api/v1/organizations/{scratch}/invitations",
            owner,
            kind="write",
        ),
    ]


# --- Measuring ---------------------------------------------------------------------------------


@dataclass
class Result:
    """Medians over the rounds of one scenario, with the floor of the same rounds."""

    size: int
    scenario: Scenario
    runs: list[Run]
    floor: list[Run]
    note: str = ""

    @property
    def rps(self) -> float:
        return statistics.median(r.rps for r in self.runs)

    @property
    def p50(self) -> float:
        return statistics.median(r.p50_ms for r in self.runs)

    @property
    def p99(self) -> float:
        return statistics.median(r.p99_ms for r in self.runs)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.runs)

    @property
    def floor_rps(self) -> float:
        return statistics.median(r.rps for r in self.floor) if self.floor else 0.0

    @property
    def ratio(self) -> float:
        return self.rps / self.floor_rps if self.floor_rps else 0.0


def argon2_verify_seconds(samples: int = 15) -> float:
    """The median time of one argon2id verify at the service's parameters, in this process."""
    stored = password_hasher.hash(PASSWORD)
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        password_hasher.verify(PASSWORD, stored)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


@contextlib.contextmanager
def profiling(server: Server, scenario: Scenario, seconds: float, workdir: Path) -> Iterator[None]:
    """py-spy records the server's processes while the block runs; a summary is printed after."""
    out = workdir / f"profile-{scenario.name}.txt"
    command = [
        str(Path(PYTHON).parent / "py-spy"),
        "record",
        "--rate",
        "200",
        "--duration",
        str(int(seconds)),
        "--format",
        "raw",
        "--nonblocking",
        "--subprocesses",
        "--output",
        str(out),
        "--pid",
        str(server.process.pid),
    ]
    recorder = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )  # noqa: S603
    try:
        yield
    finally:
        recorder.wait()
    if out.exists():
        log(f"profile of {scenario.name} in {out}:")
        for line in summarize_profile(out):
            log(f"    {line}")


def _package(frame: str) -> str:
    # "function (path/to/module.py:line)" -> the top package (or module) of the path.
    location = frame.rpartition("(")[2].rstrip(")")
    path = location.rpartition(":")[0]
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    elif "/lib/python3" in path:
        path = path.split("/lib/python3", 1)[1].split("/", 1)[-1]
    elif "/work/" in path or path.startswith("/"):
        path = path.rsplit("/main/", 1)[-1]
    head = path.split("/", 1)[0]
    return head.removesuffix(".py") or "?"


def summarize_profile(path: Path, top: int = 10) -> list[str]:
    """Where the samples are: own time by package, then the busiest functions (leaf frames)."""
    own: dict[str, int] = {}
    packages: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        frames = stack.split(";")
        leaf = frames[-1] if frames else "?"
        if "Condition.wait" in leaf or "select" in leaf.split(" ")[0]:
            continue  # idle threads and the event loop waiting for I/O
        count = int(count_text)
        total += count
        own[leaf] = own.get(leaf, 0) + count
        package = _package(leaf)
        packages[package] = packages.get(package, 0) + count
    if not total:
        return []
    by_package = sorted(packages.items(), key=lambda item: -item[1])[:top]
    lines = [
        "own time by package: " + ", ".join(f"{p} {100 * n / total:.0f}%" for p, n in by_package)
    ]
    ranked = sorted(own.items(), key=lambda item: -item[1])[:top]
    lines += [f"{100 * n / total:5.1f}%  {frame}" for frame, n in ranked]
    return lines


def measure_size(
    admin_url: str, size: int, options: argparse.Namespace, workdir: Path, smtp_port: int
) -> list[Result]:
    """Load one size, start both servers, run every scenario of that size."""
    name = f"blokid_api_bench_{size}"
    url = database_url(admin_url, name)
    largest = size == max(options.sizes)
    deletable = min(size // 10, 100_000) if largest and not options.skip_writes else 0
    log(f"size {size:,}: creating {name}")
    create_database(admin_url, name)
    results: list[Result] = []
    try:
        prepare(url, quiet=True)
        data = load(url, size, deletable=deletable)
        ids_file = workdir / f"read-ids-{size}.txt"
        ids_file.write_text("\n".join(data.read_ids) + "\n")
        # Each delete run gets ids no other run has deleted.
        chunks = options.rounds + 1
        chunk = max(1, len(data.deletable) // chunks)
        delete_files = []
        for k in range(chunks):
            path = workdir / f"delete-ids-{size}-{k}.txt"
            path.write_text("\n".join(data.deletable[k * chunk : (k + 1) * chunk]) + "\n")
            delete_files.append(str(path))
        service = start_service(url, 1, workdir, smtp_port)
        floor = start_floor(url, 1, workdir)
        try:
            owner = login(service.base, OWNER_EMAIL)
            member = login(service.base, MEMBER_EMAIL)
            floor_scenario = Scenario(
                "floor",
                "floor: `GET /websites/{id}`",
                "floor",
                "get",
                "/api/v1/websites/",
                owner,
                str(ids_file),
            )
            scenarios = read_scenarios(data, owner, member, str(ids_file))
            if largest and not options.skip_writes:
                scenarios += write_scenarios(data, owner, str(ids_file), delete_files[0])
            if options.scenarios:
                wanted = set(options.scenarios.split(","))
                scenarios = [s for s in scenarios if s.name in wanted]
            runs: dict[str, list[Run]] = {s.name: [] for s in scenarios}
            floor_runs: list[Run] = []
            settle(url)
            # Warm-up: every route under load, so prepared statements and caches are built.
            wrk(floor.base, floor_scenario, 5, "warm")
            for s in scenarios:
                if s.kind != "write":
                    wrk(service.base, s, 2, "warm")
            for round_ in range(options.rounds):
                floor_runs.append(wrk(floor.base, floor_scenario, options.duration, f"r{round_}"))
                log(f"  round {round_ + 1}: floor {floor_runs[-1].rps:,.0f} req/s")
                for s in scenarios:
                    if s.mode == "delete":
                        s = replace(s, ids_file=delete_files[round_ + 1])
                    run = wrk(service.base, s, options.duration, f"{size}r{round_}")
                    runs[s.name].append(run)
                    log(
                        f"  round {round_ + 1}: {s.name} {run.rps:,.0f} req/s p50 {run.p50_ms:.1f} ms"
                    )
                if largest and not options.skip_writes:
                    wait_for_outbox(url)
            results.append(Result(size, floor_scenario, floor_runs, floor_runs))
            for s in scenarios:
                results.append(Result(size, s, runs[s.name], floor_runs))
            if options.profile:
                for s in [floor_scenario, *scenarios]:
                    target = floor if s.target == "floor" else service
                    with profiling(target, s, options.duration, workdir):
                        wrk(target.base, s, options.duration, f"{size}prof")
            if largest and not options.skip_login:
                results += measure_login(service, floor_runs, size, owner, str(ids_file), options)
        finally:
            service.stop()
            floor.stop()
        if largest and not options.skip_scaling:
            results += measure_scaling(url, size, owner, str(ids_file), options, workdir, smtp_port)
    finally:
        if not options.keep:
            drop_database(url)
    return results


def settle(url: str, timeout: float = 300) -> None:
    """Wait until no autovacuum works on the freshly loaded database: one that starts during
    a round weighs on whichever server is measured then (seen: the floor at a sixth of its
    throughput right after a 1e6 load)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        while time.monotonic() < deadline:
            row = connection.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE backend_type = 'autovacuum worker' AND datname = current_database()"
            ).fetchone()
            if not row or row[0] == 0:
                return
            time.sleep(2)


def wait_for_outbox(url: str, timeout: float = 300) -> None:
    """Wait until the invitation mails are sent, so sending them does not weigh on what is
    measured next."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        while time.monotonic() < deadline:
            row = connection.execute(
                "SELECT count(*) FROM outbox_mails WHERE status = 'pending'"
            ).fetchone()
            if not row or row[0] == 0:
                return
            time.sleep(1)
    log("  the outbox did not drain within the timeout; measuring on")


def measure_login(
    service: Server, floor_runs: list[Run], size: int, owner: str, ids_file: str, options: Any
) -> list[Result]:
    """Login throughput at 32 connections against what the machine can hash; reads meanwhile."""
    verify = argon2_verify_seconds()
    capacity = (os.cpu_count() or 1) / verify
    log(
        f"  one argon2id verify: {verify * 1000:.1f} ms; {os.cpu_count()} cores hash {capacity:.0f}/s"
    )
    form = f"username={OWNER_EMAIL.replace('@', '%40')}&password={PASSWORD.replace(' ', '+')}"
    login_scenario = Scenario(
        "login",
        "`POST /auth/login` (c32)",
        "service",
        "login",
        "/api/v1/auth/login",
        body=form,
        kind="login",
    )
    read = Scenario(
        "read_idle",
        "`GET /websites/{id}` (c8) idle",
        "service",
        "get",
        "/api/v1/websites/",
        owner,
        ids_file,
        connections=8,
        kind="flood",
    )
    read_flood = Scenario(
        "read_flood",
        "`GET /websites/{id}` (c8) during a login flood",
        "service",
        "get",
        "/api/v1/websites/",
        owner,
        ids_file,
        connections=8,
        kind="flood",
    )
    logins, idle, flooded = [], [], []
    for round_ in range(options.rounds):
        logins.append(wrk(service.base, login_scenario, options.duration, f"l{round_}"))
        idle.append(wrk(service.base, read, options.duration, f"i{round_}"))
        flood = _background_wrk(service.base, login_scenario, options.duration + 2)
        time.sleep(1)
        flooded.append(wrk(service.base, read_flood, options.duration, f"f{round_}"))
        flood.wait()
        log(
            f"  round {round_ + 1}: login {logins[-1].rps:.0f}/s p99 {logins[-1].p99_ms:.0f} ms; "
            f"reads idle p99 {idle[-1].p99_ms:.1f} ms, during the flood {flooded[-1].p99_ms:.1f} ms"
        )
    login_result = Result(size, login_scenario, logins, [], note=f"capacity {capacity:.0f}/s")
    login_result.floor = [Run(capacity, 0, 0, 0, 0)]
    return [
        login_result,
        Result(size, read, idle, floor_runs),
        Result(size, read_flood, flooded, floor_runs),
    ]


def _background_wrk(base: str, scenario: Scenario, duration: float) -> subprocess.Popen[bytes]:
    command = wrk_command(base, scenario, duration, "bg")
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )  # noqa: S603


def measure_scaling(
    url: str, size: int, owner: str, ids_file: str, options: Any, workdir: Path, smtp_port: int
) -> list[Result]:
    """Website reads with two workers against one, service and floor."""
    results = []
    by_workers: dict[int, tuple[list[Run], list[Run]]] = {}
    for workers in (1, 2):
        service = start_service(url, workers, workdir, smtp_port)
        floor = start_floor(url, workers, workdir)
        try:
            token = login(service.base, OWNER_EMAIL)
            s = Scenario(
                f"read_w{workers}",
                f"`GET /websites/{{id}}`, {workers} worker(s), wrk -t2",
                "service",
                "get",
                "/api/v1/websites/",
                token,
                ids_file,
                connections=64,
                kind="scaling",
                threads=2,
            )
            f = Scenario(
                f"floor_w{workers}",
                f"floor, {workers} worker(s)",
                "floor",
                "get",
                "/api/v1/websites/",
                token,
                ids_file,
                connections=64,
                kind="scaling",
                threads=2,
            )
            wrk(service.base, s, 2, "warm")
            wrk(floor.base, f, 2, "warm")
            service_runs, floor_runs = [], []
            for round_ in range(options.rounds):
                floor_runs.append(wrk(floor.base, f, options.duration, f"s{round_}"))
                service_runs.append(wrk(service.base, s, options.duration, f"s{round_}"))
                log(
                    f"  {workers} worker(s): service {service_runs[-1].rps:,.0f}/s, floor {floor_runs[-1].rps:,.0f}/s"
                )
            by_workers[workers] = (service_runs, floor_runs)
            results.append(Result(size, s, service_runs, floor_runs))
        finally:
            service.stop()
            floor.stop()
    return results


# --- Report ------------------------------------------------------------------------------------


def table(results: Sequence[Result]) -> str:
    """The Markdown table of every scenario."""
    lines = [
        "| websites | scenario | req/s | p50 (ms) | p99 (ms) | floor req/s | ratio | errors |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        floor = f"{r.floor_rps:,.0f}" if r.floor else "—"
        ratio = f"{r.ratio:.2f}" if r.floor and r.scenario.target != "floor" else "—"
        if r.scenario.kind == "login":
            floor = f"{r.floor_rps:,.0f} (hash capacity)"
        lines.append(
            f"| {r.size:,} | {r.scenario.label} | {r.rps:,.0f} | {r.p50:.1f} | {r.p99:.1f} | "
            f"{floor} | {ratio} | {r.errors} |"
        )
    return "\n".join(lines)


def targets(results: Sequence[Result]) -> str:
    """Each target with its figure and whether it is met."""
    by = {(r.size, r.scenario.name): r for r in results}
    sizes = sorted({r.size for r in results})
    rows = ["| target | figure | |", "|---|---|---|"]

    def add(text: str, figure: str, met: bool) -> None:
        rows.append(f"| {text} | {figure} | {'met' if met else '**not met**'} |")

    for r in results:
        if r.scenario.target == "floor" or r.scenario.kind in ("login", "flood", "scaling"):
            continue
        goal = {"read": READ_TARGET, "list": LIST_TARGET, "write": WRITE_TARGET}[r.scenario.kind]
        add(f"{r.scenario.name} at {r.size:,} ≥ {goal}", f"{r.ratio:.2f}", r.ratio >= goal)
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        for name in ("org_list", "org_list_deep", "my_websites", "my_websites_deep"):
            if (small, name) in by and (large, name) in by:
                a, b = by[(small, name)].p50, by[(large, name)].p50
                add(
                    f"{name} p50 at {large:,} ≤ {FLAT_RATIO} × at {small:,}",
                    f"{b:.1f} / {a:.1f} ms = {b / a:.2f}×",
                    b <= FLAT_RATIO * a,
                )
    for (size, name), r in by.items():
        if name == "login":
            add(
                "login ≥ 0.8 × hash capacity",
                f"{r.rps:.0f} / {r.floor_rps:.0f} = {r.ratio:.2f}",
                r.ratio >= LOGIN_TARGET,
            )
            add("login p99 < 2 s", f"{r.p99:.0f} ms", r.p99 < 2000)
        if name == "read_flood" and (size, "read_idle") in by:
            idle = by[(size, "read_idle")].p99
            add(
                "read p99 during a login flood ≤ 2 × idle",
                f"{r.p99:.1f} / {idle:.1f} ms = {r.p99 / idle:.2f}×",
                r.p99 <= 2 * idle,
            )
        if name == "read_w2" and (size, "read_w1") in by:
            one = by[(size, "read_w1")].rps
            add(
                "2 workers ≥ 1.6 × 1 worker",
                f"{r.rps:,.0f} / {one:,.0f} = {r.rps / one:.2f}×",
                r.rps >= SCALING_TARGET * one,
            )
    return "\n".join(rows)


def machine(admin_url: str) -> str:
    """One line describing where the figures come from."""
    with psycopg.connect(libpq_url(admin_url)) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    version = row[0] if row else "?"
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, PostgreSQL {version}, "
        f"load average {load:.2f} at the end"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,1000000", help="website counts (comma-separated)")
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (medians)")
    parser.add_argument("--profile", action="store_true", help="py-spy profile per scenario")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    parser.add_argument("--scenarios", default="", help="only these scenarios (comma-separated)")
    parser.add_argument("--skip-writes", action="store_true")
    parser.add_argument("--skip-login", action="store_true")
    parser.add_argument("--skip-scaling", action="store_true")
    options = parser.parse_args(argv)
    options.sizes = sorted(int(float(s)) for s in options.sizes.split(","))
    if not wrk_available():
        sys.exit("wrk is not installed: `apt-get install wrk` (Debian's package) and run again")
    admin_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_ADMIN_URL)
    workdir = Path(tempfile.mkdtemp(prefix="blokid-bench-"))
    log(f"logs and profiles in {workdir}")
    results: list[Result] = []
    with smtp_sink() as smtp_port:
        for size in options.sizes:
            results += measure_size(admin_url, size, options, workdir, smtp_port)
    print(
        f"Machine: {machine(admin_url)}; wrk -t1 -c32 -d{options.duration:g}s, {options.rounds} alternating rounds, medians.\n"
    )
    print(table(results))
    print()
    print(targets(results))


if __name__ == "__main__":
    main()
