"""Memberships: a user's role in an organization or on one website, at either level."""
