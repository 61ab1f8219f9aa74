"""Authorization benchmark: worker start-up, memory and decision latency versus role assignments.

    python -m scripts.benchmarks.authz                        1e3, 1e5 and 1e6 assignments
    python -m scripts.benchmarks.authz --sizes 1000,100000    chosen sizes (1e5 is accepted too)
    python -m scripts.benchmarks.authz --keep                 keep the blokid_bench_<n> databases

For each size N it creates the database `blokid_bench_<N>` on the server of BENCH_DATABASE_URL
(default postgresql://postgres@127.0.0.1:5432/postgres; an existing one is dropped first), migrates
it, seeds the policy, loads N role assignments with COPY, measures, and drops it unless --keep:

- start-up: a fresh worker process (imports `app.main`, builds the engine, `PolicyStore.reload()`),
  timed from spawn to reload done, with the process's peak RSS; measured last, the sizes taking
  turns, so that other load on the machine weighs on every size alike;
- memo hit / memo miss: `PolicyEngine.allows` on a repeated key, and with the memo cleared;
- guard total: the real website guard of `app.authz.guards` (its one SQL query plus the decisions)
  on random existing website/user pairs.

The figures table goes to stdout; progress and diagnostics go to stderr. Exit status is 0 whether
or not the targets are met: the table says which are.
"""

import argparse
import asyncio
import importlib
import json
import logging
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from math import ceil
from types import SimpleNamespace
from typing import cast
from uuid import UUID, uuid4

import asyncpg
import psycopg
import sqlalchemy as sa

from app.auth.tokens import create_access_token
from app.authz.engine import Assignments, PolicyEngine
from app.authz.guards import WebsiteContext, website_guard
from app.authz.permissions import Permission
from app.authz.repository import WEBSITE_ACCESS_SQL
from app.authz.sync import PolicyStore
from app.config import ROOT_DIR, Settings
from app.db import RequestDatabase, create_engine, libpq_url, session_factory
from app.errors import Forbidden, NotFound
from scripts.benchmarks.common import (
    DEFAULT_ADMIN_URL,
    copy_rows,
    hex_id,
    percentile,
    random_ids,
)
from scripts.databases import create_database, database_url, drop_database, prepare

DEFAULT_SIZES = (1_000, 100_000, 1_000_000)
CHILD_MARKER = "BENCH-CHILD "

# Shape of the seeded data. A fifth of the assignments are website memberships, the rest one
# organization membership per user, so users + website memberships == N exactly.
WEBSITE_SHARE = 5
MEMBERS_PER_ORG = 10
WEBSITES_PER_ORG = 2
BENCH_SECRET = "bench-secret-key-that-is-long-enough-for-hs256-signing"  # noqa: S105
PLACEHOLDER_HASH = "$argon2id$v=19$m=65536,t=3,p=4$bench$not-a-real-hash"

# Targets this design is meant to meet (see docs/PERFORMANCE.md).
FLAT_RATIO = 1.2
MEMO_HIT_TARGET_US = 5.0
GUARD_P50_TARGET_MS = 0.5


