"""Admin commands for the first hour of an incident.

    python -m scripts.admin create-user EMAIL [--password-stdin]
    python -m scripts.admin verify-user EMAIL
    python -m scripts.admin set-role --org ID EMAIL admin|user
    python -m scripts.admin revoke-sessions EMAIL
    python -m scripts.admin disable-user EMAIL
    python -m scripts.admin enable-user EMAIL

create-user makes a verified account with its own organization, for a first deployment with no
mail: it prints a generated password once, or reads one from stdin with --password-stdin.
set-role keeps the last-admin rule. revoke-sessions ends every login of the account;
disable-user does too and refuses logging in until enable-user.

Each command is one transaction, and each change is written to the audit events with the actor
`admin-cli`. Uses DATABASE_URL (from the environment or .env). Exit status: 0 done (or nothing
to do), 2 refused (unknown account, taken address, refused password, last admin, ...), with
nothing changed.
"""

import argparse
import asyncio
import getpass
import secrets
import sys
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.admin import service
from app.admin.service import ADMIN_ACTOR, AdminError
from app.audit.service import acting_as
from app.authz.engine import PolicyEngine
from app.authz.policy import PolicyFileError, read_policy_rows
from app.authz.policy_validation import validate_policy
from app.config import Settings, load_settings, required_database_url
from app.db import create_engine, session_factory

GENERATED_PASSWORD_BYTES = 18  # 24 URL-safe characters


async def live_policy(session: AsyncSession) -> PolicyEngine:
    """The policy the service decides with: the database's, refused as the service refuses it."""
    version, located = await read_policy_rows(await session.connection())
    validate_policy(located)
    return PolicyEngine((row for row, _ in located), version)


async def create_user(session: AsyncSession, settings: Settings, args: argparse.Namespace) -> str:
    generated = not args.password_stdin
    password = secrets.token_urlsafe(GENERATED_PASSWORD_BYTES) if generated else args.password
    user = await service.create_user(session, settings, args.email, password)
    if generated:
        return (
            f"created {user.email} (verified, admin of its own organization)\n"
            f"password (shown once; change it with POST /api/v1/users/me/password): {password}"
        )
    return f"created {user.email} (verified, admin of its own organization)"


async def verify_user(session: AsyncSession, settings: Settings, args: argparse.Namespace) -> str:
    changed = await service.verify_user(session, args.email)
    return f"{args.email}: {'verified' if changed else 'already verified, nothing changed'}"


async def set_role(session: AsyncSession, settings: Settings, args: argparse.Namespace) -> str:
    policy = await live_policy(session)
    change = await service.set_role(session, policy, args.org, args.email, args.role)
    if change.before == change.after:
        return f"{args.email} is already {change.after} in organization {args.org}, nothing changed"
    return f"{args.email} in organization {args.org}: {change.before} → {change.after}"


async def revoke_sessions(
    session: AsyncSession, settings: Settings, args: argparse.Namespace
) -> str:
    ended = await service.revoke_sessions(session, args.email)
    return f"{args.email}: {ended} login(s) ended"


async def disable_user(session: AsyncSession, settings: Settings, args: argparse.Namespace) -> str:
    ended = await service.disable_user(session, args.email)
    if ended is None:
        return f"{args.email} was already disabled, nothing changed"
    return (
        f"{args.email}: disabled, {ended} login(s) ended; logging in is refused until enable-user"
    )


async def enable_user(session: AsyncSession, settings: Settings, args: argparse.Namespace) -> str:
    changed = await service.enable_user(session, args.email)
    return f"{args.email}: {'enabled' if changed else 'was not disabled, nothing changed'}"


Command = Callable[[AsyncSession, Settings, argparse.Namespace], Awaitable[str]]


async def run(database_url: str, settings: Settings, command: Command, args: Any) -> int:
    """Run one command in one transaction as `admin-cli`; returns the exit status."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with session_factory(engine)() as session:
            try:
                async with session.begin():
                    with acting_as(ADMIN_ACTOR):
                        message = await command(session, settings, args)
            except AdminError as exc:
                print(f"refused: {exc}", file=sys.stderr)
                return 2
            except PolicyFileError as exc:
                print(f"the database's policy does not load:\n{exc}", file=sys.stderr)
                return 2
    finally:
        await engine.dispose()
    print(message)
    return 0


def read_password() -> str:
    """A password from the terminal (not echoed) or the first line of stdin."""
    if sys.stdin.isatty():
        return getpass.getpass("password: ")
    return sys.stdin.readline().rstrip("\r\n")


def parser() -> argparse.ArgumentParser:
    """The command line."""
    top = argparse.ArgumentParser(
        prog="python -m scripts.admin",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("email", metavar="EMAIL")
        sub.set_defaults(handler=handler)
        return sub

    create = add("create-user", create_user, "create a verified account with its own organization")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from stdin instead of generating one",
    )
    add("verify-user", verify_user, "mark the account's email verified")
    role = add("set-role", set_role, "give a member of an organization another role")
    role.add_argument("--org", type=UUID, required=True, metavar="ID", help="organization id")
    role.add_argument("role", choices=["admin", "user"])
    add("revoke-sessions", revoke_sessions, "end every login of the account")
    add("disable-user", disable_user, "end every login and refuse logging in until enable-user")
    add("enable-user", enable_user, "let a disabled account log in again")
    return top


def main() -> None:
    args = parser().parse_args()
    if args.command == "create-user" and args.password_stdin:
        args.password = read_password()
    database_url = required_database_url()
    raise SystemExit(asyncio.run(run(database_url, load_settings(), args.handler, args)))


if __name__ == "__main__":
    main()
