"""The failure scenarios. Each runs on a stage of its own (PostgreSQL cluster, SMTP sink, the
service with two workers, Redis where it matters), drives real load, breaks one thing, and
returns a `Result` whose `failures` list what went wrong; the invariants and the mail check run
at the end of every scenario.

`full=False` is the short version `make test` runs; `full=True` is `make chaos`: more actors,
longer outages, more load, same checks.
"""

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from app.config import ROOT_DIR
from scripts.chaos import invariants
from scripts.chaos.cluster import PostgresCluster, _alive, new_cluster
from scripts.chaos.load import (
    PASSWORD,
    Actor,
    Recorder,
    browse,
    make_actor,
    make_actors,
    new_client,
    new_email,
    register_until,
)
from scripts.chaos.mail import MailSink
from scripts.chaos.redis_server import RedisServer
from scripts.chaos.service import Service

SETTLE_SECONDS = 2.0
"""After a dependency is back, requests already waiting on it may still fail; any request that
starts later than this must succeed."""


@dataclass
class Result:
    """What a scenario did and what it found."""

    name: str
    requests: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    figures: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    setup_seconds: float = 0.0
    """Of `seconds`, the time to build the stage (cluster, servers, the service's start)."""

    @property
    def ok(self) -> bool:
        """Whether every check held."""
        return not self.failures

    def record(self, recorder: Recorder) -> None:
        """Count the recorder's outcomes into the result."""
        self.requests += len(recorder.outcomes)
        self.statuses.update(recorder.statuses())

    def expect(self, condition: bool, failure: str) -> None:
        """Add `failure` unless `condition` holds."""
        if not condition:
            self.failures.append(failure)


@dataclass
class Stage:
    """The scenario's own cluster, mail sink, service and (when asked for) Redis."""

    folder: Path
    cluster: PostgresCluster
    sink: MailSink
    service: Service
    redis: RedisServer | None = None


@contextlib.contextmanager
def stage(
    name: str, *, with_redis: bool = False, settings: dict[str, str] | None = None
) -> Iterator[Stage]:
    """Build a stage and tear all of it down afterwards, whatever happens."""
    folder = Path(tempfile.mkdtemp(prefix=f"blokid-chaos-{name}-"))
    cluster: PostgresCluster | None = None
    sink = MailSink()
    redis: RedisServer | None = None
    service: Service | None = None
    try:
        cluster = new_cluster(folder / "postgres")
        sink.start()
        if with_redis:
            redis = RedisServer(folder / "redis")
            redis.start()
        service = Service(
            folder,
            cluster.url,
            smtp_port=sink.port,
            redis_url=redis.url if redis else None,
            settings=settings,
        )
        service.start()
        yield Stage(folder, cluster, sink, service, redis)
    finally:
        if service is not None:
            service.stop()
        sink.stop()
        if redis is not None:
            redis.stop()
        if cluster is not None:
            cluster.destroy(remove=not os.environ.get("CHAOS_KEEP"))
        if os.environ.get("CHAOS_KEEP"):
            # For a look at the service's and the servers' logs after a failure.
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


async def _run_load(
    tasks: Sequence[Coroutine[Any, Any, None]], stop: asyncio.Event
) -> Callable[[], Awaitable[None]]:
    """Start the load's tasks; returns what stops them (sets `stop`) and waits for them."""
    running = [asyncio.ensure_future(task) for task in tasks]

    async def finish() -> None:
        stop.set()
        await asyncio.gather(*running)

    return finish


