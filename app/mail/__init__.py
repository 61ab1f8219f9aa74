"""Outgoing mail through a transactional outbox."""
