"""Mail contexts at rest: encrypted, so the database alone never yields a usable token.

A queued mail's context can hold a link with a raw token (an invitation's). It is stored sealed
with Fernet (AES-128-CBC and HMAC-SHA256, from `cryptography`) under a key derived from
SECRET_KEY with HKDF, so a database dump or backup without the key reads nothing; the sender
unseals it in memory to render the mail, and empties the context once the mail is sent or given
up. A context stored before sealing existed (a plain object without the `sealed` field) is read
as it is.
"""

import base64
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SEALED = "sealed"


class UnreadableContext(Exception):
    """A sealed context that this key cannot open (SECRET_KEY changed since it was queued)."""


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    # A key of its own for this purpose: the JWT and token-hash key is never used as it is.
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"blokid outbox mail context v1"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(context: dict[str, Any], secret_key: str) -> dict[str, str]:
    """The stored form of a mail context: `{"sealed": <Fernet token>}`."""
    plain = json.dumps(context, separators=(",", ":")).encode()
    return {SEALED: _fernet(secret_key).encrypt(plain).decode()}


def unseal(stored: dict[str, Any], secret_key: str) -> dict[str, Any]:
    """The context a mail was queued with (a context stored unsealed is returned as it is)."""
    if set(stored) != {SEALED}:
        return dict(stored)
    try:
        plain = _fernet(secret_key).decrypt(stored[SEALED].encode())
    except (InvalidToken, AttributeError, TypeError) as exc:
        raise UnreadableContext("the mail context cannot be opened with this SECRET_KEY") from exc
    context: dict[str, Any] = json.loads(plain)
    return context
