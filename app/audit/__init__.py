"""Audit events: who changed memberships, roles, invitations and what was deleted."""