def _judge_outage(result: Result, recorder: Recorder, *, down: str, back: str) -> None:
    """During an outage the service answers 503 with Retry-After and nothing else; before it
    and from SETTLE_SECONDS after the dependency is back, every request succeeds."""
    down_at, back_at = recorder.marks[down], recorder.marks[back]
    for outcome in recorder.outcomes:
        if outcome.ok:
            continue
        if outcome.status is None:
            result.failures.append(f"{outcome.op}: no answer ({outcome.error})")
        elif not outcome.unavailable:
            result.failures.append(f"{outcome.op}: {outcome.status} {outcome.code}")
        elif outcome.ended < down_at:
            result.failures.append(f"{outcome.op}: 503 before the outage")
        elif outcome.started > back_at + SETTLE_SECONDS:
            late = outcome.started - back_at
            result.failures.append(f"{outcome.op}: 503 sent {late:.1f} s after the recovery")
    failed_after = [o.ended for o in recorder.outcomes if not o.ok and o.ended >= back_at]
    recovery = max(failed_after, default=back_at) - back_at
    after = [o for o in recorder.outcomes if o.started > back_at + SETTLE_SECONDS]
    result.expect(bool(after), "no request was sent after the recovery")
    result.figures["outage"] = f"{back_at - down_at:.1f} s"
    result.figures["503 during outage"] = str(sum(1 for o in recorder.outcomes if o.unavailable))
    result.figures["last failure after recovery"] = f"{recovery:.2f} s"
    served = [o.ended for o in recorder.outcomes if o.ok and o.started >= back_at]
    if served:
        result.figures["first 2xx after recovery"] = f"{min(served) - back_at:.2f} s"


def _registered_exist(result: Result, cluster: PostgresCluster, registered: list[str]) -> None:
    """A 202 to a registration is a promise: the user must exist (the commit precedes it)."""
    if not registered:
        return
    with psycopg.connect(cluster.url, autocommit=True) as connection:
        found = connection.execute(
            "SELECT count(*) FROM users WHERE email = ANY(%s)", (registered,)
        ).fetchone()
    missing = len(registered) - int(found[0] if found else 0)
    result.expect(missing == 0, f"{missing} registrations answered 202 are not in the database")
    result.figures["registrations answered 202"] = str(len(registered))


def _final_checks(result: Result, the_stage: Stage, *, allow_pending_mail: bool) -> None:
    """Every scenario ends here: the mail drains, and every invariant finds no row."""
    started = time.monotonic()
    sent, pending = invariants.drain_mail(the_stage.cluster.url, timeout=60)
    result.figures["mails sent"] = str(sent)
    if pending:
        result.figures["mails waiting for a lost sender's lease"] = str(pending)
    result.figures["mail drained in"] = f"{time.monotonic() - started:.1f} s"
    result.failures.extend(
        invariants.mail_problems(
            the_stage.cluster.url, the_stage.sink, allow_pending=allow_pending_mail
        )
    )
    for name, rows in invariants.check(the_stage.cluster.url).items():
        result.failures.append(f"invariant broken: {name}: {rows}")


# --- PostgreSQL restarted under load --------------------------------------------------------


async def postgres_restart(the_stage: Stage, full: bool) -> Result:
    """Stop PostgreSQL (fast shutdown) under load, keep it down, start it again; the service
    is not restarted."""
    result = Result("postgres restart")
    base = the_stage.service.base
    actors = await make_actors(base, the_stage.sink, 6 if full else 2)
    workers = the_stage.service.workers()
    recorder, stop, registered = Recorder(), asyncio.Event(), list[str]()
    finish = await _run_load(
        [browse(base, actor, recorder, stop) for actor in actors]
        + [register_until(base, recorder, stop, registered)],
        stop,
    )
    await asyncio.sleep(5 if full else 1.5)
    recorder.mark("down")
    await asyncio.to_thread(the_stage.cluster.stop, "fast")
    await asyncio.sleep(10 if full else 2)
    await asyncio.to_thread(the_stage.cluster.start)
    recorder.mark("back")
    await asyncio.sleep(10 if full else SETTLE_SECONDS + 1.5)
    await finish()
    result.record(recorder)
    _judge_outage(result, recorder, down="down", back="back")
    result.expect(the_stage.service.workers() == workers, "a worker was restarted")
    result.expect(the_stage.service.ready(), "/health/ready is not 200 after the restart")
    _registered_exist(result, the_stage.cluster, registered)
    _final_checks(result, the_stage, allow_pending_mail=False)
    return result


# --- PostgreSQL killed during registrations and invitation accepts --------------------------


