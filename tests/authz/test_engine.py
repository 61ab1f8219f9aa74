"""The enforcer on its own: model + policy files, no app, no database.

The truth table below is written by hand from the contract's "Who may do what" table, not
generated from the policy file, and asserts the denies as carefully as the allows.
"""

from uuid import UUID, uuid4

import casbin
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.authz.engine import (
    NO_WEBSITE,
    Assignments,
    PolicyEngine,
    RequestRoleManager,
    _current,
    build_enforcer,
    probe,
)
from app.authz.permissions import Permission as P
from app.authz.policy import MODEL_PATH, POLICY_PATH, PolicyFileError, read_policy_file

ROLES = ("org_admin", "org_user", "website_admin", "website_user", "none")

# Contract table, one row per permission: the roles that hold it (all others must not).
ALLOWED: dict[P, set[str]] = {
    P.ORGANIZATION_READ: {"org_admin", "org_user"},
    P.ORGANIZATION_UPDATE: {"org_admin", "org_user"},
    P.ORGANIZATION_DELETE: {"org_admin"},
    P.ORGANIZATION_LEAVE: {"org_admin", "org_user"},
    P.ORGANIZATION_MEMBER_READ: {"org_admin", "org_user"},
    P.ORGANIZATION_MEMBER_UPDATE: {"org_admin"},
    P.ORGANIZATION_MEMBER_DELETE: {"org_admin"},
    P.ORGANIZATION_INVITATION_READ: {"org_admin"},
    P.ORGANIZATION_INVITATION_CREATE: {"org_admin"},
    P.ORGANIZATION_INVITATION_DELETE: {"org_admin"},
    P.AUDIT_EVENT_READ: {"org_admin"},
    P.WEBSITE_CREATE: {"org_admin", "org_user"},
    P.WEBSITE_READ: {"org_admin", "org_user", "website_admin", "website_user"},
    P.WEBSITE_UPDATE: {"org_admin", "org_user", "website_admin", "website_user"},
    P.WEBSITE_DELETE: {"org_admin", "website_admin"},
    P.WEBSITE_LEAVE: {"website_admin", "website_user"},
    P.WEBSITE_MEMBER_READ: {"org_admin", "org_user", "website_admin", "website_user"},
    P.WEBSITE_MEMBER_UPDATE: {"org_admin", "website_admin"},
    P.WEBSITE_MEMBER_DELETE: {"org_admin", "website_admin"},
    P.WEBSITE_INVITATION_READ: {"org_admin", "website_admin"},
    P.WEBSITE_INVITATION_CREATE: {"org_admin", "website_admin"},
    P.WEBSITE_INVITATION_DELETE: {"org_admin", "website_admin"},
}


def assignments_for(
    role: str, user: UUID | None = None, org: UUID | None = None, site: UUID | None = None
) -> Assignments:
    user, org, site = user or uuid4(), org or uuid4(), site or uuid4()
    kind, _, name = role.partition("_")
    if kind == "org":
        return Assignments(user, org, name, site, None)
    if kind == "website":
        return Assignments(user, org, None, site, name)
    return Assignments(user, org, None, site, None)


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine(read_policy_file())


class TestTruthTable:
    def test_every_permission_is_in_the_table(self):
        assert set(ALLOWED) == set(P)

    @pytest.mark.parametrize("permission", list(P))
    @pytest.mark.parametrize("role", ROLES)
    def test_role_permission(self, engine, role, permission):
        expected = role in ALLOWED[permission]
        assert engine.allows(assignments_for(role), permission) is expected

    @pytest.mark.parametrize("permission", list(P))
    @pytest.mark.parametrize("role", ROLES)
    def test_answer_is_the_same_without_the_memo(self, role, permission):
        fresh = PolicyEngine(read_policy_file())
        assert fresh.allows(assignments_for(role), permission) is (role in ALLOWED[permission])

    def test_clearing_the_memo_keeps_every_answer(self, engine):
        before = {
            (role, p): engine.allows(assignments_for(role), p) for role in ROLES for p in list(P)
        }
        engine.clear_memo()
        assert engine._memo == {}
        after = {
            (role, p): engine.allows(assignments_for(role), p) for role in ROLES for p in list(P)
        }
        assert after == before

    def test_website_role_does_not_reach_the_organization(self, engine):
        assert not engine.allows(assignments_for("website_admin"), P.ORGANIZATION_READ)

    def test_org_role_reaches_every_website_of_the_org(self, engine):
        org = uuid4()
        for _ in range(3):
            assert engine.allows(Assignments(uuid4(), org, "user", uuid4(), None), P.WEBSITE_UPDATE)


