"""Plain factory functions: rows straight into the test's transaction, and logged-in users."""

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import LoginSession
from app.auth.passwords import hash_password
from app.auth.service import account_mail_context
from app.auth.tokens import create_access_token
from app.db import utcnow
from app.invitations.models import Invitation
from app.mail.models import OutboxMail
from app.mail.sealing import unseal
from app.memberships.models import OrganizationMembership, WebsiteMembership
from app.organizations.models import Organization
from app.users.models import User
from app.websites.models import Website
from app.websites.schemas import website_host
from tests.conftest import TEST_SECRET, make_settings

PASSWORD = "tangerine-obelisk-42"
_hash_cache: dict[str, str] = {}


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


async def create_user(
    session: AsyncSession, *, verified: bool = True, password: str = PASSWORD, **overrides: Any
) -> User:
    """A user row (verified unless told otherwise)."""
    if password not in _hash_cache:
        _hash_cache[password] = await hash_password(password)
    user = User(
        email=overrides.pop("email", unique_email()),
        hashed_password=overrides.pop("hashed_password", _hash_cache[password]),
        email_verified_at=utcnow() if verified else None,
        **overrides,
    )
    session.add(user)
    # Committing releases the savepoint into the test's outer transaction, so a later request's
    # rollback cannot undo the fixture data.
    await session.commit()
    # Detached, so a failed request's rollback cannot expire it under the test's feet.
    session.expunge(user)
    return user


async def create_organization(
    session: AsyncSession, *, name: str = "Acme", members: list[tuple[User, str]] | None = None
) -> Organization:
    organization = Organization(name=name)
    session.add(organization)
    await session.flush()
    for user, role in members or []:
        session.add(
            OrganizationMembership(organization_id=organization.id, user_id=user.id, role=role)
        )
    await session.commit()
    session.expunge(organization)
    return organization


async def organization_with_admin(
    session: AsyncSession,
) -> tuple[User, Organization, dict[str, str]]:
    """A new organization whose only member is a new admin, with bearer headers for that admin."""
    admin = await create_user(session)
    organization = await create_organization(session, members=[(admin, "admin")])
    return admin, organization, await token_for(session, admin)


async def create_website(
    session: AsyncSession,
    organization: Organization,
    *,
    url: str | None = None,
    name: str = "Site",
    members: list[tuple[User, str]] | None = None,
) -> Website:
    url = url or f"https://{uuid.uuid4().hex[:10]}.example.org/"

    website = Website(organization_id=organization.id, name=name, url=url, host=website_host(url))
    session.add(website)
    await session.flush()
    for user, role in members or []:
        session.add(WebsiteMembership(website_id=website.id, user_id=user.id, role=role))
    await session.commit()
    session.expunge(website)
    return website


async def login(client: AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/auth/login", data={"username": email, "password": password}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def auth_headers(client: AsyncClient, user: User, password: str = PASSWORD) -> dict[str, str]:
    tokens = await login(client, user.email, password)
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@dataclass
class LoggedIn:
    user: User
    headers: dict[str, str]


async def logged_in_user(session: AsyncSession, client: AsyncClient, **kwargs: Any) -> LoggedIn:
    user = await create_user(session, **kwargs)
    return LoggedIn(user, await auth_headers(client, user))


async def outbox_for(session: AsyncSession, email: str) -> list[OutboxMail]:
    """Mails queued for an address, oldest first."""
    return list(
        (
            await session.scalars(
                sa.select(OutboxMail)
                .where(OutboxMail.recipient == email)
                .order_by(OutboxMail.created_at)
            )
        ).all()
    )


def token_from_link(link: str) -> str:
    match = re.search(r"token=([A-Za-z0-9_\-]+)", link)
    assert match, link
    return match.group(1)


async def mail_context(session: AsyncSession, mail: OutboxMail) -> dict[str, Any] | None:
    """What the sender would render a queued mail with, decided in the test's transaction: its
    context unsealed, with a new token for an account mail; None when nothing would be sent."""

    context = unseal(mail.context, TEST_SECRET)
    settings = make_settings("postgresql://unused/unused")
    prepared = await account_mail_context(session, settings, mail.recipient, mail.template, context)
    # Committed into the test's transaction (as the sender commits it), so a later request's
    # rollback cannot take the new token with it.
    await session.commit()
    return prepared


async def deliverable_for(session: AsyncSession, email: str) -> list[str]:
    """The templates of the queued mails for an address that the sender would send."""
    return [
        mail.template
        for mail in await outbox_for(session, email)
        if await mail_context(session, mail) is not None
    ]


async def latest_token(session: AsyncSession, email: str, template: str) -> str:
    """The token in the newest queued mail of this template for the address, as the sender
    would mail it."""
    mails = [m for m in await outbox_for(session, email) if m.template == template]
    assert mails, f"no {template} mail for {email}"
    context = await mail_context(session, mails[-1])
    assert context is not None, f"the {template} mail for {email} would not be sent"
    return token_from_link(context["link"])


async def row_count(session: AsyncSession, model: Any, *conditions: Any) -> int:
    """Rows of `model` matching the conditions, read from the database (not the identity map)."""
    return int(
        await session.scalar(sa.select(sa.func.count()).select_from(model).where(*conditions)) or 0
    )


async def token_for(session: AsyncSession, user: User) -> dict[str, str]:
    """Bearer headers for a new login of `user`, without spending a password hash."""

    login_session = LoginSession(user_id=user.id)
    session.add(login_session)
    await session.commit()
    token = create_access_token(
        user_id=user.id,
        session_id=login_session.id,
        key=TEST_SECRET,
        issuer="blokid",
        audience="blokid-api",
        lifetime=timedelta(minutes=5),
    )
    return {"Authorization": f"Bearer {token}"}


async def create_invitation(
    session: AsyncSession,
    organization: Organization,
    *,
    website: Website | None = None,
    email: str | None = None,
) -> Any:
    """A pending invitation row (its token is unknown to the test)."""

    invitation = Invitation(
        organization_id=organization.id,
        website_id=website.id if website else None,
        email=email or unique_email("invitee"),
        role="user",
        token_hash=uuid.uuid4().hex + uuid.uuid4().hex,
        expires_at=utcnow() + timedelta(days=7),
    )
    session.add(invitation)
    await session.commit()
    session.expunge(invitation)
    return invitation


TABLES_WATCHED = (
    "users",
    "organizations",
    "organization_memberships",
    "websites",
    "website_memberships",
    "invitations",
    "outbox_mails",
    "audit_events",
)


async def database_fingerprint(session: AsyncSession) -> dict[str, str]:
    """A digest of every row of the tenant tables: equal before and after means nothing changed."""
    digests = {}
    for table in TABLES_WATCHED:
        # Table names come from the constant above, never from input.
        query = f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t"  # noqa: S608
        digests[table] = await session.scalar(sa.text(query))
    return digests
