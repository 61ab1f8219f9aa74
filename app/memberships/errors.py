"""The errors of membership changes, each with its stable code."""

from app.errors import Conflict, ErrorCode


class AlreadyMember(Conflict):
    """The user already holds a role at this level (or the invited address belongs to one)."""

    code, detail = ErrorCode.ALREADY_MEMBER, "You are already a member."


class LastAdmin(Conflict):
    """The change would leave the organization without a member who administers its members."""

    code, detail = ErrorCode.LAST_ADMIN, "The organization must keep at least one admin."
