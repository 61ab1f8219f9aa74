"""Bodies of the website routes, and URL validation."""

import ipaddress
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit
from uuid import UUID

import idna
from pydantic import AfterValidator, BaseModel, StringConstraints

from app.authz.permissions import MembershipRole
from app.types import Name, PatchModel, StrictModel


def website_host(url: str) -> str:
    """The normalized host of an absolute http(s) URL (lowercase, IDNA); ValueError otherwise."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise ValueError("must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise ValueError("is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http or https URL")
    if not hostname:
        raise ValueError("must have a host")
    if not hostname.isascii() and not _looks_like_name(hostname):
        raise ValueError("has an invalid host name")
    if ":" in hostname:
        if "%" in hostname:
            raise ValueError("must not carry an IPv6 zone id")
        try:
            return ipaddress.IPv6Address(hostname).compressed
        except ValueError:
            raise ValueError("has an invalid IPv6 address") from None
    if hostname.replace(".", "").isascii() and hostname.replace(".", "").isdigit():
        try:
            return str(ipaddress.IPv4Address(hostname))
        except ValueError:
            raise ValueError("has an invalid IPv4 address") from None
    try:
        host = idna.encode(hostname.rstrip("."), uts46=True).decode("ascii").lower()
    except idna.IDNAError:
        raise ValueError("has an invalid host name") from None
    if len(host) > 253:
        raise ValueError("has a host name longer than 253 characters")
    return host


def _looks_like_name(hostname: str) -> bool:
    # Non-ASCII is fine in a host name (IDNA encodes it), never in an address.
    return not any(ch.isdigit() and not ch.isascii() for ch in hostname)


def _check_url(url: str) -> str:
    website_host(url)
    return url


WebsiteUrl = Annotated[str, StringConstraints(max_length=2048), AfterValidator(_check_url)]


class WebsiteIn(StrictModel):
    name: Name
    url: WebsiteUrl


class WebsitePatch(PatchModel):
    name: Name | None = None
    url: WebsiteUrl | None = None


class WebsitePublic(BaseModel):
    id: UUID
    organization_id: UUID
    name: str
    url: str
    created_at: datetime
    my_role: MembershipRole | None
