"""The errors of website changes, each with its stable code."""

from app.errors import Conflict, ErrorCode


class WebsiteExists(Conflict):
    """The organization already has a website with this (normalized) host."""

    code = ErrorCode.WEBSITE_EXISTS
    detail = "The organization already has a website with this host."
