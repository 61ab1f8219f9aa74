"""The policy in the database: seeding, drift, propagation to running workers, route coverage."""

import asyncio
import os
import subprocess
import sys
import time
import uuid

import httpx
import pytest
import sqlalchemy as sa

from app.authz.guards import GUARD_PERMISSIONS
from app.authz.permissions import Permission
from app.authz.policy import POLICY_PATH, read_policy_file
from app.authz.seeding import sync_policy
from app.config import ROOT_DIR
from app.db import create_engine
from scripts.databases import create_database as create_named_database
from scripts.databases import drop_database
from tests.conftest import TEST_SECRET, api_routes, server_url
from tests.factories import create_organization, create_user, token_for
from tests.live import free_port, wait_ready


def run_seed(url: str, *args: str, policy=None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "scripts.seed_policies", *args]
    if policy is not None:
        command += ["--policy", str(policy)]
    return subprocess.run(
        command, env={**os.environ, "DATABASE_URL": url}, capture_output=True, text=True, timeout=60
    )


class TestPermissionVocabulary:
    def test_every_permission_is_granted_by_some_policy_row(self):
        granted = {(r[2], r[3]) for r in read_policy_file() if r[0] == "p"}
        assert {(p.object, p.action) for p in Permission} == granted

    def test_every_guarded_route_asks_for_a_permission_in_the_policy(self, app):
        granted = {f"{r[2]}:{r[3]}" for r in read_policy_file() if r[0] == "p"}
        tenant_routes = 0

        def guards(dependant):
            for dependency in dependant.dependencies:
                permission = GUARD_PERMISSIONS.get(dependency.call)
                if permission is not None:
                    yield permission
                yield from guards(dependency)

        for route in api_routes(app.routes):
            path = route.path
            if "{org_id}" in path or "{website_id}" in path:
                found = list(guards(route.dependant))
                assert found, f"{path} has no authorization guard"
                assert all(p.value in granted for p in found)
                tenant_routes += 1
        assert tenant_routes >= 20


