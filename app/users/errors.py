"""The errors of changes to one's own account, each with its stable code."""

from app.errors import BadRequest, ErrorCode


class WrongPassword(BadRequest):
    """The current password given to confirm a sensitive change is not the account's."""

    code, detail = ErrorCode.INVALID_PASSWORD, "The password is incorrect."