async def _accept(
    base: str, invitee: Actor, invitation_id: str, recorder: Recorder, delay: float
) -> str:
    """Accept once; on 503, again until answered. Returns how it ended."""
    await asyncio.sleep(delay)
    uncertain = False
    async with new_client(base) as client:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            response = await recorder.send(
                client,
                "accept",
                "POST",
                f"/invitations/{invitation_id}/accept",
                headers=invitee.headers,
            )
            if response is None:
                return "no answer"
            if response.status_code == 200:
                return "accepted"
            if response.status_code == 503:
                # The commit may have happened and its answer been lost.
                uncertain = True
                await asyncio.sleep(0.3)
                continue
            if uncertain and response.status_code == 400:
                return "accepted, answer lost"
            return f"{response.status_code} {response.text[:120]}"
    return "still unavailable after 60 s"


async def postgres_kill(the_stage: Stage, full: bool) -> Result:
    """SIGKILL every PostgreSQL process (a crash) while registrations and invitation accepts
    run; restart it and let the clients retry what got 503."""
    result = Result("postgres kill -9")
    base = the_stage.service.base
    count = 16 if full else 4
    admin = await make_actor(base, the_stage.sink, "admin")
    invitees = await make_actors(base, the_stage.sink, count, "invitee")
    invitation_ids = []
    async with new_client(base) as client:
        for invitee in invitees:
            invited = await client.post(
                f"/organizations/{admin.organization_id}/invitations",
                json={"email": invitee.email, "role": "user"},
                headers=admin.headers,
            )
            if invited.status_code != 201:
                raise RuntimeError(f"invite: {invited.status_code} {invited.text}")
            invitation_ids.append(invited.json()["id"])
    recorder, stop, registered = Recorder(), asyncio.Event(), list[str]()
    kill_after, outage = (3.0, 5.0) if full else (1.0, 1.5)
    finish = await _run_load(
        [register_until(base, recorder, stop, registered, pause=0.01) for _ in range(3)], stop
    )
    # Accepts spread from just before the crash to just after the restart.
    first, spread = kill_after / 2, kill_after / 2 + outage + 0.5
    accepts = [
        asyncio.ensure_future(
            _accept(base, invitee, invitation_id, recorder, first + spread * index / count)
        )
        for index, (invitee, invitation_id) in enumerate(zip(invitees, invitation_ids, strict=True))
    ]
    await asyncio.sleep(kill_after)
    recorder.mark("down")
    killed = await asyncio.to_thread(the_stage.cluster.kill)
    await asyncio.sleep(outage)
    await asyncio.to_thread(the_stage.cluster.start)
    recorder.mark("back")
    endings = await asyncio.gather(*accepts)
    # Load goes on past the settling time, to show the service whole again.
    await asyncio.sleep(
        max(0.0, recorder.marks["back"] + SETTLE_SECONDS + (5 if full else 2) - time.monotonic())
    )
    await finish()
    result.record(recorder)
    result.figures["server processes killed"] = str(killed)
    _judge_outage(result, recorder, down="down", back="back")
    # The accepts' retries may answer 400 for an accept whose commit made it: judged above as a
    # failure; take those out again when they followed a 503.
    result.failures = [f for f in result.failures if not f.startswith("accept: 400")]
    result.figures["accept answers"] = ", ".join(
        f"{n}× {s}"
        for s, n in sorted(
            Counter(o.label() for o in recorder.outcomes if o.op == "accept").items()
        )
    )
    ended = Counter(endings)
    result.figures["accepts"] = ", ".join(f"{n} {how}" for how, n in sorted(ended.items()))
    result.expect(
        set(ended) <= {"accepted", "accepted, answer lost"}, f"accepts ended badly: {ended}"
    )
    with psycopg.connect(the_stage.cluster.url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM invitations WHERE id = ANY(%s::uuid[]) AND status = 'accepted'",
            (invitation_ids,),
        ).fetchone()
    accepted = int(row[0]) if row else 0
    result.expect(accepted == count, f"{count - accepted} invitations not accepted in the end")
    _registered_exist(result, the_stage.cluster, registered)
    # A sender whose claim committed just as the server died never learns it did: that mail
    # waits for its lease to end (late, not lost).
    _final_checks(result, the_stage, allow_pending_mail=True)
    return result