# --- Data layout --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Who belongs where, computed from indexes so no per-row Python objects are kept.

    User i is a member of organization i // MEMBERS_PER_ORG (the first member is its admin).
    Website j belongs to organization j // WEBSITES_PER_ORG. Users 0 .. website_members-1 also
    hold a role on one website, usually in another organization (an outside collaborator).
    """

    assignments: int
    users: int
    organizations: int
    websites: int
    website_members: int
    user_ids: bytes
    organization_ids: bytes
    website_ids: bytes

    @classmethod
    def for_size(cls, assignments: int) -> "Layout":
        """The layout with exactly `assignments` membership rows."""
        website_members = assignments // WEBSITE_SHARE
        users = assignments - website_members
        organizations = max(1, ceil(users / MEMBERS_PER_ORG))
        websites = organizations * WEBSITES_PER_ORG
        return cls(
            assignments,
            users,
            organizations,
            websites,
            website_members,
            random_ids(users),
            random_ids(organizations),
            random_ids(websites),
        )

    @property
    def total_rows(self) -> int:
        """Rows COPY writes, over every table."""
        return self.users + self.organizations + self.websites + self.assignments

    def user_id(self, i: int) -> UUID:
        """The id of user i."""
        return UUID(bytes=self.user_ids[16 * i : 16 * i + 16])

    def website_id(self, j: int) -> UUID:
        """The id of website j."""
        return UUID(bytes=self.website_ids[16 * j : 16 * j + 16])

    def member_website(self, i: int) -> int:
        """The website on which user i (< website_members) holds a website role."""
        # A multiplicative hash spreads collaborators over all websites.
        return (i * 2_654_435_761) % self.websites


def user_lines(layout: Layout) -> Iterator[str]:
    """COPY text rows of `users (id, email, hashed_password)`."""
    for i in range(layout.users):
        yield (
            f"{hex_id(layout.user_ids, i)}\tuser{i}@bench.example\t{PLACEHOLDER_HASH}\t"
            "2026-01-01T00:00:00Z\n"
        )


def organization_lines(layout: Layout) -> Iterator[str]:
    """COPY text rows of `organizations (id, name)`."""
    for o in range(layout.organizations):
        yield f"{hex_id(layout.organization_ids, o)}\tOrganization {o}\n"


def website_lines(layout: Layout) -> Iterator[str]:
    """COPY text rows of `websites (id, organization_id, name, url, host)`."""
    for j in range(layout.websites):
        org = hex_id(layout.organization_ids, j // WEBSITES_PER_ORG)
        host = f"site{j}.bench.example"
        yield f"{hex_id(layout.website_ids, j)}\t{org}\tWebsite {j}\thttps://{host}/\t{host}\n"


def organization_membership_lines(layout: Layout) -> Iterator[str]:
    """COPY text rows of `organization_memberships (organization_id, user_id, role)`."""
    for i in range(layout.users):
        role = "admin" if i % MEMBERS_PER_ORG == 0 else "user"
        org = hex_id(layout.organization_ids, i // MEMBERS_PER_ORG)
        yield f"{org}\t{hex_id(layout.user_ids, i)}\t{role}\n"


def website_membership_lines(layout: Layout) -> Iterator[str]:
    """COPY text rows of `website_memberships (website_id, user_id, role)`."""
    for i in range(layout.website_members):
        role = "admin" if i % 4 == 0 else "user"
        site = hex_id(layout.website_ids, layout.member_website(i))
        yield f"{site}\t{hex_id(layout.user_ids, i)}\t{role}\n"


COPIES: tuple[tuple[str, str, Callable[[Layout], Iterator[str]]], ...] = (
    ("users", "COPY users (id, email, hashed_password, email_verified_at) FROM STDIN", user_lines),
    ("organizations", "COPY organizations (id, name) FROM STDIN", organization_lines),
    (
        "websites",
        "COPY websites (id, organization_id, name, url, host) FROM STDIN",
        website_lines,
    ),
    (
        "organization_memberships",
        "COPY organization_memberships (organization_id, user_id, role) FROM STDIN",
        organization_membership_lines,
    ),
    (
        "website_memberships",
        "COPY website_memberships (website_id, user_id, role) FROM STDIN",
        website_membership_lines,
    ),
)


def load_rows(url: str, layout: Layout) -> float:
    """COPY every seeded row into the database; returns the seconds taken (VACUUM included)."""
    copies = [(table, statement, lines(layout)) for table, statement, lines in COPIES]
    return copy_rows(url, copies, layout.total_rows)


# --- Measurements -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Startup:
    """One fresh worker's start-up."""

    seconds: float
    reload_ms: float
    peak_rss_mib: float
    ru_maxrss_mib: float
    policy_rows: int


def peak_rss_kib() -> tuple[int, int]:
    """This process's peak RSS in KiB: (VmHWM of its own address space, ru_maxrss).

    ru_maxrss alone is wrong for a spawned child on Linux: exec() folds the high-water mark of
    the address space it replaces (the parent's, shared by vfork or copied by fork) into it, so
    a worker spawned by this benchmark would report the benchmark's own peak whenever that is
    higher. VmHWM counts only the address space exec() created. Where /proc is missing,
    ru_maxrss (KiB on Linux) is all there is.
    """
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]), maxrss
    except OSError:
        pass
    return maxrss, maxrss


