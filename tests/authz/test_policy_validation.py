"""The policy loader refuses mistakes, each with its file, line and reason; the invariants file
states what no policy may change. No database: the loader and a bare enforcer."""

from pathlib import Path

import pytest

from app.authz.permissions import Permission
from app.authz.policy import POLICY_PATH, PolicyFileError, read_located_policy, read_policy_file
from app.authz.policy_validation import (
    INVARIANTS_PATH,
    _cycle_problems,
    check_invariants,
    read_invariants,
)

SHIPPED = POLICY_PATH.read_text()


def write(tmp_path: Path, text: str, name: str = "policy.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def line_number(text: str, row: str) -> int:
    """The line of `text` that holds `row` exactly."""
    return text.splitlines().index(row) + 1


def refusal(path: Path) -> list[str]:
    """The refusal messages the loader gives for the file."""
    with pytest.raises(PolicyFileError) as raised:
        read_policy_file(path)
    return [str(problem) for problem in raised.value.problems]


def appended(tmp_path: Path, row: str) -> tuple[Path, str]:
    """The shipped policy with one row added at the end, and that row's `file:line`."""
    path = write(tmp_path, SHIPPED + row + "\n")
    return path, f"{path}:{len(SHIPPED.splitlines()) + 1}"


class TestTheShippedPolicy:
    def test_loads_and_keeps_every_invariant(self):
        located = read_located_policy()
        check_invariants(located, read_invariants())
        assert located[0][1].startswith("policies/policy.csv:")

    def test_the_invariants_file_asserts_both_ways(self):
        invariants = read_invariants()
        assert any(i.allowed for i in invariants)
        assert any(not i.allowed for i in invariants)
        assert INVARIANTS_PATH.parent == POLICY_PATH.parent


class TestVocabulary:
    def test_an_unknown_role_is_refused(self, tmp_path):
        path, where = appended(tmp_path, "p, org_admn, website, delete")
        assert refusal(path) == [
            f"{where}: unknown role 'org_admn' "
            "(roles: org_admin, org_user, website_admin, website_user)"
        ]

    def test_an_unknown_object_is_refused(self, tmp_path):
        path, where = appended(tmp_path, "p, org_user, websit, read")
        [message] = refusal(path)
        objects = ", ".join(sorted({p.object for p in Permission}))
        assert message == f"{where}: unknown object 'websit' (objects: {objects})"

    def test_an_unknown_action_is_refused(self, tmp_path):
        path, where = appended(tmp_path, "p, org_user, website, destroy")
        [message] = refusal(path)
        actions = ", ".join(sorted(p.action for p in Permission if p.object == "website"))
        assert message == f"{where}: unknown action 'destroy' on 'website' (actions: {actions})"

    def test_every_malformed_line_is_named_not_only_the_first(self, tmp_path):
        lines = len(SHIPPED.splitlines())
        path = write(
            tmp_path,
            SHIPPED
            + "p, org_user, website\nx, a, b, c\np, Org User, website, read\np, org_user, web site, read\n",
        )
        assert refusal(path) == [
            f"{path}:{lines + 1}: expected 'p|g, a, b, c', got 'p, org_user, website'",
            f"{path}:{lines + 2}: expected 'p|g, a, b, c', got 'x, a, b, c'",
            f"{path}:{lines + 3}: 'Org User' is not an identifier",
            f"{path}:{lines + 4}: 'web site' is not an identifier",
        ]

    def test_an_unknown_role_in_the_hierarchy_is_refused(self, tmp_path):
        path, where = appended(tmp_path, "g, org_owner, org_admin, org")
        [message] = refusal(path)
        assert message.startswith(f"{where}: unknown role 'org_owner'")

    def test_an_unknown_domain_kind_is_refused(self, tmp_path):
        path, where = appended(tmp_path, "g, org_admin, org_user, tenant")
        [message] = refusal(path)
        assert message == f"{where}: unknown domain kind 'tenant' (kinds: org, website)"

    def test_a_website_role_granted_an_organization_permission_is_refused(self, tmp_path):
        path, where = appended(tmp_path, "p, website_admin, organization, read")
        assert refusal(path) == [
            f"{where}: website_admin holds in one website only; "
            "organization:read is not asked about a website"
        ]

    def test_every_problem_is_reported_not_only_the_first(self, tmp_path):
        path = write(
            tmp_path, SHIPPED + "p, org_admn, website, delete\np, org_user, websit, read\n"
        )
        assert len(refusal(path)) == 2
        with pytest.raises(PolicyFileError) as raised:
            read_policy_file(path)
        # The message is every problem, one per line, as the seed script and start-up print it.
        assert str(raised.value) == "\n".join(refusal(path))


class TestHierarchy:
    def test_a_row_crossing_levels_is_refused(self, tmp_path):
        path, where = appended(tmp_path, "g, website_user, org_admin, website")
        [message] = refusal(path)
        assert message.startswith(f"{where}: crosses levels: website_user (website) inherits")

    def test_a_row_naming_the_wrong_level_domain_is_refused(self, tmp_path):
        path, where = appended(tmp_path, "g, website_admin, website_user, org")
        [message] = refusal(path)
        assert message.startswith(f"{where}: crosses levels")

    def test_a_cycle_through_other_roles_is_found_at_each_level(self):
        # The level rules refuse a lower role inheriting an upper one before cycles are looked
        # for, so the cycle check is asked directly, as a second line of defence.
        located = [
            (("g", "a", "b", "org"), "x:1"),
            (("g", "b", "c", "org"), "x:2"),
            (("g", "c", "a", "org"), "x:3"),
            (("p", "a", "website", "read"), "x:4"),
            (("g", "d", "e", "website"), "x:5"),
            (("g", "e", "d", "website"), "x:6"),
        ]
        assert [str(p) for p in _cycle_problems(located)] == [
            "x:3: makes a cycle in the role hierarchy: c → a → b → c",
            "x:6: makes a cycle in the role hierarchy: e → d → e",
        ]

    def test_a_role_inheriting_itself_is_a_cycle(self, tmp_path):
        path, where = appended(tmp_path, "g, org_admin, org_admin, org")
        assert refusal(path) == [
            f"{where}: makes a cycle in the role hierarchy: org_admin → org_admin"
        ]

    def test_a_lower_role_inheriting_the_upper_one_is_refused(self, tmp_path):
        # With the shipped `g, org_admin, org_user, org` this would also close a cycle.
        path, where = appended(tmp_path, "g, org_user, org_admin, org")
        assert refusal(path) == [
            f"{where}: org_user would inherit org_admin, the role above it; "
            "only the upper role inherits"
        ]


class TestDuplicates:
    def test_a_repeated_line_does_not_hide_the_problems_after_it(self, tmp_path):
        lines = len(SHIPPED.splitlines())
        path = write(tmp_path, SHIPPED + "p, org_user, website, read\np, org_user, websit, read\n")
        problems = refusal(path)
        assert len(problems) == 2
        assert problems[0].startswith(f"{path}:{lines + 1}: duplicate of ")
        assert problems[1].startswith(f"{path}:{lines + 2}: unknown object 'websit'")

    def test_a_repeated_line_names_the_first(self, tmp_path):
        row = "p, org_user, website, read"
        path, where = appended(tmp_path, row)
        assert refusal(path) == [f"{where}: duplicate of {path}:{line_number(SHIPPED, row)}"]

    def test_spacing_does_not_hide_a_duplicate(self, tmp_path):
        path, where = appended(tmp_path, "p,org_user,website,read")
        [message] = refusal(path)
        assert message.startswith(f"{where}: duplicate of ")


class TestLowerRoleHoldsMore:
    def test_a_grant_to_a_lower_role_the_upper_role_lacks_is_refused(self, tmp_path):
        # Without the website hierarchy row, website_admin holds only what it is granted itself:
        # granting it everything website_user holds except `leave` leaves one cell inverted.
        text = SHIPPED.replace("g, website_admin, website_user, website\n", "")
        text += "\n".join(
            f"p, website_admin, {row}"
            for row in ("website, read", "website, update", "website_member, read")
        )
        path = write(tmp_path, text + "\n")
        grant = "p, website_user, website, leave"
        assert refusal(path) == [
            f"{path}:{line_number(text, grant)}: website_user would hold website:leave, "
            "which website_admin (the role above it) does not"
        ]

    def test_dropping_the_hierarchy_row_names_every_grant_it_inverts(self, tmp_path):
        text = SHIPPED.replace("g, org_admin, org_user, org\n", "")
        path = write(tmp_path, text)
        messages = refusal(path)
        grant = "p, org_user, organization, read"
        assert (
            f"{path}:{line_number(text, grant)}: org_user would hold organization:read, "
            "which org_admin (the role above it) does not"
        ) in messages
        assert len(messages) == 8


class TestFormat:
    def test_an_unreadable_file_is_a_refusal_not_a_traceback(self, tmp_path):
        missing = tmp_path / "missing.csv"
        [message] = refusal(missing)
        assert message.startswith(f"{missing}: cannot be read")


class TestInvariants:
    def test_a_policy_breaking_a_cannot_names_the_invariant_and_the_granting_line(self, tmp_path):
        path, where = appended(tmp_path, "p, website_user, website, delete")
        invariant_line = line_number(
            INVARIANTS_PATH.read_text(), "website_user cannot delete website"
        )
        with pytest.raises(PolicyFileError) as raised:
            check_invariants(read_located_policy(path), read_invariants())
        assert [str(p) for p in raised.value.problems] == [
            f"policies/invariants.txt:{invariant_line}: broken: website_user cannot delete "
            f"website — granted by {where} (p, website_user, website, delete)"
        ]

    def test_a_policy_breaking_a_can_is_refused(self, tmp_path):
        path = write(tmp_path, SHIPPED.replace("p, org_admin, organization, delete\n", ""))
        with pytest.raises(PolicyFileError) as raised:
            check_invariants(read_located_policy(path), read_invariants())
        [message] = [str(p) for p in raised.value.problems]
        assert message.endswith(
            "broken: org_admin can delete organization — no policy row grants it"
        )

    def test_an_invariant_outside_the_vocabulary_is_refused(self, tmp_path):
        path = write(tmp_path, "# c\norg_user cannot invite people\n", "invariants.txt")
        with pytest.raises(PolicyFileError) as raised:
            read_invariants(path)
        assert [str(p) for p in raised.value.problems] == [
            f"{path}:2: unknown permission people:invite"
        ]

    def test_every_bad_invariant_is_named_not_only_the_first(self, tmp_path):
        path = write(
            tmp_path,
            "org_user may delete website\nowner can delete website\n"
            "org_user cannot invite people\norg_user cannot delete website\n"
            "org_user cannot fly website\n",
            "invariants.txt",
        )
        with pytest.raises(PolicyFileError) as raised:
            read_invariants(path)
        assert [str(p) for p in raised.value.problems] == [
            f"{path}:1: expected '<role> can|cannot <action> <object>', "
            "got 'org_user may delete website'",
            f"{path}:2: unknown role 'owner' "
            "(roles: org_admin, org_user, website_admin, website_user)",
            f"{path}:3: unknown permission people:invite",
            f"{path}:5: unknown permission website:fly",
        ]

    def test_an_invariant_that_is_not_a_sentence_of_the_form_is_refused(self, tmp_path):
        path = write(tmp_path, "org_user may delete website\n", "invariants.txt")
        with pytest.raises(PolicyFileError) as raised:
            read_invariants(path)
        assert "expected '<role> can|cannot <action> <object>'" in str(raised.value)