# --- SMTP down for a while -------------------------------------------------------------------


async def _invite_until(
    base: str, admin: Actor, recorder: Recorder, stop: asyncio.Event, invited: list[str]
) -> None:
    async with new_client(base) as client:
        while not stop.is_set():
            email = new_email("invited")
            response = await recorder.send(
                client,
                "invite",
                "POST",
                f"/organizations/{admin.organization_id}/invitations",
                json={"email": email, "role": "user"},
                headers=admin.headers,
            )
            if response is not None and response.status_code == 201:
                invited.append(email)
            await asyncio.sleep(0.05)


async def smtp_down(the_stage: Stage, full: bool) -> Result:
    """Take the SMTP server away while registrations and invitations queue mail; bring it back
    and wait for the outbox to drain."""
    result = Result("smtp down")
    base = the_stage.service.base
    admin = await make_actor(base, the_stage.sink, "admin")
    recorder, stop, registered, invited = Recorder(), asyncio.Event(), list[str](), list[str]()
    the_stage.sink.stop()
    recorder.mark("down")
    finish = await _run_load(
        [
            register_until(base, recorder, stop, registered),
            _invite_until(base, admin, recorder, stop, invited),
        ],
        stop,
    )
    await asyncio.sleep(20 if full else 3)
    await finish()
    queued = len(registered) + len(invited)
    with psycopg.connect(the_stage.cluster.url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*), coalesce(max(attempts), 0) FROM outbox_mails WHERE status = 'pending'"
        ).fetchone()
    pending, attempts = (int(row[0]), int(row[1])) if row else (0, 0)
    the_stage.sink.start()
    recorder.mark("back")
    result.record(recorder)
    result.expect(
        all(o.ok for o in recorder.outcomes),
        f"requests failed while SMTP was down: {recorder.statuses()}",
    )
    result.figures["mails queued while down"] = str(queued)
    result.figures["pending when SMTP came back"] = str(pending)
    result.figures["most attempts on one mail"] = str(attempts)
    result.expect(pending >= queued, f"{queued - pending} mails were not waiting for SMTP")
    _registered_exist(result, the_stage.cluster, registered)
    _final_checks(result, the_stage, allow_pending_mail=False)
    addresses = Counter(
        str(m["To"]).strip() for m in the_stage.sink.messages if str(m["To"]).strip()
    )
    missing = [a for a in registered + invited if addresses.get(a, 0) != 1]
    result.expect(
        not missing, f"{len(missing)} addresses did not get exactly one mail: {missing[:3]}"
    )
    return result


# --- Redis down ------------------------------------------------------------------------------

LOGIN_LIMIT = 3


def _counted(redis: RedisServer) -> int:
    """The failed password checks counted in Redis: each account's are a hash of counts per
    client network, their total under `all` (registrations and mail requests, counted in plain
    keys, are not failures)."""
    client = redis.client()
    try:
        return sum(
            int(client.hget(key, "all") or 0)
            for key in client.scan_iter("ratelimit:*")
            if client.type(key) in (b"hash", "hash")
        )
    finally:
        client.close()


async def _wrong_logins(base: str, email: str, times: int, recorder: Recorder) -> list[int | None]:
    statuses = []
    async with new_client(base) as client:
        for _ in range(times):
            response = await recorder.send(
                client,
                "wrong login",
                "POST",
                "/auth/login",
                data={"username": email, "password": "not the password"},
            )
            statuses.append(response.status_code if response is not None else None)
    return statuses