def child_startup(url: str) -> None:
    """Child mode: start like a worker, reload the policy, report on stdout and exit.

    Imports `app.main` (what uvicorn imports) so the time and memory are those of a real worker,
    then does what the lifespan does before serving: engine, `PolicyStore`, `reload()`.
    """
    importlib.import_module("app.main")

    async def reload() -> tuple[float, float, int]:
        engine = create_engine(url, pool_size=1)
        try:
            store = PolicyStore(engine, url)
            started = time.perf_counter()
            fresh = await store.reload()
            return time.time(), time.perf_counter() - started, len(fresh.rows)
        finally:
            await engine.dispose()

    done, reload_seconds, rows = asyncio.run(reload())
    hwm_kib, maxrss_kib = peak_rss_kib()
    report = {
        "done": done,
        "reload_s": reload_seconds,
        "peak_rss_kib": hwm_kib,
        "ru_maxrss_kib": maxrss_kib,
        "rows": rows,
    }
    print(CHILD_MARKER + json.dumps(report), flush=True)


def measure_startup(url: str, bytecode_cache: str | None) -> Startup:
    """Spawn one fresh worker process and time it from spawn to reload done.

    With `bytecode_cache`, the child compiles its imports once into that folder and later children
    load the compiled files, as a deployed worker does (the image byte-compiles its packages);
    without it, the child inherits this environment as is.
    """
    env = dict(os.environ)
    if bytecode_cache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = bytecode_cache
    spawned = time.time()
    result = subprocess.run(
        [sys.executable, "-m", "scripts.benchmarks.authz", "--child-startup", url],
        cwd=ROOT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith(CHILD_MARKER)]
    if result.returncode != 0 or not lines:
        sys.stderr.write(result.stderr)
        raise SystemExit(f"start-up child failed (exit {result.returncode})")
    report = json.loads(lines[-1][len(CHILD_MARKER) :])
    return Startup(
        seconds=float(report["done"]) - spawned,
        reload_ms=float(report["reload_s"]) * 1000,
        peak_rss_mib=int(report["peak_rss_kib"]) / 1024,
        ru_maxrss_mib=int(report["ru_maxrss_kib"]) / 1024,
        policy_rows=int(report["rows"]),
    )


def median_startup(samples: Sequence[Startup]) -> Startup:
    """The median of each figure over several fresh workers."""
    return Startup(
        seconds=statistics.median(s.seconds for s in samples),
        reload_ms=statistics.median(s.reload_ms for s in samples),
        peak_rss_mib=statistics.median(s.peak_rss_mib for s in samples),
        ru_maxrss_mib=statistics.median(s.ru_maxrss_mib for s in samples),
        policy_rows=samples[0].policy_rows,
    )


# Role combinations a caller can hold on a website: (organization role, website role).
ROLE_PAIRS: tuple[tuple[str | None, str | None], ...] = (
    ("admin", None),
    ("user", None),
    (None, "admin"),
    (None, "user"),
    ("user", "admin"),
    (None, None),
)


def memo_hit_us(policy: PolicyEngine, iterations: int) -> list[float]:
    """Per-call latency (µs) of `allows` on a key already in the memo.

    Each call is timed alone, so the timer's own cost (tens of ns) is included.
    """
    assignments = Assignments(uuid4(), uuid4(), "user", uuid4(), None)
    permission = Permission.WEBSITE_UPDATE
    policy.allows(assignments, permission)
    clock = time.perf_counter_ns
    samples = []
    for _ in range(iterations):
        started = clock()
        policy.allows(assignments, permission)
        samples.append((clock() - started) / 1000)
    return samples


def memo_miss_us(policy: PolicyEngine, iterations: int) -> list[float]:
    """Per-call latency (µs) of `allows` with the memo emptied first: a full Casbin enforce."""
    rng = random.Random(7)  # noqa: S311 - picks test cases, not secrets
    permissions = list(Permission)
    samples = []
    for _ in range(iterations):
        org_role, site_role = rng.choice(ROLE_PAIRS)
        assignments = Assignments(uuid4(), uuid4(), org_role, uuid4(), site_role)
        permission = rng.choice(permissions)
        # An empty memo is what a policy reload gives (it builds a new engine); building one
        # per sample would time the enforcer's construction instead.
        policy.clear_memo()
        started = time.perf_counter_ns()
        policy.allows(assignments, permission)
        samples.append((time.perf_counter_ns() - started) / 1000)
    return samples


GuardFunction = Callable[..., Awaitable[WebsiteContext]]


@dataclass
class GuardRun:
    """Guard latencies, how the calls ended, and the guard's query replayed on its own."""

    samples_ms: list[float]
    sql_samples_ms: list[float] = field(default_factory=list)
    allowed: int = 0
    forbidden: int = 0
    not_found: int = 0


