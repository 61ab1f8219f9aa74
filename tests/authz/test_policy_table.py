"""`make policy-table`: the table the enforcer computes, in Markdown or CSV, from any policy file;
the README's table is that table."""

import csv
import io
import subprocess
import sys

from app.authz.effect import effect
from app.authz.engine import PolicyEngine
from app.authz.permissions import Permission
from app.authz.policy import POLICY_PATH, read_policy_file
from app.authz.seeding import PolicyDiff
from app.config import ROOT_DIR
from scripts.policy_table import README_PATH, readme_table, readme_with_table, table


def run_table(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.policy_table", *args],
        cwd=ROOT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


class TestReadme:
    def test_the_readme_table_is_the_generated_table(self):
        generated = table(PolicyEngine(read_policy_file()))
        assert (
            readme_table(README_PATH.read_text()) == generated
        ), "README.md's table differs from the policy: run `make policy-table ARGS=--write-readme`"

    def test_writing_the_readme_replaces_only_the_table(self):
        readme = README_PATH.read_text()
        rewritten = readme_with_table(readme, "| new |")
        assert readme_table(rewritten) == "| new |"
        assert rewritten.split("| new |")[0] == readme.split(readme_table(readme))[0]


class TestFormats:
    def test_csv_has_a_header_and_one_row_per_permission(self):
        answer = run_table("--format", "csv")
        assert answer.returncode == 0, answer.stderr
        rows = list(csv.reader(io.StringIO(answer.stdout)))
        assert rows[0] == ["permission", "org admin", "org user", "website admin", "website user"]
        assert [r[0] for r in rows[1:]] == [p.value for p in Permission]
        assert ["website:delete", "yes", "no", "yes", "no"] in rows

    def test_another_policy_file_gives_its_own_table(self, tmp_path):
        edited = tmp_path / "policy.csv"
        edited.write_text(POLICY_PATH.read_text() + "p, website_user, website, delete\n")
        answer = run_table("--policy", str(edited), "--format", "markdown")
        assert answer.returncode == 0, answer.stderr
        assert "| `website:delete` | yes | no | yes | yes |" in answer.stdout.splitlines()

    def test_a_refused_policy_is_named_not_tabled(self, tmp_path):
        edited = tmp_path / "policy.csv"
        edited.write_text("p, org_user, websit, read\n")
        answer = run_table("--policy", str(edited))
        assert answer.returncode == 2
        assert f"{edited}:1: unknown object 'websit'" in answer.stderr
        assert answer.stdout == ""

    def test_an_unknown_format_is_a_usage_error(self):
        answer = run_table("--format", "html")
        assert answer.returncode == 2
        assert "invalid choice" in answer.stderr


class TestWhatAChangeFlips:
    """The words the seed script and the policy history use for a change."""

    def test_a_flipped_cell_reads_role_permission_before_and_after(self):
        rows = read_policy_file()
        without = [r for r in rows if r != ("p", "org_admin", "organization", "delete")]
        assert len(without) == len(rows) - 1
        changes = effect(rows, without)
        assert [str(c) for c in changes] == ["org admin × organization:delete: yes → no"]
        assert [str(c) for c in effect(without, rows)] == [
            "org admin × organization:delete: no → yes"
        ]
        assert changes[0].as_json() == {
            "role": "org_admin",
            "permission": "organization:delete",
            "before": True,
            "after": False,
        }
        assert effect(rows, rows) == []

    def test_a_diff_lists_removals_then_additions(self):
        diff = PolicyDiff(
            to_add=[("p", "org_user", "website", "delete")],
            to_remove=[("p", "org_admin", "organization", "delete"), ("g", "a", "b", "org")],
        )
        assert diff.lines() == [
            "- p, org_admin, organization, delete",
            "- g, a, b, org",
            "+ p, org_user, website, delete",
        ]
        assert not diff.empty
        assert PolicyDiff().empty
        assert PolicyDiff(to_remove=[("g", "a", "b", "org")]).empty is False
