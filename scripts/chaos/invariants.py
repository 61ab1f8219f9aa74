"""What must hold after any failure: SQL checks that each return no rows, and the mail check.

Each query names the rows that break its rule, so a failing check shows what was half-written.
"""

import time
from typing import LiteralString

import psycopg

from scripts.chaos.mail import MailSink

INVARIANTS: dict[str, LiteralString] = {
    # Registration writes the user, the organization, the admin membership and the mail in one
    # transaction.
    "user without an organization it administers": """
        SELECT u.email FROM users u
        WHERE NOT EXISTS (
            SELECT 1 FROM organization_memberships m
            WHERE m.user_id = u.id AND m.role = 'admin')
    """,
    "user without its verification mail": """
        SELECT u.email FROM users u
        WHERE NOT EXISTS (
            SELECT 1 FROM outbox_mails o
            WHERE o.recipient = u.email AND o.template = 'verify_email')
    """,
    "organization without an admin": """
        SELECT o.id FROM organizations o
        WHERE NOT EXISTS (
            SELECT 1 FROM organization_memberships m
            WHERE m.organization_id = o.id AND m.role = 'admin')
    """,
    # A membership row is the role assignment Casbin reads: its role must be one the policy
    # knows at its level.
    "organization membership without a policy role": """
        SELECT m.organization_id, m.user_id, m.role FROM organization_memberships m
        WHERE NOT EXISTS (SELECT 1 FROM casbin_rule r WHERE r.v0 = 'org_' || m.role)
    """,
    "website membership without a policy role": """
        SELECT m.website_id, m.user_id, m.role FROM website_memberships m
        WHERE NOT EXISTS (SELECT 1 FROM casbin_rule r WHERE r.v0 = 'website_' || m.role)
    """,
    # Accepting writes the invitation's status, the membership and the audit event together.
    "accepted invitation without its membership": """
        SELECT i.id, i.email FROM invitations i
        LEFT JOIN users u ON u.email = i.email
        WHERE i.status = 'accepted' AND (
            u.id IS NULL
            OR (i.website_id IS NULL AND NOT EXISTS (
                SELECT 1 FROM organization_memberships m
                WHERE m.organization_id = i.organization_id AND m.user_id = u.id))
            OR (i.website_id IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM website_memberships m
                WHERE m.website_id = i.website_id AND m.user_id = u.id)))
    """,
    "accepted invitation without its audit event": """
        SELECT i.id FROM invitations i
        WHERE i.status = 'accepted' AND NOT EXISTS (
            SELECT 1 FROM audit_events e
            WHERE e.target_id = i.id AND e.action = 'invitation.accepted')
    """,
    "invitation answered without a time, or a time without an answer": """
        SELECT i.id, i.status FROM invitations i
        WHERE (i.status = 'pending') <> (i.responded_at IS NULL)
    """,
    "invitation without its mail": """
        SELECT i.id FROM invitations i
        WHERE NOT EXISTS (
            SELECT 1 FROM outbox_mails o
            WHERE o.recipient = i.email AND o.template = 'invitation')
    """,
    "mail given up": "SELECT id, last_error FROM outbox_mails WHERE status = 'failed'",
}


def check(database_url: str) -> dict[str, list[tuple[object, ...]]]:
    """Run every invariant; the rows of those that found any."""
    broken: dict[str, list[tuple[object, ...]]] = {}
    with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as connection:
        for name, query in INVARIANTS.items():
            rows = connection.execute(query).fetchall()
            if rows:
                broken[name] = [tuple(row) for row in rows[:5]]
    return broken


def _outbox(database_url: str) -> list[tuple[str, str, int, bool]]:
    """(id, status, attempts, leased) of every outbox row. A leased row is due more than 30 s
    from now: the scenarios' service retries within 2 s, so only a lease set when a mail was
    claimed (two minutes) reaches that far."""
    with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as connection:
        rows = connection.execute(
            "SELECT id::text, status, attempts, next_attempt_at > now() + interval '30 seconds'"
            " FROM outbox_mails"
        ).fetchall()
    return [(str(r[0]), str(r[1]), int(r[2]), bool(r[3])) for r in rows]


LEASE_GRACE_SECONDS = 10.0
"""How long the drain waits on rows that are only leased: a claimed mail is normally sent and
recorded within a second; one still leased after this lost its sender (killed, or its claim's
commit lost with the database), and goes out when the lease ends."""


def drain_mail(database_url: str, timeout: float) -> tuple[int, int]:
    """Wait until no mail is left to send, or only mails whose sender is gone (leased for
    LEASE_GRACE_SECONDS); returns (sent, still pending)."""
    deadline = time.monotonic() + timeout
    only_leased_since: float | None = None
    while True:
        rows = _outbox(database_url)
        pending = [r for r in rows if r[1] == "pending"]
        now = time.monotonic()
        if pending and all(r[3] for r in pending):
            only_leased_since = only_leased_since or now
        else:
            only_leased_since = None
        settled = only_leased_since is not None and now - only_leased_since > LEASE_GRACE_SECONDS
        if not pending or settled or now > deadline:
            return sum(1 for r in rows if r[1] == "sent"), len(pending)
        time.sleep(0.2)


def mail_problems(database_url: str, sink: MailSink, *, allow_pending: bool) -> list[str]:
    """Every mail the outbox marks sent arrived exactly once, nothing arrived that the outbox
    does not hold, and nothing is left to send but, with `allow_pending`, mails leased by a
    sender that is gone (late, not lost: another sender takes them when the lease ends)."""
    rows = _outbox(database_url)
    arrived = sink.message_ids()
    ids = {message_id.strip("<>").split("@", 1)[0]: count for message_id, count in arrived.items()}
    problems = []
    outbox_ids = {r[0] for r in rows}
    for mail_id, status, attempts, leased in rows:
        count = ids.get(mail_id, 0)
        if status == "sent" and count != 1:
            problems.append(f"mail {mail_id} marked sent arrived {count} times")
        if status == "pending" and count > 1:
            problems.append(f"mail {mail_id} arrived {count} times")
        if status == "pending" and not (allow_pending and leased):
            problems.append(f"mail {mail_id} still pending after {attempts} attempts")
    stray = set(ids) - outbox_ids
    if stray:
        problems.append(f"{len(stray)} mails arrived that the outbox does not hold")
    return problems