def pick_pair(layout: Layout, rng: random.Random) -> tuple[int, int]:
    """A random existing (user, website) pair the user has a role on, as indexes.

    Half of the collaborators are asked about their collaborator website; everyone else about a
    website of their own organization. Both joins of the guard's query then find rows.
    """
    user = rng.randrange(layout.users)
    if user < layout.website_members and rng.random() < 0.5:
        return user, layout.member_website(user)
    org = user // MEMBERS_PER_ORG
    return user, org * WEBSITES_PER_ORG + rng.randrange(WEBSITES_PER_ORG)


async def open_logins(url: str, layout: Layout, users: set[int]) -> dict[int, UUID]:
    """A live login (login_sessions row) for each of these users, as the guard checks one."""
    logins = {user: uuid4() for user in users}
    connection = await asyncpg.connect(libpq_url(url))
    try:
        await connection.executemany(
            "INSERT INTO login_sessions (id, user_id) VALUES ($1, $2)",
            [(login, layout.user_id(user)) for user, login in logins.items()],
        )
    finally:
        await connection.close()
    return logins


async def guard_latency(
    url: str,
    policy: PolicyEngine,
    layout: Layout,
    iterations: int,
    warmup: int,
    *,
    rollback: bool = False,
) -> GuardRun:
    """Time the real website guard (its SQL statement plus its decisions) per call, in ms.

    The guard is the function behind `WebsiteUpdate`, called directly with a bearer token, so
    the statement is exactly the one the service runs: the login check, the website and the
    caller's roles. Each call gets its own `RequestDatabase`, as each request does, and gives
    its connection back afterwards (with `rollback`, after a rolled-back transaction on it, as
    a failed write leaves it). The guard's statement is then replayed alone through asyncpg,
    to show how much of the total is the database.
    """
    guard = cast(GuardFunction, website_guard(Permission.WEBSITE_UPDATE).dependency)
    engine = create_engine(url, pool_size=1)
    sessions = session_factory(engine)
    rng = random.Random(11)  # noqa: S311 - picks test cases, not secrets
    pairs = [pick_pair(layout, rng) for _ in range(warmup + iterations)]
    logins = await open_logins(url, layout, {user for user, _ in pairs})
    settings = Settings(secret_key=BENCH_SECRET, database_url=url)
    tokens = {
        user: create_access_token(
            user_id=layout.user_id(user),
            session_id=login,
            key=BENCH_SECRET,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            lifetime=timedelta(hours=1),
        )
        for user, login in logins.items()
    }
    # What the guard reads from the app: its settings and the live policy.
    app = SimpleNamespace(
        state=SimpleNamespace(settings=settings, policy=SimpleNamespace(current=policy))
    )
    run = GuardRun(samples_ms=[])
    try:
        for number, (user, site) in enumerate(pairs):
            website_id = layout.website_id(site)
            database = RequestDatabase(engine, sessions)
            request = SimpleNamespace(state=SimpleNamespace(), app=app)
            started = time.perf_counter_ns()
            outcome = "allowed"
            try:
                await guard(
                    request=request,
                    db=database,
                    token=tokens[user],
                    website_id=website_id,
                )
            except Forbidden:
                outcome = "forbidden"
            except NotFound:
                outcome = "not_found"
            elapsed_ms = (time.perf_counter_ns() - started) / 1e6
            if rollback:
                await database.session.execute(sa.text("SELECT 1"))
                await database.rollback()
            await database.close()
            if number >= warmup:
                run.samples_ms.append(elapsed_ms)
                setattr(run, outcome, getattr(run, outcome) + 1)
    finally:
        await engine.dispose()
    run.sql_samples_ms = await query_latency(url, layout, pairs, logins, warmup)
    return run


async def query_latency(
    url: str,
    layout: Layout,
    pairs: Sequence[tuple[int, int]],
    logins: dict[int, UUID],
    warmup: int,
) -> list[float]:
    """The guard's statement alone through the driver (asyncpg, no SQLAlchemy), in ms per call."""
    samples = []
    connection = await asyncpg.connect(libpq_url(url))
    try:
        for number, (user, site) in enumerate(pairs):
            started = time.perf_counter_ns()
            await connection.fetchrow(
                WEBSITE_ACCESS_SQL, layout.user_id(user), logins[user], layout.website_id(site)
            )
            elapsed_ms = (time.perf_counter_ns() - started) / 1e6
            if number >= warmup:
                samples.append(elapsed_ms)
    finally:
        await connection.close()
    return samples


