"""The errors of invitations, each with its stable code."""

from app.errors import Conflict, ErrorCode, Forbidden


class InvitationPending(Conflict):
    """A pending invitation for this address and target exists already."""

    code, detail = ErrorCode.INVITATION_PENDING, "A pending invitation for this address exists."


class InvitationNotPending(Conflict):
    """The invitation was accepted, declined, revoked or has expired."""

    code, detail = ErrorCode.INVITATION_NOT_PENDING, "The invitation is no longer pending."


class InvitationEmailMismatch(Forbidden):
    """The invitation was sent to another address than the caller's."""

    code = ErrorCode.INVITATION_EMAIL_MISMATCH
    detail = "The invitation was sent to another address."
