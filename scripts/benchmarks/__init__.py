"""Benchmarks: `make bench` (the API against a floor app) and `make bench-authz` (the enforcer)."""
