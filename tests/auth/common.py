"""What the /auth tests share: the routes, tokens never issued, a register call."""

from tests.factories import PASSWORD

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
# Strings no token ever looks like: each is a bad token (400 or 401), not a malformed body.
NEVER_ISSUED_TOKENS = ["garbage", "", "x" * 2000, "héllo", "a\u0000b", "tab\tand\nnewline"]


async def register(client, email, password=PASSWORD, **extra):
    return await client.post(REGISTER, json={"email": email, "password": password, **extra})