async def redis_down(the_stage: Stage, full: bool) -> Result:
    """Stop the service's Redis: limits fall back to each worker's own counters and the service
    keeps answering; start it again: counts are shared through it again."""
    result = Result("redis down")
    redis = the_stage.redis
    if redis is None:
        raise RuntimeError("the Redis scenario needs a stage with Redis")
    base = the_stage.service.base
    actors = await make_actors(base, the_stage.sink, 4 if full else 2)
    recorder, stop = Recorder(), asyncio.Event()
    finish = await _run_load([browse(base, actor, recorder, stop) for actor in actors[1:]], stop)

    # Up: failures are counted in Redis and shared by both workers.
    limits = Recorder()
    first = await _wrong_logins(base, new_email("target"), LOGIN_LIMIT + 3, limits)
    result.expect(
        first == [401] * LOGIN_LIMIT + [429] * 3, f"with Redis up, wrong logins got {first}"
    )
    result.expect(_counted(redis) == LOGIN_LIMIT, "the failed logins were not counted in Redis")

    redis.stop()
    recorder.mark("down")
    attempts = 8
    down = await _wrong_logins(base, new_email("target"), attempts, limits)
    result.expect(set(down) <= {401, 429}, f"with Redis down, wrong logins got {down}")
    result.expect(
        429 in down and down.count(401) <= LOGIN_LIMIT * 2,
        f"with Redis down, limits did not fall back to per-worker counters: {down}",
    )
    result.figures["wrong logins while down"] = ", ".join(
        f"{n}× {s}" for s, n in sorted(Counter(down).items(), key=lambda x: str(x[0]))
    )
    async with new_client(base) as client:
        good = await recorder.send(
            client,
            "login",
            "POST",
            "/auth/login",
            data={"username": actors[0].email, "password": PASSWORD},
        )
    result.expect(good is not None and good.status_code == 200, "a good login failed while down")
    await asyncio.sleep(6 if full else 1)

    redis.start()
    back_at = recorder.mark("back")
    # Each worker tries Redis again five seconds after it last failed: wait until hits land
    # there, then long enough for both workers to be back on it.
    probe = Recorder()
    while _counted(redis) == 0 and time.monotonic() - back_at < 30:
        await _wrong_logins(base, new_email("probe"), 1, probe)
        await asyncio.sleep(0.2)
    result.figures["first hit counted in Redis after"] = f"{time.monotonic() - back_at:.1f} s"
    await asyncio.sleep(max(0.0, back_at + 5.5 - time.monotonic()))
    before = _counted(redis)
    again = await _wrong_logins(base, new_email("target"), LOGIN_LIMIT + 4, limits)
    result.expect(
        again == [401] * LOGIN_LIMIT + [429] * 4, f"with Redis back, wrong logins got {again}"
    )
    result.expect(
        _counted(redis) - before == LOGIN_LIMIT,
        "with Redis back, the failures were not counted in Redis",
    )
    await finish()
    result.record(recorder)
    result.record(limits)
    result.record(probe)
    for outcome in recorder.outcomes:
        if not outcome.ok:
            result.failures.append(f"{outcome.op}: {outcome.label()} while Redis was away")
    _final_checks(result, the_stage, allow_pending_mail=False)
    return result


# --- SIGTERM under load ----------------------------------------------------------------------


def _waiting_on_locks(cluster: PostgresCluster) -> int:
    with psycopg.connect(cluster.admin_url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'blokid' "
            "AND wait_event_type = 'Lock'"
        ).fetchone()
    return int(row[0]) if row else 0


@contextlib.contextmanager
def _row_locked(cluster: PostgresCluster, organization_id: str) -> Iterator[psycopg.Connection]:
    """Hold the organization's row lock (`FOR UPDATE` in an open transaction) until the block
    ends."""
    connection = psycopg.connect(cluster.url)
    try:
        connection.execute(
            "SELECT 1 FROM organizations WHERE id = %s FOR UPDATE", (organization_id,)
        )
        yield connection
    finally:
        with contextlib.suppress(psycopg.Error):
            connection.rollback()
        connection.close()


