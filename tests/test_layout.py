"""Which feature package may import which: the dependency rule of CONTRIBUTING.md, checked.

Organizations, websites and invitations never import one another: what they share (membership
tables, roles, member operations) lives in `memberships`, and every permission decision in
`authz`. The few other edges between features are listed below, each with why it exists; a new
one fails this test until it is added here on purpose.
"""

import ast

from app.config import ROOT_DIR

APP = ROOT_DIR / "app"
FEATURES = sorted(p.name for p in APP.iterdir() if (p / "__init__.py").exists())

ALLOWED: dict[tuple[str, str], str] = {
    # Every feature may use the shared ones.
    **{(f, "authz"): "guards and the enforcer" for f in FEATURES if f != "authz"},
    **{(f, "memberships"): "membership tables, roles and operations" for f in FEATURES},
    **{(f, "auth"): "the caller (auth.dependencies) and tokens" for f in FEATURES},
    **{(f, "audit"): "recording audit events" for f in FEATURES},
    ("memberships", "organizations"): "founding and deleting an organization with its members",
    ("memberships", "websites"): "a website's members and the removal of website roles",
    ("memberships", "users"): "members are users",
    ("auth", "users"): "accounts are the users table",
    ("auth", "mail"): "verification and reset links are mailed",
    ("mail", "auth"): "an account mail's link is made when it is sent",
    ("invitations", "mail"): "an invitation is mailed",
    ("users", "memberships"): "deleting an account leaves its organizations",
    ("admin", "users"): "the operators' commands act on accounts",
}
SEPARATE = ("organizations", "websites", "invitations")


def imported_features(package: str) -> set[str]:
    """The other feature packages `app/<package>` imports anything from."""
    found: set[str] = set()
    for path in (APP / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                parts = name.split(".")
                if len(parts) >= 2 and parts[0] == "app" and parts[1] in FEATURES:
                    found.add(parts[1])
    found.discard(package)
    return found


def edges() -> set[tuple[str, str]]:
    return {(package, other) for package in FEATURES for other in imported_features(package)}


def test_organizations_websites_and_invitations_do_not_import_each_other() -> None:
    crossing = {(a, b) for a, b in edges() if a in SEPARATE and b in SEPARATE}
    assert not crossing


def test_every_edge_between_features_is_a_listed_one() -> None:
    unlisted = sorted(edge for edge in edges() if edge not in ALLOWED)
    assert not unlisted, f"imports between features that CONTRIBUTING.md does not allow: {unlisted}"


def test_the_scan_sees_imports() -> None:
    # The scan must find the edges that exist today, or it checks nothing.
    assert {("invitations", "memberships"), ("memberships", "organizations")} <= edges()
    assert "memberships" in FEATURES
    assert "organizations" in FEATURES
