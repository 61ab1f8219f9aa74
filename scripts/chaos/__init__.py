"""`make chaos`: failure scenarios against a real service on a PostgreSQL cluster of their own."""
