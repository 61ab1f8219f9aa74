"""Organizations and their memberships."""
