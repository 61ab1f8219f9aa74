"""Authentication: registration, login, tokens, email verification and password reset."""