# --- One size, all sizes ------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """The figures measured on one size's database right after seeding it."""

    assignments: int
    users: int
    seed_seconds: float
    hit_p50_us: float
    hit_p99_us: float
    miss_p50_us: float
    miss_p99_us: float
    guard: GuardRun

    @property
    def guard_p50_ms(self) -> float:
        """Median guard total."""
        return percentile(self.guard.samples_ms, 0.50)

    @property
    def guard_p99_ms(self) -> float:
        """99th percentile guard total."""
        return percentile(self.guard.samples_ms, 0.99)

    @property
    def sql_p50_ms(self) -> float:
        """Median of the guard's statement alone, through the driver."""
        return percentile(self.guard.sql_samples_ms, 0.50)


@dataclass(frozen=True)
class SizeResult(Measured):
    """Every figure of one size: those measured after seeding, and its workers' start-up."""

    startup: Startup

    @classmethod
    def of(cls, measured: Measured, startup: Startup) -> "SizeResult":
        """Join the two parts."""
        return cls(**{f.name: getattr(measured, f.name) for f in fields(measured)}, startup=startup)


@dataclass(frozen=True)
class Options:
    """Sample counts and the bytecode folder, from the command line."""

    hit_iterations: int
    miss_iterations: int
    guard_iterations: int
    guard_warmup: int
    guard_rollback: bool
    startup_runs: int
    bytecode_cache: str | None


def log(message: str) -> None:
    """A progress line on stderr (stdout carries only the results)."""
    print(message, file=sys.stderr, flush=True)


async def count_assignments(url: str) -> int:
    """Role-assignment rows actually in the database (a check on the seeding)."""
    async with await psycopg.AsyncConnection.connect(libpq_url(url)) as connection:
        cursor = await connection.execute(
            "SELECT (SELECT count(*) FROM organization_memberships)"
            " + (SELECT count(*) FROM website_memberships)"
        )
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def measure_decisions(
    url: str, layout: Layout, options: Options
) -> tuple[list[float], list[float], GuardRun]:
    """Memo hit, memo miss and guard latencies against the policy loaded from this database."""
    engine = create_engine(url, pool_size=1)
    try:
        policy = await PolicyStore(engine, url).reload()
    finally:
        await engine.dispose()
    hits = memo_hit_us(policy, options.hit_iterations)
    misses = memo_miss_us(policy, options.miss_iterations)
    guard = await guard_latency(
        url,
        policy,
        layout,
        options.guard_iterations,
        options.guard_warmup,
        rollback=options.guard_rollback,
    )
    return hits, misses, guard


def measure_size(admin_url: str, name: str, size: int, options: Options) -> Measured:
    """Create database `name`, seed `size` assignments into it, and measure the decisions."""
    url = database_url(admin_url, name)
    log(f"== {size:,} role assignments: database {name} (load {os.getloadavg()[0]:.2f})")
    create_database(admin_url, name)
    prepare(url, quiet=True)
    layout = Layout.for_size(size)
    log(
        f"  seeding {layout.users:,} users, {layout.organizations:,} organizations, "
        f"{layout.websites:,} websites, {layout.users:,} organization + "
        f"{layout.website_members:,} website memberships"
    )
    seed_seconds = load_rows(url, layout)
    found = asyncio.run(count_assignments(url))
    if found != size:
        raise SystemExit(f"seeding produced {found:,} assignments, expected {size:,}")
    log(f"  {found:,} assignments in {seed_seconds:.1f} s; measuring decisions")
    hits, misses, guard = asyncio.run(measure_decisions(url, layout, options))
    log(
        f"  guard outcomes: {guard.allowed} allowed, {guard.forbidden} forbidden, "
        f"{guard.not_found} not found"
    )
    if guard.not_found:
        log("  warning: every pair holds a role, so no guard call should answer 404")
    return Measured(
        assignments=size,
        users=layout.users,
        seed_seconds=seed_seconds,
        hit_p50_us=percentile(hits, 0.50),
        hit_p99_us=percentile(hits, 0.99),
        miss_p50_us=percentile(misses, 0.50),
        miss_p99_us=percentile(misses, 0.99),
        guard=guard,
    )


