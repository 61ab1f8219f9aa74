"""Explain one authorization decision for an admin: may this user take this action here, and why.

    python -m scripts.explain --user EMAIL (--org ID | --website ID) PERMISSION
    make explain USER=<email> ORG=<id>|WEBSITE=<id> PERMISSION=<object:action>

It asks what the service asks: the user's role assignments read from the database, decided by
the policy the database holds (the one running workers use), explained by Casbin's own
`enforce_ex` as `?explain=true` is. It prints allowed or denied, the role assignment and policy
row (with its line in policies/policy.csv) that grant it, or why nothing does, and what the API
would answer the user.

Uses DATABASE_URL (from the environment or .env). Exit status: 0 when it answered, allowed or
denied; 2 for an unknown user, organization, website or permission, or an unloadable policy.
"""

import argparse
import asyncio
import sys
from dataclasses import dataclass
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.authz.engine import ORG_KIND, WEBSITE_KIND, Assignments, PolicyEngine, casbin_role
from app.authz.permissions import ORGANIZATION_PERMISSIONS, WEBSITE_PERMISSIONS, Permission
from app.authz.policy import PolicyFileError, policy_file_lines, read_policy_rows
from app.authz.policy_validation import validate_policy
from app.config import required_database_url
from app.db import create_engine
from app.types import normalize_email


class Refused(Exception):
    """A question that cannot be answered: unknown user, resource or permission."""


@dataclass(frozen=True, slots=True)
class Question:
    """Who asks for what, where: an organization, or a website."""

    email: str
    permission: Permission
    organization_id: UUID | None = None
    website_id: UUID | None = None


def parse_permission(value: str) -> Permission:
    """An `object:action` of the vocabulary."""
    try:
        return Permission(value)
    except ValueError:
        raise Refused(
            f"unknown permission {value!r}; permissions: {', '.join(p.value for p in Permission)}"
        ) from None


def _role_names(assignments: Assignments) -> str:
    held = []
    if assignments.org_role is not None:
        held.append(
            f"organization {assignments.org_role} ({casbin_role(ORG_KIND, assignments.org_role)})"
        )
    if assignments.website_role is not None:
        held.append(
            f"website {assignments.website_role} "
            f"({casbin_role(WEBSITE_KIND, assignments.website_role)})"
        )
    return ", ".join(held) if held else "none"


async def _assignments(
    connection: AsyncConnection, user_id: UUID, question: Question
) -> tuple[Assignments, str]:
    if question.website_id is not None:
        row = (
            await connection.execute(
                sa.text(
                    "SELECT w.organization_id, w.name, om.role AS org_role, wm.role AS site_role "
                    "FROM websites AS w "
                    "LEFT JOIN organization_memberships AS om "
                    "  ON om.organization_id = w.organization_id AND om.user_id = :user "
                    "LEFT JOIN website_memberships AS wm "
                    "  ON wm.website_id = w.id AND wm.user_id = :user "
                    "WHERE w.id = :website"
                ),
                {"user": user_id, "website": question.website_id},
            )
        ).first()
        if row is None:
            raise Refused(f"no website {question.website_id}")
        assignments = Assignments(
            user_id, row.organization_id, row.org_role, question.website_id, row.site_role
        )
        return assignments, f"website {question.website_id} ({row.name!r})"
    row = (
        await connection.execute(
            sa.text(
                "SELECT o.name, om.role FROM organizations AS o "
                "LEFT JOIN organization_memberships AS om "
                "  ON om.organization_id = o.id AND om.user_id = :user "
                "WHERE o.id = :organization"
            ),
            {"user": user_id, "organization": question.organization_id},
        )
    ).first()
    if row is None:
        raise Refused(f"no organization {question.organization_id}")
    assert question.organization_id is not None  # noqa: S101 - one of the two is always given
    assignments = Assignments(user_id, question.organization_id, row.role)
    return assignments, f"organization {question.organization_id} ({row.name!r})"


async def explain(connection: AsyncConnection, question: Question) -> list[str]:
    """The answer, as lines of text (`Refused` for an unknown user, place or permission;
    `PolicyFileError` when the database's policy would not load)."""
    read = Permission.WEBSITE_READ if question.website_id else Permission.ORGANIZATION_READ
    candidates = (
        WEBSITE_PERMISSIONS
        if question.website_id
        else ORGANIZATION_PERMISSIONS + WEBSITE_PERMISSIONS
    )
    if question.permission not in candidates:
        other = "ORG" if question.website_id else "WEBSITE"
        raise Refused(
            f"{question.permission.value} is not asked about "
            f"{'a website' if question.website_id else 'an organization'}: use {other}=<id>"
        )
    user = (
        await connection.execute(
            sa.text("SELECT id, email_verified_at, disabled_at FROM users WHERE email = :email"),
            {"email": question.email},
        )
    ).first()
    if user is None:
        raise Refused(f"no account with the email {question.email}")
    assignments, where = await _assignments(connection, user.id, question)
    version, located = await read_policy_rows(connection)
    validate_policy(located)
    policy = PolicyEngine((row for row, _ in located), version)
    allowed = policy.allows(assignments, question.permission)
    lines = [
        f"{'allowed' if allowed else 'denied'}: {question.email} "
        f"{'may' if allowed else 'may not'} {question.permission.value} on {where}",
        f"  roles held there: {_role_names(assignments)}",
    ]
    why = policy.explain(assignments, question.permission)
    if why is not None:
        lines.append(f"  held through: the {why.level} role {why.role}")
        lines.append(
            f"  granted by: {', '.join(why.rule)} ({why.source or 'not in the policy file'})"
        )
    else:
        sources = policy_file_lines()
        wanted = (question.permission.object, question.permission.action)
        granting = [
            f"{', '.join(row)} ({sources.get(row, 'not in the policy file')})"
            for row in policy.rows
            if row[0] == "p" and row[2:] == wanted
        ]
        lines.append("  no policy row grants it to the roles held or the roles they inherit;")
        lines.append(f"  rows that grant it: {'; '.join(granting) or 'none'}")
    if user.disabled_at is not None:
        answer = "401 (the account is disabled: it cannot log in until enable-user)"
    elif user.email_verified_at is None:
        answer = "403 email_not_verified (the email is not verified; the policy is not asked)"
    elif allowed:
        answer = "success"
    elif policy.allows(assignments, read):
        answer = "403 forbidden (may read, may not act)"
    else:
        answer = "404 not_found (may not even read it)"
    lines.append(f"  the API answers: {answer}")
    lines.append(f"  decided by policy version {version} (the database's)")
    return lines


async def run(database_url: str, question: Question) -> int:
    """Answer; returns the exit status."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            lines = await explain(connection, question)
    except Refused as exc:
        print(exc, file=sys.stderr)
        return 2
    except PolicyFileError as exc:
        print(f"the database's policy does not load:\n{exc}", file=sys.stderr)
        return 2
    finally:
        await engine.dispose()
    print("\n".join(lines))
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--user", required=True, help="the user's email")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--org", type=UUID, help="an organization id")
    where.add_argument("--website", type=UUID, help="a website id")
    parser.add_argument("permission", help="object:action, e.g. website:delete")
    args = parser.parse_args()
    try:
        question = Question(
            email=normalize_email(args.user),
            permission=parse_permission(args.permission),
            organization_id=args.org,
            website_id=args.website,
        )
    except (Refused, ValueError) as exc:
        parser.error(str(exc))
    raise SystemExit(asyncio.run(run(required_database_url(), question)))


if __name__ == "__main__":
    main()