async def _wait_until(probe: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(probe):
            return True
        await asyncio.sleep(0.05)
    return False


async def sigterm(the_stage: Stage, full: bool) -> Result:
    """SIGTERM the service while requests are in flight (held on a row lock, so they are
    provably inside the service) and load runs: the held requests finish with 200, the
    service exits cleanly, and a restarted service finds everything whole."""
    result = Result("sigterm")
    service = the_stage.service
    base = service.base
    actors = await make_actors(base, the_stage.sink, 4 if full else 2)
    hot = actors[0]
    held_count = 8 if full else 4
    recorder, stop, registered = Recorder(), asyncio.Event(), list[str]()
    finish = await _run_load(
        [browse(base, actor, recorder, stop) for actor in actors]
        + [register_until(base, recorder, stop, registered)],
        stop,
    )
    await asyncio.sleep(3 if full else 1)
    held = Recorder()
    with _row_locked(the_stage.cluster, hot.organization_id) as lock:
        async with new_client(base) as client:
            renames = [
                asyncio.ensure_future(
                    held.send(
                        client,
                        "held rename",
                        "PATCH",
                        f"/organizations/{hot.organization_id}",
                        json={"name": f"Renamed {index}"},
                        headers=hot.headers,
                    )
                )
                for index in range(held_count)
            ]
            in_flight = await _wait_until(
                lambda: _waiting_on_locks(the_stage.cluster) >= held_count, 30
            )
            result.expect(in_flight, "the held requests never reached the database")
            recorder.mark("sigterm")
            service.signal(signal.SIGTERM)
            await asyncio.sleep(1)
            result.expect(service.wait(0) is None, "the service exited with requests in flight")
            lock.commit()
            await asyncio.gather(*renames)
    code = await asyncio.to_thread(service.wait, 60)
    recorder.mark("exited")
    await finish()
    result.record(recorder)
    result.record(held)
    result.expect(code == 0, f"the service exited with status {code}")
    result.figures["requests in flight at SIGTERM"] = str(held_count)
    result.figures["in-flight answers"] = ", ".join(
        f"{n}× {s}" for s, n in sorted(held.statuses().items())
    )
    result.expect(
        all(o.status == 200 for o in held.outcomes),
        f"in-flight requests did not finish: {held.statuses()}",
    )
    sigterm_at = recorder.marks["sigterm"]
    refused = 0
    for outcome in recorder.outcomes:
        if outcome.ok:
            continue
        if outcome.status is None and outcome.started >= sigterm_at:
            refused += 1  # sent to a service that had stopped listening
        else:
            result.failures.append(f"{outcome.op}: {outcome.label()}")
    result.figures["refused after SIGTERM"] = str(refused)
    result.figures["SIGTERM to exit"] = f"{recorder.marks['exited'] - sigterm_at:.1f} s"

    with psycopg.connect(the_stage.cluster.url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT name FROM organizations WHERE id = %s", (hot.organization_id,)
        ).fetchone()
    result.expect(
        row is not None and str(row[0]).startswith("Renamed "), "the held renames were lost"
    )
    _registered_exist(result, the_stage.cluster, registered)
    # Whatever was queued is sent by the next sender on the same database: a new start of the
    # service, or in the short version the outbox sender alone (`make send-mail`), which
    # starts in a fraction of the time.
    if full:
        service.start()
        _final_checks(result, the_stage, allow_pending_mail=False)
        return result
    sender = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-m", "scripts.send_mail"],
        cwd=ROOT_DIR,
        env=service.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _final_checks(result, the_stage, allow_pending_mail=False)
    finally:
        sender.terminate()
        sender.wait(timeout=30)
    return result


# --- kill -9 of a worker ---------------------------------------------------------------------


async def _replacement_ready(service: Service, gone: int, started_before: int) -> bool:
    """Wait until the supervisor has replaced `gone` and the replacement finished start-up."""

    def ready() -> bool:
        workers = service.workers()
        return (
            len(workers) == 2
            and gone not in workers
            and service.log.read_text(errors="replace").count("Application startup complete")
            > started_before
        )

    return await _wait_until(ready, 180)


def _kill(pid: int) -> None:
    """SIGKILL a worker and wait until it is gone."""
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)


