"""User accounts: the profile, password changes and account deletion."""
