"""The closed vocabulary of authorization: every (object, action) the service asks the enforcer
about (the roles a membership can hold are `app.memberships.roles.Role`).

`policies/policy.csv` grants these permissions to roles; a test keeps the two in step.
"""

from enum import StrEnum


class Permission(StrEnum):
    """`object:action` strings, as returned by the permissions endpoints."""

    ORGANIZATION_READ = "organization:read"
    ORGANIZATION_UPDATE = "organization:update"
    ORGANIZATION_DELETE = "organization:delete"
    ORGANIZATION_LEAVE = "organization:leave"
    ORGANIZATION_MEMBER_READ = "organization_member:read"
    ORGANIZATION_MEMBER_UPDATE = "organization_member:update"
    ORGANIZATION_MEMBER_DELETE = "organization_member:delete"
    ORGANIZATION_INVITATION_READ = "organization_invitation:read"
    ORGANIZATION_INVITATION_CREATE = "organization_invitation:create"
    ORGANIZATION_INVITATION_DELETE = "organization_invitation:delete"
    AUDIT_EVENT_READ = "audit_event:read"
    WEBSITE_CREATE = "website:create"
    WEBSITE_READ = "website:read"
    WEBSITE_UPDATE = "website:update"
    WEBSITE_DELETE = "website:delete"
    WEBSITE_LEAVE = "website:leave"
    WEBSITE_MEMBER_READ = "website_member:read"
    WEBSITE_MEMBER_UPDATE = "website_member:update"
    WEBSITE_MEMBER_DELETE = "website_member:delete"
    WEBSITE_INVITATION_READ = "website_invitation:read"
    WEBSITE_INVITATION_CREATE = "website_invitation:create"
    WEBSITE_INVITATION_DELETE = "website_invitation:delete"

    @property
    def object(self) -> str:
        """The Casbin object."""
        return self.value.split(":", 1)[0]

    @property
    def action(self) -> str:
        """The Casbin action."""
        return self.value.split(":", 1)[1]


# Asked in an organization domain alone: the organization's own permissions.
ORGANIZATION_PERMISSIONS = tuple(
    p for p in Permission if not p.value.startswith("website") or p is Permission.WEBSITE_CREATE
)
# Asked with a website domain: what the caller may do on that website.
WEBSITE_PERMISSIONS = tuple(
    p for p in Permission if p.value.startswith("website") and p is not Permission.WEBSITE_CREATE
)