async def worker_kill(the_stage: Stage, full: bool) -> Result:
    """SIGKILL one worker under load; once the supervisor has replaced it, SIGKILL the other
    original worker, so for a while the replacement serves alone."""
    result = Result("worker kill -9")
    service = the_stage.service
    base = service.base
    actors = await make_actors(base, the_stage.sink, 6 if full else 3)
    recorder, stop, registered = Recorder(), asyncio.Event(), list[str]()
    # The short version keeps the load light: a replacement worker has to import the app on
    # the same two cores, and the point is that it comes up and serves, not how fast.
    pause = 0.02 if full else 0.1
    finish = await _run_load(
        [browse(base, actor, recorder, stop, pause) for actor in actors]
        + [register_until(base, recorder, stop, registered, 0.05 if full else 0.3)],
        stop,
    )
    await asyncio.sleep(4 if full else 1)
    first, second = service.workers()
    started = service.log.read_text(errors="replace").count("Application startup complete")
    recorder.mark("first kill")
    await asyncio.to_thread(_kill, first)
    recorder.mark("first killed")
    replaced = await _replacement_ready(service, first, started)
    result.expect(replaced, "the killed worker was not replaced")
    recorder.mark("first replaced")
    await asyncio.sleep(3 if full else 0.5)
    started = service.log.read_text(errors="replace").count("Application startup complete")
    recorder.mark("second kill")
    await asyncio.to_thread(_kill, second)
    recorder.mark("second killed")
    result.expect(
        await _replacement_ready(service, second, started),
        "the second killed worker was not replaced",
    )
    recorder.mark("second replaced")
    await asyncio.sleep(4 if full else 1)
    await finish()
    result.record(recorder)
    marks = recorder.marks
    result.figures["replacement ready after"] = (
        f"{marks['first replaced'] - marks['first killed']:.1f} s, "
        f"{marks['second replaced'] - marks['second killed']:.1f} s"
    )
    in_flight = 0
    for outcome in recorder.outcomes:
        if outcome.ok:
            continue
        # A request the killed worker was serving loses its connection: no answer, never a
        # wrong one, and only for requests sent before the kill.
        killed_during = any(
            outcome.started <= marks[f"{which} killed"] and outcome.ended >= marks[f"{which} kill"]
            for which in ("first", "second")
        )
        if outcome.status is None and killed_during:
            in_flight += 1
        else:
            result.failures.append(f"{outcome.op}: {outcome.label()}")
    result.figures["cut off in flight"] = str(in_flight)
    alone = [
        o
        for o in recorder.outcomes
        if marks["second killed"] < o.started and o.ended < marks["second replaced"]
    ]
    result.figures["served by the replacement alone"] = str(len(alone))
    result.expect(
        bool(alone) or marks["second replaced"] - marks["second killed"] < 0.5,
        "no request was served while the replacement served alone",
    )
    _registered_exist(result, the_stage.cluster, registered)
    # A mail a killed worker had claimed stays leased until its lease ends (two minutes), then
    # another sender sends it: not lost, only late.
    _final_checks(result, the_stage, allow_pending_mail=True)
    return result


# --- a slow database: a lock held on a hot row -----------------------------------------------

STATEMENT_TIMEOUT = 2


async def _hammer(
    base: str, actor: Actor, recorder: Recorder, stop: asyncio.Event, index: int
) -> None:
    async with new_client(base) as client:
        while not stop.is_set():
            await recorder.send(
                client,
                "hot rename",
                "PATCH",
                f"/organizations/{actor.organization_id}",
                json={"name": f"Hot {index}"},
                headers=actor.headers,
            )
            await asyncio.sleep(0.05)


