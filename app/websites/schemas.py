"""Bodies of the website routes, and URL validation."""

import ipaddress
import re
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import urlsplit
from uuid import UUID

import idna
from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from app.memberships.roles import Role
from app.types import Name, PatchModel, StrictModel

# The authority after the scheme: a bracketed IPv6 address or a name / IPv4 address, then an
# optional port. Anything else there (junk after a bracket, a second colon) is not a URL a browser
# and this service would read the same way.
_AUTHORITY = re.compile(r"(?:\[(?P<ipv6>[^\[\]]*)\]|(?P<name>[^\[\]:@]*))(?::(?P<port>[0-9]*))?")
# WHATWG URL parsing reads a host whose last label is a number as an IPv4 address, in any of the
# forms `0x7f.1`, `0177.0.0.1` or `2130706433`; only dotted decimal is accepted here.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")


# Validation and the use case both ask for a URL's host, and IDNA mapping is slow pure Python.
@lru_cache(maxsize=4096)
def website_host(url: str) -> str:
    """The normalized host of an absolute http(s) URL (lowercase, IDNA); ValueError otherwise."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise ValueError("must not contain spaces or control characters")
    if "\\" in url:
        # Browsers read a backslash as a slash, so `http://a.example\@b.example` opens a.example
        # while a URL parser finds the host b.example.
        raise ValueError("must not contain a backslash")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ValueError("is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http or https URL")
    if "@" in parts.netloc:
        # Credentials would be shown to every reader of the website, and `https://bank@evil`
        # reads as another host than the one it opens.
        raise ValueError("must not contain a user name or password")
    authority = _AUTHORITY.fullmatch(parts.netloc)
    if authority is None:
        raise ValueError("is not a valid URL")
    port = authority["port"]
    if port and int(port) > 65535:
        raise ValueError("has an invalid port")
    if authority["ipv6"] is not None:
        return _ipv6_host(authority["ipv6"])
    return _name_host(authority["name"])


def _ipv6_host(address: str) -> str:
    if "%" in address:
        raise ValueError("must not carry an IPv6 zone id")
    try:
        return ipaddress.IPv6Address(address).compressed
    except ValueError:
        raise ValueError("has an invalid IPv6 address") from None


def _name_host(hostname: str) -> str:
    if not hostname:
        raise ValueError("must have a host")
    if not hostname.isascii() and not _looks_like_name(hostname):
        raise ValueError("has an invalid host name")
    try:
        # UTS 46 mapping first, as browsers do: full-width and ideographic dots become "." and
        # full-width digits ASCII, so the label checks below see the host a browser would open.
        mapped = idna.uts46_remap(hostname, std3_rules=False, transitional=False)
    except idna.IDNAError:
        raise ValueError("has an invalid host name") from None
    # One trailing dot names the same host (the DNS root); an empty label anywhere else is an error.
    labels = (mapped[:-1] if mapped.endswith(".") else mapped).split(".")
    if "" in labels:
        raise ValueError("has an empty label in its host name")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        try:
            return str(ipaddress.IPv4Address(".".join(labels)))
        except ValueError:
            raise ValueError("has an invalid IPv4 address") from None
    try:
        host = idna.encode(".".join(labels), uts46=True).decode("ascii").lower()
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


WebsiteUrl = Annotated[
    str,
    StringConstraints(max_length=2048),
    AfterValidator(_check_url),
    Field(examples=["https://shop.example.com"]),
]


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
    my_role: Role | None


def website_item(website: Any, role: str | None) -> dict[str, Any]:
    """A website row as `WebsitePublic` would serialize it, without building the model."""
    return {
        "id": website.id,
        "organization_id": website.organization_id,
        "name": website.name,
        "url": website.url,
        "created_at": website.created_at,
        "my_role": role,
    }
