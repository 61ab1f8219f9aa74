"""The errors of signing in and of the caller's credentials, each with its stable code."""

from app.errors import ErrorCode, Forbidden, Unauthorized


class InvalidAccessToken(Unauthorized):
    """The bearer token is missing its login, expired, forged, or its login has ended."""

    detail = "The access token is invalid or expired."


class InvalidCredentials(Unauthorized):
    """The email and password do not match an account; the same answer for either mistake."""

    code, detail = ErrorCode.INVALID_CREDENTIALS, "Incorrect email or password."


class InvalidRefreshToken(Unauthorized):
    """The refresh token is unknown, expired, or belongs to a login that has ended."""

    code, detail = ErrorCode.INVALID_REFRESH_TOKEN, "The refresh token is invalid."


class RefreshTokenReused(InvalidRefreshToken):
    """An already rotated refresh token came back: the login it belongs to is now revoked."""

    detail = "The refresh token was already used; this login is revoked."


class AccountDisabled(Forbidden):
    """The right password for an account an administrator disabled."""

    code = ErrorCode.ACCOUNT_DISABLED
    detail = "This account is disabled; an administrator can enable it again."


class EmailNotVerified(Forbidden):
    """The caller has not verified their email address yet."""

    code, detail = ErrorCode.EMAIL_NOT_VERIFIED, "Verify your email address first."