async def slow_database(the_stage: Stage, full: bool) -> Result:
    """Hold the row lock of a busy organization: requests that need it answer 503 when the
    statement timeout ends their wait, the others carry on, and once the lock goes everything
    succeeds again without restarting anything."""
    result = Result("slow database")
    service = the_stage.service
    base = service.base
    actors = await make_actors(base, the_stage.sink, 4 if full else 3)
    hot = actors[0]
    workers = service.workers()
    others, hot_outcomes, stop = Recorder(), Recorder(), asyncio.Event()
    hold = 20 if full else 2 * STATEMENT_TIMEOUT + 1
    with _row_locked(the_stage.cluster, hot.organization_id):
        others.mark("locked")
        hot_stop = asyncio.Event()
        finish_hot = await _run_load(
            [_hammer(base, hot, hot_outcomes, hot_stop, i) for i in range(4 if full else 3)],
            hot_stop,
        )
        finish = await _run_load([browse(base, a, others, stop) for a in actors[1:]], stop)
        await asyncio.sleep(hold)
        released_at = others.mark("released")
    await asyncio.sleep(STATEMENT_TIMEOUT + 2)
    await finish_hot()
    await finish()
    result.record(others)
    result.record(hot_outcomes)
    while_locked = [o for o in hot_outcomes.outcomes if o.ended < released_at]
    timed_out = [o for o in while_locked if o.unavailable]
    result.figures["lock held"] = f"{hold} s"
    result.figures["hot requests answered 503 while locked"] = str(len(timed_out))
    result.expect(bool(timed_out), "no request on the locked row was answered while it was locked")
    result.expect(
        all(o.unavailable for o in while_locked),
        f"requests on the locked row got {Counter(o.label() for o in while_locked)}",
    )
    after = [o for o in hot_outcomes.outcomes if o.started > released_at]
    result.expect(bool(after) and all(o.ok for o in after), "the hot row did not recover")
    result.expect(
        all(o.ok or o.unavailable for o in hot_outcomes.outcomes),
        f"hot requests got {hot_outcomes.statuses()}",
    )
    bad = [o for o in others.outcomes if not o.ok]
    result.expect(not bad, f"requests on other rows failed: {Counter(o.label() for o in bad)}")
    if timed_out:
        waits = sorted(o.ended - o.started for o in timed_out)
        result.figures["503 answered after"] = f"{waits[len(waits) // 2]:.1f} s (median)"
    result.expect(service.workers() == workers, "a worker was restarted")
    result.expect(service.ready(), "/health/ready is not 200 after the lock went")
    _final_checks(result, the_stage, allow_pending_mail=False)
    return result


@dataclass(frozen=True)
class Scenario:
    """A scenario and the stage it needs."""

    name: str
    run: Callable[[Stage, bool], Coroutine[Any, Any, Result]]
    with_redis: bool = False
    settings: dict[str, str] = field(default_factory=dict)


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario("postgres-restart", postgres_restart),
        Scenario("postgres-kill", postgres_kill),
        Scenario("smtp-down", smtp_down),
        Scenario(
            "redis-down",
            redis_down,
            with_redis=True,
            settings={
                "RATE_LIMIT_ENABLED": "true",
                "RATE_LIMIT_LOGIN_PER_ACCOUNT": str(LOGIN_LIMIT),
            },
        ),
        Scenario("sigterm", sigterm),
        Scenario("worker-kill", worker_kill),
        Scenario(
            "slow-database",
            slow_database,
            settings={"DATABASE_STATEMENT_TIMEOUT_SECONDS": str(STATEMENT_TIMEOUT)},
        ),
    )
}


_FAILURES = (RuntimeError, TimeoutError, OSError, httpx.HTTPError, psycopg.Error)


def run(name: str, *, full: bool) -> Result:
    """Run one scenario on a stage of its own; an error on the way becomes a failure."""
    scenario = SCENARIOS[name]
    started = time.monotonic()
    setup = 0.0
    try:
        with stage(name, with_redis=scenario.with_redis, settings=scenario.settings) as the_stage:
            setup = time.monotonic() - started
            try:
                result = asyncio.run(scenario.run(the_stage, full))
            except _FAILURES as exc:
                result = Result(name, failures=[f"{type(exc).__name__}: {exc}"])
            if not result.ok:
                result.failures.append("service log:\n" + the_stage.service.log_tail(60))
    except _FAILURES as exc:
        # The stage itself could not be built.
        result = Result(name, failures=[f"{type(exc).__name__}: {exc}"])
    result.name = name
    result.setup_seconds = setup
    result.seconds = time.monotonic() - started
    return result
