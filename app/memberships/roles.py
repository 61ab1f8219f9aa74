"""The roles a membership can hold, at either level, and the CHECK that keeps the tables to them."""

from enum import StrEnum


class Role(StrEnum):
    """A role held on an organization or website membership (and offered by an invitation)."""

    ADMIN = "admin"
    USER = "user"


ROLES: tuple[str, ...] = tuple(role.value for role in Role)

# The CHECK constraint of every column that stores a role, derived from the enum.
ROLE_CHECK = "role IN ({})".format(", ".join(f"'{role}'" for role in ROLES))