class TestStockEnforcer:
    """The model and policy also work in a stock Casbin enforcer loading policy.csv from disk,
    with assignments given as `g` rows: what a reviewer would try first."""

    def test_file_adapter_gives_the_same_answers(self):
        enforcer = casbin.Enforcer(str(MODEL_PATH), str(POLICY_PATH))
        enforcer.add_grouping_policy("user:1", "org_user", "org:1")
        enforcer.add_grouping_policy("user:2", "website_admin", "website:9")
        assert enforcer.enforce("user:1", "org:1", "website:9", "website", "update")
        assert not enforcer.enforce("user:1", "org:1", "website:none", "organization", "delete")
        assert enforcer.enforce("user:2", "org:1", "website:9", "website", "delete")
        assert not enforcer.enforce("user:2", "org:1", "website:none", "organization", "read")


class TestRoleManagerTraps:
    def test_a_bare_role_name_as_subject_is_denied(self, engine):
        enforcer = build_enforcer(read_policy_file())
        assert not enforcer.enforce("org_admin", "org:1", "website:none", "organization", "delete")

    def test_assignments_of_another_user_do_not_apply(self, engine):
        enforcer = engine._enforcer

        token = _current.set(assignments_for("org_admin"))
        try:
            assert not enforcer.enforce(
                f"user:{uuid4()}", "org:1", "website:none", "organization", "read"
            )
        finally:
            _current.reset(token)


class TestRequestRoleManager:
    """The role manager answers from the assignments of the call being decided, the way Casbin's
    role API (`get_roles_for_user_in_domain`) would ask it."""

    def test_roles_are_the_principals_own_in_the_domain_asked(self):
        manager = RequestRoleManager()
        held = Assignments(uuid4(), uuid4(), "user", uuid4(), "admin")
        token = _current.set(held)
        try:
            assert manager.get_roles(held.principal, held.org_domain) == ["org_user"]
            assert manager.get_roles(held.principal, held.site_domain) == ["website_admin"]
            assert manager.get_roles(held.principal, "org:elsewhere") == []
            assert manager.get_roles(held.principal) == []
            assert manager.get_roles(f"user:{uuid4()}", held.org_domain) == []
            assert manager.get_users("org_user", held.org_domain) == []
        finally:
            _current.reset(token)
        assert manager.get_roles(held.principal, held.org_domain) == []

    def test_a_hierarchy_link_can_be_deleted(self):
        manager = RequestRoleManager()
        manager.add_link("org_admin", "org_user")
        manager.add_link("org_user", "website_user")
        assert manager.inherits("org_admin", "website_user")
        manager.delete_link("org_user", "website_user")
        assert manager.inherits("org_admin", "org_user")
        assert not manager.inherits("org_admin", "website_user")
        manager.clear()
        assert not manager.inherits("org_admin", "org_user")
        assert manager.inherits("org_admin", "org_admin")

    def test_links_are_the_principals_own_even_in_its_domain(self):
        manager = RequestRoleManager()
        held = Assignments(uuid4(), uuid4(), "admin", uuid4(), "admin")
        token = _current.set(held)
        try:
            assert manager.has_link(held.principal, "org_admin", held.org_domain)
            assert manager.has_link(held.principal, "website_admin", held.site_domain)
            assert not manager.has_link(f"user:{uuid4()}", "org_admin", held.org_domain)
            assert not manager.has_link(held.principal, "org_admin")
            assert not manager.has_link(held.principal, "org_admin", "org:elsewhere")
        finally:
            _current.reset(token)
        assert not manager.has_link(held.principal, "org_admin", held.org_domain)

    def test_a_probe_holds_only_the_roles_given(self):
        org_only, site_only = probe("admin", None), probe(None, "user")
        assert org_only.roles_by_domain() == {org_only.org_domain: "org_admin"}
        assert site_only.roles_by_domain() == {site_only.site_domain: "website_user"}
        assert org_only.site_domain == site_only.site_domain != NO_WEBSITE


class TestPolicyFile:
    def test_hostile_values_are_refused(self, tmp_path):
        for line in (
            "p, org_user, organization, read)",
            "p, org user, organization, read",
            "p, a, b",
            "x, a, b, c",
        ):
            path = tmp_path / "policy.csv"
            path.write_text(line + "\n")
            with pytest.raises(PolicyFileError):
                read_policy_file(path)

    def test_comments_and_blank_lines_are_skipped(self, tmp_path):
        path = tmp_path / "policy.csv"
        # The hierarchy row keeps the policy valid: org_admin must hold what org_user holds.
        path.write_text(
            "# c\n\ng, org_admin, org_user, org\n  # indented\np, org_user, organization, read\n"
        )
        assert read_policy_file(path) == [
            ("g", "org_admin", "org_user", "org"),
            ("p", "org_user", "organization", "read"),
        ]


