"""Websites owned by organizations, and website-level memberships."""
