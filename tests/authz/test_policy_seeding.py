"""The seed script shows a change's effect before applying it, refuses a bad policy without
changing anything, records what it applies, and the service refuses a bad policy at start-up."""

import asyncio
import os
import subprocess
import sys

import psycopg
import pytest
import sqlalchemy as sa

from app.authz.policy import POLICY_PATH
from app.authz.sync import PolicyStore
from app.db import create_engine, libpq_url
from app.main import create_app
from tests.conftest import make_settings

SHIPPED = POLICY_PATH.read_text()
WITHOUT_ORG_USER_UPDATE = SHIPPED.replace("p, org_user, organization, update\n", "")


def run(url: str, module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
    )


def seed(url: str, *args: str, policy=None) -> subprocess.CompletedProcess[str]:
    extra = ["--policy", str(policy)] if policy is not None else []
    return run(url, "scripts.seed_policies", *args, *extra)


def query(url: str, statement: str) -> list[tuple]:
    """Run one statement in its own committed transaction; its rows."""

    async def go():
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.begin() as connection:
                return [tuple(r) for r in await connection.execute(sa.text(statement))]
        finally:
            await engine.dispose()

    return asyncio.run(go())


def state(url: str) -> tuple:
    """Everything applying could change: the rows, the version and the history."""
    return (
        query(url, "SELECT ptype, v0, v1, v2 FROM casbin_rule ORDER BY id"),
        query(url, "SELECT version FROM policy_version"),
        query(url, "SELECT count(*) FROM policy_changes"),
    )


class TestDryRun:
    def test_prints_the_line_diff_and_the_cells_that_change(self, scratch_database, tmp_path):
        edited = tmp_path / "policy.csv"
        edited.write_text(WITHOUT_ORG_USER_UPDATE)
        before = state(scratch_database)
        dry = seed(scratch_database, "--dry-run", policy=edited)
        assert dry.returncode == 0, dry.stderr
        assert dry.stdout.splitlines() == [
            "- p, org_user, organization, update",
            "who may do what (role × permission: before → after):",
            "  org admin × organization:update: yes → no",
            "  org user × organization:update: yes → no",
            "dry run: nothing changed",
        ]
        assert state(scratch_database) == before

    def test_a_change_that_moves_no_cell_says_so(self, scratch_database, tmp_path):
        edited = tmp_path / "policy.csv"
        # org_admin already holds this through org_user: a new row, the same answers.
        edited.write_text(SHIPPED + "p, org_admin, organization, read\n")
        dry = seed(scratch_database, "--dry-run", policy=edited)
        assert dry.stdout.splitlines()[:2] == [
            "+ p, org_admin, organization, read",
            "who may do what: unchanged",
        ]


class TestApplying:
    def test_a_change_of_who_may_do_what_needs_a_reason(self, scratch_database, tmp_path):
        edited = tmp_path / "policy.csv"
        edited.write_text(WITHOUT_ORG_USER_UPDATE)
        before = state(scratch_database)
        refused = seed(scratch_database, policy=edited)
        assert refused.returncode == 2
        assert "--reason" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert state(scratch_database) == before

    def test_applying_records_version_diff_effect_and_reason(self, scratch_database, tmp_path):
        edited = tmp_path / "policy.csv"
        edited.write_text(WITHOUT_ORG_USER_UPDATE)
        applied = seed(scratch_database, "--reason", "names are set by admins", policy=edited)
        assert applied.returncode == 0, applied.stderr
        [(version,)] = query(scratch_database, "SELECT version FROM policy_version")
        assert f"policy version {version}" in applied.stdout
        [(recorded, diff, reason)] = query(
            scratch_database,
            "SELECT version, diff, reason FROM policy_changes ORDER BY version DESC LIMIT 1",
        )
        assert (recorded, reason) == (version, "names are set by admins")
        assert diff["removed"] == [["p", "org_user", "organization", "update"]]
        assert diff["added"] == []
        assert {(c["role"], c["permission"], c["before"], c["after"]) for c in diff["effect"]} == {
            ("org_admin", "organization:update", True, False),
            ("org_user", "organization:update", True, False),
        }

    def test_a_change_without_effect_applies_without_a_reason(self, scratch_database, tmp_path):
        edited = tmp_path / "policy.csv"
        edited.write_text(SHIPPED + "p, org_admin, organization, read\n")
        applied = seed(scratch_database, policy=edited)
        assert applied.returncode == 0, applied.stderr
        [(reason, diff)] = query(
            scratch_database,
            "SELECT reason, diff FROM policy_changes ORDER BY version DESC LIMIT 1",
        )
        assert reason is None
        assert diff["effect"] == []

    def test_the_first_load_is_recorded_as_the_initial_policy(self, scratch_database):
        [(version, reason)] = query(scratch_database, "SELECT version, reason FROM policy_changes")
        assert (version, reason) == (1, "initial policy")

    def test_policy_history_prints_each_change_newest_first(self, scratch_database, tmp_path):
        edited = tmp_path / "policy.csv"
        edited.write_text(WITHOUT_ORG_USER_UPDATE)
        assert seed(scratch_database, "--reason", "names by admins", policy=edited).returncode == 0
        history = run(scratch_database, "scripts.policy_history")
        assert history.returncode == 0, history.stderr
        lines = history.stdout.splitlines()
        assert lines[0].startswith("version 2  ")
        assert lines[0].endswith("reason: names by admins")
        assert lines[1:4] == [
            "  - p, org_user, organization, update",
            "    org admin × organization:update: yes → no",
            "    org user × organization:update: yes → no",
        ]
        assert lines[4].startswith("version 1  ")
        assert lines[4].endswith("reason: initial policy")