def reference(org_role: str | None, site_role: str | None, permission: P) -> bool:
    """The contract's table as a plain function: what the enforcer must answer."""
    if permission in {
        P.ORGANIZATION_DELETE,
        P.ORGANIZATION_MEMBER_UPDATE,
        P.ORGANIZATION_MEMBER_DELETE,
        P.ORGANIZATION_INVITATION_READ,
        P.ORGANIZATION_INVITATION_CREATE,
        P.ORGANIZATION_INVITATION_DELETE,
        P.AUDIT_EVENT_READ,
    }:
        return org_role == "admin"
    if permission.value.startswith(("organization", "website:create")):
        return org_role in ("admin", "user")
    if permission is P.WEBSITE_LEAVE:
        return site_role is not None
    admin_only = {
        P.WEBSITE_DELETE,
        P.WEBSITE_MEMBER_UPDATE,
        P.WEBSITE_MEMBER_DELETE,
        P.WEBSITE_INVITATION_READ,
        P.WEBSITE_INVITATION_CREATE,
        P.WEBSITE_INVITATION_DELETE,
    }
    if permission in admin_only:
        return "admin" in (org_role, site_role)
    return org_role is not None or site_role is not None


HOSTILE_TEXT = st.text(
    alphabet=st.sampled_from(list(",()*#\n\r\t \"'\\:;") + ["é", "名", "😀", "a", "Z"]),
    min_size=1,
    max_size=20,
)
ROLE = st.sampled_from([None, "admin", "user"])


class TestProperty:
    # differing_executors: the mutation tester runs the test through its own wrapper as well.
    @settings(
        max_examples=200,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
        ],
    )
    @given(
        memberships=st.lists(
            st.tuples(st.integers(0, 3), st.integers(0, 2), ROLE, ROLE), min_size=1, max_size=12
        ),
        names=st.lists(HOSTILE_TEXT, min_size=3, max_size=3),
        permission=st.sampled_from(list(P)),
    )
    def test_enforcer_matches_reference_for_random_tenancies(self, memberships, names, permission):
        """Random users × organizations × websites; hostile org and site names are attached to
        the data (never to Casbin values) and must not change any answer, also after a reload."""
        users = [uuid4() for _ in range(4)]
        orgs = [uuid4() for _ in range(3)]
        sites = {org: uuid4() for org in orgs}
        directory = {org: names[i] for i, org in enumerate(orgs)}  # what a UI would show
        org_roles: dict[tuple[UUID, UUID], str] = {}
        site_roles: dict[tuple[UUID, UUID], str] = {}
        for user_index, org_index, org_role, site_role in memberships:
            user, org = users[user_index], orgs[org_index]
            if org_role:
                org_roles[(user, org)] = org_role
            if site_role:
                site_roles[(user, sites[org])] = site_role
        first = PolicyEngine(read_policy_file())
        reloaded = PolicyEngine(read_policy_file(), version=2)
        for user in users:
            for org in orgs:
                site = sites[org]
                assert directory[org]
                a = Assignments(
                    user, org, org_roles.get((user, org)), site, site_roles.get((user, site))
                )
                expected = reference(a.org_role, a.website_role, permission)
                if permission.value.startswith("organization") or permission in {
                    P.AUDIT_EVENT_READ,
                    P.WEBSITE_CREATE,
                }:
                    a = Assignments(user, org, org_roles.get((user, org)))
                    expected = reference(a.org_role, None, permission)
                assert first.allows(a, permission) is expected
                assert reloaded.allows(a, permission) is expected


class TestGrantingRoles:
    def test_website_read_is_granted_by_every_role(self, engine):
        assert engine.granting_roles(P.WEBSITE_READ) == (["admin", "user"], ["admin", "user"])

    def test_member_update_is_admin_only(self, engine):
        assert engine.granting_roles(P.ORGANIZATION_MEMBER_UPDATE) == (["admin"], [])

    def test_on_a_tie_the_website_role_is_the_effective_one(self):
        rows = [
            ("p", "org_user", "website", "read"),
            ("p", "website_admin", "website", "read"),
            ("p", "org_admin", "organization", "read"),
        ]
        tied = PolicyEngine(rows)
        assert tied.website_role("user", "admin") == "admin"
        # Neither org admin nor website user grants anything on websites here: a tie too.
        assert tied.website_role("admin", "user") == "user"
        # A single role held is the effective one, even when it grants nothing on websites.
        assert tied.website_role("admin", None) == "admin"
        assert tied.website_role(None, "user") == "user"

    def test_effective_website_role_prefers_the_stronger(self, engine):
        assert engine.website_role("admin", "user") == "admin"
        assert engine.website_role("user", "admin") == "admin"
        assert engine.website_role(None, "user") == "user"
        assert engine.website_role(None, None) is None
