"""Invitations into organizations and websites."""
