"""Every table model, imported in one place so Alembic sees the whole schema."""

from sqlmodel import SQLModel

from app.audit.models import AuditEvent
from app.auth.models import AccountToken, LoginSession, RefreshToken
from app.authz.models import CasbinRule, PolicyChange, PolicyVersion
from app.invitations.models import Invitation
from app.mail.models import OutboxMail
from app.memberships.models import OrganizationMembership, WebsiteMembership
from app.organizations.models import Organization
from app.users.models import User
from app.websites.models import Website

metadata = SQLModel.metadata

__all__ = [
    "AccountToken",
    "AuditEvent",
    "CasbinRule",
    "Invitation",
    "LoginSession",
    "Organization",
    "OrganizationMembership",
    "OutboxMail",
    "PolicyChange",
    "PolicyVersion",
    "RefreshToken",
    "User",
    "Website",
    "WebsiteMembership",
    "metadata",
]
