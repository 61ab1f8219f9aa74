"""Print the who-may-do-what table, computed by asking the enforcer (model + policy file).

python -m scripts.policy_table   (make policy-table)
"""

from uuid import UUID

from app.authz.engine import Assignments, PolicyEngine
from app.authz.permissions import Permission
from app.authz.policy import read_policy_file

USER, ORG, SITE = UUID(int=1), UUID(int=2), UUID(int=3)
COLUMNS = {
    "org admin": Assignments(USER, ORG, "admin", SITE, None),
    "org user": Assignments(USER, ORG, "user", SITE, None),
    "website admin": Assignments(USER, ORG, None, SITE, "admin"),
    "website user": Assignments(USER, ORG, None, SITE, "user"),
}


def table(engine: PolicyEngine) -> str:
    """The table as Markdown."""
    lines = ["| permission | " + " | ".join(COLUMNS) + " |", "|---|" + "---|" * len(COLUMNS)]
    for permission in Permission:
        cells = ["yes" if engine.allows(a, permission) else "no" for a in COLUMNS.values()]
        lines.append(f"| `{permission.value}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(PolicyEngine(read_policy_file())))