def startup_round_robin(
    urls: dict[int, str], runs: int, bytecode_cache: str | None
) -> dict[int, Startup]:
    """The median start-up per size, over `runs` fresh workers per size.

    The runs take turns over the sizes, in alternating order (1e3, 1e5, 1e6, 1e6, 1e5, 1e3, ...),
    rather than running size by size: on a shared machine the load drifts over minutes, and taking
    turns makes any drift weigh on every size alike, which is what a ratio between sizes needs.
    One unmeasured worker per database comes first, to warm the OS caches and fill the bytecode
    cache.
    """
    log(f"== start-up: {runs} fresh workers per size, taking turns (load {os.getloadavg()[0]:.2f})")
    for url in urls.values():
        measure_startup(url, bytecode_cache)
    samples: dict[int, list[Startup]] = {size: [] for size in urls}
    order = list(urls)
    for turn in range(runs):
        for size in order if turn % 2 == 0 else reversed(order):
            samples[size].append(measure_startup(urls[size], bytecode_cache))
    medians = {size: median_startup(runs_of_size) for size, runs_of_size in samples.items()}
    for size, startup in medians.items():
        log(
            f"  {size:,}: start-up {startup.seconds:.3f} s, peak RSS {startup.peak_rss_mib:.1f} MiB"
            f" (ru_maxrss {startup.ru_maxrss_mib:.1f} MiB, which includes this process's peak)"
        )
    return medians


def run(admin_url: str, sizes: Sequence[int], options: Options, *, keep: bool) -> list[SizeResult]:
    """Every size: seed and measure decisions, then start-up across all; drop the databases
    unless `keep`."""
    names = {size: f"blokid_bench_{size}" for size in sizes}
    created: list[str] = []
    try:
        measured = []
        for size, name in names.items():
            created.append(name)
            measured.append(measure_size(admin_url, name, size, options))
        urls = {size: database_url(admin_url, name) for size, name in names.items()}
        startups = startup_round_robin(urls, options.startup_runs, options.bytecode_cache)
    finally:
        for name in created:
            if keep:
                log(f"kept database {name}")
            else:
                drop_database(database_url(admin_url, name))
    return [SizeResult.of(m, startups[m.assignments]) for m in measured]


# --- Report -------------------------------------------------------------------------------------


def machine(admin_url: str) -> str:
    """CPU count, Python and PostgreSQL versions, and the date, on one line."""
    with psycopg.connect(libpq_url(admin_url)) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    server = row[0] if row else "?"
    python = sys.version.split()[0]
    today = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{today}; {os.cpu_count()} CPUs; Python {python}; PostgreSQL {server}"


def table(results: Sequence[SizeResult]) -> str:
    """The figures as a Markdown table, one row per size."""
    header = (
        "| assignments | users | seed (s) | start-up (s) | reload (ms) | peak RSS (MiB) "
        "| memo hit p50 / p99 (µs) | memo miss p50 / p99 (µs) | guard p50 / p99 (ms) "
        "| of which SQL alone p50 (ms) |"
    )
    lines = [header, "|" + "---:|" * 10]
    for r in results:
        lines.append(
            f"| {r.assignments:,} | {r.users:,} | {r.seed_seconds:.1f} "
            f"| {r.startup.seconds:.3f} | {r.startup.reload_ms:.1f} "
            f"| {r.startup.peak_rss_mib:.1f} "
            f"| {r.hit_p50_us:.2f} / {r.hit_p99_us:.2f} "
            f"| {r.miss_p50_us:.0f} / {r.miss_p99_us:.0f} "
            f"| {r.guard_p50_ms:.3f} / {r.guard_p99_ms:.3f} "
            f"| {r.sql_p50_ms:.3f} |"
        )
    return "\n".join(lines)


def verdict(met: bool) -> str:
    """How a target reads in the report."""
    return "met" if met else "NOT MET"


