"""Several identical instances share nothing but PostgreSQL and Redis.

Two servers on two ports against one database and one Redis, as two machines behind a load
balancer would run: whatever one instance changes, the other honours on the very next request.
"""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import redis

from app.auth.passwords import _hasher
from app.authz.policy import POLICY_PATH
from app.db import libpq_url
from scripts.databases import drop_database
from tests.conftest import TEST_SECRET, create_database
from tests.live import free_port, wait_ready
from tests.smtp import start_smtp

PASSWORD = "tangerine-obelisk-42"
REDIS_URL = "redis://127.0.0.1:6379/0"
LOGIN_LIMIT = 3

pytestmark = pytest.mark.slow


@dataclass
class Instance:
    base: str
    process: subprocess.Popen[bytes]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.base}/api/v1", timeout=10)


def _redis_answers() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="module")
def shared_database() -> Iterator[str]:
    url = create_database("blokid_instances")
    yield url
    drop_database(url)


def _start(database_url: str, *, redis_url: str, smtp_port: int) -> Instance:
    port = free_port()
    env = {
        # Mail goes to a test SMTP server, not into the project's .data/mail.
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "ENVIRONMENT": "test",
        "REDIS_URL": redis_url,
        "RATE_LIMIT_ENABLED": "true",
        "RATE_LIMIT_LOGIN_PER_ACCOUNT": str(LOGIN_LIMIT),
        "RATE_LIMIT_EXEMPT_IPS": "127.0.0.1,::1",
        "POLICY_CHECK_SECONDS": "0.2",
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and app
        [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
    except TimeoutError:
        process.kill()
        raise
    return Instance(base, process)


@pytest.fixture(scope="module")
def instances(shared_database: str) -> Iterator[tuple[Instance, Instance]]:
    redis_url = REDIS_URL if _redis_answers() else ""
    smtp, _ = start_smtp()
    try:
        first = _start(shared_database, redis_url=redis_url, smtp_port=smtp.port)
        try:
            second = _start(shared_database, redis_url=redis_url, smtp_port=smtp.port)
        except BaseException:
            first.process.terminate()
            raise
        try:
            yield first, second
        finally:
            for instance in (first, second):
                instance.process.terminate()
                instance.process.wait(timeout=20)
    finally:
        smtp.stop()


def make_user(database_url: str) -> str:
    """A verified user straight into the shared database; returns the address."""
    email = f"inst-{uuid.uuid4().hex[:10]}@example.com"
    with psycopg.connect(libpq_url(database_url)) as connection:
        connection.execute(
            "INSERT INTO users (id, email, hashed_password, email_verified_at) "
            "VALUES (%s, %s, %s, now())",
            (uuid.uuid4(), email, _hasher.hash(PASSWORD)),
        )
    return email


def log_in(instance: Instance, email: str) -> dict[str, str]:
    with instance.client() as http:
        answer = http.post("/auth/login", data={"username": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    tokens: dict[str, str] = answer.json()
    return tokens


def bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def new_organization(instance: Instance, tokens: dict[str, str]) -> str:
    with instance.client() as http:
        answer = http.post("/organizations", json={"name": "Shared"}, headers=bearer(tokens))
    assert answer.status_code == 201, answer.text
    organization_id: str = answer.json()["id"]
    return organization_id


def invite_and_accept(
    a: Instance, admin: dict[str, str], organization_id: str, email: str
) -> tuple[str, dict[str, str]]:
    """Invite `email` on instance a and accept there by id; returns (invitation id, tokens)."""
    with a.client() as http:
        invited = http.post(
            f"/organizations/{organization_id}/invitations",
            json={"email": email, "role": "user"},
            headers=bearer(admin),
        )
        assert invited.status_code == 201, invited.text
        invitation_id: str = invited.json()["id"]
        member = log_in(a, email)
        accepted = http.post(f"/invitations/{invitation_id}/accept", headers=bearer(member))
        assert accepted.status_code == 200, accepted.text
    return invitation_id, member


class TestTwoInstances:
    def test_a_logout_on_one_ends_the_access_token_on_the_other(self, instances, shared_database):
        a, b = instances
        tokens = log_in(a, make_user(shared_database))
        with b.client() as http:
            assert http.get("/users/me", headers=bearer(tokens)).status_code == 200
        with a.client() as http:
            out = http.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})
            assert out.status_code == 204
        with b.client() as http:
            assert http.get("/users/me", headers=bearer(tokens)).status_code == 401

    def test_a_rotated_refresh_token_is_refused_by_the_other(self, instances, shared_database):
        a, b = instances
        tokens = log_in(a, make_user(shared_database))
        with a.client() as http:
            rotated = http.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
            assert rotated.status_code == 200
        with b.client() as http:
            reused = http.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
            assert reused.status_code == 401
            # The reuse ended the whole login, on every instance.
            new_pair = rotated.json()
            assert http.get("/users/me", headers=bearer(new_pair)).status_code == 401

    def test_a_removed_member_loses_access_on_the_other(self, instances, shared_database):
        a, b = instances
        admin = log_in(a, make_user(shared_database))
        organization_id = new_organization(a, admin)
        member_email = make_user(shared_database)
        _, member = invite_and_accept(a, admin, organization_id, member_email)
        with b.client() as http:
            seen = http.get(f"/organizations/{organization_id}", headers=bearer(member))
            assert seen.status_code == 200
            member_id = http.get("/users/me", headers=bearer(member)).json()["id"]
        with a.client() as http:
            removed = http.delete(
                f"/organizations/{organization_id}/members/{member_id}", headers=bearer(admin)
            )
            assert removed.status_code == 204
        with b.client() as http:
            gone = http.get(f"/organizations/{organization_id}", headers=bearer(member))
            assert gone.status_code == 404

    def test_a_used_invitation_is_refused_by_the_other(self, instances, shared_database):
        a, b = instances
        admin = log_in(a, make_user(shared_database))
        organization_id = new_organization(a, admin)
        email = make_user(shared_database)
        invitation_id, member = invite_and_accept(a, admin, organization_id, email)
        with b.client() as http:
            again = http.post(f"/invitations/{invitation_id}/accept", headers=bearer(member))
        assert again.status_code == 400
        assert again.json()["code"] == "invalid_or_expired_token"

    def test_a_seeded_policy_change_is_honoured_by_both(
        self, instances, shared_database, tmp_path: Path
    ):
        a, b = instances
        admin = log_in(a, make_user(shared_database))
        organization_id = new_organization(a, admin)
        _, member = invite_and_accept(a, admin, organization_id, make_user(shared_database))
        rename = {"name": "Renamed"}
        path = f"/organizations/{organization_id}"
        edited = tmp_path / "policy.csv"
        edited.write_text(
            POLICY_PATH.read_text().replace("p, org_user, organization, update\n", "")
        )
        try:
            for instance in (a, b):
                with instance.client() as http:
                    assert http.patch(path, json=rename, headers=bearer(member)).status_code == 200
            assert _seed(shared_database, edited).returncode == 0
            for instance in (a, b):
                assert _eventually_status(instance, path, member, rename, 403)
        finally:
            assert _seed(shared_database, POLICY_PATH).returncode == 0
        for instance in (a, b):
            assert _eventually_status(instance, path, member, rename, 200)

    def test_a_login_limit_is_shared_through_redis(self, instances, shared_database):
        if not _redis_answers():
            pytest.skip("no Redis on 127.0.0.1:6379 to share limits through")
        a, b = instances
        email = make_user(shared_database)
        wrong = {"username": email, "password": "not-the-password"}
        statuses = []
        for instance in (a, b, a, b):
            with instance.client() as http:
                statuses.append(http.post("/auth/login", data=wrong).status_code)
        assert statuses == [401] * LOGIN_LIMIT + [429]


def _seed(database_url: str, policy: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and script
        [
            sys.executable,
            "-m",
            "scripts.seed_policies",
            "--policy",
            str(policy),
            "--reason",
            "the instances test changes who may rename",
        ],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _eventually_status(
    instance: Instance, path: str, tokens: dict[str, str], body: dict[str, str], status: int
) -> bool:
    """Whether the instance answers `status` within two seconds (the policy reaches every
    worker through LISTEN/NOTIFY, with a version check as a backstop)."""
    deadline = time.monotonic() + 2
    with instance.client() as http:
        while time.monotonic() < deadline:
            if http.patch(path, json=body, headers=bearer(tokens)).status_code == status:
                return True
            time.sleep(0.05)
    return False