class TestRefusals:
    def test_a_bad_policy_exits_2_names_file_and_line_and_changes_nothing(
        self, scratch_database, tmp_path
    ):
        edited = tmp_path / "policy.csv"
        edited.write_text(SHIPPED + "p, org_admn, website, delete\n")
        before = state(scratch_database)
        for args in ((), ("--reason", "typo"), ("--dry-run",), ("--check",)):
            refused = seed(scratch_database, *args, policy=edited)
            assert refused.returncode == 2
            assert f"{edited}:{len(SHIPPED.splitlines()) + 1}: unknown role 'org_admn'" in (
                refused.stderr
            )
        assert state(scratch_database) == before

    def test_a_policy_breaking_an_invariant_is_refused_before_applying(
        self, scratch_database, tmp_path
    ):
        edited = tmp_path / "policy.csv"
        edited.write_text(SHIPPED + "p, website_user, website, delete\n")
        before = state(scratch_database)
        refused = seed(scratch_database, "--reason", "let them", policy=edited)
        assert refused.returncode == 2
        assert "broken: website_user cannot delete website" in refused.stderr
        assert state(scratch_database) == before

    def test_check_keeps_its_exit_codes(self, scratch_database, tmp_path):
        edited = tmp_path / "policy.csv"
        edited.write_text(WITHOUT_ORG_USER_UPDATE)
        assert seed(scratch_database, "--check").returncode == 0
        assert seed(scratch_database, "--check", policy=edited).returncode == 1
        edited.write_text(SHIPPED + "p, org_user, websit, read\n")
        assert seed(scratch_database, "--check", policy=edited).returncode == 2


class TestTheServiceRefusesABadPolicy:
    @staticmethod
    def _insert_bad_row(url: str) -> int:
        async def go():
            engine = create_engine(url, pool_size=1)
            try:
                async with engine.begin() as connection:
                    row_id = await connection.scalar(
                        sa.text(
                            "INSERT INTO casbin_rule (ptype, v0, v1, v2) "
                            "VALUES ('p', 'org_admn', 'website', 'delete') RETURNING id"
                        )
                    )
                    await connection.execute(
                        sa.text("UPDATE policy_version SET version = version + 1")
                    )
                    return row_id
            finally:
                await engine.dispose()

        return asyncio.run(go())

    async def test_start_up_stops_with_the_loaders_message(self, scratch_database):
        row_id = await asyncio.to_thread(self._insert_bad_row, scratch_database)
        app = create_app(make_settings(scratch_database), run_background_tasks=False)
        with pytest.raises(RuntimeError) as raised:
            async with app.router.lifespan_context(app):
                pass
        assert (
            f"casbin_rule id {row_id}: unknown role 'org_admn' "
            "(roles: org_admin, org_user, website_admin, website_user)"
        ) in str(raised.value)

    async def test_a_running_worker_keeps_its_policy(self, scratch_database):
        engine = create_engine(scratch_database, pool_size=1)
        try:
            store = PolicyStore(engine, scratch_database)
            loaded = await store.reload()
            await asyncio.to_thread(self._insert_bad_row, scratch_database)
            with pytest.raises(ValueError, match="unknown role 'org_admn'"):
                await store.reload()
            # The watcher's check logs the refusal and goes on deciding with what it has.
            async with await psycopg.AsyncConnection.connect(
                libpq_url(scratch_database), autocommit=True
            ) as connection:
                await store._reload_if_changed(connection)
            assert store.current is loaded
        finally:
            await engine.dispose()


class TestServeSeeding:
    def test_make_run_does_not_apply_a_change_of_who_may_do_what_without_a_reason(
        self, scratch_database
    ):
        from scripts.serve import prepare_or_exit

        # The database lost a grant the file holds: applying the file would move a cell.
        query(
            scratch_database,
            "DELETE FROM casbin_rule WHERE v0 = 'org_admin' AND v1 = 'audit_event' " "RETURNING id",
        )
        before = state(scratch_database)
        with pytest.raises(SystemExit) as stopped:
            prepare_or_exit(scratch_database)
        assert 'make seed-policies REASON="..."' in str(stopped.value.code)
        assert state(scratch_database) == before