def targets(results: Sequence[SizeResult]) -> str:
    """Each target, the figure it is judged on, and whether it is met."""
    ordered = sorted(results, key=lambda r: r.assignments)
    small, large = ordered[0], ordered[-1]
    lines = []
    if large.assignments == small.assignments:
        lines.append("- start-up and RSS flatness: needs two sizes (not judged)")
    else:
        span = f"{large.assignments:,} vs {small.assignments:,}"
        ratio = large.startup.seconds / small.startup.seconds
        lines.append(
            f"- start-up at {span} within {FLAT_RATIO}x: {large.startup.seconds:.3f} s vs "
            f"{small.startup.seconds:.3f} s = {ratio:.2f}x: {verdict(ratio <= FLAT_RATIO)}"
        )
        ratio = large.startup.peak_rss_mib / small.startup.peak_rss_mib
        lines.append(
            f"- peak RSS at {span} within {FLAT_RATIO}x: {large.startup.peak_rss_mib:.1f} MiB vs "
            f"{small.startup.peak_rss_mib:.1f} MiB = {ratio:.2f}x: {verdict(ratio <= FLAT_RATIO)}"
        )
    worst_hit = max(results, key=lambda r: r.hit_p50_us)
    lines.append(
        f"- memo hit <= {MEMO_HIT_TARGET_US:g} µs (p50, worst size): {worst_hit.hit_p50_us:.2f} µs "
        f"at {worst_hit.assignments:,} (p99 {worst_hit.hit_p99_us:.2f} µs): "
        f"{verdict(worst_hit.hit_p50_us <= MEMO_HIT_TARGET_US)}"
    )
    worst_guard = max(results, key=lambda r: r.guard_p50_ms)
    lines.append(
        f"- guard total <= {GUARD_P50_TARGET_MS:g} ms p50 (worst size): "
        f"{worst_guard.guard_p50_ms:.3f} ms at {worst_guard.assignments:,}: "
        f"{verdict(worst_guard.guard_p50_ms <= GUARD_P50_TARGET_MS)}"
    )
    return "\n".join(lines)


def parse_sizes(text: str) -> list[int]:
    """`1000,1e5,1000000` -> [1000, 100000, 1000000]."""
    try:
        sizes = [int(float(part)) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of sizes: {text!r}") from None
    if not sizes or any(size < MEMBERS_PER_ORG for size in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be at least {MEMBERS_PER_ORG}")
    return sorted(set(sizes))


def main(argv: Sequence[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=list(DEFAULT_SIZES),
        help="comma-separated assignment counts (default 1000,100000,1000000)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    parser.add_argument("--hit-iterations", type=int, default=200_000, metavar="N")
    parser.add_argument("--miss-iterations", type=int, default=5_000, metavar="N")
    parser.add_argument("--guard-iterations", type=int, default=2_000, metavar="N")
    parser.add_argument("--guard-warmup", type=int, default=200, metavar="N")
    parser.add_argument(
        "--rollback",
        action="store_true",
        help="roll back each guard sample's transaction (a failed request) instead of committing",
    )
    parser.add_argument(
        "--startup-runs", type=int, default=8, metavar="N", help="fresh workers per size (median)"
    )
    parser.add_argument(
        "--cold-imports",
        action="store_true",
        help="start-up children compile every import from source (no bytecode cache)",
    )
    parser.add_argument("--child-startup", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_startup:
        child_startup(args.child_startup)
        return
    admin_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_ADMIN_URL)
    # Casbin logs its whole model at INFO whenever an enforcer is built.
    logging.getLogger("casbin").setLevel(logging.WARNING)
    host = machine(admin_url)
    # Other work on the machine skews every figure; the report shows how busy it was.
    load_before = os.getloadavg()[0]
    # A private bytecode folder: the children get compiled imports without writing into the tree.
    with tempfile.TemporaryDirectory(prefix="blokid-bench-pyc-") as cache:
        options = Options(
            hit_iterations=args.hit_iterations,
            miss_iterations=args.miss_iterations,
            guard_iterations=args.guard_iterations,
            guard_warmup=args.guard_warmup,
            guard_rollback=args.rollback,
            startup_runs=args.startup_runs,
            bytecode_cache=None if args.cold_imports else cache,
        )
        results = run(admin_url, args.sizes, options, keep=args.keep)
    imports = "compiled from source" if args.cold_imports else "bytecode cached"
    ending = "rolled back" if args.rollback else "committed"
    print(
        f"\nAuthorization benchmark: {host}; worker imports {imports}; guard transactions {ending}"
    )
    print(f"Load average (1 min) before: {load_before:.2f}, after: {os.getloadavg()[0]:.2f}\n")
    print(table(results))
    print("\nTargets:")
    print(targets(results))


if __name__ == "__main__":
    main()