class TestSeedScript:
    def test_seeding_is_idempotent_and_check_detects_drift(self, scratch_database, tmp_path):
        assert run_seed(scratch_database, "--check").returncode == 0
        again = run_seed(scratch_database)
        assert again.returncode == 0
        assert "matches" in again.stdout

        edited = tmp_path / "policy.csv"
        edited.write_text(
            POLICY_PATH.read_text().replace("p, org_user, organization, update\n", "")
        )
        dry = run_seed(scratch_database, "--dry-run", policy=edited)
        assert dry.returncode == 0
        assert "- p, org_user, organization, update" in dry.stdout
        assert run_seed(scratch_database, "--check").returncode == 0
        drift = run_seed(scratch_database, "--check", policy=edited)
        assert drift.returncode == 1

    def test_an_unmigrated_database_gets_a_message_not_a_traceback(self):
        url = create_named_database(server_url(), f"blokid_unmigrated_{os.getpid()}")
        try:
            for args in (("--check",), ()):
                result = run_seed(url, *args)
                assert result.returncode == 2
                assert "run `make upgrade` first" in result.stderr
                assert "Traceback" not in result.stderr
        finally:
            drop_database(url)

    def test_database_url_missing_is_a_message(self, tmp_path):
        # Run from a folder without a .env, with the project importable. Under `make mutation`
        # the copied code looks up mutmut's configuration in the working directory when it is
        # told a mutant (MUTANT_UNDER_TEST); this child runs elsewhere, on the code as written.
        env = {
            k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MUTANT_UNDER_TEST")
        }
        result = subprocess.run(
            [sys.executable, "-m", "scripts.seed_policies", "--check"],
            env={**env, "PYTHONPATH": str(ROOT_DIR)},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode != 0
        assert "DATABASE_URL is not set" in result.stderr

    def test_apply_bumps_the_version_and_a_bad_file_changes_nothing(
        self, scratch_database, tmp_path
    ):
        async def version():
            engine = create_engine(scratch_database, pool_size=1)
            async with engine.connect() as connection:
                value = await connection.scalar(sa.text("SELECT version FROM policy_version"))
            await engine.dispose()
            return value

        before = asyncio.run(version())
        bad = tmp_path / "bad.csv"
        bad.write_text("p, org_user, organization, read)\n")
        result = run_seed(scratch_database, policy=bad)
        assert result.returncode == 2
        assert asyncio.run(version()) == before
        edited = tmp_path / "policy.csv"
        edited.write_text(POLICY_PATH.read_text() + "p, website_user, website_invitation, read\n")
        applied = run_seed(
            scratch_database, "--reason", "website users see invitations", policy=edited
        )
        assert applied.returncode == 0, applied.stderr
        assert asyncio.run(version()) == before + 1

    def test_database_refuses_non_identifier_values(self, scratch_database):
        async def insert():
            engine = create_engine(scratch_database, pool_size=1)
            try:
                async with engine.begin() as connection:
                    await connection.execute(
                        sa.text(
                            "INSERT INTO casbin_rule (ptype, v0, v1, v2) VALUES ('p', 'a)b', 'x', 'y')"
                        )
                    )
            finally:
                await engine.dispose()

        with pytest.raises(sa.exc.IntegrityError):
            asyncio.run(insert())

    def test_sync_policy_reports_nothing_to_do_on_a_seeded_database(self, scratch_database):
        async def diff():
            engine = create_engine(scratch_database, pool_size=1)
            try:
                return await sync_policy(engine, read_policy_file(), apply=False)
            finally:
                await engine.dispose()

        assert asyncio.run(diff()).empty


@pytest.mark.slow
class TestPropagation:
    def test_two_workers_honour_a_seeded_change_within_a_second(self, scratch_database, tmp_path):
        """Two uvicorn worker processes; removing `organization:update` from org users via the seed
        script must be visible in both workers' answers within 1 s."""
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": scratch_database,
            "SECRET_KEY": TEST_SECRET,
            "ENVIRONMENT": "test",
            "RATE_LIMIT_ENABLED": "false",
            "POLICY_CHECK_SECONDS": "0.5",
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app.main:app",
                "--port",
                str(port),
                "--workers",
                "2",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base)
            with httpx.Client(base_url=base, timeout=10) as http:
                versions = {http.get("/health/ready").json()["policy_version"] for _ in range(20)}
                assert len(versions) == 1
                edited = tmp_path / "policy.csv"
                edited.write_text(
                    POLICY_PATH.read_text().replace("p, org_user, organization, update\n", "")
                )
                applied = run_seed(
                    scratch_database, "--reason", "org users keep names", policy=edited
                )
                assert applied.returncode == 0
                changed_at = time.monotonic()
                target = versions.pop() + 1
                seen_pids_current: set[int] = set()
                while time.monotonic() - changed_at < 1.0:
                    answers = [
                        http.get("/health/ready").json()["policy_version"] for _ in range(10)
                    ]
                    if all(v == target for v in answers):
                        seen_pids_current.add(1)
                        break
                    time.sleep(0.05)
                assert seen_pids_current, "a worker still served the old policy after 1 s"
        finally:
            server.terminate()
            server.wait(timeout=20)


def takes_cursor(dependant) -> bool:
    """Whether the route (or one of its dependencies) reads a `cursor` query parameter."""
    return any(param.name == "cursor" for param in dependant.query_params) or any(
        takes_cursor(dependency) for dependency in dependant.dependencies
    )


class TestGuardsAnswerFirst:
    async def test_a_tenant_list_refuses_a_caller_before_reading_its_query(self, app, client):
        """Without a login, every guarded list answers 401 even when its cursor is garbage: an
        anonymous caller learns nothing about the route's parameters."""
        lists = [
            route.path
            for route in api_routes(app.routes)
            if "GET" in route.methods
            and ("{org_id}" in route.path or "{website_id}" in route.path)
            and takes_cursor(route.dependant)
        ]
        assert len(lists) >= 6, lists
        ids = {"org_id": uuid.uuid4(), "website_id": uuid.uuid4()}
        for path in lists:
            # Routes of included routers carry their path without the API prefix.
            url = path if path.startswith("/api/") else f"/api/v1{path}"
            response = await client.get(url.format(**ids), params={"cursor": "garbage!"})
            assert response.status_code == 401, (path, response.text)


class TestNoPolicyLoaded:
    async def test_guarded_routes_answer_503_until_a_policy_is_loaded(self, app, client, session):
        user = await create_user(session)
        org = await create_organization(session, members=[(user, "admin")])
        headers = await token_for(session, user)
        store = app.state.policy
        loaded = store.current
        store.current = None
        try:
            for path in (
                f"/api/v1/organizations/{org.id}",
                f"/api/v1/organizations/{org.id}/members",
            ):
                answer = await client.get(path, headers=headers)
                assert answer.status_code == 503
                assert answer.headers["retry-after"]
                assert answer.json()["code"] == "service_unavailable"
                assert answer.json()["detail"] == "The authorization policy is not loaded yet."
        finally:
            store.current = loaded
        assert (await client.get(f"/api/v1/organizations/{org.id}", headers=headers)).is_success
