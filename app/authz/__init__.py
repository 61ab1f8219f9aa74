"""Authorization: the Casbin enforcer, per-request role assignments and route guards."""
